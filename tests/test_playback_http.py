"""Live playback over HTTP: control and status, the MJPEG stream, the output socket and page, MIDI
learning through the API, and the optional extras' messages."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from starlette.websockets import WebSocketDisconnect

from conftest import TESTSERVER
from latentwalk.animation.store import AnimationStore
from latentwalk.config import Settings
from latentwalk.errors import MissingExtra, WorkerStopped
from latentwalk.playback.commands import parse_command
from latentwalk.playback.midi import MidiInput
from latentwalk.playback.outputs import MJPEG_BOUNDARY, NdiSender
from latentwalk.playback.player import PlayerOptions
from latentwalk.playback.stage import build_stage
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app
from latentwalk.server.ws import FRAME_HEADER
from test_playback_osc import TINY, register_tiny, save


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    register_tiny(worker)
    settings = Settings(
        models_dirs=(), cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", allowed_hosts=TESTSERVER
    )
    store = AnimationStore(settings.data_dir / "animations")
    save(store, "walk", 96, (1, 2))
    stage = build_stage(worker, store, (), settings.data_dir, lambda: TINY, PlayerOptions(fps=30))
    stage.player.resolve = lambda identity: TINY
    try:
        with TestClient(create_app(settings, worker, TINY, store=store, stage=stage)) as c:
            yield c
    finally:
        stage.close()


def _wait_status(client: TestClient, key: str, value: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.get("/api/playback").json()
        if st[key] == value:
            return st  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"{key} never became {value!r}: {st}")


def test_control_and_status(client: TestClient) -> None:
    assert client.get("/api/playback").json()["state"] == "idle"
    st = client.post("/api/playback", json={"command": "play", "names": ["walk"]}).json()
    assert st["state"] == "playing" and st["names"] == ["walk"]
    _wait_status(client, "name", "walk")
    st = client.post("/api/playback", json={"command": "pause"}).json()
    assert st["state"] == "paused"
    st = client.post("/api/playback", json={"command": "seek", "frame": 50}).json()
    _wait_status(client, "index", 50)
    frame = client.get("/api/playback/frame.jpg")
    assert frame.status_code == 200 and frame.headers["x-frame-index"] == "50"
    assert Image.open(io.BytesIO(frame.content)).size == (8, 8)
    bad = client.post("/api/playback", json={"command": "play", "names": ["missing"]})
    assert bad.status_code == 404 and "missing" in bad.json()["error"]["message"]
    bad = client.post("/api/playback", json={"command": "speed", "factor": 100})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "InvalidRequest"
    assert client.get("/api/playback").json()["state"] == "paused"  # refused commands change nothing


def test_mjpeg_stream_sends_multipart_jpeg_parts(client: TestClient) -> None:
    client.post("/api/playback", json={"command": "play", "names": ["walk"]})
    with client.stream("GET", "/stream.mjpg?frames=4") as response:
        assert response.headers["content-type"] == f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}"
        body = response.read()
    parts = body.split(f"--{MJPEG_BOUNDARY}\r\n".encode())[1:]
    assert len(parts) == 4
    images = []
    for part in parts:
        head, _, data = part.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        assert headers["Content-Type"] == "image/jpeg"
        assert data.endswith(b"\r\n") and len(data) == int(headers["Content-Length"]) + 2
        images.append(np.asarray(Image.open(io.BytesIO(data[:-2])).convert("RGB")))
    assert all(img.shape == (8, 8, 3) for img in images)
    assert any(not np.array_equal(images[0], img) for img in images[1:])  # the picture moves


def test_output_socket_sends_status_and_frames(client: TestClient) -> None:
    with client.websocket_connect("/ws/output") as ws:
        first = json.loads(ws.receive_text())
        assert first["type"] == "playback" and first["state"] == "idle"
        client.post("/api/playback", json={"command": "play", "names": ["walk"]})
        indices: list[int] = []
        states: list[str] = []
        while len(indices) < 5:
            msg = ws.receive()
            if msg.get("text"):
                states.append(json.loads(msg["text"])["state"])
                continue
            magic, generation, index, w, h = FRAME_HEADER.unpack(msg["bytes"][: FRAME_HEADER.size])
            assert magic == b"LWF1" and (w, h) == (8, 8) and generation >= 1
            assert Image.open(io.BytesIO(msg["bytes"][FRAME_HEADER.size :])).format == "JPEG"
            indices.append(index)
        assert "playing" in states and indices == sorted(indices)


def test_output_socket_refuses_other_sites(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/ws/output", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_text()
    assert refused.value.code == 1008


def test_output_page_is_served(client: TestClient) -> None:
    page = client.get("/output")
    assert page.status_code == 200 and "/static/js/output.js" in page.text
    assert "background: #000" in page.text
    assert client.get("/static/js/output.js").status_code == 200


def test_midi_learn_and_play_through_the_api(client: TestClient, tmp_path: Path) -> None:
    learn = client.post("/api/midi/learn", json={"control": "play", "arg": "walk"}).json()
    assert learn["learning"] == {"control": "play", "arg": "walk"}
    hit = client.post(
        "/api/midi/message", json={"type": "note", "channel": 9, "number": 36, "value": 100}
    ).json()
    assert hit["learned"]["number"] == 36 and hit["commands"] == []
    client.post("/api/midi/learn", json={"control": "speed"})
    client.post("/api/midi/message", json={"type": "cc", "number": 21, "value": 10})
    state = client.get("/api/midi").json()
    assert state["learning"] is None and len(state["bindings"]) == 2
    assert (tmp_path / "data" / "midi.json").is_file()  # kept in the data folder
    fired = client.post(
        "/api/midi/message", json={"type": "note", "channel": 9, "number": 36, "value": 90}
    ).json()
    assert fired["commands"] == ["Play"]
    _wait_status(client, "state", "playing")
    client.post("/api/midi/message", json={"type": "cc", "number": 21, "value": 127})
    _wait_status(client, "speed", 4.0)
    bad = client.post("/api/midi/learn", json={"control": "fly"})
    assert bad.status_code == 400 and "unknown control" in bad.json()["error"]["message"]
    assert client.delete("/api/midi/bindings/0").json()["bindings"][0]["control"] == "speed"


def test_missing_extras_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "NDIlib", None)  # import fails as if not installed
    with pytest.raises(MissingExtra, match="pip install 'latentwalk\\[ndi\\]'"):
        NdiSender()
    monkeypatch.setitem(sys.modules, "mido", None)
    with pytest.raises(MissingExtra, match="mido and python-rtmidi"):
        MidiInput(lambda msg: None)


def test_an_app_served_again_gets_a_live_player(worker: InferenceWorker, tmp_path: Path) -> None:
    """An app whose lifespan ended (its own stage closed) and that serves again answers playback
    commands with a fresh player, instead of queueing them for a thread that is gone."""
    settings = Settings(
        models_dirs=(), cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", allowed_hosts=TESTSERVER
    )
    register_tiny(worker)
    app = create_app(settings, worker, TINY)
    for _ in range(2):
        with TestClient(app) as c:
            r = c.post("/api/playback", json={"command": "stop"})
            assert r.status_code == 200, r.text
    closed = app.state.lw.stage
    assert closed.closed  # the second lifespan ended too
    future = closed.player.apply(parse_command({"command": "stop"}))
    with pytest.raises(WorkerStopped):
        future.result(timeout=1)
