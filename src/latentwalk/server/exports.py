"""Export jobs from the explorer: start, follow, cancel, download (the same code as `latentwalk render`)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from latentwalk.animation.frames import FramePlan, plan_async
from latentwalk.animation.schema import AnimationSettings, check_latents, check_name, latent_array
from latentwalk.errors import ExportCancelled, LatentwalkError, NameNotFound
from latentwalk.export import MAX_SIZE, ExportOptions, export_frames
from latentwalk.server.state import AppState

log = logging.getLogger(__name__)
router = APIRouter()
MAX_JOBS = 32


class ExportBody(BaseModel):
    name: str = Field("latentwalk", max_length=80)
    settings: AnimationSettings
    latents: list[list[float]]
    format: Literal["mp4", "mov", "png", "gif", "webp"] = "mp4"
    fps: float | None = Field(None, gt=0, le=240)
    size: int | None = Field(None, ge=8, le=MAX_SIZE)
    upscale: Literal["nearest", "bicubic", "lanczos"] = "lanczos"


@dataclass
class ExportJob:
    id: str
    name: str
    fmt: str
    total: int
    done: int = 0
    state: str = "running"  # running | done | cancelled | error
    error: str | None = None
    path: Path | None = None
    cluster: bool = False  # rendered in shards on a Ray cluster (settings.cluster)
    cancel: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "format": self.fmt,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "cluster": self.cluster,
            "download": f"/api/exports/{self.id}/file" if self.state == "done" else None,
        }


def _jobs(st: AppState) -> dict[str, ExportJob]:
    return st.exports


@router.post("/api/exports")
async def start_export(request: Request, body: ExportBody) -> dict[str, Any]:
    """Start exporting an animation; follow it with GET /api/exports/{id}, then download it."""
    st: AppState = request.app.state.lw
    name = check_name(body.name)
    info = await st.worker.info_async(st.model)
    keys = check_latents(latent_array(body.latents), len(body.settings.keyframes), info.z_dim)
    plan = await plan_async(st.worker, st.model, body.settings, keys)
    options = ExportOptions(
        fmt=body.format, fps=body.fps or body.settings.fps, size=body.size, upscale=body.upscale
    )
    options.check(plan.info.resolution)
    jobs = _jobs(st)
    for old in [j for j in jobs.values() if j.state != "running"][: max(0, len(jobs) - MAX_JOBS + 1)]:
        jobs.pop(old.id)
        if old.path is not None:
            shutil.rmtree(old.path.parent, ignore_errors=True)
    job = ExportJob(
        id=uuid.uuid4().hex[:12],
        name=name,
        fmt=body.format,
        total=plan.total,
        cluster=bool(st.settings.cluster),
    )
    jobs[job.id] = job
    folder = st.settings.data_dir / "exports" / job.id

    def run() -> None:
        def progress(done: int, _total: int) -> None:
            job.done = done

        try:
            if job.cluster:  # the whole job's progress: frames finished on all actors
                out = _render_on_cluster(st, plan, folder / name, options, progress, job.cancel)
            else:
                out = export_frames(
                    st.worker, plan, folder / name, options, progress=progress, cancel=job.cancel
                )
            if out.is_dir():  # a PNG sequence downloads as one zip
                out = _zipped(out, name)
            job.path, job.state = out, "done"
        except ExportCancelled:
            job.state = "cancelled"
            shutil.rmtree(folder, ignore_errors=True)
        except LatentwalkError as exc:
            job.state, job.error = "error", str(exc)
            shutil.rmtree(folder, ignore_errors=True)
        except Exception as exc:  # a full disk while zipping, or a bug: the job says so, never hangs
            log.exception("export %s failed", job.id)
            what = "the disk is full" if getattr(exc, "errno", None) == errno.ENOSPC else str(exc)
            job.state, job.error = "error", f"could not write {name}: {what}; nothing was left behind"
            shutil.rmtree(folder, ignore_errors=True)

    asyncio.get_running_loop().run_in_executor(None, run)
    return job.as_dict()


def _render_on_cluster(
    st: AppState,
    plan: FramePlan,
    out: Path,
    options: ExportOptions,
    progress: Callable[[int, int], None],
    cancel: threading.Event,
) -> Path:
    """An export rendered in shards by the render farm (Ray is imported only here)."""
    from latentwalk.cluster.job import Cluster

    with Cluster(st.settings.cluster, cache_dir=st.settings.cache_dir) as farm:
        return farm.render(plan, out, options, progress=progress, cancel=cancel).path


def _zipped(folder: Path, name: str) -> Path:
    """The PNG folder as one zip beside it, written under a temporary name and renamed into place
    (a killed export never leaves a half-written zip under the final name)."""
    archive = folder.with_name(folder.name + ".zip")
    temp = folder.with_name(f".{archive.name}.partial")
    try:
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as zf:
            for png in sorted(folder.iterdir()):
                zf.write(png, f"{name}/{png.name}")
        os.replace(temp, archive)
    finally:
        temp.unlink(missing_ok=True)
    return archive


def sweep_exports(root: Path) -> int:
    """Remove the temporaries of exports an earlier run left unfinished (killed, power cut); returns
    how many. Finished files stay; a job folder left empty goes."""
    if not root.is_dir() or root.is_symlink():
        return 0
    removed = 0
    for job_dir in root.iterdir():
        if not job_dir.is_dir() or job_dir.is_symlink():
            continue
        for child in job_dir.iterdir():
            if child.name.startswith(".") and ".partial" in child.name:
                _remove_path(child)
                removed += 1
        with contextlib.suppress(OSError):
            job_dir.rmdir()  # only when empty
    return removed


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _job(request: Request, job_id: str) -> ExportJob:
    job = _jobs(request.app.state.lw).get(job_id)
    if job is None:
        raise NameNotFound(f"no export job {job_id!r}")
    return job


@router.get("/api/exports/{job_id}")
async def export_status(request: Request, job_id: str) -> dict[str, Any]:
    return _job(request, job_id).as_dict()


@router.delete("/api/exports/{job_id}")
async def cancel_export(request: Request, job_id: str) -> dict[str, Any]:
    job = _job(request, job_id)
    job.cancel.set()
    return job.as_dict()


@router.get("/api/exports/{job_id}/file")
async def export_file(request: Request, job_id: str) -> FileResponse:
    job = _job(request, job_id)
    if job.state != "done" or job.path is None or not job.path.exists():
        raise NameNotFound(f"export {job_id} has no file ({job.state})")
    return FileResponse(str(job.path), filename=job.path.name)
