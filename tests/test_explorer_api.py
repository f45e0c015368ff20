"""The explorer's API over the real app: frames over the WebSocket, supersession, latents of frames,
model switching by name only. Frames equal the engine's renders of the timeline's latents."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.animation.schema import AnimationSettings
from latentwalk.animation.timeline import latents_at
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.server.app import create_app
from latentwalk.server.ws import FRAME_HEADER

PROC = ModelRef(name="procedural", zoo="procedural")


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    models = tmp_path / "models"
    write_tiny_dcgan(models / "tinyrun" / "network-snapshot-000010.pt", seed=1)
    write_tiny_dcgan(models / "tinyrun" / "network-snapshot-000020.pt", seed=2)
    settings = Settings(
        models_dirs=(models,),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    with TestClient(create_app(settings, worker, PROC)) as c:
        yield c


def _settings(steps: int = 6, **kw: Any) -> dict[str, Any]:
    return {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [steps], **kw}


def _render(
    ws: Any, rid: int, settings: dict[str, Any], fmt: str = "png", latents: list[list[float]] | None = None
) -> dict[str, Any]:
    if latents is None:
        latents = seeds_to_z([1, 2], 512).astype(np.float32).tolist()
    ws.send_text(
        json.dumps({"type": "render", "id": rid, "settings": settings, "latents": latents, "format": fmt})
    )
    frames: dict[int, np.ndarray] = {}
    events: list[dict[str, Any]] = []
    while True:
        msg = ws.receive()
        if msg.get("bytes") is not None:
            magic, got_id, index, w, h = FRAME_HEADER.unpack(msg["bytes"][: FRAME_HEADER.size])
            assert magic == b"LWF1" and got_id == rid
            img = np.asarray(Image.open(io.BytesIO(msg["bytes"][FRAME_HEADER.size :])).convert("RGB"))
            assert img.shape == (h, w, 3)
            frames[index] = img
            continue
        event = json.loads(msg["text"])
        events.append(event)
        if event["type"] in ("done", "error") and event.get("id") == rid:
            return {"frames": frames, "events": events}


def test_frames_stream_in_order_and_equal_the_engine(client: TestClient, worker: InferenceWorker) -> None:
    with client.websocket_connect("/ws") as ws:
        out = _render(ws, 1, _settings(6))
    assert [e["type"] for e in out["events"]][0] == "started"
    assert out["events"][-1]["type"] == "done" and out["events"][-1]["total"] == 6
    assert sorted(out["frames"]) == list(range(6))
    s = AnimationSettings.model_validate(_settings(6))
    z = latents_at(s, seeds_to_z([1, 2], 512).astype(np.float32), np.arange(6)).astype(np.float32)
    expected = worker.render(RenderRequest(PROC, z))
    for i in range(6):
        np.testing.assert_array_equal(out["frames"][i], expected[i])
    assert np.abs(out["frames"][0].astype(int) - out["frames"][5].astype(int)).mean() > 5


def test_shadows_change_the_frames_and_the_cache_serves_repeats(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        plain = _render(ws, 1, _settings(4))["frames"]
        shadow = _render(ws, 2, _settings(4, view_filter={"kind": "shadows", "softness": 0.2}))["frames"]
        cache = client.app.state.lw.frame_cache  # type: ignore[attr-defined]
        before = client.app.state.lw.worker.images_rendered  # type: ignore[attr-defined]
        again = _render(ws, 3, _settings(4))["frames"]
    assert np.abs(plain[1].astype(int) - shadow[1].astype(int)).mean() > 20
    assert (shadow[1][..., 0] == shadow[1][..., 2]).all()  # grey
    assert len(cache) >= 8
    assert client.app.state.lw.worker.images_rendered == before  # type: ignore[attr-defined]
    for i in range(4):
        np.testing.assert_array_equal(again[i], plain[i])


def test_a_new_render_supersedes_the_old(client: TestClient) -> None:
    latents = seeds_to_z([1, 2], 512).astype(np.float32).tolist()
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "render", "id": 1, "settings": _settings(2000), "latents": latents}))
        out = _render(ws, 2, _settings(3), fmt="jpeg")
    types = [(e["type"], e.get("id")) for e in out["events"]]
    assert ("cancelled", 1) in types
    assert ("done", 2) in types and ("done", 1) not in types
    assert sorted(out["frames"]) == [0, 1, 2]


def test_latent_of_a_frame_and_errors(client: TestClient) -> None:
    latents = seeds_to_z([1, 2], 512).astype(np.float32).tolist()
    with client.websocket_connect("/ws") as ws:
        ws.send_text(
            json.dumps({"type": "latent", "id": 5, "settings": _settings(5), "latents": latents, "index": 4})
        )
        answer = json.loads(ws.receive_text())
        assert answer["type"] == "latent" and answer["exact"] is True
        np.testing.assert_allclose(answer["z"], latents[1], atol=1e-6)  # the last frame is the destination
        ws.send_text(
            json.dumps({"type": "render", "id": 6, "settings": _settings(5), "latents": latents[:1]})
        )
        err = json.loads(ws.receive_text())
        assert err["type"] == "error" and err["id"] == 6 and "expected (2, 512)" in err["error"]["message"]
        ws.send_text(json.dumps({"type": "render", "id": 7, "settings": _settings(0), "latents": latents}))
        err = json.loads(ws.receive_text())
        assert err["type"] == "error" and err["id"] == 7 and "steps" in err["error"]["message"]
        ws.send_text("not json")
        assert json.loads(ws.receive_text())["type"] == "error"
        bad = np.array(latents)
        bad[0, 0] = 1e30
        ws.send_text(
            json.dumps({"type": "render", "id": 8, "settings": _settings(3), "latents": bad.tolist()})
        )
        assert "absurdly large" in json.loads(ws.receive_text())["error"]["message"]


def test_models_z_and_switching_by_name_only(client: TestClient) -> None:
    listing = client.get("/api/models").json()
    run = next(m for m in listing["models"] if m["name"] == "tinyrun")
    assert [s["label"] for s in run["snapshots"]] == ["000010", "000020"]
    z = client.get("/api/z", params={"seeds": "3,4"}).json()
    assert z["z_dim"] == 512 and len(z["z"]) == 2
    np.testing.assert_allclose(z["z"][0], seeds_to_z([3], 512)[0], rtol=1e-6)
    chosen = client.post("/api/model", json={"name": "tinyrun", "snapshot": "000010"}).json()
    assert chosen["name"] == "tinyrun" and chosen["snapshot"] == "000010" and chosen["z_dim"] == 8
    assert client.get("/api/model").json()["resolution"] == 16
    for bad in ("/etc/passwd", "../models/tinyrun", "nope"):
        r = client.post("/api/model", json={"name": bad})
        assert r.status_code == 404 and r.json()["error"]["type"] == "ModelNotFound"
    assert client.get("/api/model").json()["name"] == "tinyrun"  # unchanged by the failures
    r = client.post("/api/model", json={"name": "tinyrun", "snapshot": "999"})
    assert r.status_code == 404 and "000010, 000020" in r.json()["error"]["message"]
    assert client.get("/api/z", params={"seeds": "0-5000"}).status_code == 400


def test_frame_header_layout() -> None:
    assert FRAME_HEADER.size == 16
    assert struct.unpack("<4sIIHH", FRAME_HEADER.pack(b"LWF1", 1, 2, 3, 4)) == (b"LWF1", 1, 2, 3, 4)


def test_cross_origin_websockets_are_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect(
            "/ws", headers={"origin": "http://evil.example", "host": "testserver"}
        ) as ws,
    ):
        ws.receive_text()
    assert info.value.code == 1008
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        ws.send_text("{}")
        assert json.loads(ws.receive_text())["type"] == "error"  # same origin: served
