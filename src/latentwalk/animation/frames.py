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
from latentwalk.directions.offsets import check_offsets, frame_offsets
from latentwalk.errors import InvalidRequest
from latentwalk.filters import apply_view_filter
from latentwalk.latents import class_label
from latentwalk.render.acceleration import Precision
from latentwalk.render.worker import InferenceWorker, ModelInfo, RenderRequest
from latentwalk.styles import truncate_w


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
        """The render request for a run of frames (with the animation's direction offsets added)."""
        s = self.settings
        z_off, w_off = frame_offsets(s, self.info, indices)
        if s.space == "w":
            assert self.key_ws is not None
            ws = latents_at(s, self.key_ws, indices)
            if w_off is not None:
                ws = ws + w_off
            return RenderRequest(
                self.model, ws=ws.astype(np.float32), noise_mode=s.noise_mode, precision=self.precision
            )
        z = latents_at(s, self.keys, indices)
        if z_off is not None:
            z = z + z_off
        w_offset = None if w_off is None else w_off.astype(np.float32)
        return RenderRequest(
            self.model,
            z.astype(np.float32),
            self.label(len(indices)),
            psi=s.psi,
            cutoff=s.cutoff,
            noise_mode=s.noise_mode,
            w_offset=w_offset,
            precision=self.precision,
        )

    def z_at(self, index: int) -> tuple[np.ndarray, bool]:
        """The z of one frame, and whether it is exact (in w space, or moved along a direction in w,
        a frame has no z of its own)."""
        idx = np.array([index])
        z = latents_at(self.settings, self.keys, idx)[0]
        z_off, w_off = frame_offsets(self.settings, self.info, idx)
        if z_off is not None:
            z = z + z_off[0]
        return z.astype(np.float32), self.settings.space == "z" and w_off is None

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
        if self.key_ws is not None:
            h.update(self.key_ws.tobytes())
        return h.hexdigest()


def _check(settings: AnimationSettings, info: ModelInfo, keys: np.ndarray) -> None:
    if keys.shape != (len(settings.keyframes), info.z_dim):
        raise InvalidRequest(
            f"keyframe latents have shape {tuple(keys.shape)}; {info.name} needs "
            f"({len(settings.keyframes)}, {info.z_dim})"
        )
    if settings.space == "w" and not info.has_w:
        raise InvalidRequest(f"{info.name} has no w space: interpolate in z")
    if settings.cutoff is not None and not info.has_w:
        raise InvalidRequest(
            f"{info.name} has no mapping network: its truncation scales z toward 0 and takes no "
            "cutoff (the number of ws truncated); leave the cutoff out"
        )
    if settings.cutoff is not None and settings.cutoff > (info.num_ws or 0):
        raise InvalidRequest(
            f"truncation cutoff {settings.cutoff} is outside 0..{info.num_ws} for {info.name}"
        )
    for i, kf in enumerate(settings.keyframes):
        if kf.ws is None:
            continue
        if not info.has_w:
            raise InvalidRequest(
                f"keyframe {i + 1} holds a w+ latent, but {info.name} has no w space (no mapping network)"
            )
        if (len(kf.ws), len(kf.ws[0])) != (info.num_ws, info.w_dim):
            raise InvalidRequest(
                f"keyframe {i + 1} holds a w+ latent of shape ({len(kf.ws)}, {len(kf.ws[0])}); "
                f"{info.name} needs ({info.num_ws}, {info.w_dim})"
            )
        if settings.space != "w":
            raise InvalidRequest(
                f"keyframe {i + 1} holds a w+ latent (edited per layer), which has no z: set the space "
                "to 'w' to interpolate it"
            )
    check_offsets(settings, info)


def _with_keyframe_ws(settings: AnimationSettings, info: ModelInfo, key_ws: np.ndarray) -> np.ndarray:
    """Mapped keyframes with the w+ keyframes put in their place, truncated like the others."""
    edited = [i for i, kf in enumerate(settings.keyframes) if kf.ws is not None]
    if not edited:
        return key_ws
    assert info.w_avg is not None
    out = np.array(key_ws, dtype=np.float32, copy=True)
    for i in edited:
        ws = np.asarray(settings.keyframes[i].ws, dtype=np.float32)
        out[i] = truncate_w(ws, info.w_avg, settings.psi, settings.cutoff)
    return out


def plan(
    worker: InferenceWorker, model: ModelRef, settings: AnimationSettings, keys: np.ndarray
) -> FramePlan:
    """Bind settings and keyframes to the model (blocking: loads the model, maps keyframes to w)."""
    info = worker.info(model)
    _check(settings, info, keys)
    key_ws = None
    if settings.space == "w":
        key_ws = worker.map(
            model, keys, labels_for(settings, info, len(keys)), psi=settings.psi, cutoff=settings.cutoff
        )
        key_ws = _with_keyframe_ws(settings, info, key_ws)
    return FramePlan(model, info, settings, keys, key_ws)


async def plan_async(
    worker: InferenceWorker, model: ModelRef, settings: AnimationSettings, keys: np.ndarray
) -> FramePlan:
    info = await worker.info_async(model)
    _check(settings, info, keys)
    key_ws = None
    if settings.space == "w":
        labels = labels_for(settings, info, len(keys))
        fut = worker.submit_map(model, keys, labels, psi=settings.psi, cutoff=settings.cutoff)
        key_ws = _with_keyframe_ws(settings, info, await asyncio.wrap_future(fut))
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
