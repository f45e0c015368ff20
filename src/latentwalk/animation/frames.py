"""Rendering an animation's frames through the worker: the one path used by the explorer, export
and playback, so the same settings give the same pixels everywhere."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import numpy as np

from latentwalk.animation.schema import AnimationSettings
from latentwalk.animation.timeline import latents_at
from latentwalk.catalog import ModelRef
from latentwalk.errors import InvalidRequest
from latentwalk.filters import apply_view_filter
from latentwalk.latents import class_label
from latentwalk.render.acceleration import Precision
from latentwalk.render.worker import InferenceWorker, ModelInfo, RenderRequest


@dataclass(frozen=True)
class FramePlan:
    """An animation bound to a loaded model: everything needed to render any of its frames."""

    model: ModelRef
    info: ModelInfo
    settings: AnimationSettings
    keys: np.ndarray  # [K, z_dim] float32 keyframe latents
    key_ws: np.ndarray | None = None  # [K, num_ws, w_dim] mapped keyframes (space 'w' only)
    precision: Precision = "fp32"  # the explorer's preview precision; export renders in fp32

    @property
    def total(self) -> int:
        return self.settings.frame_count

    def label(self, rows: int) -> np.ndarray | None:
        return labels_for(self.settings, self.info, rows)

    def request(self, indices: np.ndarray) -> RenderRequest:
        """The render request for a run of frames."""
        s = self.settings
        if s.space == "w":
            assert self.key_ws is not None
            ws = latents_at(s, self.key_ws, indices).astype(np.float32)
            return RenderRequest(self.model, ws=ws, noise_mode=s.noise_mode, precision=self.precision)
        z = latents_at(s, self.keys, indices).astype(np.float32)
        return RenderRequest(
            self.model,
            z,
            self.label(len(indices)),
            psi=s.psi,
            noise_mode=s.noise_mode,
            precision=self.precision,
        )

    def z_at(self, index: int) -> tuple[np.ndarray, bool]:
        """The z of one frame, and whether it is exact (in w space a frame has no z of its own)."""
        z = latents_at(self.settings, self.keys, np.array([index]))[0].astype(np.float32)
        return z, self.settings.space == "z"

    def cache_key(self, fmt: str, quality: int) -> str:
        """Identifies the rendered pixels: model content, every setting that changes frames, latents."""
        payload = self.settings.model_dump(mode="json", exclude={"fps"})
        h = hashlib.sha256()
        h.update(
            json.dumps(
                [self.model.name, self.info.details.get("sha256"), payload, fmt, quality, self.precision]
            ).encode()
        )
        h.update(self.keys.tobytes())
        return h.hexdigest()


def _check(settings: AnimationSettings, info: ModelInfo, keys: np.ndarray) -> None:
    if keys.shape != (len(settings.keyframes), info.z_dim):
        raise InvalidRequest(
            f"keyframe latents have shape {tuple(keys.shape)}; {info.name} needs "
            f"({len(settings.keyframes)}, {info.z_dim})"
        )
    if settings.space == "w" and not info.has_w:
        raise InvalidRequest(f"{info.name} has no w space: interpolate in z")


def plan(
    worker: InferenceWorker, model: ModelRef, settings: AnimationSettings, keys: np.ndarray
) -> FramePlan:
    """Bind settings and keyframes to the model (blocking: loads the model, maps keyframes to w)."""
    info = worker.info(model)
    _check(settings, info, keys)
    key_ws = None
    if settings.space == "w":
        key_ws = worker.map(model, keys, labels_for(settings, info, len(keys)), psi=settings.psi)
    return FramePlan(model, info, settings, keys, key_ws)


async def plan_async(
    worker: InferenceWorker, model: ModelRef, settings: AnimationSettings, keys: np.ndarray
) -> FramePlan:
    info = await worker.info_async(model)
    _check(settings, info, keys)
    key_ws = None
    if settings.space == "w":
        fut = worker.submit_map(model, keys, labels_for(settings, info, len(keys)), psi=settings.psi)
        key_ws = await asyncio.wrap_future(fut)
    return FramePlan(model, info, settings, keys, key_ws)


def labels_for(settings: AnimationSettings, info: ModelInfo, rows: int) -> np.ndarray | None:
    """The one-hot labels of a conditional model (class 0 unless chosen); None when unconditional."""
    if not info.c_dim:
        class_label(settings.class_idx, 0)  # refuses a class for an unconditional model
        return None
    idx = 0 if settings.class_idx is None else settings.class_idx
    return class_label(idx, info.c_dim).repeat(rows, axis=0)


def batches(start: int, end: int, first: int = 1, size: int = 8) -> Iterator[np.ndarray]:
    """Frame index runs: a small first run (so the first frame shows at once), then `size` each."""
    i = start
    n = first
    while i < end:
        yield np.arange(i, min(i + n, end))
        i += n
        n = size


def filtered(plan_: FramePlan, pixels: np.ndarray) -> np.ndarray:
    vf = plan_.settings.view_filter
    return apply_view_filter(pixels, vf.kind, vf.softness)


def render_frames(
    worker: InferenceWorker, plan_: FramePlan, start: int = 0, end: int | None = None, size: int = 8
) -> Iterator[tuple[int, np.ndarray]]:
    """Frames `start..end-1` in order as (index, [H, W, C] uint8), view filter applied (blocking).

    The next run of frames is queued on the worker before this run is handed out, so generation
    goes on while the caller encodes or writes."""
    end = plan_.total if end is None else end
    runs = list(batches(start, end, first=size, size=size))
    pending = worker.submit(plan_.request(runs[0])) if runs else None
    try:
        for n, idx in enumerate(runs):
            assert pending is not None
            pixels = pending.result()
            pending = worker.submit(plan_.request(runs[n + 1])) if n + 1 < len(runs) else None
            yield from zip(idx.tolist(), filtered(plan_, pixels), strict=True)
    finally:
        if pending is not None:
            pending.cancel()


async def render_frames_async(
    worker: InferenceWorker, plan_: FramePlan, start: int = 0, end: int | None = None, size: int = 8
) -> AsyncIterator[tuple[np.ndarray, np.ndarray]]:
    """Runs of frames as (indices, [n, H, W, C] uint8); the next run is queued while this one is used."""
    end = plan_.total if end is None else end
    runs = list(batches(start, end, first=1, size=size))
    if not runs:
        return
    pending = asyncio.wrap_future(worker.submit(plan_.request(runs[0])))
    for i, idx in enumerate(runs):
        pixels = await pending
        if i + 1 < len(runs):  # keep the worker busy while this run is filtered, encoded and sent
            pending = asyncio.wrap_future(worker.submit(plan_.request(runs[i + 1])))
        if plan_.settings.view_filter.kind != "none":
            pixels = await asyncio.to_thread(filtered, plan_, pixels)
        yield idx, pixels
