"""The explorer's WebSocket: JSON requests in, binary frames and JSON events out (docs/explorer-api.md).

One `Session` per socket. A `render` supersedes the one in flight on the same socket, so moving a
slider fast never queues a hundred renders. Frames are sent in index order as a 16-byte header
(`LWF1`, id, index, width, height) followed by the encoded image; sending awaits the client, so a
slow client slows its own render instead of growing a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import struct
import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from latentwalk.animation.frames import FramePlan, batches, filtered, plan_async
from latentwalk.animation.schema import AnimationSettings, check_latents, latent_array
from latentwalk.errors import InvalidRequest, LatentwalkError
from latentwalk.render.images import encode
from latentwalk.server.state import AppState, error_body

log = logging.getLogger(__name__)

FRAME_MAGIC = b"LWF1"
FRAME_HEADER = struct.Struct("<4sIIHH")  # magic, request id, frame index, width, height
MIME = {"jpeg": "image/jpeg", "webp": "image/webp", "png": "image/png"}


class RenderMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["render"]
    id: int = Field(ge=0, le=2**32 - 1)
    settings: AnimationSettings
    latents: list[list[float]]
    format: Literal["jpeg", "webp", "png"] = "jpeg"
    quality: int = Field(85, ge=1, le=100)
    start: int = Field(0, ge=0)
    end: int | None = Field(None, ge=1)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # preview precision (render/acceleration.py)


class CancelMessage(BaseModel):
    type: Literal["cancel"]
    id: int = Field(ge=0, le=2**32 - 1)


class LatentMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["latent"]
    id: int = Field(ge=0, le=2**32 - 1)
    settings: AnimationSettings
    latents: list[list[float]]
    index: int = Field(ge=0)


ClientMessage = TypeAdapter(
    Annotated[RenderMessage | CancelMessage | LatentMessage, Field(discriminator="type")]
)


def frame_message(request_id: int, index: int, width: int, height: int, data: bytes) -> bytes:
    return FRAME_HEADER.pack(FRAME_MAGIC, request_id, index, width, height) + data


class Session:
    """One browser tab (or program) talking to the engine over one socket."""

    def __init__(self, ws: WebSocket, state: AppState) -> None:
        self.ws = ws
        self.state = state
        self._send_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._task_id: int | None = None

    async def send_json(self, body: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(body))

    async def send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self.ws.send_bytes(data)

    async def run(self) -> None:
        if not same_origin(self.ws.headers.get("origin"), self.ws.headers.get("host")):
            # A page from another site must not drive the local engine or read its frames.
            await self.ws.close(code=1008, reason="cross-origin connections are refused")
            return
        await self.ws.accept()
        try:
            while True:
                text = await self.ws.receive_text()
                await self.handle(text)
        except WebSocketDisconnect:
            pass
        finally:
            await self._stop_current(notify=False)

    async def handle(self, text: str) -> None:
        try:
            msg = ClientMessage.validate_json(text)
        except ValidationError as exc:
            request_id = _peek_id(text)
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            await self.send_json(
                {"type": "error", "id": request_id, **error_body("InvalidRequest", f"{where}: {err['msg']}")}
            )
            return
        if isinstance(msg, CancelMessage):
            if self._task_id == msg.id:
                await self._stop_current(notify=True)
            return
        if isinstance(msg, LatentMessage):
            await self._answer_latent(msg)
            return
        await self._stop_current(notify=True)
        self._task_id = msg.id
        self._task = asyncio.create_task(self._render(msg))

    async def _stop_current(self, notify: bool) -> None:
        task, task_id = self._task, self._task_id
        self._task = self._task_id = None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if notify:
            with contextlib.suppress(Exception):
                await self.send_json({"type": "cancelled", "id": task_id})

    async def _plan(self, settings: AnimationSettings, latents: list[list[float]]) -> FramePlan:
        info = await self.state.worker.info_async(self.state.model)
        keys = check_latents(latent_array(latents), len(settings.keyframes), info.z_dim)
        return await plan_async(self.state.worker, self.state.model, settings, keys)

    async def _answer_latent(self, msg: LatentMessage) -> None:
        try:
            plan = await self._plan(msg.settings, msg.latents)
            if msg.index >= plan.total:
                raise InvalidRequest(
                    f"frame {msg.index} does not exist: the animation has {plan.total} frames"
                )
            z, exact = plan.z_at(msg.index)
            body = {"type": "latent", "id": msg.id, "index": msg.index, "z": z.tolist(), "exact": exact}
        except LatentwalkError as exc:
            body = {"type": "error", "id": msg.id, **error_body(type(exc).__name__, str(exc))}
        await self.send_json(body)

    async def _render(self, msg: RenderMessage) -> None:
        t0 = time.perf_counter()
        try:
            plan = dataclasses.replace(await self._plan(msg.settings, msg.latents), precision=msg.precision)
            end = plan.total if msg.end is None else min(msg.end, plan.total)
            if msg.start >= end:
                raise InvalidRequest(
                    f"frames {msg.start}..{end - 1} are empty: the animation has {plan.total}"
                )
            size = plan.info.resolution
            await self.send_json(
                {
                    "type": "started",
                    "id": msg.id,
                    "total": plan.total,
                    "start": msg.start,
                    "end": end,
                    "width": size,
                    "height": size,
                    "mime": MIME[msg.format],
                }
            )
            done = 0
            async for idx, blobs in self._encoded_runs(plan, msg, end):
                for i, data in zip(idx.tolist(), blobs, strict=True):
                    await self.send_bytes(frame_message(msg.id, i, size, size, data))
                done += len(idx)
                await self.send_json(
                    {"type": "progress", "id": msg.id, "done": done, "total": end - msg.start}
                )
            ms = (time.perf_counter() - t0) * 1000
            await self.send_json({"type": "done", "id": msg.id, "total": end - msg.start, "ms": round(ms, 1)})
        except asyncio.CancelledError:
            raise
        except LatentwalkError as exc:
            await self.send_json({"type": "error", "id": msg.id, **error_body(type(exc).__name__, str(exc))})
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # report, never kill the socket
            log.exception("render failed")
            await self.send_json({"type": "error", "id": msg.id, **error_body("RenderError", str(exc))})

    async def _encoded_runs(self, plan: FramePlan, msg: RenderMessage, end: int):  # type: ignore[no-untyped-def]
        """(indices, encoded frames) runs in order; cached frames are sent without rendering, and the
        next run is queued on the worker while this one is encoded and sent."""
        cache = self.state.frame_cache
        key = plan.cache_key(msg.format, msg.quality)
        worker = self.state.worker
        runs = list(batches(msg.start, end, first=1, size=self.state.stream_batch))

        def cached(idx: np.ndarray) -> list[bytes] | None:
            blobs = [cache.get(key, int(i)) for i in idx]
            return None if any(b is None for b in blobs) else blobs  # type: ignore[return-value]

        def submit(idx: np.ndarray) -> asyncio.Future[np.ndarray] | None:
            if cached(idx) is not None:
                return None
            return asyncio.wrap_future(worker.submit(plan.request(idx)))

        def encode_run(pixels: np.ndarray) -> list[bytes]:
            pixels = filtered(plan, pixels)
            return [encode(p, msg.format, msg.quality) for p in pixels]

        pending = submit(runs[0]) if runs else None
        try:
            for n, idx in enumerate(runs):
                current = pending
                pending = submit(runs[n + 1]) if n + 1 < len(runs) else None
                if current is None:
                    blobs = cached(idx)
                    if blobs is None:  # evicted meanwhile
                        blobs = await asyncio.to_thread(
                            encode_run, await asyncio.wrap_future(worker.submit(plan.request(idx)))
                        )
                else:
                    pixels = await current
                    current = None  # a client slow to read holds the encoded run, not its pixels too
                    blobs = await asyncio.to_thread(encode_run, pixels)
                    del pixels
                for i, data in zip(idx.tolist(), blobs, strict=True):
                    cache.put(key, i, data)
                yield idx, blobs
        finally:
            if pending is not None:
                pending.cancel()


def same_origin(origin: str | None, host: str | None) -> bool:
    """True when a browser's Origin names the server itself (no Origin: not a browser page)."""
    if origin is None:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


def _peek_id(text: str) -> int | None:
    try:
        value = json.loads(text).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None
