"""Classifier uploads for direction fits: list, upload (the raw .onnx body), delete. ONNX only: a
TorchScript file is code and is refused (the CLI's --trust-classifier takes it). See docs/explorer-api.md."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from latentwalk.directions import classifier_store
from latentwalk.directions.classifier_store import ClassifierStore, size_text
from latentwalk.errors import InvalidRequest
from latentwalk.server.state import AppState

router = APIRouter()


def classifiers_of(st: AppState) -> ClassifierStore:
    return ClassifierStore(st.settings.data_dir / "classifiers")


async def _upload(request: Request) -> bytes:
    """The request body, refused unread past the size limit."""
    limit = classifier_store.MAX_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(
            f"the file is {size_text(int(declared))}; a classifier may be at most {size_text(limit)}"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(
                f"the file is larger than {size_text(limit)}: a classifier may be at most that"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/api/directions/classifiers")
async def list_classifiers(request: Request) -> dict[str, Any]:
    """The uploaded classifiers: name, bytes, sha256, size, and the axes a fit with each gives."""
    st: AppState = request.app.state.lw
    return {"classifiers": await asyncio.to_thread(classifiers_of(st).list)}


@router.post("/api/directions/classifiers")
async def upload_classifier(
    request: Request,
    name: Annotated[str, Query(max_length=200)],
    replace: bool = False,
) -> dict[str, Any]:
    """Keep the .onnx file in the body as classifier `name`, once it loads and scores two test images."""
    st: AppState = request.app.state.lw
    store = classifiers_of(st)
    classifier_store.check_classifier_name(name)  # before reading a large body
    data = await _upload(request)
    record = await asyncio.to_thread(store.put, name, data, replace)
    return {"classifier": record, "classifiers": await asyncio.to_thread(store.list)}


@router.delete("/api/directions/classifiers/{name}")
async def delete_classifier(request: Request, name: str) -> dict[str, Any]:
    st: AppState = request.app.state.lw
    store = classifiers_of(st)
    await asyncio.to_thread(store.delete, name)
    return {"classifiers": await asyncio.to_thread(store.list)}
