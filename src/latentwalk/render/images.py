"""Generator output -> uint8 pixels -> PNG/JPEG bytes, quantised exactly as NVIDIA's gen_images.py."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def to_uint8(img: torch.Tensor) -> np.ndarray:  # [N, C, H, W] float -> [N, H, W, C] uint8
    """img * 127.5 + 128, clamped to [0, 255], truncated to uint8 (NVIDIA's quantisation)."""
    x = (img.permute(0, 2, 3, 1).to(torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.cpu().numpy()


def to_pil(pixels: np.ndarray) -> Image.Image:  # [H, W, C] uint8
    if pixels.shape[-1] == 1:
        return Image.fromarray(pixels[..., 0], "L")
    return Image.fromarray(pixels, "RGB")


def encode(pixels: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """Encode one [H, W, C] uint8 image as PNG (lossless), JPEG or WebP bytes."""
    buf = io.BytesIO()
    image = to_pil(pixels)
    if fmt == "png":
        image.save(buf, format="PNG", compress_level=1)
    elif fmt in ("jpeg", "jpg"):
        image.save(buf, format="JPEG", quality=quality)
    elif fmt == "webp":
        image.save(buf, format="WEBP", quality=quality)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buf.getvalue()
