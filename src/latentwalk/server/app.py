"""create_app(): the FastAPI app serving the explorer page, its JSON API and its WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from latentwalk import __version__
from latentwalk.animation.bookmarks import BookmarkStore
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.errors import LatentwalkError
from latentwalk.playback.stage import Stage, build_stage
from latentwalk.render.worker import InferenceWorker
from latentwalk.server import directions, exports, imagein, library, playback, precision, routes
from latentwalk.server.controls import router as controls_router
from latentwalk.server.frame_cache import FrameCache
from latentwalk.server.security import Access, AccessGuard
from latentwalk.server.state import AppState, error_body, error_status
from latentwalk.server.ws import Session, same_origin

STATIC = resources.files("latentwalk.server") / "static"


def create_app(
    settings: Settings,
    worker: InferenceWorker,
    model: ModelRef,
    store: AnimationStore | None = None,
    bookmarks: BookmarkStore | None = None,
    stage: Stage | None = None,
) -> FastAPI:
    """Build the app around an already started worker and the model to show first.

    The library and bookmarks default to `settings.data_dir` (animations/, bookmarks.json). The live
    stage (player, outputs, MIDI mapping) is made here unless given; one made here closes with the app."""
    owned: list[Stage] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        exports.sweep_exports(settings.data_dir / "exports")  # temporaries of a killed earlier run
        if owned and owned[0].closed:  # the app served before and closed its stage: a fresh one
            lw = app.state.lw
            owned[0] = build_stage(
                worker, lw.store, settings.models_dirs, settings.data_dir, lambda: lw.model
            )
            lw.stage = owned[0]
        yield
        for s in owned:
            s.close()

    app = FastAPI(title="latentwalk", version=__version__, docs_url="/docs", lifespan=lifespan)
    app.state.lw = AppState(
        settings=settings,
        worker=worker,
        model=model,
        store=store or AnimationStore(settings.data_dir / "animations"),
        bookmarks=bookmarks or BookmarkStore(settings.data_dir / "bookmarks.json"),
        frame_cache=FrameCache(max_bytes=settings.frame_cache_mb * 1024 * 1024),
    )
    if stage is None:
        lw = app.state.lw
        stage = build_stage(worker, lw.store, settings.models_dirs, settings.data_dir, lambda: lw.model)
        owned.append(stage)
    app.state.lw.stage = stage

    @app.exception_handler(LatentwalkError)
    async def _latentwalk_error(_: Request, exc: LatentwalkError) -> JSONResponse:
        return JSONResponse(error_body(type(exc).__name__, str(exc)), status_code=error_status(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own refusals (no such route, wrong method) in the one error shape too.
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return JSONResponse(
            error_body(kind, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
        return JSONResponse(error_body("InvalidRequest", message), status_code=400)

    app.include_router(routes.router)
    app.include_router(library.router)
    app.include_router(exports.router)
    app.include_router(playback.router)
    app.include_router(controls_router)
    app.include_router(directions.router)
    app.include_router(precision.router)
    app.include_router(imagein.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # Token, Host and Origin checks on every request and WebSocket (server/security.py).
    app.state.access = Access.from_settings(settings)
    app.add_middleware(AccessGuard, access=app.state.access)

    @app.middleware("http")
    async def _same_origin_and_fresh_static(request: Request, call_next):  # type: ignore[no-untyped-def]
        # A page on another site must not change anything here (save, delete, switch, play...).
        if request.method not in ("GET", "HEAD", "OPTIONS") and not same_origin(
            request.headers.get("origin"), request.headers.get("host")
        ):
            return JSONResponse(error_body("Forbidden", "cross-origin requests are refused"), status_code=403)
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            # Revalidate modules on every load, so an upgrade never mixes old and new files.
            response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-cache"})

    @app.get("/in", include_in_schema=False)
    async def in_page() -> FileResponse:
        return FileResponse(str(STATIC / "in.html"), headers={"Cache-Control": "no-cache"})

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        await Session(ws, app.state.lw).run()

    return app
