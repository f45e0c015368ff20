"""The frame clock: which frame is due is computed from the monotonic clock, never accumulated.

Ticks (presented frames) fall on a fixed grid, `anchor + k / fps`; at tick k the animation stands at
`position + k * speed` frames. Nothing is added up from one frame to the next, so no error can
build up: however late a frame is presented, the next one is still the one the wall clock says.
Changing the speed or the frame rate starts a new grid from the last tick (keeping its phase), a
seek starts one at once, and a pause freezes the position.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

EPS = 1e-9  # absorbs float error in tick and position arithmetic (a tick 1e-9 s early is on time)


class FrameClock:
    """Ticks at `fps` per second; each tick moves the animation `speed` frames on."""

    def __init__(
        self, fps: float = 24.0, speed: float = 1.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        if fps <= 0 or speed <= 0:
            raise ValueError("fps and speed must be positive")
        self.now = now
        self.fps = float(fps)
        self.speed = float(speed)
        self.running = False
        self._anchor = now()  # time of tick 0 of the current grid
        self._position = 0.0  # animation position at tick 0

    # ------------------------------------------------------------ reading

    def tick_at(self, t: float) -> int:
        """The last tick at or before time t (0 at the anchor; negative before it)."""
        return math.floor((t - self._anchor) * self.fps + EPS)

    def tick_time(self, k: int) -> float:
        """When tick k is due."""
        return self._anchor + k / self.fps

    def position_at_tick(self, k: int) -> float:
        """Where the animation stands at tick k (frozen while paused)."""
        if not self.running:
            return self._position
        return self._position + max(k, 0) * self.speed

    def position(self, t: float | None = None) -> float:
        return self.position_at_tick(self.tick_at(self.now() if t is None else t))

    def frame_at_tick(self, k: int) -> int:
        """The (integer) animation frame due at tick k."""
        return math.floor(self.position_at_tick(k) + EPS)

    def frame(self, t: float | None = None) -> int:
        return math.floor(self.position(t) + EPS)

    # ------------------------------------------------------------ changing

    def start(self, position: float = 0.0, at: float | None = None) -> None:
        """Run from `position`, with tick 0 at time `at` (default: now)."""
        self._anchor = self.now() if at is None else at
        self._position = float(position)
        self.running = True

    def pause(self, at: float | None = None) -> None:
        """Freeze at the position due at time `at`."""
        if self.running:
            self._position = self.position(at)
            self.running = False

    def resume(self, at: float | None = None) -> None:
        """Run on from the frozen position; the paused frame is tick 0, due at once."""
        if not self.running:
            self.start(self._position, at)

    def seek(self, position: float, at: float | None = None) -> None:
        """Jump to `position`, due at once; a paused clock stays paused there."""
        if self.running:
            self.start(position, at)
        else:
            self._position = float(position)

    def _rebase(self, at: float | None) -> None:
        t = self.now() if at is None else at
        if self.running:
            k = self.tick_at(t)
            self._position = self.position_at_tick(k)
            self._anchor = self.tick_time(k)

    def set_speed(self, speed: float, at: float | None = None) -> None:
        """From the last tick on, move `speed` frames per tick."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._rebase(at)
        self.speed = float(speed)

    def set_fps(self, fps: float, at: float | None = None) -> None:
        """From the last tick on, tick `fps` times a second."""
        if fps <= 0:
            raise ValueError("fps must be positive")
        self._rebase(at)
        self.fps = float(fps)
