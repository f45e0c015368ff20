"""Per-layer latent edits: layer ranges, truncation, style mixing, nudges, partial randomisation. Pure.

A StyleGAN model takes one w per synthesis layer (`num_ws` rows: "w+"). The first rows set the
coarse structure (pose, shape), the middle rows the features, the last rows colour and fine
texture. Everything here works on numpy arrays: z vectors [z_dim], or w+ latents [num_ws, w_dim]
before truncation (truncation is applied when frames are rendered).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np

from latentwalk.errors import InvalidRequest

EditSpace = Literal["z", "w", "w+"]
LAYER_GROUPS = ("coarse", "middle", "fine")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def layer_groups(num_ws: int) -> dict[str, tuple[int, int]]:
    """The coarse, middle and fine layers of a model as inclusive (first, last) rows.

    For the 18 ws of a 1024-pixel StyleGAN these are the StyleGAN paper's groups: 0-3 (4 to 8
    pixels), 4-7 (16 to 32), 8-17 (64 to 1024); other depths are split in the same proportion.
    """
    if num_ws < 3:
        return {"coarse": (0, 0), "middle": (0, num_ws - 1), "fine": (num_ws - 1, num_ws - 1)}
    coarse_end = min(max(1, round(num_ws * 4 / 18)), num_ws - 2)
    middle_end = min(max(coarse_end + 1, round(num_ws * 8 / 18)), num_ws - 1)
    return {
        "coarse": (0, coarse_end - 1),
        "middle": (coarse_end, middle_end - 1),
        "fine": (middle_end, num_ws - 1),
    }


def parse_layers(spec: str | None, num_ws: int | None) -> list[int]:
    """Layer rows from 'coarse', 'middle', 'fine', 'all', or numbers and inclusive ranges ('0-6,9').

    Args:
        spec: the text; None or 'all' means every layer.
        num_ws: the model's number of ws; None for a model with no w space.

    Returns:
        Sorted, distinct row indices.

    Raises:
        InvalidRequest: the model has no layers, the text is unreadable, or a layer is outside it.
    """
    if not num_ws:
        raise InvalidRequest(
            "this model has no mapping network (no w+ layers): layer ranges and style mixing "
            "need a StyleGAN model"
        )
    text = "all" if spec is None else str(spec).strip().lower()
    if text == "all":
        return list(range(num_ws))
    if text in LAYER_GROUPS:
        first, last = layer_groups(num_ws)[text]
        return list(range(first, last + 1))
    rows: set[int] = set()
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m:
            raise InvalidRequest(
                f"cannot read the layers {spec!r}: use coarse, middle, fine, all, or numbers and "
                f"inclusive ranges such as 0-6 (this model has layers 0..{num_ws - 1})"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise InvalidRequest(f"the layer range {part.strip()!r} runs backwards: write it as {hi}-{lo}")
        if hi >= num_ws:
            raise InvalidRequest(f"layer {hi} is outside the model: it has layers 0..{num_ws - 1}")
        rows.update(range(lo, hi + 1))
    return sorted(rows)


def truncate_w(
    ws: np.ndarray,  # [..., num_ws, w_dim]
    w_avg: np.ndarray,  # [w_dim]
    psi: float,
    cutoff: int | None = None,
) -> np.ndarray:  # [..., num_ws, w_dim] float32
    """Pull the first `cutoff` rows (all when None) toward `w_avg`: w_avg + psi (w - w_avg)."""
    out = np.array(ws, dtype=np.float32, copy=True)
    if psi != 1.0:
        end = out.shape[-2] if cutoff is None else cutoff
        avg = np.asarray(w_avg, dtype=np.float32)
        out[..., :end, :] = avg + np.float32(psi) * (out[..., :end, :] - avg)
    return out


def truncate_z(z: np.ndarray, psi: float) -> np.ndarray:
    """Truncation for models with no mapping network: z scaled toward 0 (the prior's mean)."""
    return np.asarray(z, dtype=np.float32) * np.float32(psi)


def mix(ws_a: np.ndarray, ws_b: np.ndarray, layers: list[int]) -> np.ndarray:
    """Style mixing: `ws_a` [num_ws, w_dim] with the rows `layers` taken from `ws_b`."""
    if ws_a.shape != ws_b.shape:
        raise InvalidRequest(f"the two parents have shapes {ws_a.shape} and {ws_b.shape}: they must match")
    child = np.array(ws_a, dtype=np.float32, copy=True)
    child[layers] = ws_b[layers]
    return child


def spread(latent: np.ndarray, center: np.ndarray | None) -> float:
    """The latent's RMS distance from `center` per value (1 for a typical z, whose center is 0)."""
    diff = latent if center is None else latent - center
    return float(np.sqrt(np.mean(np.square(diff, dtype=np.float64)))) or 1.0


def nudge(
    latent: np.ndarray,  # [z_dim] or [num_ws, w_dim]
    size: float,
    rng: np.random.Generator,
    space: EditSpace = "z",
    layers: list[int] | None = None,
    center: np.ndarray | None = None,  # w_avg for w latents
) -> np.ndarray:
    """A small random step: Gaussian noise of RMS `size` times the latent's own spread.

    In "w" the same step moves every chosen layer (the rows stay alike); in "w+" each chosen layer
    gets its own step. `layers` (w and w+ only) limits the change to those rows.
    """
    if not np.isfinite(size) or not 0.0 < size <= 4.0:
        raise InvalidRequest(f"nudge size {size} is out of range: use a value in (0, 4] (0.1-0.5 is small)")
    scale = np.float32(size * spread(latent, center))
    out = np.array(latent, dtype=np.float32, copy=True)
    if space == "z":
        return out + scale * rng.standard_normal(out.shape).astype(np.float32)
    rows = list(range(out.shape[0])) if layers is None else layers
    if space == "w":
        out[rows] += scale * rng.standard_normal(out.shape[1]).astype(np.float32)
    else:
        out[rows] += scale * rng.standard_normal((len(rows), out.shape[1])).astype(np.float32)
    return out


def randomise(
    latent: np.ndarray,  # [z_dim] or [num_ws, w_dim]
    fresh: np.ndarray,  # [z_dim] or [w_dim]: a new random latent of the same space
    fraction: float,
    rng: np.random.Generator,
    layers: list[int] | None = None,
) -> np.ndarray:
    """Replace a random `fraction` of the values with those of `fresh` (in w+: only in `layers`)."""
    if not np.isfinite(fraction) or not 0.0 < fraction <= 1.0:
        raise InvalidRequest(f"randomise fraction {fraction} is out of range: use a value in (0, 1]")
    out = np.array(latent, dtype=np.float32, copy=True)
    dim = out.shape[-1]
    picked = rng.choice(dim, size=max(1, round(fraction * dim)), replace=False)
    if out.ndim == 1:
        out[picked] = fresh[picked]
        return out
    rows = list(range(out.shape[0])) if layers is None else layers
    for r in rows:
        out[r, picked] = fresh[picked]
    return out
