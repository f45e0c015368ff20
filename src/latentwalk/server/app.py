"""create_app(): the FastAPI app that serves the page and a small JSON/PNG API over the worker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from latentwalk import __version__
from latentwalk.catalog import ModelRef, scan
from latentwalk.config import Settings
from latentwalk.errors import (
    InvalidRequest,
    LatentwalkError,
    ModelLoadError,
    ModelNotFound,
    WorkerStopped,
)
from latentwalk.latents import MAX_SEED, check_psi, class_label, seed_to_z
from latentwalk.render.images import encode
from latentwalk.render.worker import InferenceWorker, RenderRequest

STATIC = resources.files("latentwalk.server") / "static"


@dataclass
class AppState:
    """What the routes share, passed in by the composition root (no globals)."""

    settings: Settings
    worker: InferenceWorker
    model: ModelRef


def error_status(exc: LatentwalkError) -> int:
    if isinstance(exc, ModelNotFound):
        return 404
    if isinstance(exc, WorkerStopped):
        return 503
    if isinstance(exc, InvalidRequest | ModelLoadError):
        return 422 if isinstance(exc, ModelLoadError) else 400
    return 500


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape of the API: {"error": {"type": ..., "message": ...}}."""
    return {"error": {"type": kind, "message": message}}


def create_app(settings: Settings, worker: InferenceWorker, model: ModelRef) -> FastAPI:
    """Build the app around an already started worker and the model to show first."""
    app = FastAPI(title="latentwalk", version=__version__, docs_url="/docs")
    app.state.lw = AppState(settings=settings, worker=worker, model=model)

    @app.exception_handler(LatentwalkError)
    async def _latentwalk_error(_: Request, exc: LatentwalkError) -> JSONResponse:
        return JSONResponse(error_body(type(exc).__name__, str(exc)), status_code=error_status(exc))

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
        return JSONResponse(error_body("InvalidRequest", message), status_code=400)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-cache"})

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/api/models")
    async def list_models(request: Request) -> dict[str, object]:
        st: AppState = request.app.state.lw
        found = scan(st.settings.models_dirs)
        return {
            "current": st.model.name,
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

    @app.get("/api/model")
    async def current_model(request: Request) -> dict[str, object]:
        st: AppState = request.app.state.lw
        info = await st.worker.info_async(st.model)
        body = info.as_dict()
        body.pop("training_set", None)
        return body

    @app.get("/api/image.png", responses={200: {"content": {"image/png": {}}}})
    async def image(
        request: Request,
        seed: Annotated[int, Query(ge=0, le=MAX_SEED)],
        psi: Annotated[float, Query()] = 1.0,
        noise_mode: Annotated[str, Query(pattern="^(const|random|none)$")] = "const",
        class_idx: Annotated[int | None, Query(ge=0)] = None,
    ) -> Response:
        st: AppState = request.app.state.lw
        psi = check_psi(psi)
        info = await st.worker.info_async(st.model)
        if info.c_dim:
            label = class_label(0 if class_idx is None else class_idx, info.c_dim)
        else:
            class_label(class_idx, 0)  # refuses a class for an unconditional model
            label = None
        t0 = time.perf_counter()
        req = RenderRequest(
            st.model,
            seed_to_z(seed, info.z_dim),
            label,
            psi=psi,
            noise_mode=noise_mode,  # type: ignore[arg-type]
        )
        pixels = await st.worker.render_async(req)
        ms = (time.perf_counter() - t0) * 1000
        return Response(
            encode(pixels[0], "png"),
            media_type="image/png",
            headers={"Cache-Control": "no-store", "X-Render-Ms": f"{ms:.1f}"},
        )

    return app
