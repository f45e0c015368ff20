"""The library over HTTP: save, list, load after a restart with identical frames, clashes, rename,
duplicate, delete, bookmarks and Marrow import; every error in the one shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import TESTSERVER
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app
from test_explorer_api import _render

PROC = ModelRef(name="procedural", zoo="procedural")


def _app(tmp_path: Path, worker: InferenceWorker) -> TestClient:
    settings = Settings(
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    return TestClient(create_app(settings, worker, PROC))


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    with _app(tmp_path, worker) as c:
        yield c


def _body(name: str, **kw: Any) -> dict[str, Any]:
    settings = {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [5], "easing": "ease-in-out"}
    return {
        "name": name,
        "settings": settings,
        "latents": seeds_to_z([1, 2], 512).astype(np.float32).tolist(),
        **kw,
    }


def test_save_list_load_and_identical_frames_after_restart(client: TestClient, tmp_path: Path) -> None:
    saved = client.post("/api/animations", json=_body("dawn")).json()
    assert saved["name"] == "dawn" and saved["frames"] == 5 and saved["thumb"].endswith("thumb.jpg")
    assert client.get(saved["thumb"]).headers["content-type"] == "image/jpeg"
    with client.websocket_connect("/ws") as ws:
        before = _render(ws, 1, _body("x")["settings"])["frames"]
    # A new server process: new worker, new app, same data folder.
    fresh_worker = InferenceWorker(tmp_path / "cache2", device="cpu").start()
    try:
        with _app(tmp_path, fresh_worker) as again:
            listed = again.get("/api/animations").json()["animations"]
            assert [a["name"] for a in listed] == ["dawn"]
            loaded = again.get("/api/animations/dawn").json()
            assert loaded["model"]["name"] == "procedural" and loaded["settings"]["easing"] == "ease-in-out"
            with again.websocket_connect("/ws") as ws:
                ws.send_text(json.dumps({"type": "noop"}))
                json.loads(ws.receive_text())  # an error for the unknown type; the socket stays open
                after = _render(ws, 2, loaded["settings"], latents=loaded["latents"])["frames"]
    finally:
        fresh_worker.stop()
    for i in range(5):
        np.testing.assert_array_equal(before[i], after[i])


def test_clashes_rename_duplicate_delete(client: TestClient) -> None:
    client.post("/api/animations", json=_body("walk"))
    r = client.post("/api/animations", json=_body("walk"))
    assert r.status_code == 409 and r.json()["error"]["type"] == "NameTaken"
    renamed = client.post("/api/animations", json=_body("walk", on_clash="rename")).json()
    assert renamed["name"] != "walk" and renamed["name"].startswith("walk")
    assert (
        client.put(
            "/api/animations/walk", json={k: v for k, v in _body("walk").items() if k != "name"}
        ).status_code
        == 200
    )
    assert client.post("/api/animations/walk/rename", json={"new_name": "run"}).json()["name"] == "run"
    assert client.post("/api/animations/run/duplicate", json={}).json()["name"] == "run copy"
    names = {a["name"] for a in client.get("/api/animations").json()["animations"]}
    assert names == {"run", "run copy", renamed["name"]}
    assert client.delete("/api/animations/run").json() == {"deleted": "run"}
    r = client.get("/api/animations/run")
    assert r.status_code == 404 and set(r.json()) == {"error"}
    for bad in ("../escape", ".hidden", "a" * 81):
        r = client.post("/api/animations", json=_body(bad))
        assert r.status_code == 400, bad
    raw = json.dumps({**_body("nan"), "latents": [[float("nan")] * 512] * 2})  # NaN is not JSON: sent raw
    r = client.post("/api/animations", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_bookmarks(client: TestClient) -> None:
    z = seeds_to_z([9], 512)[0].astype(np.float32).tolist()
    assert client.post("/api/bookmarks", json={"name": "smile", "z": z}).status_code == 200
    assert client.post("/api/bookmarks", json={"name": "smile", "z": z}).status_code == 409
    listed = client.get("/api/bookmarks").json()["bookmarks"]
    assert listed[0]["name"] == "smile" and np.allclose(listed[0]["z"], z)
    assert client.post("/api/bookmarks", json={"name": "short", "z": z[:10]}).status_code == 400
    assert client.delete("/api/bookmarks/smile").status_code == 200
    assert client.delete("/api/bookmarks/smile").status_code == 404


def test_marrow_import(client: TestClient) -> None:
    src, dst = np.random.RandomState(1).randn(1, 512), np.random.RandomState(2).randn(1, 512)
    body = {
        "info": {"name": "marrow walk", "snapshot": "x", "steps": 12},
        "source": src.tolist(),
        "dest": dst.tolist(),
    }
    entry = client.post("/api/import/marrow", json=body).json()
    assert entry["name"] == "marrow walk" and entry["frames"] == 12
    loaded = client.get("/api/animations/marrow walk").json()
    np.testing.assert_allclose(loaded["latents"][0], src[0], rtol=1e-6)
    bad = {**body, "source": np.ones((1, 100)).tolist(), "dest": np.ones((1, 100)).tolist()}
    r = client.post("/api/import/marrow", json=bad)
    assert r.status_code == 400 and "needs z_dim 512" in r.json()["error"]["message"]
    r = client.post("/api/import/marrow", json={**body, "source": np.ones((1, 100)).tolist()})
    assert r.status_code == 400 and "source has 100 values" in r.json()["error"]["message"]


def test_export_job_from_the_page(client: TestClient) -> None:
    import io
    import time
    import zipfile

    body = {k: v for k, v in _body("x").items() if k != "name"}
    job = client.post("/api/exports", json={**body, "name": "dawn", "format": "png"}).json()
    for _ in range(200):
        status = client.get(f"/api/exports/{job['id']}").json()
        if status["state"] != "running":
            break
        time.sleep(0.05)
    assert status["state"] == "done" and status["done"] == status["total"] == 5
    data = client.get(status["download"]).content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == [f"dawn/frame_{i:05d}.png" for i in range(1, 6)]
    r = client.post("/api/exports", json={**body, "format": "avi"})
    assert r.status_code == 400
    r = client.post("/api/exports", json={**body, "size": 9000})
    assert r.status_code == 400 and "size" in r.json()["error"]["message"]
    assert client.get("/api/exports/nope").status_code == 404
