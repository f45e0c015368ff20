"""The frame clock on a fake clock: frame index from the wall clock, no drift, steady grid."""

from __future__ import annotations

import math
import random

from latentwalk.playback.clock import FrameClock
from playback_support import FakeClock


def test_frame_index_follows_the_wall_clock_for_60_s_with_no_drift() -> None:
    now = FakeClock(1000.0)
    clock = FrameClock(24, now=now)
    clock.start(0)
    rng = random.Random(1)
    t0 = now.t
    worst = 0
    while now.t < t0 + 60:
        now.t += rng.uniform(0.0, 0.09)  # irregular wake-ups, some missing whole ticks
        expected = math.floor((now.t - t0) * 24 + 1e-9)
        worst = max(worst, abs(clock.frame() - expected))
    assert worst == 0
    now.t = t0 + 60
    assert clock.frame() == 1440 and clock.tick_time(1440) == t0 + 60


def test_speed_and_fps_changes_keep_the_grid_and_the_position() -> None:
    now = FakeClock(0.0)
    clock = FrameClock(24, now=now)
    clock.start(10)
    now.t = 1.0 + 0.01  # 24 ticks later, a bit into tick 24
    assert clock.frame() == 34
    clock.set_speed(2.0)
    assert clock.frame() == 34  # the current tick keeps its frame
    assert abs(clock.tick_time(1) - (1.0 + 1 / 24)) < 1e-9  # same phase as before
    now.t = 1.0 + 2 / 24 + 0.001
    assert clock.frame() == 38
    clock.set_fps(12)
    now.t += 1.0
    assert clock.frame() == 38 + 24
    clock.set_speed(0.5)
    now.t += 1.0
    assert clock.frame() == 62 + 6  # half a frame per tick at 12 ticks a second


def test_pause_resume_and_seek() -> None:
    now = FakeClock(0.0)
    clock = FrameClock(24, now=now)
    clock.start(0)
    now.t = 0.5
    assert clock.frame() == 12
    clock.pause()
    now.t = 3.0
    assert clock.frame() == 12 and not clock.running
    clock.seek(30)  # paused: stays paused, on the new frame
    assert clock.frame() == 30
    clock.resume()
    assert clock.frame() == 30 and clock.tick_time(0) == 3.0
    now.t = 3.0 + 1 / 24
    assert clock.frame() == 31
    clock.seek(5)
    assert clock.frame() == 5
