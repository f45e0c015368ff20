"""The preview precision: the default setting, the measured comparison route, and frames over the
WebSocket in bf16 (close to fp32, not equal), on a tiny StyleGAN2."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import TESTSERVER
from latentwalk.backends import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings, settings_from_env
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app
from latentwalk.server.ws import FRAME_HEADER
from test_fast_stylegan2 import tiny_stylegan2

TINY = ModelRef(name="tiny-sg2", zoo="tiny-sg2")


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    worker.register(TINY, LoadedModel(tiny_stylegan2(), {"family": "stylegan2"}))
    settings = Settings(
        allowed_hosts=TESTSERVER,
        models_dirs=(tmp_path,),
        cache_dir=tmp_path / "c",
        data_dir=tmp_path / "d",
        preview_precision="bf16",
    )
    with TestClient(create_app(settings, worker, TINY)) as c:
        yield c


def test_the_setting_comes_from_the_environment() -> None:
    assert settings_from_env({"LATENTWALK_PREVIEW_PRECISION": "bf16"}).preview_precision == "bf16"
    assert settings_from_env({}).preview_precision == "fp32"


def test_precision_info_and_measured_comparison(client: TestClient) -> None:
    info = client.get("/api/precision").json()
    assert info["default"] == "bf16" and info["choices"] == ["fp32", "bf16", "fp16"]
    assert info["device"] == "cpu" and isinstance(info["bf16_instructions"], bool)
    r = client.post("/api/precision/compare", json={"precision": "bf16", "seed": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "tiny-sg2" and body["precision"] == "bf16"
    assert body["fp32_ms"] > 0 and body["bf16_ms"] > 0 and body["speedup"] > 0
    assert 0 < body["max"] < 64 and 0 < body["mean"] < 3 and body["psnr"] > 25
    bad = client.post("/api/precision/compare", json={"precision": "int4"})
    assert bad.status_code == 400 and "precision" in bad.json()["error"]["message"]


def _frames(ws: Any, rid: int, precision: str | None) -> list[np.ndarray]:
    msg: dict[str, Any] = {
        "type": "render",
        "id": rid,
        "settings": {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [3], "psi": 0.7},
        "latents": seeds_to_z([1, 2], 16).astype(np.float32).tolist(),
        "format": "png",
    }
    if precision is not None:
        msg["precision"] = precision
    ws.send_text(json.dumps(msg))
    frames = []
    while True:
        m = ws.receive()
        if m.get("bytes") is not None:
            frames.append(np.asarray(Image.open(io.BytesIO(m["bytes"][FRAME_HEADER.size :])).convert("RGB")))
            continue
        event = json.loads(m["text"])
        assert event["type"] != "error", event
        if event["type"] == "done":
            return frames


def test_frames_in_bf16_are_close_to_fp32_and_fp32_is_the_default(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        default = _frames(ws, 1, None)
        fp32 = _frames(ws, 2, "fp32")
        bf16 = _frames(ws, 3, "bf16")
    assert len(fp32) == len(bf16) == 3
    assert all(np.array_equal(a, b) for a, b in zip(default, fp32, strict=True))
    diff = np.abs(np.stack(bf16).astype(int) - np.stack(fp32))
    assert 0 < diff.mean() < 3
