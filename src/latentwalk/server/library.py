"""HTTP routes for the animation library, bookmarks and Marrow import (docs/explorer-api.md)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from latentwalk.animation.bookmarks import BookmarkStore
from latentwalk.animation.frames import filtered, plan_async
from latentwalk.animation.marrow import import_marrow
from latentwalk.animation.schema import (
    Animation,
    AnimationSettings,
    ModelIdentity,
    check_latents,
    latent_array,
)
from latentwalk.animation.store import AnimationStore, library_name
from latentwalk.errors import NameNotFound
from latentwalk.render.images import encode
from latentwalk.server.state import AppState

router = APIRouter()


def _state(request: Request) -> tuple[AppState, AnimationStore, BookmarkStore]:
    st: AppState = request.app.state.lw
    return st, st.store, st.bookmarks


class SaveBody(BaseModel):
    name: str = Field(max_length=200)
    settings: AnimationSettings
    latents: list[list[float]]
    on_clash: Literal["refuse", "rename"] = "refuse"


class OverwriteBody(BaseModel):
    settings: AnimationSettings
    latents: list[list[float]]


class RenameBody(BaseModel):
    new_name: str = Field(max_length=200)


class DuplicateBody(BaseModel):
    new_name: str | None = Field(None, max_length=200)


class BookmarkBody(BaseModel):
    name: str = Field(max_length=200)
    z: list[float]


class MarrowBody(BaseModel):
    name: str | None = Field(None, max_length=200)
    info: dict[str, Any] = Field(default_factory=dict)
    source: list[list[float]] | list[float]
    dest: list[list[float]] | list[float]


async def _identity(st: AppState) -> tuple[ModelIdentity, int]:
    info = await st.worker.info_async(st.model)
    ident = ModelIdentity(name=st.model.name, snapshot=st.model.snapshot, sha256=info.details.get("sha256"))
    return ident, info.z_dim


async def _prepare(
    st: AppState, name: str, settings: AnimationSettings, latents: list[list[float]]
) -> tuple[Animation, np.ndarray, bytes]:
    """The Animation record, its checked latents, and a thumbnail (the animation's middle frame)."""
    name = library_name(name)  # a clear InvalidRequest before anything else
    ident, z_dim = await _identity(st)
    keys = check_latents(latent_array(latents), len(settings.keyframes), z_dim)
    anim = Animation(name=name, model=ident, **settings.model_dump())
    plan = await plan_async(st.worker, st.model, settings, keys)
    mid = np.array([plan.total // 2])
    pixels = await st.worker.render_async(plan.request(mid))
    pixels = await asyncio.to_thread(filtered, plan, pixels)  # the thumbnail shows what the user saw
    thumb = await asyncio.to_thread(encode, pixels[0], "jpeg", 85)
    return anim, keys, thumb


@router.get("/api/animations")
async def list_animations(request: Request) -> dict[str, Any]:
    """Saved animations, newest first."""
    _, store, _ = _state(request)
    entries = await asyncio.to_thread(store.list)
    return {"animations": [_entry_json(e) for e in entries]}


def _entry_json(entry: Any) -> dict[str, Any]:
    body = entry.as_dict()
    body["thumb"] = f"/api/animations/{quote(entry.name, safe='')}/thumb.jpg" if entry.has_thumb else None
    return body


@router.get("/api/animations/{name}")
async def load_animation(request: Request, name: str) -> dict[str, Any]:
    """One saved animation: its settings and keyframe latents."""
    _, store, _ = _state(request)
    anim, latents = await asyncio.to_thread(store.load, name)
    settings = AnimationSettings.model_validate(anim.model_dump(include=set(AnimationSettings.model_fields)))
    return {
        "name": anim.name,
        "model": anim.model.model_dump(),
        "settings": settings.model_dump(mode="json"),
        "latents": latents.tolist(),
        "created": anim.created.isoformat(),
        "updated": anim.updated.isoformat(),
    }


@router.post("/api/animations")
async def save_animation(request: Request, body: SaveBody) -> dict[str, Any]:
    """Save under a new name (a clash is refused with 409, or renamed with on_clash='rename')."""
    st, store, _ = _state(request)
    anim, keys, thumb = await _prepare(st, body.name, body.settings, body.latents)
    final = await asyncio.to_thread(store.save, anim, keys, thumb, body.on_clash)
    return _entry_json(await asyncio.to_thread(store.entry, final))


@router.put("/api/animations/{name}")
async def overwrite_animation(request: Request, name: str, body: OverwriteBody) -> dict[str, Any]:
    """Replace an existing animation (an explicit Save of a loaded one)."""
    st, store, _ = _state(request)
    anim, keys, thumb = await _prepare(st, name, body.settings, body.latents)
    final = await asyncio.to_thread(store.overwrite, name, anim, keys, thumb)
    return _entry_json(await asyncio.to_thread(store.entry, final))


@router.post("/api/animations/{name}/rename")
async def rename_animation(request: Request, name: str, body: RenameBody) -> dict[str, Any]:
    _, store, _ = _state(request)
    final = await asyncio.to_thread(store.rename, name, body.new_name)
    return _entry_json(await asyncio.to_thread(store.entry, final))


@router.post("/api/animations/{name}/duplicate")
async def duplicate_animation(request: Request, name: str, body: DuplicateBody) -> dict[str, Any]:
    _, store, _ = _state(request)
    final = await asyncio.to_thread(store.duplicate, name, body.new_name)
    return _entry_json(await asyncio.to_thread(store.entry, final))


@router.delete("/api/animations/{name}")
async def delete_animation(request: Request, name: str) -> dict[str, str]:
    _, store, _ = _state(request)
    await asyncio.to_thread(store.delete, name)
    return {"deleted": name}


@router.get("/api/animations/{name}/thumb.jpg", responses={200: {"content": {"image/jpeg": {}}}})
async def thumbnail(request: Request, name: str) -> FileResponse:
    _, store, _ = _state(request)
    path = await asyncio.to_thread(store.thumb_path, name)
    if path is None:
        raise NameNotFound(f"animation {name!r} has no thumbnail")
    return FileResponse(str(path), media_type="image/jpeg", headers={"Cache-Control": "no-cache"})


@router.post("/api/import/marrow")
async def import_from_marrow(request: Request, body: MarrowBody) -> dict[str, Any]:
    """Import an animation written by the Marrow GAN Explorer (source/dest z vectors + info.json)."""
    st, store, _ = _state(request)
    ident, z_dim = await _identity(st)
    source = latent_array(body.source, "source")
    dest = latent_array(body.dest, "dest")
    final = await asyncio.to_thread(import_marrow, source, dest, body.info, z_dim, ident, store, body.name)
    return _entry_json(await asyncio.to_thread(store.entry, final))


@router.get("/api/bookmarks")
async def list_bookmarks(request: Request) -> dict[str, Any]:
    _, _, bookmarks = _state(request)
    items = await asyncio.to_thread(bookmarks.list)
    return {"bookmarks": [b.model_dump(mode="json") for b in items]}


@router.post("/api/bookmarks")
async def add_bookmark(request: Request, body: BookmarkBody) -> dict[str, Any]:
    st, _, bookmarks = _state(request)
    ident, z_dim = await _identity(st)
    z = check_latents(latent_array([body.z], "z"), 1, z_dim)[0]
    bm = await asyncio.to_thread(bookmarks.add, body.name, z, ident)
    return bm.model_dump(mode="json")  # type: ignore[no-any-return]


@router.delete("/api/bookmarks/{name}")
async def delete_bookmark(request: Request, name: str) -> dict[str, str]:
    _, _, bookmarks = _state(request)
    await asyncio.to_thread(bookmarks.delete, name)
    return {"deleted": name}
