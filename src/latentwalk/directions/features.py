"""Built-in image features that need no weights: the statistics artists ask for, one score per image.

Every feature maps uint8 frames [N, H, W, C] to float64 scores [N]. The figure (for centre of mass
and the shadow-mask area) is the dark class of the explorer's shadows filter (Otsu's split).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from latentwalk.errors import InvalidRequest
from latentwalk.filters import figure_mask

_LUMA = np.array([0.299, 0.587, 0.114])


def _rgb(pixels: np.ndarray) -> np.ndarray:  # [N, H, W, 3] float64 in [0, 1]
    img = np.asarray(pixels, dtype=np.float64) / 255.0
    return img if img.shape[-1] == 3 else np.repeat(img[..., :1], 3, axis=-1)


def _luma(pixels: np.ndarray) -> np.ndarray:  # [N, H, W]
    return _rgb(pixels) @ _LUMA


def brightness(pixels: np.ndarray) -> np.ndarray:
    """Mean luminance, 0 (black) .. 1 (white)."""
    return _luma(pixels).mean(axis=(1, 2))


def contrast(pixels: np.ndarray) -> np.ndarray:
    """Standard deviation of the luminance (RMS contrast)."""
    return _luma(pixels).std(axis=(1, 2))


def saturation(pixels: np.ndarray) -> np.ndarray:
    """Mean HSV saturation: (max - min) / max per pixel."""
    rgb = _rgb(pixels)
    hi, lo = rgb.max(-1), rgb.min(-1)
    return np.where(hi > 1e-6, (hi - lo) / np.maximum(hi, 1e-6), 0.0).mean(axis=(1, 2))


def warmth(pixels: np.ndarray) -> np.ndarray:
    """Colour temperature as red minus blue, averaged (positive: warm, negative: cool)."""
    rgb = _rgb(pixels)
    return (rgb[..., 0] - rgb[..., 2]).mean(axis=(1, 2))


def colourfulness(pixels: np.ndarray) -> np.ndarray:
    """Hasler and Suesstrunk's colourfulness: spread and mean of the opponent channels rg and yb."""
    rgb = _rgb(pixels) * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2)
    mean = np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    return (spread + 0.3 * mean) / 255.0


def sharpness(pixels: np.ndarray) -> np.ndarray:
    """Detail: mean energy of the Laplacian of the luminance."""
    luma = torch.from_numpy(_luma(pixels))[:, None]
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    lap = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), kernel[None, None])
    return (lap**2).mean(dim=(1, 2, 3)).numpy()


def symmetry(pixels: np.ndarray) -> np.ndarray:
    """Left-right symmetry: 1 minus the mean difference between the image and its mirror image."""
    rgb = _rgb(pixels)
    return 1.0 - np.abs(rgb - rgb[:, :, ::-1]).mean(axis=(1, 2, 3))


def _masks(pixels: np.ndarray) -> np.ndarray:  # [N, H, W] in [0, 1]
    rgb = np.asarray(pixels)
    if rgb.shape[-1] != 3:
        rgb = np.repeat(rgb[..., :1], 3, axis=-1)
    return np.stack([figure_mask(p, 0.0) for p in rgb]).astype(np.float64)


def shadow_area(pixels: np.ndarray) -> np.ndarray:
    """How much of the frame the figure (the shadows filter's dark class) fills, 0..1."""
    return _masks(pixels).mean(axis=(1, 2))


def _centre(pixels: np.ndarray, axis: int) -> np.ndarray:
    m = _masks(pixels)
    size = m.shape[1 + axis]
    coords = (np.arange(size) + 0.5) / size
    mass = m.sum(axis=(1, 2))
    line = m.sum(axis=2 - axis)  # [N, size]: axis 0 -> rows (y), axis 1 -> columns (x)
    return np.where(mass > 0, (line * coords).sum(1) / np.maximum(mass, 1e-9), 0.5)


def centre_x(pixels: np.ndarray) -> np.ndarray:
    """Horizontal centre of mass of the figure, 0 (left) .. 1 (right)."""
    return _centre(pixels, 1)


def centre_y(pixels: np.ndarray) -> np.ndarray:
    """Vertical centre of mass of the figure, 0 (top) .. 1 (bottom)."""
    return _centre(pixels, 0)


FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "brightness": brightness,
    "contrast": contrast,
    "saturation": saturation,
    "warmth": warmth,
    "colourfulness": colourfulness,
    "sharpness": sharpness,
    "symmetry": symmetry,
    "centre-x": centre_x,
    "centre-y": centre_y,
    "shadow-area": shadow_area,
}


def feature(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The built-in feature of that name.

    Raises:
        InvalidRequest: no such feature (the message lists them).
    """
    try:
        return FEATURES[name]
    except KeyError:
        raise InvalidRequest(f"unknown feature {name!r}: use one of {', '.join(FEATURES)}") from None
