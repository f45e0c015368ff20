"""Latent math: seeds to z (NVIDIA's convention), seed lists, labels, interpolation. Pure, no I/O."""

from __future__ import annotations

import re

import numpy as np

from latentwalk.errors import InvalidRequest

MAX_SEED = 2**32 - 1
MAX_SEEDS = 100_000


def seed_to_z(seed: int, z_dim: int) -> np.ndarray:  # [1, z_dim] float64
    """The latent NVIDIA's gen_images.py uses for `seed`: RandomState(seed).randn(1, z_dim)."""
    if not 0 <= seed <= MAX_SEED:
        raise InvalidRequest(f"seed {seed} is out of range: seeds are integers in 0..{MAX_SEED}")
    return np.random.RandomState(seed).randn(1, z_dim)


def seeds_to_z(seeds: list[int], z_dim: int) -> np.ndarray:  # [N, z_dim] float64
    return np.concatenate([seed_to_z(s, z_dim) for s in seeds], axis=0) if seeds else np.zeros((0, z_dim))


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_seeds(text: str) -> list[int]:
    """Parse '0-3,7' into [0, 1, 2, 3, 7] (ranges inclusive, as gen_images.py takes them)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        m = _RANGE.match(part)
        if not m:
            raise InvalidRequest(
                f"cannot read seeds {text!r}: use numbers and inclusive ranges, e.g. '0-3,7'"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise InvalidRequest(f"seed range {part.strip()!r} runs backwards: write it as {hi}-{lo}")
        if hi > MAX_SEED:
            raise InvalidRequest(f"seed {hi} is out of range: seeds are integers in 0..{MAX_SEED}")
        if len(seeds) + (hi - lo + 1) > MAX_SEEDS:
            raise InvalidRequest(f"too many seeds: at most {MAX_SEEDS} in one call")
        seeds.extend(range(lo, hi + 1))
    return seeds


def check_psi(psi: float) -> float:
    """Truncation psi: finite, in [0, 2] (1 = none, 0 = the average image, 0.7 is typical)."""
    if not np.isfinite(psi) or not 0.0 <= psi <= 2.0:
        raise InvalidRequest(
            f"truncation psi {psi} is out of range: use a value in 0..2 (1 = no truncation, 0.7 is typical)"
        )
    return float(psi)


def class_label(class_idx: int | None, c_dim: int) -> np.ndarray:  # [1, c_dim] float32
    """The one-hot label NVIDIA uses for `--class` (width 0 for unconditional models)."""
    label = np.zeros((1, c_dim), dtype=np.float32)
    if c_dim == 0:
        if class_idx is not None:
            raise InvalidRequest("this model is unconditional: it takes no class label (drop --class)")
        return label
    if class_idx is None:
        raise InvalidRequest(
            f"this model is conditional ({c_dim} classes): give a class with --class 0..{c_dim - 1}"
        )
    if not 0 <= class_idx < c_dim:
        raise InvalidRequest(f"class {class_idx} does not exist: this model has classes 0..{c_dim - 1}")
    label[0, class_idx] = 1
    return label


def lerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Linear interpolation a + t (b - a)."""
    return a + (b - a) * t


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation along the last axis (keeps Gaussian latents at a typical norm)."""
    an = a / np.linalg.norm(a, axis=-1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip(np.sum(an * bn, axis=-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    safe = so > 1e-6
    out_l = lerp(a, b, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        out_s = (np.sin((1.0 - t) * omega) / so) * a + (np.sin(t * omega) / so) * b
    return np.where(safe, out_s, out_l)
