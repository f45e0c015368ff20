"""HTTP routes for real images in: projection jobs (start, follow, stop, result) and translation.

Pictures arrive as the raw request body (the bytes of a PNG/JPEG/WebP file, any Content-Type),
so a webcam capture, an upload and a paste are one `fetch(url, {method: "POST", body: blob})`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from latentwalk.catalog import ModelRef
from latentwalk.errors import InvalidImage, InvalidRequest, LatentwalkError, NameNotFound
from latentwalk.imagein import MAX_BYTES, decode_image, fit_image
from latentwalk.projection import (
    ProjectionCancelled,
    ProjectionOptions,
    ProjectionResult,
    ProjectionStep,
    project,
)
from latentwalk.projection.projector import MAX_STEPS
from latentwalk.render.images import encode
from latentwalk.server.state import AppState
from latentwalk.translation import TranslatorCache, list_translators, native_size, translate

router = APIRouter()
MAX_JOBS = 16  # finished jobs beyond this are forgotten, oldest first
MAX_RUNNING = 2


def _state(request: Request) -> AppState:
    return request.app.state.lw  # type: ignore[no-any-return]


async def _picture(request: Request) -> bytes:
    """The request body, refused unread past MAX_BYTES."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        raise InvalidImage(f"the picture is {int(declared) >> 20} MiB; pictures up to {MAX_BYTES >> 20} MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise InvalidImage(f"the picture is larger than {MAX_BYTES >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------ projection


@dataclass
class ProjectionJob:
    id: str
    model: ModelRef
    total: int
    target: np.ndarray
    step: int = 0
    loss: float | None = None
    losses: list[float] = field(default_factory=list)
    preview: bytes | None = None  # PNG of the latest reconstruction
    previews: int = 0  # bumps with every new preview (the page fetches it when this changes)
    state: str = "running"  # running | done | stopped | error
    error: str | None = None
    result: ProjectionResult | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "model": self.model.name,
            "state": self.state,
            "step": self.step,
            "total": self.total,
            "loss": self.loss,
            "losses": self.losses,
            "previews": self.previews,
            "error": self.error,
        }
        if self.result is not None:
            out["result"] = self.result.as_dict()
        return out


def _job(request: Request, job_id: str) -> ProjectionJob:
    job = _state(request).projections.get(job_id)
    if job is None:
        raise NameNotFound(f"no projection job {job_id!r}")
    return job  # type: ignore[no-any-return]


@router.post("/api/project")
async def start_projection(
    request: Request,
    steps: Annotated[int, Query(ge=1, le=MAX_STEPS)] = 300,
    space: Annotated[Literal["z", "w", "w+"] | None, Query()] = None,
    fit: Annotated[Literal["crop", "pad"], Query()] = "crop",
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    """Start projecting the picture in the body into the current model; follow GET /api/project/{id}."""
    st = _state(request)
    data = await _picture(request)
    jobs: dict[str, ProjectionJob] = st.projections
    if sum(j.state == "running" for j in jobs.values()) >= MAX_RUNNING:
        raise InvalidRequest(f"{MAX_RUNNING} projections are running already: stop one or wait")
    model = st.model
    info = await st.worker.info_async(model)
    target = await asyncio.to_thread(
        lambda: np.asarray(fit_image(decode_image(data), info.resolution, fit), dtype=np.uint8)
    )
    options = ProjectionOptions(steps=steps, space=space, seed=seed, preview_every=5)
    options.check()
    for old in [j for j in jobs.values() if j.state != "running"][: max(0, len(jobs) - MAX_JOBS + 1)]:
        jobs.pop(old.id)
    job = ProjectionJob(id=uuid.uuid4().hex[:12], model=model, total=steps, target=target)
    jobs[job.id] = job

    def on_step(step: ProjectionStep) -> None:
        job.step, job.loss = step.step, step.loss
        job.losses.append(step.loss)
        if step.preview is not None:
            job.preview = encode(step.preview, "png")
            job.previews += 1

    def run() -> None:
        try:
            job.result = project(
                st.worker,
                model,
                target,
                options,
                progress=on_step,
                cancel=job.cancel,
                perceptual_weights=st.settings.perceptual_weights,
            )
            job.state = "done"
        except ProjectionCancelled as exc:
            job.result, job.state = exc.partial, "stopped"
        except LatentwalkError as exc:
            job.state, job.error = "error", str(exc)
        except Exception as exc:  # a bug must not leave the job "running" for ever
            job.state, job.error = "error", f"{type(exc).__name__}: {exc}"
        if job.result is not None:
            job.preview = encode(job.result.reconstruction, "png")
            job.previews += 1

    asyncio.get_running_loop().run_in_executor(None, run)
    return job.as_dict()


@router.get("/api/project/{job_id}")
async def projection_status(request: Request, job_id: str) -> dict[str, Any]:
    """Progress: step, total, loss, the loss of every slice so far, and the preview counter."""
    return _job(request, job_id).as_dict()


@router.delete("/api/project/{job_id}")
async def stop_projection(request: Request, job_id: str) -> dict[str, Any]:
    """Stop a running projection; its latent so far becomes the result (state "stopped")."""
    job = _job(request, job_id)
    job.cancel.set()
    return job.as_dict()


@router.get("/api/project/{job_id}/preview.png", responses={200: {"content": {"image/png": {}}}})
async def projection_preview(request: Request, job_id: str) -> Response:
    """The latest reconstruction (the exact rendering of the result once the job has ended)."""
    job = _job(request, job_id)
    if job.preview is None:
        raise NameNotFound(f"projection {job_id} has no preview yet")
    return Response(job.preview, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/api/project/{job_id}/target.png", responses={200: {"content": {"image/png": {}}}})
async def projection_target(request: Request, job_id: str) -> Response:
    """The target as the model sees it: cropped or padded, resized to its resolution."""
    return Response(encode(_job(request, job_id).target, "png"), media_type="image/png")


@router.get("/api/project/{job_id}/result")
async def projection_result(request: Request, job_id: str) -> dict[str, Any]:
    """The found latent: `z` [z_dim] in z space (a keyframe for the explorer), else `ws`."""
    job = _job(request, job_id)
    if job.result is None:
        raise NameNotFound(f"projection {job_id} has no result ({job.state})")
    r = job.result
    body: dict[str, Any] = {**r.as_dict(), "model": job.model.name, "snapshot": job.model.snapshot}
    if r.space == "z":
        body["z"] = r.latent[0].tolist()
    else:
        body["ws"] = r.latent[0].tolist()
    return body


# ------------------------------------------------------------------------------------------ translation


def _translators(st: AppState) -> TranslatorCache:
    if st.translators is None:
        s = st.settings
        st.translators = TranslatorCache(s.cache_dir, s.models_dirs, s.trusted_files)
    return st.translators  # type: ignore[no-any-return]


@router.get("/api/translators")
async def translators(request: Request) -> dict[str, Any]:
    """The built-in translator and the user's files in <models folder>/translators/."""
    return {"translators": list_translators(_state(request).settings.models_dirs)}


@router.post("/api/translate", responses={200: {"content": {"image/png": {}}}})
async def translate_picture(
    request: Request,
    model: Annotated[str, Query(min_length=1, max_length=200)] = "cyclegan-vintage",
    size: Annotated[int | None, Query(ge=64, le=1024)] = None,
    fit: Annotated[Literal["crop", "pad"], Query()] = "crop",
) -> Response:
    """Translate the picture in the body; answers a PNG (size: the translator's native, or `size`)."""
    st = _state(request)
    data = await _picture(request)
    cache = _translators(st)
    picture = await asyncio.to_thread(decode_image, data)
    side = size or await asyncio.to_thread(native_size, st.worker, cache, model)
    fitted = np.asarray(fit_image(picture, side, fit), dtype=np.uint8)
    pixels = await asyncio.to_thread(translate, st.worker, cache, model, fitted)
    return Response(encode(pixels, "png"), media_type="image/png", headers={"Cache-Control": "no-store"})
