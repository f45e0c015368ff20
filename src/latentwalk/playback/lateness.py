"""Saying so when playback falls behind: counters, episodes, and a few log lines (never one per frame)."""

from __future__ import annotations

import collections
import logging
import threading

import numpy as np

log = logging.getLogger(__name__)

SUMMARY_EVERY_S = 5.0  # while behind, one log line this often
CAUGHT_UP_AFTER_S = 2.0  # this long with no late frame ends an episode of being behind


class Lateness:
    """Frames dropped, episodes of being behind, and how late presented frames were.

    An episode starts with the first late frame (one warning), is summarised every few seconds
    while it lasts, and ends after a while with none (one line)."""

    def __init__(self) -> None:
        self.dropped = 0
        self.behind_since: float | None = None
        self._last_late = 0.0
        self._summary_at = 0.0
        self._in_episode = 0
        self._recent: collections.deque[float] = collections.deque(maxlen=512)
        self._lock = threading.Lock()

    @property
    def behind(self) -> bool:
        return self.behind_since is not None

    def presented(self, late_by: float) -> None:
        """A frame was presented `late_by` seconds after its tick."""
        with self._lock:
            self._recent.append(late_by)

    def missed(self, t: float, frames: int, why: str, measured: bool = True) -> None:
        """`frames` ticks passed without their frame; `why` explains it in the log. Before the
        worker's pace is `measured` (a cold start) they are only counted."""
        self.dropped += frames
        self._in_episode += frames
        self._last_late = t
        if not measured:
            return
        if self.behind_since is None:
            self.behind_since = self._summary_at = t
            log.warning("playback is behind: %s", why)
        elif t - self._summary_at >= SUMMARY_EVERY_S:
            log.info("playback still behind: %d late frame(s) so far", self._in_episode)
            self._summary_at = t

    def check(self, t: float) -> None:
        """End the episode once no frame has been late for a while."""
        if self.behind_since is not None and t - self._last_late >= CAUGHT_UP_AFTER_S:
            log.info(
                "playback caught up (%d late frame(s) in %.1f s)", self._in_episode, t - self.behind_since
            )
            self.behind_since = None
            self._in_episode = 0

    def percentiles(self) -> tuple[float, float] | None:
        """p50 and p99 of how late the last 512 frames were presented (seconds)."""
        with self._lock:
            values = np.array(self._recent)
        if values.size == 0:
            return None
        return float(np.percentile(values, 50)), float(np.percentile(values, 99))
