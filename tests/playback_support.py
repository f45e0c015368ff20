"""Helpers of the playback tests: a fake clock, a fake worker with a chosen pace, saved animations."""

from __future__ import annotations

import concurrent.futures
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentwalk.animation.schema import Animation, ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.latents import seeds_to_z
from latentwalk.playback.frame import PresentedFrame
from latentwalk.playback.player import PlaybackListener, Player, PlayerOptions
from latentwalk.render.worker import ModelInfo, RenderRequest

FAKE = ModelRef(name="fake", zoo="fake")
Z_DIM = 8


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class _Job:
    request: RenderRequest
    future: concurrent.futures.Future[np.ndarray]
    submitted: float


@dataclass
class FakeWorker:
    """Renders `frame_s` seconds of fake time per frame, one job after another (FIFO), when told to
    `advance`; with frame_s 0 every job is done as soon as it is submitted."""

    clock: FakeClock
    frame_s: float = 0.0
    jobs: list[_Job] = field(default_factory=list)
    requests: list[RenderRequest] = field(default_factory=list)
    busy_until: float = 0.0

    def info(self, ref: ModelRef) -> ModelInfo:
        return ModelInfo("fake", "fake", 4, 3, Z_DIM, 0, None, None, 0, {"sha256": "fake-v1"})

    def submit(self, request: RenderRequest) -> concurrent.futures.Future[np.ndarray]:
        future: concurrent.futures.Future[np.ndarray] = concurrent.futures.Future()
        self.jobs.append(_Job(request, future, self.clock.t))
        if self.frame_s == 0:
            self.advance(self.clock.t)
        return future

    def next_done(self) -> float | None:
        live = [j for j in self.jobs if not j.future.cancelled()]
        if not live:
            return None
        return max(self.busy_until, live[0].submitted) + live[0].request.rows * self.frame_s

    def advance(self, t: float) -> None:
        """Run the jobs due by time t. A job runs once it starts (as the real worker: a running job
        can no longer be cancelled)."""
        while self.jobs:
            job = self.jobs[0]
            start = max(self.busy_until, job.submitted)
            if start > t + 1e-12:
                return
            if not job.future.running() and not job.future.set_running_or_notify_cancel():
                self.jobs.pop(0)  # cancelled while queued
                continue
            done = start + job.request.rows * self.frame_s
            if done > t + 1e-12:
                return
            self.jobs.pop(0)
            self.busy_until = done
            self.requests.append(job.request)
            z = job.request.latents.reshape(job.request.rows, -1)
            shade = (np.abs(z[:, :1]) * 40 % 255).astype(np.uint8)  # differs from frame to frame
            job.future.set_result(np.broadcast_to(shade[:, :, None, None], (len(z), 4, 4, 3)).copy())


class Recorder(PlaybackListener):
    def __init__(self) -> None:
        self.frames: list[PresentedFrame] = []
        self.events: list[tuple[str, Any]] = []

    def presented(self, frame: PresentedFrame) -> None:
        self.frames.append(frame)

    def started(self, name: str, total: int) -> None:
        self.events.append(("started", name))

    def ended(self, name: str) -> None:
        self.events.append(("ended", name))


def save_walk(store: AnimationStore, name: str, steps: int = 48, seeds: tuple[int, int] = (1, 2)) -> None:
    anim = Animation(
        name=name,
        model=ModelIdentity(name="fake", sha256="fake-v1"),
        keyframes=[{"seed": seeds[0]}, {"seed": seeds[1]}],
        steps=[steps],
    )
    store.save(anim, seeds_to_z(list(seeds), Z_DIM).astype(np.float32))


def fake_player(
    tmp_path: Path, frame_s: float = 0.0, **options: Any
) -> tuple[Player, FakeClock, FakeWorker, Recorder]:
    clock = FakeClock()
    worker = FakeWorker(clock, frame_s)
    store = AnimationStore(tmp_path / "animations")
    save_walk(store, "walk", 48)
    save_walk(store, "short", 6, (3, 4))
    player = Player(
        worker,  # type: ignore[arg-type]
        store,
        lambda identity: FAKE,
        lambda: FAKE,
        PlayerOptions(**{"preroll": 0.0, **options}),
        now=clock,
        threaded=False,
    )
    recorder = Recorder()
    player.add_listener(recorder)
    return player, clock, worker, recorder


def drive(
    player: Player, clock: FakeClock, worker: FakeWorker, until: float, jitter: float = 0.0, seed: int = 0
) -> None:
    """Run the player on fake time up to `until`: it wakes when it asks to (late by up to `jitter`)
    or when the worker finishes a job, as its thread would."""
    rng = random.Random(seed)
    while clock.t < until:
        worker.advance(clock.t)
        wake = player.step(clock.t) + rng.uniform(0, jitter)
        done = worker.next_done()
        nxt = min(wake, done) if done is not None else wake
        clock.t = min(max(nxt, clock.t + 1e-6), until)
    worker.advance(clock.t)
    player.step(clock.t)
