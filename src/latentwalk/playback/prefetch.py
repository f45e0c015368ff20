"""Which frames to ask the worker for next: a pure decision from the clock, the buffer and the pace.

While the worker keeps up, the frames of the next `ahead` ticks are asked for, skipping any that
could not be ready before their tick ends, in rounds no bigger than the first frame of a round can
wait for (the worker runs requests queued together as one batch and finishes them together). When
a frame takes most of a tick or more to generate, the worker gets one round at a time: `batch`
frames spread over the ticks that round will take, aimed past the time it will be done. The frames
in between are skipped, so what is shown is on time, at the rate the worker allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from latentwalk.playback.buffer import Key

Due = Callable[[int], "tuple[Any, Key] | None"]  # tick -> (item, key), None past the end


@dataclass
class Requests:
    """The decision: runs of frames to ask for (one item each), and the frames still wanted."""

    runs: list[tuple[Any, list[Key]]] = field(default_factory=list)
    keep: set[Key] = field(default_factory=set)


@dataclass(frozen=True)
class Pace:
    """What the decision needs to know about time and the worker."""

    now: float
    fps: float
    frame_seconds: float  # worker time per frame (0: not measured yet)
    in_flight: int  # frames asked for and not done
    tick_time: Callable[[int], float]
    eta: Callable[[int], float]  # when n more frames asked for now would be done


def next_requests(
    k: int,
    playing: bool,
    pace: Pace,
    due: Due,
    wanted: Callable[[Key], bool],
    ahead: int,
    batch: int,
    tick_at: Callable[[float], int],
) -> Requests:
    """The runs of frames to ask for at tick `k` (paused: only the frame shown)."""
    per = pace.frame_seconds
    slow = playing and per * pace.fps >= 0.8
    stride = max(1, math.ceil(per * pace.fps * 1.15)) if slow else 1
    span = max(ahead, batch * stride) if playing else 0
    out = Requests()
    for j in range(k, k + span + 1):
        found = due(j)
        if found is None:
            break
        out.keep.add(found[1])
    if slow:
        if pace.in_flight:
            return out  # the round in flight first
        first = tick_at(pace.now + batch * per * 1.15) + 1
        ticks: range = range(first, first + batch * stride, stride)
        room = batch
    else:
        ticks = range(k, k + ahead + 1) if playing else range(k, k + 1)
        # Until the worker's pace is known, one run at a time: a first frame soon, then a measure.
        room = (ahead if per else batch) - pace.in_flight
    run: list[Key] = []
    run_item: Any = None
    seen: set[Key] = set()
    count = 0
    first_deadline: float | None = None
    for j in ticks:
        if room <= 0:
            break
        found = due(j)
        if found is None:
            break
        item, key = found
        if key in seen or not wanted(key):
            continue
        if playing and not slow and per:
            # Frames asked for together are finished together: no more than the first can wait for.
            if first_deadline is None:
                if pace.eta(1) > pace.tick_time(j + 1):
                    continue  # would miss its tick anyway: spend the worker on frames that can make it
                first_deadline = pace.tick_time(j + 1)
            if pace.eta(count + 1) > first_deadline:
                break  # the rest in a later round
        seen.add(key)
        count += 1
        consecutive = slow or (run and key[2] == run[-1][2] + 1)
        if run and (run_item is not item or not consecutive or len(run) >= batch):
            out.runs.append((run_item, run))
            run = []
        run.append(key)
        run_item = item
        room -= 1
    if run:
        out.runs.append((run_item, run))
    return out
