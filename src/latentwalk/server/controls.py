"""HTTP routes of the latent controls: the average image, w+ latents, nudges, randomising, style mixing.

A latent on the wire is `{"z": [...], "ws": null}` (a z vector) or `{"z": [...], "ws": [[...], ...]}`
(a w+ latent, num_ws rows before truncation; z is then the keyframe's original z, kept for reset).
The answers are latents of the same shape; random steps take a `seed`, so an edit can be repeated.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from latentwalk.errors import InvalidRequest
from latentwalk.latents import MAX_SEED, class_label, seed_to_z
from latentwalk.render.images import encode
from latentwalk.render.worker import ModelInfo, RenderRequest
from latentwalk.server.routes import state_of
from latentwalk.server.state import AppState
from latentwalk.styles import layer_groups, mix, nudge, parse_layers, randomise

router = APIRouter()


class Latent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    z: list[float] | None = Field(None, max_length=65536)
    ws: list[list[float]] | None = Field(None, max_length=64)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)  # the latent of this seed when z is left out


class EditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latent: Latent
    space: Literal["z", "w", "w+"] = "z"
    layers: str | None = Field(None, max_length=200)  # w and w+: e.g. "0-3", "coarse"; all when left out
    size: float = 0.25  # nudge: RMS of the step, in units of the latent's own spread
    fraction: float = 0.25  # randomise: share of the values replaced
    seed: int | None = Field(None, ge=0, le=MAX_SEED)  # of the random step; drawn when left out


class MixBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latent: Latent  # parent A: keeps every layer outside `layers`
    other: Latent  # parent B: gives the layers in `layers`
    layers: str = Field("coarse", max_length=200)


async def _info(st: AppState) -> ModelInfo:
    return await st.worker.info_async(st.model)


MAX_LATENT = 1e6  # latents are a few units; anything this large is a mistake (and overflows float32)


def _sane(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).all() and (values.size == 0 or np.abs(values).max() <= MAX_LATENT))


def _z_or_none(latent: Latent, info: ModelInfo) -> np.ndarray | None:  # [z_dim] float32
    """The latent's z: its values, or its seed's z; None for a w+ latent given without either."""
    if latent.z is None:
        if latent.seed is None:
            if latent.ws is None:
                raise InvalidRequest("a latent needs its z values, a seed, or (StyleGAN models) its ws")
            return None
        return seed_to_z(latent.seed, info.z_dim)[0].astype(np.float32)
    z = np.asarray(latent.z, dtype=np.float64)
    if z.shape != (info.z_dim,) or not _sane(z):
        raise InvalidRequest(
            f"z must be {info.z_dim} finite numbers within ±{MAX_LATENT:g} for {info.name}, "
            f"got shape {z.shape}"
        )
    return z.astype(np.float32)


def _z_of(latent: Latent, info: ModelInfo) -> np.ndarray:  # [z_dim] float32
    z = _z_or_none(latent, info)
    if z is None:
        raise InvalidRequest("this latent is a w+ latent with no z: edit it in w or w+")
    return z


def _labels(info: ModelInfo, rows: int) -> np.ndarray | None:
    return class_label(0, info.c_dim).repeat(rows, axis=0) if info.c_dim else None


async def _ws_of(st: AppState, latent: Latent, info: ModelInfo) -> np.ndarray:  # [num_ws, w_dim]
    """The untruncated w+ of a latent: its own ws, or its z through the mapping network."""
    if not info.has_w:
        raise InvalidRequest(
            f"{info.name} has no mapping network, so no w or w+ latents: edit it in z "
            "(style mixing needs a StyleGAN model)"
        )
    if latent.ws is not None:
        ws = np.asarray(latent.ws, dtype=np.float64)
        if ws.shape != (info.num_ws, info.w_dim) or not _sane(ws):
            raise InvalidRequest(
                f"ws must be {info.num_ws} rows of {info.w_dim} finite numbers within ±{MAX_LATENT:g} "
                f"for {info.name}, "
                f"got shape {ws.shape}"
            )
        return ws.astype(np.float32)
    z = _z_of(latent, info)[None]
    mapped = await asyncio.wrap_future(st.worker.submit_map(st.model, z, _labels(info, 1)))
    return mapped[0]


def _answer(z: np.ndarray | None, ws: np.ndarray | None, **extra: Any) -> dict[str, Any]:
    return {"z": None if z is None else z.tolist(), "ws": None if ws is None else ws.tolist(), **extra}


def _rng(seed: int | None) -> tuple[np.random.Generator, int]:
    seed = int(np.random.default_rng().integers(0, MAX_SEED)) if seed is None else seed
    return np.random.default_rng(seed), seed


@router.get("/api/model/layers")
async def model_layers(request: Request) -> dict[str, Any]:
    """The current model's per-layer structure: num_ws and the coarse, middle and fine rows."""
    info = await _info(state_of(request))
    if not info.has_w:
        return {"num_ws": None, "w_dim": None, "groups": None, "truncation": "z"}
    groups = layer_groups(info.num_ws or 0)
    return {
        "num_ws": info.num_ws,
        "w_dim": info.w_dim,
        "groups": {k: list(v) for k, v in groups.items()},
        "truncation": "w",
    }


@router.get("/api/model/average.png", responses={200: {"content": {"image/png": {}}}})
async def average_image(request: Request) -> Response:
    """What truncation pulls toward: the image at psi 0 (w_avg for StyleGAN models, z = 0 otherwise)."""
    st = state_of(request)
    info = await _info(st)
    z = np.zeros((1, info.z_dim), dtype=np.float32)
    pixels = await st.worker.render_async(RenderRequest(st.model, z, _labels(info, 1), psi=0.0))
    return Response(encode(pixels[0], "png"), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/api/latents/map")
async def map_latent(request: Request, body: Latent) -> dict[str, Any]:
    """The w+ latent (untruncated) of a z or a seed; 400 for a model with no w space."""
    st = state_of(request)
    info = await _info(st)
    z = _z_of(body, info)
    return _answer(z, await _ws_of(st, Latent(z=z.tolist()), info))


@router.post("/api/latents/nudge")
async def nudge_latent(request: Request, body: EditBody) -> dict[str, Any]:
    """A small random step of RMS `size` (in units of the latent's spread) in z, w or w+."""
    st = state_of(request)
    info = await _info(st)
    z = _z_or_none(body.latent, info)
    rng, seed = _rng(body.seed)
    if body.space == "z":
        if body.latent.ws is not None or z is None:
            raise InvalidRequest("this latent is a w+ latent: nudge it in w or w+ (or reset it first)")
        return _answer(nudge(z, body.size, rng, "z"), None, seed=seed)
    ws = await _ws_of(st, body.latent, info)
    rows = parse_layers(body.layers, info.num_ws)
    return _answer(z, nudge(ws, body.size, rng, body.space, rows, center=info.w_avg), seed=seed)


@router.post("/api/latents/randomise")
async def randomise_latent(request: Request, body: EditBody) -> dict[str, Any]:
    """Replace a random `fraction` of the values by those of a fresh random latent (z, w, or w+ layers)."""
    st = state_of(request)
    info = await _info(st)
    z = _z_or_none(body.latent, info)
    rng, seed = _rng(body.seed)
    fresh_z = rng.standard_normal(info.z_dim).astype(np.float32)
    if body.space == "z":
        if body.latent.ws is not None or z is None:
            raise InvalidRequest("this latent is a w+ latent: randomise it in w or w+ (or reset it first)")
        return _answer(randomise(z, fresh_z, body.fraction, rng), None, seed=seed)
    ws = await _ws_of(st, body.latent, info)
    fresh_w = (await _ws_of(st, Latent(z=fresh_z.tolist()), info))[0]
    rows = parse_layers(body.layers, info.num_ws)
    return _answer(z, randomise(ws, fresh_w, body.fraction, rng, rows), seed=seed)


@router.post("/api/latents/mix")
async def mix_latents(request: Request, body: MixBody) -> dict[str, Any]:
    """Style mixing: parent A's w+ with the layers `layers` taken from parent B's."""
    st = state_of(request)
    info = await _info(st)
    rows = parse_layers(body.layers, info.num_ws)
    a = await _ws_of(st, body.latent, info)
    b = await _ws_of(st, body.other, info)
    return _answer(_z_or_none(body.latent, info), mix(a, b, rows), layers=rows)
