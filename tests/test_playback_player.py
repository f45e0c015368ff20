"""The player on fake time with a fake worker: frames on their ticks, late frames dropped or held,
chains, once and loop, and every command. No thread, no sleeping."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from latentwalk.errors import InvalidRequest, NameNotFound
from latentwalk.playback import commands as c
from latentwalk.playback.player import Player
from playback_support import drive, fake_player


def _due_index(frame_tick: int, start: int = 0, total: int = 48) -> int:
    return (start + frame_tick) % total


def test_fast_source_presents_every_frame_on_its_tick(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path)
    t0 = clock.t
    player.apply(c.Play(("walk",)))
    drive(player, clock, worker, t0 + 60, jitter=0.004)
    ticks = [f.tick for f in rec.frames]
    assert ticks == list(range(len(ticks))) and len(ticks) == 60 * 24 + 1
    assert [f.index for f in rec.frames] == [k % 48 for k in ticks]  # a loop of 48 frames
    assert all(f.shown - f.due <= 0.004 + 1e-9 for f in rec.frames)  # only the wake-up jitter
    assert abs(rec.frames[-1].due - (t0 + 60)) < 1e-9  # no drift over a minute
    assert player.lateness.dropped == 0
    assert worker.requests and sum(r.rows for r in worker.requests) == 48  # the loop is rendered once
    assert rec.events == [("started", "walk")]


def test_slow_source_drops_late_frames_and_keeps_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    player, clock, worker, rec = fake_player(tmp_path, frame_s=0.1)  # 10 frames/s for a 24 fps clock
    t0 = clock.t
    with caplog.at_level(logging.INFO, logger="latentwalk.playback.player"):
        player.apply(c.Play(("walk",), loop=False))
        drive(player, clock, worker, t0 + 1.9)
    assert rec.frames, "nothing was shown"
    for f in rec.frames:  # a frame is only ever shown within its own tick, on the wall clock's frame
        assert f.index == f.tick and f.due <= f.shown < f.due + 1 / 24
    assert 8 <= len(rec.frames) <= 20  # about the source's pace
    assert player.lateness.dropped + len(rec.frames) == 46  # every tick: shown or dropped
    behind = [r for r in caplog.records if "behind" in r.getMessage()]
    assert len(behind) == 1  # one line for the episode, not one per frame
    assert player.status()["behind"] is True


def test_slow_source_with_hold_repeats_the_newest_ready_frame(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path, frame_s=0.1, late="hold")
    t0 = clock.t
    player.apply(c.Play(("walk",)))
    drive(player, clock, worker, t0 + 1.5)
    first = next(i for i, f in enumerate(rec.frames) if not f.repeated)
    steady = rec.frames[first:]
    shown_ticks = sorted({f.tick for f in steady})
    assert shown_ticks == list(range(shown_ticks[0], shown_ticks[-1] + 1))  # a frame on every tick
    assert any(f.repeated for f in steady) and player.counters["repeated"] > 0
    assert all(f.index <= f.tick for f in steady)  # never ahead of the clock
    fresh = [f.index for f in steady if not f.repeated]
    assert fresh == sorted(fresh)


def test_chain_once_ends_and_says_so(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path)
    t0 = clock.t
    player.apply(c.Play(("short", "walk"), loop=False))
    drive(player, clock, worker, t0 + 3)
    assert [(f.name, f.index) for f in rec.frames[:8]] == [("short", i) for i in range(6)] + [
        ("walk", 0),
        ("walk", 1),
    ]
    assert rec.frames[-1].name == "walk" and rec.frames[-1].index == 47 and len(rec.frames) == 54
    assert rec.events == [("started", "short"), ("ended", "short"), ("started", "walk"), ("ended", "walk")]
    assert player.status()["state"] == "ended"


def test_commands_change_the_state(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path)
    t0 = clock.t
    player.apply(c.Play(("walk",)))
    drive(player, clock, worker, t0 + 0.5)
    assert player.status()["index"] == 12
    player.apply(c.Pause())
    drive(player, clock, worker, t0 + 1.5)
    st = player.status()
    assert st["state"] == "paused" and st["index"] == 12
    player.apply(c.Seek(40))
    drive(player, clock, worker, t0 + 1.6)
    assert player.status()["index"] == 40 and rec.frames[-1].index == 40
    player.apply(c.Seek(1000))  # clamped to the last frame
    drive(player, clock, worker, t0 + 1.7)
    assert player.status()["index"] == 47
    player.apply(c.Resume())
    player.apply(c.Speed(2.0))
    player.apply(c.Fps(12))
    drive(player, clock, worker, t0 + 2.7)
    st = player.status()
    assert st["state"] == "playing" and st["speed"] == 2.0 and st["fps"] == 12.0
    assert st["index"] == (47 + 24) % 48  # one second: 12 ticks of 2 frames
    player.apply(c.Loop(None))
    player.apply(c.Late("hold"))
    drive(player, clock, worker, t0 + 2.8)
    assert player.status()["loop"] is False and player.status()["late_policy"] == "hold"
    player.apply(c.Stop())
    drive(player, clock, worker, t0 + 3.0)
    assert player.status()["state"] == "stopped"


def test_psi_shadows_and_latent_change_what_is_rendered(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path)
    t0 = clock.t
    player.apply(c.Seed(5))  # a still: every request is for the same latent
    drive(player, clock, worker, t0 + 0.2)
    plain = worker.requests[-1]
    assert plain.psi == 1.0 and plain.z is not None
    player.apply(c.Psi(0.5))
    player.apply(c.Latent(3, 2.0))
    drive(player, clock, worker, t0 + 0.4)
    last = worker.requests[-1]
    assert last.psi == 0.5 and last.z is not None
    np.testing.assert_allclose(last.z[0, 3] - plain.z[0, 3], 2.0, atol=1e-5)
    np.testing.assert_allclose(np.delete(last.z[0], 3), np.delete(plain.z[0], 3))
    player.apply(c.Latent(3, 0.0))  # 0 takes the offset away
    drive(player, clock, worker, t0 + 0.5)
    np.testing.assert_allclose(worker.requests[-1].z, plain.z)  # type: ignore[arg-type]
    gen = player.generation
    player.apply(c.Shadows(True))
    drive(player, clock, worker, t0 + 0.6)
    assert player.status()["shadows"] is True and player.generation > gen
    # The filter runs off the player's thread: wait for the finisher, then look at the frame.
    for _ in range(200):
        drive(player, clock, worker, clock.t + 0.05)
        if rec.frames[-1].generation == player.generation:
            break
    px = rec.frames[-1].frame.pixels
    assert px.shape[-1] == 1 or np.all(px[..., 0] == px[..., 1])  # grey silhouettes
    with pytest.raises(InvalidRequest, match="z_dim 8"):
        _run_now(player, c.Latent(8, 1.0))


def _run_now(player: Player, command: c.Command) -> dict[str, Any]:
    future = player.apply(command)
    player.step()
    return future.result(0)


def test_bad_commands_are_refused_and_the_player_goes_on(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path)
    t0 = clock.t
    player.apply(c.Play(("walk",)))
    drive(player, clock, worker, t0 + 0.5)
    future = player.apply(c.Play(("no such walk",)))
    drive(player, clock, worker, t0 + 1.0)
    with pytest.raises(NameNotFound):
        future.result(0)
    st = player.status()
    assert st["state"] == "playing" and st["name"] == "walk" and "no such walk" in st["error"]
    assert rec.frames[-1].index == 24
    for bad in (lambda: c.Speed(0), lambda: c.Fps(1000), lambda: c.Psi(math.nan), lambda: c.Seed(-1)):
        with pytest.raises(InvalidRequest):
            bad()


def test_random_walk_and_seed(tmp_path: Path) -> None:
    player, clock, worker, rec = fake_player(tmp_path, walk_seed=7)
    t0 = clock.t
    player.apply(c.Seed(42))
    drive(player, clock, worker, t0 + 0.5)
    assert {(f.name, f.index, f.total) for f in rec.frames} == {("seed 42", 0, 1)}
    player.apply(c.RandomWalk(steps=10))
    drive(player, clock, worker, t0 + 2.0)
    walk = [f for f in rec.frames if f.name.startswith("random walk")]
    assert len(walk) == 37 and len({f.name for f in walk}) == 4  # a new leg every 10 frames, endless
    assert player.status()["state"] == "playing" and player.status()["names"] == []
    # The walk starts where the picture was: its first frame is seed 42's latent.
    still, leg = worker.requests[0], next(r for r in worker.requests if r.rows > 1)
    assert still.z is not None and leg.z is not None
    np.testing.assert_allclose(leg.z[0], still.z[0], atol=1e-6)


def test_parse_command_from_json() -> None:
    assert c.parse_command({"command": "play", "names": ["a", "b"], "loop": False}) == c.Play(
        ("a", "b"), False
    )
    assert c.parse_command({"command": "speed", "factor": 2}) == c.Speed(2.0)
    assert c.parse_command({"command": "loop"}) == c.Loop(None)
    assert c.parse_command({"command": "latent", "index": 3, "value": -1.5}) == c.Latent(3, -1.5)
    for bad, message in (
        ({"command": "dance"}, "unknown command"),
        ({"command": "seek"}, "frame is missing"),
        ({"command": "seek", "frame": "3"}, "frame must be int"),
        ({"command": "speed", "factor": True}, "factor must be float"),
        ({"command": "stop", "now": 1}, "unknown field"),
        ({"command": "fps", "fps": 0}, "fps must be in"),
    ):
        with pytest.raises(InvalidRequest, match=message):
            c.parse_command(bad)
