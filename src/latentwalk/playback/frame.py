"""A played frame: its pixels, its JPEG encoded once on first use, and where it sits in the timeline."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from latentwalk.render.images import encode

JPEG_QUALITY = 85


@dataclass(eq=False)
class Frame:
    """Pixels of one rendered (and filtered) frame; `jpeg()` encodes them once, in whichever thread
    asks first, and every output shares the bytes."""

    pixels: np.ndarray  # [H, W, C] uint8
    quality: int = JPEG_QUALITY
    _jpeg: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    def jpeg(self) -> bytes:
        with self._lock:
            if self._jpeg is None:
                self._jpeg = encode(self.pixels, "jpeg", self.quality)
            return self._jpeg


@dataclass(frozen=True)
class PresentedFrame:
    """A frame as the clock presented it: which animation, which of its frames, and when."""

    frame: Frame
    name: str  # the animation's name
    index: int  # frame index within the animation
    total: int  # frames of the animation
    tick: int  # presentation tick of the current clock grid
    due: float  # monotonic time the tick was due
    shown: float  # monotonic time it was handed to the outputs
    generation: int  # changes whenever what plays changes (play, seek, a new truncation...)
    repeated: bool = False  # the same frame again (hold policy: the due one was not ready)
