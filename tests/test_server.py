"""The HTTP API over the real app: the page, model info, images equal to `generate`, one error shape."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import TESTSERVER
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.server.app import create_app

PROC = ModelRef(name="procedural", zoo="procedural")


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path,
        allowed_hosts=TESTSERVER,
    )
    with TestClient(create_app(settings, worker, PROC)) as c:
        yield c


def test_page_and_static_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/api/health").json()["status"] == "ok"


def test_model_info(client: TestClient) -> None:
    info = client.get("/api/model").json()
    assert info["name"] == "procedural" and info["resolution"] == 256 and info["z_dim"] == 512
    assert info["has_w"] is False and "z space" in info["truncation"]
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert names[:2] == ["dcgan-faces", "procedural"]


def test_image_equals_the_engine_render(client: TestClient, worker: InferenceWorker) -> None:
    r = client.get("/api/image.png", params={"seed": 7, "psi": 0.8})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))
    expected = worker.render(RenderRequest(PROC, seeds_to_z([7], 512), psi=0.8))[0]
    np.testing.assert_array_equal(pixels, expected)
    other = np.asarray(Image.open(io.BytesIO(client.get("/api/image.png?seed=8&psi=0.8").content)))
    assert np.abs(other.astype(int) - pixels.astype(int)).mean() > 5


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("seed=7&psi=-5", "truncation psi -5.0 is out of range"),
        ("seed=-1", "seed"),
        ("seed=abc", "seed"),
        ("psi=1", "seed"),
        ("seed=1&noise_mode=loud", "noise_mode"),
        ("seed=1&class_idx=2", "unconditional"),
        ("seed=99999999999", "seed"),
    ],
)
def test_errors_have_one_shape(client: TestClient, query: str, fragment: str) -> None:
    r = client.get(f"/api/image.png?{query}")
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == "InvalidRequest"
    assert fragment in body["error"]["message"]


def test_cross_origin_changes_are_refused_and_static_files_revalidate(client: TestClient) -> None:
    r = client.post("/api/model", json={"name": "procedural"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "Forbidden"
    r = client.post("/api/model", json={"name": "procedural"}, headers={"origin": "http://testserver"})
    assert r.status_code == 200
    assert client.get("/static/app.js").headers["cache-control"] == "no-cache"
