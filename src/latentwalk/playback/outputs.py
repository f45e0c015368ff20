"""Where presented frames go: a newest-frame hub for HTTP clients (MJPEG, WebSocket, the output
page) and NDI where the optional `ndi-python` package is installed.

Every output keeps only the newest frame. A client slower than the player skips frames instead of
building a queue, and nothing an output does can hold up the player's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np

from latentwalk.errors import MissingExtra
from latentwalk.playback.frame import PresentedFrame
from latentwalk.playback.player import PlaybackListener

log = logging.getLogger(__name__)

MJPEG_BOUNDARY = "latentwalkframe"
IDLE_CHECK_S = 2.0  # with no new frame, check this often whether a client has gone
NDI_INSTALL = "pip install 'latentwalk[ndi]'  (or: pip install ndi-python)"


class FrameHub(PlaybackListener):
    """The newest presented frame and player status, handed to any number of asyncio subscribers.

    `publish` may be called from any thread; each subscriber's event is set in its own loop, and a
    subscriber reads whatever is newest when it gets round to it.
    """

    def __init__(self) -> None:
        self.frame: PresentedFrame | None = None
        self.frame_seq = 0
        self.status: dict[str, Any] = {}
        self.status_seq = 0
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    def presented(self, frame: PresentedFrame) -> None:
        with self._lock:
            self.frame = frame
            self.frame_seq += 1
        self._notify()

    def changed(self, status: dict[str, Any]) -> None:
        with self._lock:
            self.status = status
            self.status_seq += 1
        self._notify()

    def _notify(self) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, event in subscribers:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop is closed
                with self._lock:
                    self._subscribers.discard((loop, event))

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Event]:
        """An event set whenever a frame or a status is published (clear it after each wait)."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._subscribers.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)


def mjpeg_part(jpeg: bytes) -> bytes:
    """One part of a multipart/x-mixed-replace MJPEG stream."""
    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


async def mjpeg_stream(
    hub: FrameHub, limit: int | None = None, gone: Callable[[], Awaitable[bool]] | None = None
) -> AsyncIterator[bytes]:
    """The newest frame now (if any), then each newer one as the client takes it: a slow client skips
    frames. Ends after `limit` frames when given, or when `gone()` says the client has left (asked
    while no frame comes, so an idle player does not keep departed clients)."""
    sent = 0
    seen = -1
    async with hub.subscription() as event:
        while limit is None or sent < limit:
            if hub.frame_seq == seen or hub.frame is None:
                try:
                    await asyncio.wait_for(event.wait(), IDLE_CHECK_S)
                except TimeoutError:
                    if gone is not None and await gone():
                        return
                event.clear()
                continue
            seen, frame = hub.frame_seq, hub.frame
            jpeg = await asyncio.to_thread(frame.frame.jpeg)
            yield mjpeg_part(jpeg)
            sent += 1


class NdiSender(PlaybackListener):
    """Sends presented frames as an NDI source (through `ndi-python`, which ships the NDI library).

    Frames go through a newest-frame slot to a sending thread, so a slow network never delays the
    player."""

    def __init__(self, name: str = "latentwalk", fps: float = 24.0) -> None:
        try:
            import NDIlib  # type: ignore[import-not-found]  # noqa: N813
        except ImportError:
            raise MissingExtra(f"NDI output needs the ndi-python package: {NDI_INSTALL}") from None
        self._ndi = NDIlib
        if not NDIlib.initialize():
            raise MissingExtra(
                "the NDI library did not start (NDIlib.initialize() failed): is this CPU supported?"
            )
        settings = NDIlib.SendCreate()
        settings.ndi_name = name
        settings.clock_video = False  # the player's clock paces the frames
        self._sender = NDIlib.send_create(settings)
        if self._sender is None:
            raise MissingExtra(f"could not create the NDI source {name!r}")
        self.name = name
        self.fps = fps
        self.sent = 0
        self._slot: PresentedFrame | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="latentwalk-ndi", daemon=True)
        self._thread.start()

    def presented(self, frame: PresentedFrame) -> None:
        with self._cond:
            self._slot = frame
            self._cond.notify()

    def _run(self) -> None:
        ndi = self._ndi
        while True:
            with self._cond:
                while self._slot is None and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                pf, self._slot = self._slot, None
            assert pf is not None
            pixels = pf.frame.pixels
            rgbx = np.empty((*pixels.shape[:2], 4), dtype=np.uint8)
            rgbx[..., :3] = pixels if pixels.shape[-1] == 3 else pixels[..., :1]
            rgbx[..., 3] = 255
            video = ndi.VideoFrameV2()
            video.data = rgbx
            video.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
            video.frame_rate_N, video.frame_rate_D = round(self.fps * 1000), 1000
            try:
                ndi.send_send_video_v2(self._sender, video)
                self.sent += 1
            except Exception:
                log.exception("NDI send failed")

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(5.0)
        self._ndi.send_destroy(self._sender)
        self._ndi.destroy()
