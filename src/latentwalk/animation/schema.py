"""Animations as data: what crosses the wire and what is saved (pydantic, schema-versioned).

An animation is a chain of keyframe latents (z vectors, kept beside the JSON in `latents.npy`)
and the settings that turn them into frames. Everything needed to render identical frames again
is here: the model's identity (name, snapshot and content hash), steps per segment, interpolation,
easing, latent space, truncation, noise mode, loop mode, view filter and the directions applied
to every frame (files saved before directions existed load with none).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from latentwalk.errors import InvalidRequest

SCHEMA_VERSION = 1
MAX_STEPS = 10_000  # per segment
MAX_FRAMES = 100_000  # per animation
MAX_KEYFRAMES = 1_000
NAME_MAX = 80
_NAME = re.compile(r"^[^/\\\x00-\x1f<>:\"|?*]+$")

Interpolation = Literal["linear", "slerp", "spline"]
Easing = Literal["linear", "ease-in-out", "ease-in", "ease-out"]
Space = Literal["z", "w"]
LoopMode = Literal["none", "closed", "circle"]
NoiseModeName = Literal["const", "random", "none"]


def check_name(name: str) -> str:
    """A name users give to animations and bookmarks: no path separators, no '..', bounded length.

    Raises:
        InvalidRequest: the name is empty, too long, or could escape its folder.
    """
    stripped = name.strip()
    if not stripped:
        raise InvalidRequest("a name is needed")
    if len(stripped) > NAME_MAX:
        raise InvalidRequest(f"the name is {len(stripped)} characters long; at most {NAME_MAX} are allowed")
    if stripped in (".", "..") or stripped.startswith(".") or not _NAME.match(stripped):
        raise InvalidRequest(
            f"the name {stripped!r} cannot be used: no slashes, backslashes, control characters, "
            'leading dots or any of < > : " | ? *'
        )
    return stripped


class ModelIdentity(BaseModel):
    """Which network an animation was made with; the content hash tells a retrained file apart."""

    model_config = ConfigDict(extra="forbid")

    name: str
    snapshot: str | None = None
    sha256: str | None = None


class ViewFilter(BaseModel):
    """How frames are shown: as they are, or as shadow silhouettes (figure dark, ground light)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "shadows"] = "none"
    softness: float = Field(0.3, ge=0.0, le=1.0)


MAX_WS = 64  # rows of a w+ latent (1024-pixel StyleGAN2: 18)
MAX_W_DIM = 4096


class Keyframe(BaseModel):
    """Where a keyframe's latent came from (its z is the matching row of latents.npy).

    `ws` is a w+ latent for StyleGAN models (one row of w_dim values per synthesis layer, before
    truncation), set when the keyframe was edited per layer (style mixing, a nudge in w): the
    keyframe then renders from it instead of its z, and the animation interpolates in w."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    label: str | None = Field(None, max_length=200)
    ws: list[list[float]] | None = Field(None, min_length=1, max_length=MAX_WS)

    @field_validator("ws")
    @classmethod
    def _ws_rectangular(cls, ws: list[list[float]] | None) -> list[list[float]] | None:
        if ws is None:
            return ws
        width = len(ws[0])
        if not 1 <= width <= MAX_W_DIM or any(len(row) != width for row in ws):
            raise ValueError(f"a w+ latent is num_ws rows of w_dim values each (w_dim at most {MAX_W_DIM})")
        if not all(np.isfinite(row).all() for row in ws):
            raise ValueError("a w+ latent must hold finite numbers")
        return ws


class DirectionOffset(BaseModel):
    """A direction applied to every frame: a constant amount, or one ramped to `amount_end` over
    the frames. The vector is kept here (already made orthogonal to the axes that were locked), so a
    saved animation renders the same even if the model's stored directions change."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=NAME_MAX)
    space: Literal["z", "w"] = "z"
    vector: list[float] = Field(min_length=1, max_length=4096)
    std: float = Field(1.0, gt=0.0, le=1e4)
    amount: float = Field(0.0, ge=-100.0, le=100.0)  # in standard deviations
    amount_end: float | None = Field(None, ge=-100.0, le=100.0)  # None: constant
    layers: tuple[int, int] | None = None  # w+ layers start..end-1 (StyleGAN); None: all

    @field_validator("vector")
    @classmethod
    def _finite(cls, vector: list[float]) -> list[float]:
        if not all(np.isfinite(v) for v in vector) or not any(vector):
            raise ValueError("a direction vector must be finite and non-zero")
        return vector


class AnimationSettings(BaseModel):
    """Everything that decides the frames, apart from the keyframe latents themselves."""

    model_config = ConfigDict(extra="forbid")

    keyframes: list[Keyframe] = Field(min_length=2, max_length=MAX_KEYFRAMES)
    steps: list[int] = Field(min_length=1)  # frames per segment
    interpolation: Interpolation = "slerp"
    easing: Easing = "linear"
    space: Space = "z"
    psi: float = Field(1.0, ge=0.0, le=2.0)
    cutoff: int | None = Field(None, ge=0, le=MAX_WS)  # truncate only the first `cutoff` ws (StyleGAN)
    noise_mode: NoiseModeName = "const"
    loop: LoopMode = "none"
    class_idx: int | None = Field(None, ge=0)
    view_filter: ViewFilter = Field(default_factory=ViewFilter)
    fps: float = Field(12.0, gt=0.0, le=240.0)
    directions: list[DirectionOffset] = Field(default_factory=list, max_length=64)

    @field_validator("steps")
    @classmethod
    def _steps_in_range(cls, steps: list[int]) -> list[int]:
        for s in steps:
            if not 1 <= s <= MAX_STEPS:
                raise ValueError(f"steps per segment must be in 1..{MAX_STEPS}, got {s}")
        return steps

    @model_validator(mode="after")
    def _consistent(self) -> AnimationSettings:
        want = self.segment_count
        if len(self.steps) != want:
            raise ValueError(
                f"{len(self.keyframes)} keyframes with loop '{self.loop}' make {want} segment(s), "
                f"but {len(self.steps)} step counts were given"
            )
        if self.loop == "none" and self.steps[-1] < 2:
            raise ValueError("the last segment needs at least 2 steps (its start and its end)")
        if sum(self.steps) > MAX_FRAMES:
            raise ValueError(f"{sum(self.steps)} frames in all; at most {MAX_FRAMES} are allowed")
        return self

    @property
    def segment_count(self) -> int:
        k = len(self.keyframes)
        if self.loop == "circle":
            return 1
        return k if self.loop == "closed" else k - 1

    @property
    def frame_count(self) -> int:
        return sum(self.steps)


class Animation(AnimationSettings):
    """A named, saved animation: its settings plus identity and times (latents live beside it)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(max_length=NAME_MAX)
    model: ModelIdentity
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        try:
            return check_name(name)
        except InvalidRequest as exc:
            raise ValueError(str(exc)) from None


def latent_array(values: Any, what: str = "keyframe latents") -> np.ndarray:
    """Nested lists of numbers from a request as a float64 array.

    Raises:
        InvalidRequest: the rows have different lengths, or hold something other than numbers.
    """
    try:
        return np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):
        raise InvalidRequest(f"{what} must be rows of numbers, all of the same length") from None


def check_latents(latents: np.ndarray, keyframes: int, z_dim: int) -> np.ndarray:
    """Keyframe latents as float32 [keyframes, z_dim], finite.

    Raises:
        InvalidRequest: wrong shape, or NaN/infinite values.
    """
    arr = np.asarray(latents, dtype=np.float64)
    if arr.shape != (keyframes, z_dim):
        raise InvalidRequest(
            f"keyframe latents have shape {tuple(arr.shape)}; expected ({keyframes}, {z_dim}) "
            "(one z vector of the model's z_dim per keyframe)"
        )
    if not np.isfinite(arr).all():
        raise InvalidRequest("keyframe latents contain NaN or infinite values")
    if np.abs(arr).max(initial=0.0) > 1e4:
        raise InvalidRequest("keyframe latents are absurdly large (|z| > 10000)")
    return arr.astype(np.float32)
