"""Directions API: list, find (PCA and attribute-fit jobs with progress), teach by example, offsets
for the sliders (locks applied), delete, import and export. See docs/explorer-api.md."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from latentwalk.animation.schema import DirectionOffset, check_name
from latentwalk.directions.axes import Scorer, feature_scorer, fit_axes, teach
from latentwalk.directions.classifier import load_classifier
from latentwalk.directions.features import FEATURES
from latentwalk.directions.pca import pca_directions
from latentwalk.directions.store import DirectionStore, space_of
from latentwalk.directions.vectors import steered
from latentwalk.errors import InvalidRequest, JobCancelled, LatentwalkError, NameNotFound
from latentwalk.render.worker import ModelInfo
from latentwalk.server import classifiers
from latentwalk.server.state import AppState

log = logging.getLogger(__name__)
router = APIRouter()
router.include_router(classifiers.router)  # /api/directions/classifiers: uploads for fits
MAX_JOBS = 16
MAX_IMPORT = 64 << 20


class JobBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["pca", "fit"]
    samples: int | None = Field(None, ge=20, le=200_000)
    components: int = Field(32, ge=1, le=512)
    features: list[str] = Field(default_factory=list, max_length=len(FEATURES))
    classifier: str | None = Field(None, max_length=200)  # an uploaded classifier (instead of features)
    seed: int = Field(0, ge=0, le=2**32 - 1)


class TeachBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=80)
    positive: list[int] = Field(max_length=10_000)
    negative: list[int] = Field(max_length=10_000)


class SliderEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    amount: float = Field(0.0, ge=-100.0, le=100.0)
    amount_end: float | None = Field(None, ge=-100.0, le=100.0)
    locked: bool = False
    layers: tuple[int, int] | None = None


class OffsetsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[SliderEntry] = Field(max_length=256)


@dataclass
class DirectionJob:
    id: str
    kind: str
    total: int
    done: int = 0
    state: str = "running"  # running | done | cancelled | error
    error: str | None = None
    names: list[str] = field(default_factory=list)
    classifier: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "names": self.names,
            "classifier": self.classifier,
        }


def _store(st: AppState) -> DirectionStore:
    return DirectionStore(st.settings.data_dir / "directions")


def _jobs(request: Request) -> dict[str, DirectionJob]:
    jobs = getattr(request.app.state, "direction_jobs", None)
    if jobs is None:
        jobs = request.app.state.direction_jobs = {}
    return jobs


def _listing(info: ModelInfo, store: DirectionStore) -> dict[str, Any]:
    return {
        "model": info.name,
        "space": space_of(info),
        "num_ws": info.num_ws,
        "features": list(FEATURES),
        "directions": [d.describe() for d in store.list(info)],
    }


@router.get("/api/directions")
async def list_directions(request: Request) -> dict[str, Any]:
    """The current model's directions (vectors left out) and the built-in features."""
    st: AppState = request.app.state.lw
    info = await st.worker.info_async(st.model)
    return await asyncio.to_thread(_listing, info, _store(st))


@router.delete("/api/directions/{name}")
async def delete_direction(request: Request, name: str) -> dict[str, Any]:
    st: AppState = request.app.state.lw
    info = await st.worker.info_async(st.model)
    store = _store(st)
    await asyncio.to_thread(store.delete, info, name)
    return await asyncio.to_thread(_listing, info, store)


async def _scorer(st: AppState, body: JobBody) -> tuple[Scorer | None, str]:
    """The fit's scorer and method: built-in features, or an uploaded classifier (one or the other)."""
    if body.kind == "pca":
        if body.classifier is not None:
            raise InvalidRequest("PCA takes no classifier: start a fit with it")
        return None, "pca"
    if body.classifier is not None:
        if body.features:
            raise InvalidRequest("a fit takes either features or a classifier, not both")
        path = classifiers.classifiers_of(st).path(body.classifier)
        return (await asyncio.to_thread(load_classifier, path)).scores, "classifier"
    return feature_scorer(body.features), "feature"


@router.post("/api/directions/jobs")
async def start_job(request: Request, body: JobBody) -> dict[str, Any]:
    """Start a PCA or an attribute fit; follow it with GET /api/directions/jobs/{id}."""
    st: AppState = request.app.state.lw
    info = await st.worker.info_async(st.model)
    model, worker, store = st.model, st.worker, _store(st)
    # Unknown features and classifiers that do not load fail here, before the job starts.
    scorer, method = await _scorer(st, body)
    samples = body.samples or (20_000 if body.kind == "pca" else 2000)
    jobs = _jobs(request)
    for old in [j for j in jobs.values() if j.state != "running"][: max(0, len(jobs) - MAX_JOBS + 1)]:
        jobs.pop(old.id)
    job = DirectionJob(id=uuid.uuid4().hex[:12], kind=body.kind, total=samples, classifier=body.classifier)
    jobs[job.id] = job

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    def run() -> None:
        try:
            if body.kind == "pca":
                found = pca_directions(
                    worker, model, samples, body.components, body.seed, progress=progress, cancel=job.cancel
                )
            else:
                assert scorer is not None
                found = fit_axes(
                    worker, model, scorer, method, samples, body.seed, progress=progress, cancel=job.cancel
                )
            store.put(info, found)
            job.names, job.state = [d.name for d in found], "done"
        except JobCancelled:
            job.state = "cancelled"
        except LatentwalkError as exc:
            job.state, job.error = "error", str(exc)
        except Exception as exc:  # a bug, or a user's classifier failing oddly: the job must still end
            log.exception("direction job %s failed", job.id)
            job.state, job.error = "error", f"the {body.kind} failed: {type(exc).__name__}: {exc}"

    asyncio.get_running_loop().run_in_executor(None, run)
    return job.as_dict()


def _job(request: Request, job_id: str) -> DirectionJob:
    job = _jobs(request).get(job_id)
    if job is None:
        raise NameNotFound(f"no direction job {job_id!r}")
    return job


@router.get("/api/directions/jobs/{job_id}")
async def job_status(request: Request, job_id: str) -> dict[str, Any]:
    return _job(request, job_id).as_dict()


@router.delete("/api/directions/jobs/{job_id}")
async def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    job = _job(request, job_id)
    job.cancel.set()
    return job.as_dict()


@router.post("/api/directions/teach")
async def teach_direction(request: Request, body: TeachBody) -> dict[str, Any]:
    """An axis from seeds marked with (positive) and without (negative) a quality, stored by name."""
    st: AppState = request.app.state.lw
    name = check_name(body.name)
    info = await st.worker.info_async(st.model)
    d = await asyncio.to_thread(teach, st.worker, st.model, name, body.positive, body.negative)
    await asyncio.to_thread(_store(st).put, info, [d])
    return d.describe()


def _offsets(info: ModelInfo, store: DirectionStore, entries: list[SliderEntry]) -> list[dict[str, Any]]:
    known = {d.name: d for d in store.list(info)}
    missing = [e.name for e in entries if e.name not in known]
    if missing:
        raise NameNotFound(f"unknown direction(s) {', '.join(missing)} for {info.name}")
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise InvalidRequest("each direction may appear once")
    locked = [known[e.name] for e in entries if e.locked]
    out = []
    for e in entries:
        d = known[e.name].with_layers(e.layers, info.num_ws) if e.layers is not None else known[e.name]
        if e.amount == 0 and not e.amount_end:
            continue
        v = steered(d, e.locked, locked)
        off = DirectionOffset(
            name=d.name,
            space=d.space,
            vector=v.tolist(),
            std=d.std,
            amount=e.amount,
            amount_end=e.amount_end,
            layers=d.layers,
        )
        out.append(off.model_dump(mode="json"))
    return out


@router.post("/api/directions/offsets")
async def direction_offsets(request: Request, body: OffsetsBody) -> dict[str, Any]:
    """Slider positions -> the `directions` of animation settings: each unlocked direction made
    orthogonal to every locked one, so moving it leaves the locked attributes where they are."""
    st: AppState = request.app.state.lw
    info = await st.worker.info_async(st.model)
    return {"directions": await asyncio.to_thread(_offsets, info, _store(st), body.entries)}


@router.get("/api/directions/export")
async def export_directions(request: Request, names: str | None = None) -> Response:
    """The model's directions (or the comma-separated `names`) as one .npz file to share."""
    st: AppState = request.app.state.lw
    info = await st.worker.info_async(st.model)
    wanted = [n for n in (names or "").split(",") if n]
    data = await asyncio.to_thread(_store(st).export_bytes, info, wanted or None)
    filename = f"{info.name}-directions.npz".replace('"', "")
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/api/directions/import")
async def import_directions(request: Request, replace: bool = False) -> dict[str, Any]:
    """Add the directions of an exported .npz (the request body); 409 on a name clash unless replace."""
    st: AppState = request.app.state.lw
    data = await request.body()
    if len(data) > MAX_IMPORT:
        raise InvalidRequest(f"a directions file may be at most {MAX_IMPORT >> 20} MiB")
    info = await st.worker.info_async(st.model)
    store = _store(st)
    names = await asyncio.to_thread(store.import_bytes, info, data, replace)
    return {"imported": names, **(await asyncio.to_thread(_listing, info, store))}
