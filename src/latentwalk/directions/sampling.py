"""Sample latents for finding directions and render them through the worker, with progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latentwalk.catalog import ModelRef
from latentwalk.errors import InvalidRequest, JobCancelled
from latentwalk.render.worker import InferenceWorker, ModelInfo, RenderRequest

Progress = Callable[[int, int], None]  # (done, total)
MAX_SAMPLES = 200_000


@dataclass(frozen=True)
class Samples:
    """Sampled latents in the space directions live in: z, or w (one row of ws) for StyleGAN."""

    z: np.ndarray  # [N, z_dim] float32
    latents: np.ndarray  # [N, dim] float64: z, or w for models with a w space
    space: str  # "z" | "w"


def check_count(n: int, least: int = 10) -> int:
    if not least <= n <= MAX_SAMPLES:
        raise InvalidRequest(f"samples must be in {least}..{MAX_SAMPLES}, got {n}")
    return n


def labels(info: ModelInfo, rows: int) -> np.ndarray | None:
    """Class 0 for a conditional model (directions are found for the first class)."""
    if not info.c_dim:
        return None
    c = np.zeros((rows, info.c_dim), dtype=np.float32)
    c[:, 0] = 1.0
    return c


def stopped(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise JobCancelled("the direction search was cancelled")


def sample(
    worker: InferenceWorker,
    model: ModelRef,
    n: int,
    seed: int = 0,
    chunk: int = 1000,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Samples:
    """n latents z ~ N(0, I) from `seed`, mapped to w (psi 1) where the model has a w space."""
    info = worker.info(model)
    z = np.random.default_rng(seed).standard_normal((check_count(n), info.z_dim)).astype(np.float32)
    if not info.has_w:
        if progress:
            progress(n, n)
        return Samples(z, z.astype(np.float64), "z")
    ws = []
    for i in range(0, n, chunk):
        stopped(cancel)
        part = z[i : i + chunk]
        ws.append(worker.map(model, part, labels(info, len(part)))[:, 0, :])
        if progress:
            progress(min(i + chunk, n), n)
    return Samples(z, np.concatenate(ws).astype(np.float64), "w")


def render(
    worker: InferenceWorker,
    model: ModelRef,
    s: Samples,
    chunk: int = 16,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:  # [N, H, W, C] uint8
    """Render the sampled latents (the w row broadcast to every layer for w-space models)."""
    info = worker.info(model)
    n = len(s.z)
    out: list[np.ndarray] = []
    pending = []
    for i in range(0, n, chunk):
        if s.space == "w":
            assert info.num_ws is not None
            w = s.latents[i : i + chunk].astype(np.float32)
            req = RenderRequest(model, ws=np.repeat(w[:, None, :], info.num_ws, axis=1))
        else:
            req = RenderRequest(model, z=s.z[i : i + chunk], c=labels(info, len(s.z[i : i + chunk])))
        pending.append(worker.submit(req))
    try:
        for fut in pending:
            stopped(cancel)
            out.append(fut.result())
            if progress:
                progress(sum(len(o) for o in out), n)
    finally:
        for fut in pending:
            fut.cancel()
    return np.concatenate(out)
