"""HTTP routes for models, latents and single images (thin: validate, call the worker, answer)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from latentwalk import __version__
from latentwalk.catalog import resolve, scan
from latentwalk.errors import InvalidRequest
from latentwalk.latents import MAX_SEED, check_psi, class_label, parse_seeds, seed_to_z, seeds_to_z
from latentwalk.render.images import encode
from latentwalk.render.worker import RenderRequest
from latentwalk.server.state import AppState

router = APIRouter()
MAX_WEB_SEEDS = 1000


def state_of(request: Request) -> AppState:
    return request.app.state.lw  # type: ignore[no-any-return]


class ModelChoice(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    snapshot: str | None = Field(None, max_length=100)


@router.get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/api/models")
async def list_models(request: Request) -> dict[str, Any]:
    """Built-in models and the models found in the models folders, with their snapshots."""
    st = state_of(request)
    found = scan(st.settings.models_dirs)
    return {
        "current": st.model.name,
        "current_snapshot": st.model.snapshot,
        "models": [
            {
                "name": m.name,
                "source": m.source,
                "description": m.description,
                "snapshots": [{"label": s.label, "kimg": s.kimg} for s in m.snapshots],
            }
            for m in found
        ],
    }


async def _model_body(st: AppState) -> dict[str, Any]:
    info = await st.worker.info_async(st.model)
    body = info.as_dict()
    body.pop("training_set", None)
    body["snapshot"] = st.model.snapshot
    return body


@router.get("/api/model")
async def current_model(request: Request) -> dict[str, Any]:
    """The model the explorer renders with."""
    return await _model_body(state_of(request))


@router.post("/api/model")
async def choose_model(request: Request, choice: ModelChoice) -> dict[str, Any]:
    """Switch the current model (a name from /api/models, never a path); loads it before answering."""
    st = state_of(request)
    spec = choice.name if choice.snapshot is None else f"{choice.name}@{choice.snapshot}"
    ref = resolve(spec, st.settings.models_dirs, allow_paths=False)
    async with st.model_lock:
        await st.worker.info_async(ref)  # load first: a model that fails leaves the current one in place
        st.model = ref
    return await _model_body(st)


@router.get("/api/z")
async def latents_for_seeds(
    request: Request, seeds: Annotated[str, Query(max_length=20000)]
) -> dict[str, Any]:
    """z latents of the current model for seeds (NVIDIA's convention)."""
    st = state_of(request)
    seed_list = parse_seeds(seeds)
    if len(seed_list) > MAX_WEB_SEEDS:
        raise InvalidRequest(f"at most {MAX_WEB_SEEDS} seeds per request")
    info = await st.worker.info_async(st.model)
    z = seeds_to_z(seed_list, info.z_dim).astype("float32")
    return {"z_dim": info.z_dim, "seeds": seed_list, "z": z.tolist()}


@router.get("/api/image.png", responses={200: {"content": {"image/png": {}}}})
async def image(
    request: Request,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED)],
    psi: Annotated[float, Query()] = 1.0,
    noise_mode: Annotated[str, Query(pattern="^(const|random|none)$")] = "const",
    class_idx: Annotated[int | None, Query(ge=0)] = None,
    cutoff: Annotated[int | None, Query(ge=0, le=64)] = None,
) -> Response:
    """One image of the current model for a seed, as PNG (the same pixels as `latentwalk generate`)."""
    st = state_of(request)
    psi = check_psi(psi)
    info = await st.worker.info_async(st.model)
    if info.c_dim:
        label = class_label(0 if class_idx is None else class_idx, info.c_dim)
    else:
        class_label(class_idx, 0)  # refuses a class for an unconditional model
        label = None
    t0 = time.perf_counter()
    z = seed_to_z(seed, info.z_dim)
    req = RenderRequest(st.model, z, label, psi=psi, cutoff=cutoff, noise_mode=noise_mode)  # type: ignore[arg-type]
    pixels = await st.worker.render_async(req)
    ms = (time.perf_counter() - t0) * 1000
    return Response(
        encode(pixels[0], "png"),
        media_type="image/png",
        headers={"Cache-Control": "no-store", "X-Render-Ms": f"{ms:.1f}"},
    )
