"""The player: plays programs on the frame clock, generating frames live through the worker.

One thread owns the player's state. Commands (`apply`) are queued from any thread (OSC, MIDI,
HTTP, the CLI) and run by that thread between ticks. At each tick of the clock the frame due is
looked up in the buffer: ready, it is presented to the listeners (outputs); not ready, it is late.
Late frames keep the timeline: policy 'drop' shows a late frame only within its own tick and skips
it after, policy 'hold' shows the newest ready frame that is not ahead of the clock in its place.
Either way the frame index stays where the wall clock puts it. Being behind is counted and logged
once per episode (with a summary every few seconds while it lasts), never per frame.

`step()` does one round of work for a given time and returns when it wants to run again, so tests
drive the player with a fake clock and a fake worker, with no thread and no sleeping.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from latentwalk.animation.frames import filtered
from latentwalk.animation.schema import ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.directions.live import LiveDirections
from latentwalk.directions.offsets import with_directions
from latentwalk.errors import InvalidRequest, LatentwalkError, RenderError, WorkerStopped
from latentwalk.playback import commands as c
from latentwalk.playback.binding import Binder
from latentwalk.playback.buffer import FrameBuffer, Key
from latentwalk.playback.clock import FrameClock
from latentwalk.playback.frame import Frame, PresentedFrame
from latentwalk.playback.lateness import Lateness
from latentwalk.playback.prefetch import Pace, next_requests
from latentwalk.playback.program import Item, Program, load_sources
from latentwalk.render.worker import InferenceWorker, ModelInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlayerOptions:
    """How the player starts out; fps, speed, loop and late policy change later through commands."""

    fps: float = 24.0
    speed: float = 1.0
    loop: bool = True
    late: c.LatePolicy = "drop"
    ahead: int = 24  # frames asked of the worker ahead of the clock
    batch: int = 4  # frames per worker request
    cache_bytes: int = 256 << 20  # finished frames kept (a loop that fits is rendered once)
    walk_seed: int | None = None  # seeds of /random walks: reproducible when set
    preroll: float = 2.0  # at most this long (s) to wait for frame 0 before the clock starts


class PlaybackListener:
    """What outputs hear from the player (called on the player's thread: return quickly)."""

    def presented(self, frame: PresentedFrame) -> None:
        """A frame was presented."""

    def started(self, name: str, total: int) -> None:
        """Playback entered animation `name` (of `total` frames)."""

    def ended(self, name: str) -> None:
        """Playback left animation `name` after its end (next in the chain, or the end)."""

    def changed(self, status: dict[str, Any]) -> None:
        """A command changed the player's state."""


class Player:
    """Plays saved animations and walks in real time, driven by `apply(command)`."""

    def __init__(
        self,
        worker: InferenceWorker,
        store: AnimationStore,
        resolve: Callable[[ModelIdentity], ModelRef],
        default_model: Callable[[], ModelRef],
        options: PlayerOptions | None = None,
        now: Callable[[], float] = time.monotonic,
        threaded: bool = True,
    ) -> None:
        self.options = opts = options or PlayerOptions()
        self.threaded = threaded  # False: the caller drives `step()` (tests on fake time)
        self.worker = worker
        self.store = store
        self.resolve = resolve
        self.default_model = default_model
        self.now = now
        self.clock = FrameClock(opts.fps, opts.speed, now)
        self.buffer = FrameBuffer(opts.cache_bytes, now)
        self.buffer.on_ready = self._landed
        self.listeners: list[PlaybackListener] = []
        self.loop = opts.loop
        self.late_policy: c.LatePolicy = opts.late
        self.state = "idle"  # idle | playing | paused | stopped | ended
        self.program: Program | None = None
        self.binder = Binder(worker, opts.walk_seed)
        self.offsets: dict[int, float] = {}
        self.directions = LiveDirections()  # `direction NAME AMOUNT`, `direction/lock NAME 0|1`
        self.generation = 0
        self.last: PresentedFrame | None = None
        self.error: str | None = None
        self.counters = collections.Counter[str]()
        self._commands: queue.SimpleQueue[tuple[c.Command, concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._wake = threading.Event()
        self._landing = threading.Event()  # frames arrived in the buffer
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._next_id = 0
        self._tick: int | None = None  # the tick being served
        self._tick_done = True  # its frame has been shown
        self._item: Item | None = None  # the item of the last tick
        self.lateness = Lateness()
        self._warned: set[str] = set()

    # ------------------------------------------------------------ control (any thread)

    def apply(self, command: c.Command) -> concurrent.futures.Future[dict[str, Any]]:
        """Queue a command; the player's thread (started on first use) carries it out.

        Returns:
            A future of the status after the command, or of the error that refused it.
        """
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        if self._closing:  # no thread will ever carry it out: say so instead of leaving it waiting
            future.set_exception(WorkerStopped("the player is closed (the server is shutting down)"))
            return future
        self._commands.put((command, future))
        self.start()
        self._wake_up()
        return future

    def add_listener(self, listener: PlaybackListener) -> None:
        with self._lock:
            self.listeners.append(listener)

    def remove_listener(self, listener: PlaybackListener) -> None:
        with self._lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    @property
    def closed(self) -> bool:
        return self._closing

    def start(self) -> Player:
        with self._lock:
            if self._thread is None and not self._closing and self.threaded:
                self._thread = threading.Thread(target=self._run, name="latentwalk-player", daemon=True)
                self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and cancel the frames in flight."""
        self._closing = True
        self._wake_up()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self.buffer.close()

    def _wake_up(self) -> None:
        self._wake.set()

    def _landed(self) -> None:
        self._landing.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                wake_at = self.step()
            except Exception:  # never let one bad round kill the player
                log.exception("playback step failed")
                wake_at = self.now() + 0.1
            self._wake.wait(max(0.0, wake_at - self.now()))

    # ------------------------------------------------------------ one round (the player's thread)

    def step(self, now: float | None = None) -> float:
        """Run queued commands, present the frame due, ask for the frames ahead.

        Returns:
            The monotonic time at which the player wants to run again.
        """
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                break
            self._execute(command, future)
        t = self.now() if now is None else now
        if self.program is None or self.state in ("idle", "stopped", "ended"):
            return t + 1.0
        k = self.clock.tick_at(t) if self.state == "playing" else 0
        self._serve_tick(k, t)
        if self.state != "ended":
            self._prefetch(k)
            if not self._tick_done:  # it may have landed meanwhile (a fast worker, the cache)
                self._serve_tick(k, self.now() if now is None else t)
        if self.state != "playing":
            return t + 1.0
        return self.clock.tick_time(k + 1)

    def _due(self, k: int) -> tuple[Item, int, Key] | None:
        assert self.program is not None
        found = self.program.locate(self.clock.frame_at_tick(k))
        if found is None:
            return None
        item, local, _ = found
        return item, local, (self.generation, item.id, local)

    def _serve_tick(self, k: int, t: float) -> None:
        new_tick = k != self._tick
        if new_tick:
            if self._tick is not None and not self._tick_done and self.state == "playing":
                self._late(t, missed=1 + max(0, k - self._tick - 1))
            elif self._tick is not None and self.state == "playing" and k > self._tick + 1:
                self._late(t, missed=k - self._tick - 1)  # the thread woke too late for whole ticks
            self._tick, self._tick_done = k, False
        if self._tick_done:
            return
        due = self._due(k)
        if due is None:
            self._end()
            return
        item, local, key = due
        if self._item is None or item.id != self._item.id:
            if self._item is not None:
                self._emit("ended", self._item.name)
            self._item = item
            self._emit("started", item.name, item.total)
        frame = self.buffer.get(key)
        if frame is not None:
            if self.last is not None and self.last.frame is frame and not new_tick:
                self._tick_done = True  # a paused frame already shown
                return
            self._present(frame, item, local, k, t)
            self._tick_done = True
        elif new_tick and self.state == "playing" and self.late_policy == "hold":
            self._present_stand_in(k, t)

    def _present(
        self, frame: Frame, item: Item, local: int, k: int, t: float, repeated: bool = False
    ) -> None:
        due_at = self.clock.tick_time(k) if self.state == "playing" else t
        pf = PresentedFrame(frame, item.name, local, item.total, k, due_at, t, self.generation, repeated)
        self.last = pf
        self.counters["presented"] += 1
        if repeated:
            self.counters["repeated"] += 1
        if self.state == "playing" and not repeated:
            self.lateness.presented(t - due_at)
        self._emit("presented", pf)

    def _present_stand_in(self, k: int, t: float) -> None:
        """Hold policy: the newest ready frame between the last one shown and the one due."""
        assert self.program is not None
        pos = self.clock.frame_at_tick(k)
        for back in range(1, self.options.ahead + 1):
            found = self.program.locate(pos - back)
            if found is None:
                break
            item, local, _ = found
            frame = self.buffer.get((self.generation, item.id, local))
            if frame is not None:
                if self.last is not None and self.last.frame is frame:
                    break
                self._present(frame, item, local, k, t, repeated=True)
                return
        last = self.last
        if last is not None and last.generation == self.generation:
            self.last = replace(last, tick=k, due=self.clock.tick_time(k), shown=t, repeated=True)
            self.counters["presented"] += 1
            self.counters["repeated"] += 1
            self._emit("presented", self.last)

    def _late(self, t: float, missed: int) -> None:
        name = self._item.name if self._item else "?"
        how = "dropping late frames" if self.late_policy == "drop" else "holding the newest ready frame"
        why = (
            f"a frame of {name!r} was not ready at its time ({how}; generation takes "
            f"{self.buffer.frame_seconds * 1000:.1f} ms a frame, a frame lasts "
            f"{1000 / self.clock.fps:.1f} ms)"
        )
        self.lateness.missed(t, missed, why, measured=self.buffer.frame_seconds > 0)

    def _end(self) -> None:
        if self._item is not None:
            self._emit("ended", self._item.name)
        self.state = "ended"
        self.clock.pause(self.now())
        self._tick_done = True
        self._emit("changed", self.status())

    def _prefetch(self, k: int) -> None:
        """Ask the worker for the frames ahead (prefetch.py decides which); cancel the unwanted."""
        t = self.now()
        self.lateness.check(t)
        buffer = self.buffer

        def due(j: int) -> tuple[Item, Key] | None:
            found = self._due(j)
            return None if found is None else (found[0], found[2])

        pace = Pace(
            t, self.clock.fps, buffer.frame_seconds, buffer.in_flight, self.clock.tick_time, buffer.eta
        )
        opts = self.options
        wanted = next_requests(
            k, self.state == "playing", pace, due, buffer.wanted, opts.ahead, opts.batch, self.clock.tick_at
        )
        buffer.cancel_except(wanted.keep)
        for item, keys in wanted.runs:
            self._submit(item, keys)

    def _submit(self, item: Item, keys: list[Key]) -> None:
        offsets = self._offset_vector(item)

        moves = self.directions.moves(item.plan.info, self.generation, self._warn_once)

        def submit(indices: np.ndarray) -> Any:
            req = item.plan.request(indices)
            if offsets is not None and req.z is not None:
                req = replace(req, z=(req.z + offsets).astype(np.float32))
            if moves:
                req = with_directions(req, item.plan.info, moves)
            return self.worker.submit(req)

        finish = None
        if item.plan.settings.view_filter.kind != "none":
            p = item.plan

            def finish(pixels: np.ndarray) -> np.ndarray:
                return filtered(p, pixels)

        try:
            self.buffer.request(keys, submit, finish)
        except LatentwalkError as exc:
            self._fail(f"frames of {item.name!r} cannot be rendered: {exc}")

    def _offset_vector(self, item: Item) -> np.ndarray | None:
        if not self.offsets:
            return None
        if item.plan.settings.space != "z":
            self._warn_once("w-offsets", "latent offsets apply to z-space animations only; ignored")
            return None
        vec = np.zeros(item.plan.info.z_dim, dtype=np.float32)
        for i, v in self.offsets.items():
            if i < len(vec):
                vec[i] = v
        return vec

    def _emit(self, event: str, *args: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, event)(*args)
            except Exception:
                self._warn_once(
                    f"listener-{id(listener)}", f"a playback output failed ({type(listener).__name__})"
                )
                log.debug("listener failure", exc_info=True)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def _fail(self, message: str) -> None:
        self.error = message
        log.warning("playback: %s", message)

    # ------------------------------------------------------------ commands (the player's thread)

    def _execute(self, command: c.Command, future: concurrent.futures.Future[Any]) -> None:
        t = self.now()
        error: LatentwalkError | None = None
        try:
            self._run_command(command, t)
            self.error = None
        except LatentwalkError as exc:
            error = exc
            self._fail(f"{type(command).__name__.lower()} refused: {exc}")
        except Exception as exc:  # a bug: report it, keep playing
            log.exception("playback command %r failed", command)
            error = RenderError(f"{type(command).__name__.lower()} failed: {type(exc).__name__}: {exc}")
            self.error = str(error)
        status = self.status()
        if error is None:
            future.set_result(status)
        else:
            future.set_exception(error)
        self._emit("changed", status)

    def _run_command(self, cmd: c.Command, t: float) -> None:
        match cmd:
            case c.Play(names=names, loop=loop):
                if loop is not None:
                    self.loop = loop
                self.buffer.cancel_except(set())
                sources = load_sources(self.store, names, self.resolve)
                self._start(self.binder.program(sources, self.loop), t)
            case c.RandomWalk(steps=steps):
                self._start_walk(steps, t)
            case c.Seed(seed=seed):
                self._start(self.binder.still(self._model(), seed), t)
            case c.Stop():
                self.buffer.cancel_except(set())
                if self.program is not None:
                    self.state = "stopped"
                    self.clock.pause(t)
                    self.clock.seek(0, t)
                    self._item = None
            case c.Pause():
                if self.state == "playing":
                    self.clock.pause(t)
                    self.state = "paused"
                    self._tick, self._tick_done = 0, True  # the frame shown stays, not shown again
            case c.Resume():
                self._resume(t)
            case c.TogglePause():
                if self.state == "playing":
                    self._run_command(c.Pause(), t)
                else:
                    self._resume(t)
            case c.Seek(frame=frame):
                self._seek(frame, t)
            case c.Speed(factor=factor):
                self.clock.set_speed(factor, t)
                self._rebased(t)
            case c.Fps(fps=fps):
                self.clock.set_fps(fps, t)
                self._rebased(t)
            case c.Loop(on=on):
                self.loop = (not self.loop) if on is None else on
                if self.program is not None and not self.program.endless:
                    self.program.loop = self.loop
            case c.Shadows(on=on):
                self.binder.shadows = (not self._shadows_shown()) if on is None else on
                self._rebind()
            case c.Psi(value=value):
                self.binder.psi = value
                self._rebind()
            case c.Latent(index=index, value=value):
                z_dim = self._z_dim()
                if z_dim is not None and index >= z_dim:
                    raise InvalidRequest(f"latent index {index} is out of range: the model has z_dim {z_dim}")
                if value == 0:
                    self.offsets.pop(index, None)
                else:
                    self.offsets[index] = value
                self._new_generation()
            case c.Direction(name=name, amount=amount):
                self.directions.set_amount(self._info(), name, amount)
                self._new_generation()
            case c.DirectionLock(name=name, on=on):
                self.directions.set_lock(self._info(), name, on)
                self._new_generation()
            case c.Late(policy=policy):
                self.late_policy = policy

    def _start(self, program: Program, t: float) -> None:
        self.program = program
        self._new_generation()
        self.clock.start(0, max(t, self.now()))
        self.state = "playing"
        self._item = None
        self._tick, self._tick_done = None, True
        self._preroll()

    def _preroll(self) -> None:
        """Frame 0 is due once the program is loaded and its first frame is ready (or `preroll`
        seconds have passed): a show never starts on a dropped frame."""
        due = self._due(0)
        if due is None or self.options.preroll <= 0:
            return
        item, _, key = due
        self._landing.clear()
        if self.buffer.wanted(key):
            self._submit(item, [key])
        deadline = time.monotonic() + self.options.preroll
        while self.buffer.get(key) is None and self.buffer.in_flight and time.monotonic() < deadline:
            self._landing.wait(max(0.0, min(0.05, deadline - time.monotonic())))
            self._landing.clear()
        self.clock.start(0, self.now())

    def _resume(self, t: float) -> None:
        if self.program is None or self.state == "playing":
            return
        if self.state in ("stopped", "ended"):
            self.clock.start(0, t)  # from the start again
            self._item = None
        else:
            self.clock.resume(t)
        self.state = "playing"
        self._tick, self._tick_done = None, True

    def _seek(self, frame: int, t: float) -> None:
        if self.program is None:
            raise InvalidRequest("nothing is playing: play an animation first, then seek")
        found = self.program.locate(self.clock.frame(t))
        if found is None:  # ended: seek within the last item
            item = self.program.items[-1]
            start = sum(i.total for i in self.program.items[:-1])
        else:
            item, _, start = found
        self.clock.seek(start + min(frame, item.total - 1), t)
        if self.state == "ended":
            self.state = "paused"
        self._tick, self._tick_done = None, False

    def _rebased(self, t: float) -> None:
        if self.state == "playing":
            self._tick = self.clock.tick_at(t)

    def _start_walk(self, steps: int, t: float) -> None:
        """Marrow's /random: from the picture shown (when it has a z of its own) to random seeds."""
        model, start = self._model(), None
        last, item = self.last, self._item
        if (
            last is not None
            and item is not None
            and item.plan.settings.space == "z"
            and item.source.model == model
        ):
            start = item.plan.z_at(last.index)[0]
        self._start(self.binder.walk(model, start, steps), t)

    def _rebind(self) -> None:
        if self.program is not None:
            self.buffer.cancel_except(set())
            self.program = self.binder.rebound(self.program)
            self._item = None
        self._new_generation()

    def _new_generation(self) -> None:
        self.generation += 1
        self.buffer.clear()
        self._tick, self._tick_done = None, True

    def _model(self) -> ModelRef:
        if self.program is not None:
            return self.program.items[-1].source.model
        return self.default_model()

    def _info(self) -> ModelInfo | None:
        return self.program.items[-1].plan.info if self.program is not None else None

    def _z_dim(self) -> int | None:
        info = self._info()
        return None if info is None else info.z_dim

    def _shadows_shown(self) -> bool:
        if self.binder.shadows is not None:
            return self.binder.shadows
        if self.program is not None:
            return self.program.items[0].source.settings.view_filter.kind == "shadows"
        return False

    # ------------------------------------------------------------ status (any thread)

    def status(self) -> dict[str, Any]:
        """The player's state, JSON-ready. Read without waiting for the player's thread (which owns
        the state and may be busy loading): a snapshot of plain attributes."""
        last = self.last
        late = self.lateness.percentiles()
        program = self.program
        return {
            "state": self.state,
            "names": program.names if program and not program.endless else [],
            "name": last.name if last else None,
            "index": last.index if last else None,
            "total": last.total if last else None,
            "position": self.clock.frame(),
            "fps": self.clock.fps,
            "speed": self.clock.speed,
            "loop": self.loop,
            "late_policy": self.late_policy,
            "shadows": self._shadows_shown(),
            "psi": self.binder.psi,
            "offsets": {str(i): v for i, v in sorted(dict(self.offsets).items())},
            "directions": dict(sorted(self.directions.amounts.items())),
            "direction_locks": sorted(self.directions.locks),
            "generation": self.generation,
            "behind": self.lateness.behind,
            "counters": {
                "presented": self.counters["presented"],
                "dropped": self.lateness.dropped,
                "repeated": self.counters["repeated"],
                "rendered": self.buffer.rendered,
                "failed": self.buffer.failed,
            },
            "frame_ms": round(self.buffer.frame_seconds * 1000, 2),
            "lateness_ms": None if late is None else {"p50": late[0] * 1000, "p99": late[1] * 1000},
            "error": self.error,
        }
