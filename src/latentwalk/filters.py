"""View filters on rendered frames (uint8 pixels), shared by the explorer, export and playback.

"Shadows" turns a frame into a two-tone shadow image, as an animator wants it for drawing over:
dark where the picture is darker than the level that best splits it into a dark and a light class
(Otsu's method on luminance), light elsewhere. `softness` widens the transition and blurs the edge.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

GROUND = 232.0  # light grey of the ground
FIGURE = 24.0  # near-black of the figure


def _otsu(values: np.ndarray, bins: int = 64) -> float:
    """The threshold that maximises the between-class variance of `values` (in [0, 1])."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    mu = np.cumsum(p * centres)
    mu_t = mu[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu_t * w0 - mu) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0.0
    return float(edges[int(np.argmax(between)) + 1])


def _blur(mask: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a [H, W] float mask (separable, reflect padding)."""
    if radius < 0.5:
        return mask
    sigma = radius / 2.0
    half = int(np.ceil(radius))
    x = np.arange(-half, half + 1, dtype=np.float32)
    k = np.exp(-(x**2) / (2 * sigma**2))
    k = torch.from_numpy(k / k.sum())
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    m = F.conv2d(F.pad(m, (half, half, 0, 0), mode="reflect"), k.reshape(1, 1, 1, -1))
    m = F.conv2d(F.pad(m, (0, 0, half, half), mode="reflect"), k.reshape(1, 1, -1, 1))
    return m[0, 0].numpy()


def figure_mask(pixels: np.ndarray, softness: float) -> np.ndarray:  # [H, W, 3] uint8 -> [H, W] in [0, 1]
    """How much each pixel belongs to the shadow (1) rather than the light (0).

    The luminance is split where the frame divides best into a dark and a light class (Otsu's
    method); `softness` widens the transition and blurs the edge.
    """
    img = pixels.astype(np.float32) / 255.0
    h, w = img.shape[:2]
    luma = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # [H, W]
    thr = _otsu(luma)
    width = 0.004 + 0.08 * softness
    mask = 1.0 / (1.0 + np.exp(np.clip((luma - thr) / width, -60.0, 60.0)))
    return np.clip(_blur(mask, softness * max(h, w) / 32.0), 0.0, 1.0)


def shadows(pixels: np.ndarray, softness: float = 0.3) -> np.ndarray:  # [N, H, W, C] uint8 -> same
    """Shadow silhouettes of a batch of frames (grey, returned with the input's channel count)."""
    out = np.empty_like(pixels)
    for i, frame in enumerate(pixels):
        rgb = frame if frame.shape[-1] == 3 else np.repeat(frame[..., :1], 3, axis=-1)
        mask = figure_mask(rgb, softness)
        grey = np.round(GROUND + (FIGURE - GROUND) * mask).astype(np.uint8)
        out[i] = grey[..., None]
    return out


def apply_view_filter(pixels: np.ndarray, kind: str, softness: float = 0.3) -> np.ndarray:
    """The view filter by name: 'none' returns the frames unchanged."""
    if kind == "none":
        return pixels
    if kind == "shadows":
        return shadows(pixels, softness)
    raise ValueError(f"unknown view filter {kind!r}")
