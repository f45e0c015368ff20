"""Per-frame offsets of the directions an animation carries (constant or ramped), and named
directions moved live (OSC `direction NAME AMOUNT`). Pure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from latentwalk.animation.schema import AnimationSettings
from latentwalk.directions.vectors import Direction, apply, check_layers
from latentwalk.errors import InvalidRequest
from latentwalk.render.worker import ModelInfo, RenderRequest


def check_offsets(settings: AnimationSettings, info: ModelInfo) -> None:
    """The directions fit the model: vector sizes, spaces, layer ranges.

    Raises:
        InvalidRequest: a w direction on a model with no w space, a vector of the wrong size, or a
            layer range outside the model.
    """
    for d in settings.directions:
        if d.space == "w" and not info.has_w:
            raise InvalidRequest(f"direction {d.name!r} is in w, but {info.name} has no w space")
        want = info.w_dim if d.space == "w" else info.z_dim
        if len(d.vector) != want:
            raise InvalidRequest(
                f"direction {d.name!r} has {len(d.vector)} values; {info.name} needs {want} in {d.space}"
            )
        check_layers(d.layers, info.num_ws, d.space)


def amounts(amount: float, amount_end: float | None, indices: np.ndarray, total: int) -> np.ndarray:
    """The amount at each frame: constant, or a linear ramp from the first frame to the last."""
    idx = np.asarray(indices, dtype=np.float64)
    if amount_end is None:
        return np.full(idx.shape, float(amount))
    t = idx / max(total - 1, 1)
    return amount + (amount_end - amount) * t


def frame_offsets(
    settings: AnimationSettings, info: ModelInfo, indices: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(z offsets [n, z_dim], w offsets [n, num_ws, w_dim]) of the given frames; None where none apply."""
    n = len(indices)
    z_off: np.ndarray | None = None
    w_off: np.ndarray | None = None
    for d in settings.directions:
        a = amounts(d.amount, d.amount_end, indices, settings.frame_count)
        if not a.any():
            continue
        step = a[:, None] * d.std * np.asarray(d.vector, dtype=np.float64)[None, :]  # [n, dim]
        if d.space == "z":
            z_off = step if z_off is None else z_off + step
            continue
        assert info.num_ws is not None and info.w_dim is not None
        if w_off is None:
            w_off = np.zeros((n, info.num_ws, info.w_dim))
        lo, hi = d.layers if d.layers is not None else (0, info.num_ws)
        w_off[:, lo:hi, :] += step[:, None, :]
    return z_off, w_off


def with_directions(
    req: RenderRequest, info: ModelInfo, moves: list[tuple[Direction, float]]
) -> RenderRequest:
    """The request moved along named directions by amounts in std units (live control: `direction`).

    z directions move z; w directions move ws (a w-space request) or become the request's w offset
    (a z-space request on a StyleGAN model), within each direction's layer range."""
    z_moves = [(d, a) for d, a in moves if d.space == "z" and a]
    w_moves = [(d, a) for d, a in moves if d.space == "w" and a]
    if z_moves and req.z is not None:
        z = req.z.astype(np.float64)
        for d, a in z_moves:
            z = apply(z, d.vector, a, d.std)
        req = replace(req, z=z.astype(np.float32))
    if w_moves and info.has_w:
        assert info.num_ws is not None and info.w_dim is not None
        off = np.zeros((req.rows, info.num_ws, info.w_dim))
        for d, a in w_moves:
            off = apply(off, d.vector, a, d.std, d.layers or (0, info.num_ws))
        if req.ws is not None:
            req = replace(req, ws=(req.ws + off).astype(np.float32))
        else:
            base = req.w_offset if req.w_offset is not None else 0.0
            req = replace(req, w_offset=(base + off).astype(np.float32))
    return req
