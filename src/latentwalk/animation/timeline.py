"""Frame index -> latent: segments, easing, interpolation (linear, slerp, Catmull-Rom), loops. Pure.

Frames of an animation are numbered 0..sum(steps)-1. Segment s runs from keyframe s to keyframe
s+1 (wrapping for a closed loop) over steps[s] frames. Within a segment frame j sits at
t = j / steps[s], so the segment's end is the next segment's first frame and a join is shown once.
The last segment of an open chain instead spans t = j / (steps[s] - 1), ending exactly on the last
keyframe. A closed loop stops one frame before its start, so it repeats without a seam; with
'spline' interpolation its velocity also matches at every keyframe, the start included. 'circle'
walks a great circle through the first two keyframes.
"""

from __future__ import annotations

import math

import numpy as np

from latentwalk.animation.schema import AnimationSettings
from latentwalk.latents import lerp, slerp


def ease(t: np.ndarray, easing: str) -> np.ndarray:
    """Map linear time t in [0, 1] to eased time."""
    if easing == "linear":
        return t
    if easing == "ease-in-out":
        return t * t * (3.0 - 2.0 * t)  # smoothstep: zero velocity at both ends
    if easing == "ease-in":
        return t * t
    if easing == "ease-out":
        return 1.0 - (1.0 - t) * (1.0 - t)
    raise ValueError(f"unknown easing {easing!r}")


def segment_positions(settings: AnimationSettings, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each frame index: its segment number and its (uneased) position t in [0, 1]."""
    steps = np.asarray(settings.steps)
    starts = np.concatenate([[0], np.cumsum(steps)[:-1]])
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= steps.sum()):
        raise IndexError(f"frame index out of range 0..{int(steps.sum()) - 1}")
    seg = np.searchsorted(starts, idx, side="right") - 1
    local = (idx - starts[seg]).astype(np.float64)
    denom = steps[seg].astype(np.float64)
    if settings.loop == "none":
        last = seg == len(steps) - 1
        denom = np.where(last, np.maximum(denom - 1.0, 1.0), denom)
    return seg, local / denom


def _catmull_rom(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, t: np.ndarray) -> np.ndarray:
    t2, t3 = t * t, t * t * t
    return 0.5 * (
        2.0 * p1
        + (p2 - p0) * t
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t2
        + (3.0 * (p1 - p2) + p3 - p0) * t3
    )


def latents_at(settings: AnimationSettings, keys: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Latents of the given frames.

    Args:
        settings: the animation settings (steps, interpolation, easing, loop).
        keys: keyframe latents [K, ...] (z vectors, or mapped ws flattened per keyframe).
        indices: frame indices.

    Returns:
        [len(indices), ...] float64 latents.
    """
    keys = np.asarray(keys, dtype=np.float64)
    shape = keys.shape[1:]
    flat = keys.reshape(len(keys), -1)
    idx = np.asarray(indices, dtype=np.int64)
    if settings.loop == "circle":
        total = settings.frame_count
        a, b = flat[0], flat[1]
        # The great circle through a and b: b made orthogonal to a, at a's length.
        b_perp = b - (b @ a) / max(a @ a, 1e-12) * a
        b_perp *= np.linalg.norm(a) / max(np.linalg.norm(b_perp), 1e-12)
        theta = 2.0 * math.pi * idx / total
        out = np.cos(theta)[:, None] * a + np.sin(theta)[:, None] * b_perp
        return out.reshape(len(idx), *shape)
    seg, t = segment_positions(settings, idx)
    t = ease(t, settings.easing)
    k = len(flat)
    closed = settings.loop == "closed"
    i1 = seg
    i2 = (seg + 1) % k if closed else seg + 1
    p1, p2 = flat[i1], flat[i2]
    tt = t[:, None]
    if settings.interpolation == "linear":
        out = lerp(p1, p2, tt)
    elif settings.interpolation == "slerp":
        out = slerp(p1, p2, tt)
    else:
        i0 = (seg - 1) % k if closed else np.maximum(seg - 1, 0)
        i3 = (seg + 2) % k if closed else np.minimum(seg + 2, k - 1)
        out = _catmull_rom(flat[i0], p1, p2, flat[i3], tt)
    return out.reshape(len(idx), *shape)
