"""What the routes share (passed in by the app factory, never global) and the one error shape."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from latentwalk.animation.bookmarks import BookmarkStore
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.errors import (
    ClusterUnavailable,
    CorruptAnimation,
    InvalidRequest,
    LatentwalkError,
    MissingExtra,
    ModelLoadError,
    ModelNotFound,
    NameNotFound,
    NameTaken,
    WorkerStopped,
)
from latentwalk.playback.stage import Stage
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.frame_cache import FrameCache


@dataclass
class AppState:
    """The app's collaborators and its one piece of mutable state: the current model."""

    settings: Settings
    worker: InferenceWorker
    model: ModelRef
    store: AnimationStore
    bookmarks: BookmarkStore
    frame_cache: FrameCache = field(default_factory=FrameCache)
    stream_batch: int = 8  # frames per worker request when streaming an animation
    model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    exports: dict[str, Any] = field(default_factory=dict)  # export jobs by id (server/exports.py)
    stage: Stage | None = None  # live playback: player, outputs, MIDI (server/playback.py)
    projections: dict[str, Any] = field(default_factory=dict)  # projection jobs by id (server/imagein.py)
    translators: Any = None  # the TranslatorCache, made on first use (server/imagein.py)


def error_status(exc: LatentwalkError) -> int:
    """HTTP status of each error class: 400 bad input or damaged file, 404 unknown name, 409 clash,
    422 model failed to load, 501 an optional package is not installed, 503 stopped or no cluster,
    500 anything else (a bug or a full disk)."""
    if isinstance(exc, ModelNotFound | NameNotFound):
        return 404
    if isinstance(exc, NameTaken):
        return 409
    if isinstance(exc, WorkerStopped | ClusterUnavailable):
        return 503
    if isinstance(exc, MissingExtra):
        return 501
    if isinstance(exc, ModelLoadError):
        return 422
    if isinstance(exc, InvalidRequest | CorruptAnimation):
        return 400
    return 500


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape of the API: {"error": {"type": ..., "message": ...}}."""
    return {"error": {"type": kind, "message": message}}
