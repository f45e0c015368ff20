"""User pictures in: decode an upload or a file safely, orient it, and fit it to a model's size."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from latentwalk.errors import InvalidImage

Fit = Literal["crop", "pad"]
FITS: tuple[Fit, ...] = ("crop", "pad")

MAX_PIXELS = 40_000_000  # larger pictures are refused before their pixels are decoded
MAX_BYTES = 64 * 1024 * 1024  # an upload larger than this is refused unread
MIN_SIDE = 8  # a picture narrower or lower than this holds too little to project or translate


def read_image_file(path: str | Path) -> Image.Image:
    """Decode the picture at `path` (see `decode_image`)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InvalidImage(f"{p.name} is {size / 2**20:.0f} MiB; pictures up to {MAX_BYTES >> 20} MiB")
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidImage(f"cannot read {p}: {exc.strerror}") from None
    return decode_image(data, p.name)


def decode_image(data: bytes, name: str = "the picture") -> Image.Image:
    """Bytes of a PNG/JPEG/WebP/... picture -> an upright RGB image.

    EXIF orientation is applied; grey, palette and CMYK pictures become RGB; transparency is
    composited onto a mid-grey background (neutral for the models, which know no alpha).

    Raises:
        InvalidImage: not a picture, damaged, smaller than MIN_SIDE pixels a side, or more than
            MAX_PIXELS pixels (checked from the header, before decoding: a decompression bomb
            never reaches memory).
    """
    if not data:
        raise InvalidImage(f"{name} is empty: send the bytes of a PNG, JPEG or WebP picture")
    if len(data) > MAX_BYTES:
        raise InvalidImage(f"{name} is {len(data) / 2**20:.0f} MiB; pictures up to {MAX_BYTES >> 20} MiB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(image.size, name)
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage(
            f"{name} claims more than {MAX_PIXELS / 1e6:.0f} megapixels: refused (scale it down first)"
        ) from None
    except UnidentifiedImageError:
        raise InvalidImage(
            f"{name} is not a picture latentwalk can read (PNG, JPEG, WebP, GIF, BMP)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"{name} is damaged or truncated: {exc}") from None
    return _to_rgb(image)


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise InvalidImage(
            f"{name} is {width}x{height} ({width * height / 1e6:.0f} megapixels); pictures up to "
            f"{MAX_PIXELS / 1e6:.0f} megapixels are accepted: scale it down first"
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidImage(
            f"{name} is {width}x{height} pixels: too small, at least {MIN_SIDE}x{MIN_SIDE} is needed"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = max(float(arr.max()), 1.0)
        image = Image.fromarray((arr / top * 255).astype(np.uint8), "L")
    return image.convert("RGB")


def fit_image(image: Image.Image, size: int, fit: Fit = "crop") -> Image.Image:
    """Square `size` x `size` version of the picture: centre crop (fills the frame) or pad (keeps
    everything, the margins mid-grey), then a Lanczos resize."""
    if fit not in FITS:
        raise InvalidImage(f"fit {fit!r} is not one of {', '.join(FITS)}")
    width, height = image.size
    side = min(width, height) if fit == "crop" else max(width, height)
    if fit == "crop":
        left, top = (width - side) // 2, (height - side) // 2
        square = image.crop((left, top, left + side, top + side))
    else:
        square = Image.new("RGB", (side, side), (128, 128, 128))
        square.paste(image, ((side - width) // 2, (side - height) // 2))
    if square.size != (size, size):
        square = square.resize((size, size), Image.Resampling.LANCZOS)
    return square


def to_tensor(image: Image.Image) -> torch.Tensor:  # RGB -> [1, 3, H, W] float32 in [-1, 1]
    """Pixels to the generators' range, the inverse of `render.images.to_uint8` (up to rounding)."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy((arr - 127.5) / 127.5).permute(2, 0, 1).unsqueeze(0).contiguous()


def load_target(data: bytes, size: int, fit: Fit = "crop", name: str = "the picture") -> np.ndarray:
    """Bytes -> [size, size, 3] uint8, ready for projection or translation."""
    return np.asarray(fit_image(decode_image(data, name), size, fit), dtype=np.uint8)
