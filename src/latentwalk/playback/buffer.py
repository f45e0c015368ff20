"""Frames ahead of the clock: requests to the worker, a bounded cache of finished frames, timing.

The player asks for the frames it will need soon; each run of frames goes to the worker as one
request, and the finished pixels (view filter applied off the player's thread) land in a cache
bounded in bytes, keyed by (generation, item, frame). A loop that fits in the cache is rendered
once. Requests no longer wanted are cancelled (the worker skips cancelled jobs). The time the
worker spends per frame is tracked, so the player can aim its requests at frames that can still be
ready on time.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latentwalk.playback.frame import Frame

log = logging.getLogger(__name__)

Key = tuple[int, int, int]  # (generation, item id, frame index)
Submit = Callable[[np.ndarray], "concurrent.futures.Future[np.ndarray]"]  # frame indices -> pixels
Finish = Callable[[np.ndarray], np.ndarray]  # pixels [n, H, W, C] -> filtered pixels


@dataclass
class _Run:
    keys: list[Key]
    future: concurrent.futures.Future[np.ndarray]
    submitted: float


class FrameBuffer:
    """The frames in flight and the frames ready, shared by the player thread and the worker."""

    def __init__(self, max_bytes: int = 256 << 20, now: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.now = now
        self._ready: collections.OrderedDict[Key, Frame] = collections.OrderedDict()
        self._bytes = 0
        self._runs: dict[int, _Run] = {}  # by id(run)
        self._pending: dict[Key, _Run] = {}
        self._lock = threading.Lock()
        self._finisher: concurrent.futures.ThreadPoolExecutor | None = None
        self._last_done = 0.0
        self._avg_busy = 0.0
        self._avg_frames = 0.0
        self.frame_seconds = 0.0  # worker time per frame (moving average); 0 until measured
        self.rendered = 0
        self.failed = 0
        self.last_error: str | None = None
        self.on_ready: Callable[[], None] | None = None  # called (on any thread) when frames land

    # ------------------------------------------------------------ reading

    def get(self, key: Key) -> Frame | None:
        with self._lock:
            frame = self._ready.get(key)
            if frame is not None:
                self._ready.move_to_end(key)
            return frame

    def wanted(self, key: Key) -> bool:
        """Neither ready nor in flight."""
        with self._lock:
            return key not in self._ready and key not in self._pending

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def eta(self, frames: int) -> float:
        """When `frames` more frames asked for now would be ready (by the measured pace)."""
        with self._lock:
            queued = len(self._pending)
        return self.now() + (queued + frames) * self.frame_seconds

    # ------------------------------------------------------------ asking

    def request(self, keys: list[Key], submit: Submit, finish: Finish | None) -> None:
        """Render the frames `keys` (one item, consecutive order) with `submit(indices)`, then
        `finish(pixels)` them off the caller's thread."""
        indices = np.array([k[2] for k in keys], dtype=np.int64)
        future = submit(indices)
        run = _Run(keys, future, self.now())
        with self._lock:
            self._runs[id(run)] = run
            for k in keys:
                self._pending[k] = run
        future.add_done_callback(lambda f: self._done(run, f, finish))

    def cancel_except(self, keep: set[Key]) -> int:
        """Cancel the runs none of whose frames are in `keep`; returns how many were cancelled."""
        with self._lock:
            runs = [r for r in self._runs.values() if not any(k in keep for k in r.keys)]
        return sum(1 for r in runs if r.future.cancel())

    def clear(self, cancel: bool = True) -> None:
        """Forget every ready frame (and cancel what is in flight)."""
        with self._lock:
            runs = list(self._runs.values())
            self._ready.clear()
            self._bytes = 0
        if cancel:
            for r in runs:
                r.future.cancel()

    def close(self) -> None:
        self.clear()
        if self._finisher is not None:
            self._finisher.shutdown(wait=False, cancel_futures=True)
            self._finisher = None

    # ------------------------------------------------------------ completion (worker or finisher thread)

    def _done(self, run: _Run, future: concurrent.futures.Future[np.ndarray], finish: Finish | None) -> None:
        if future.cancelled():
            self._drop(run)
            return
        exc = future.exception()
        if exc is not None:
            self._drop(run)
            with self._lock:
                self.failed += len(run.keys)
                first = self.last_error is None
                self.last_error = str(exc)
            if first:
                log.warning("playback frames failed to render: %s", exc)
            return
        done = self.now()
        with self._lock:
            # Worker time per frame. Runs the worker batched together finish at once: the first
            # carries the batch's time, the others none, so frames and time are averaged apart.
            busy = done - max(run.submitted, self._last_done)
            self._last_done = done
            if self._avg_frames == 0:
                self._avg_busy, self._avg_frames = busy, float(len(run.keys))
            else:
                self._avg_busy = 0.9 * self._avg_busy + 0.1 * busy
                self._avg_frames = 0.9 * self._avg_frames + 0.1 * len(run.keys)
            self.frame_seconds = max(self._avg_busy / self._avg_frames, 1e-6)
        pixels = future.result()
        if finish is None:
            self._store(run, pixels)
            return
        with self._lock:
            if self._finisher is None:
                self._finisher = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="latentwalk-finish"
                )
            finisher = self._finisher
        try:
            finisher.submit(lambda: self._store(run, finish(pixels)))
        except RuntimeError:  # shut down meanwhile
            self._drop(run)

    def _store(self, run: _Run, pixels: np.ndarray) -> None:
        with self._lock:
            self._forget(run)
            for key, px in zip(run.keys, pixels, strict=True):
                frame = Frame(np.ascontiguousarray(px))
                old = self._ready.pop(key, None)
                if old is not None:
                    self._bytes -= old.nbytes
                self._ready[key] = frame
                self._bytes += frame.nbytes
            self.rendered += len(run.keys)
            while self._bytes > self.max_bytes and len(self._ready) > 1:
                _, dropped = self._ready.popitem(last=False)
                self._bytes -= dropped.nbytes
        if self.on_ready is not None:
            self.on_ready()

    def _drop(self, run: _Run) -> None:
        with self._lock:
            self._forget(run)

    def _forget(self, run: _Run) -> None:
        self._runs.pop(id(run), None)
        for k in run.keys:
            if self._pending.get(k) is run:
                del self._pending[k]
