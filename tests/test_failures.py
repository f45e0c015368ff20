"""Failures inside the engine and under the server: a model running out of memory, a filter raising, a
model file changed, deleted or its whole folder gone. The request gets the error; the next one works."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.backends.base import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.errors import RenderError
from latentwalk.latents import seeds_to_z
from latentwalk.models.procedural import ProceduralGenerator
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.server.app import create_app

FLAKY = ModelRef(name="flaky", zoo="flaky")
Z = 8


class FlakyGenerator(ProceduralGenerator):
    """A tiny procedural model that raises the exceptions queued in `failures`, one per render, and
    `poison_error` for any latent whose first value is in `poison` (a request that always fails)."""

    def __init__(self) -> None:
        super().__init__(z_dim=Z, resolution=8, hidden=4, depth=2)
        self.failures: list[BaseException] = []
        self.poison: set[float] = set()
        self.poison_error: BaseException = RuntimeError("poisoned")

    def render(self, z: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.failures:
            raise self.failures.pop(0)
        if any(round(float(v), 5) in self.poison for v in z[:, 0]):
            raise self.poison_error
        return super().render(z, *args, **kwargs)


@pytest.fixture
def flaky(worker: InferenceWorker) -> FlakyGenerator:
    g = FlakyGenerator()
    worker.register(FLAKY, LoadedModel(g, {"family": "procedural", "sha256": "flaky-v1"}))
    return g


def request(seed: int = 0) -> RenderRequest:
    return RenderRequest(FLAKY, seeds_to_z([seed], Z).astype(np.float32))


@pytest.mark.parametrize(
    "failure",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        RuntimeError("a kernel failed"),
        ValueError("bad value inside the model"),
        ZeroDivisionError("division by zero"),
    ],
    ids=["oom", "runtime", "value", "zerodiv"],
)
def test_the_worker_survives_a_failing_model(
    worker: InferenceWorker, flaky: FlakyGenerator, failure: BaseException
) -> None:
    good = worker.render(request(1))
    flaky.failures.append(failure)
    with pytest.raises(RenderError) as info:
        worker.render(request(1))
    assert type(failure).__name__ in str(info.value) and str(failure) in str(info.value)
    np.testing.assert_array_equal(worker.render(request(1)), good)  # the next request works, same pixels
    # Bad requests batched with good ones from other clients: only the bad ones get the error.
    solo = {s: worker.render(request(s)) for s in range(6)}
    flaky.poison = {round(float(request(s).z[0, 0]), 5) for s in (1, 4)}  # type: ignore[index]
    flaky.poison_error = failure
    futures = {s: worker.submit(request(s)) for s in range(6)}
    for s, f in futures.items():
        if s in (1, 4):
            assert isinstance(f.exception(timeout=30), RenderError)
        else:
            np.testing.assert_array_equal(f.result(timeout=30), solo[s])
    assert worker.render(request(2)).shape == (1, 8, 8, 3)


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path, flaky: FlakyGenerator) -> Iterator[TestClient]:
    s = Settings(
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    with TestClient(create_app(s, worker, FLAKY)) as c:
        yield c


def ws_render(ws: Any, request_id: int, z: list[list[float]], view: str = "none") -> dict[str, Any]:
    settings = {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [3], "view_filter": {"kind": view}}
    ws.send_text(json.dumps({"type": "render", "id": request_id, "settings": settings, "latents": z}))
    while True:
        msg = ws.receive()
        if msg.get("text"):
            event = json.loads(msg["text"])
            if event.get("id") == request_id and event["type"] in ("done", "error"):
                return event  # type: ignore[no-any-return]


def test_the_server_answers_a_failing_model_and_a_failing_filter_then_goes_on(
    client: TestClient, flaky: FlakyGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky.failures.append(torch.OutOfMemoryError("out of memory"))
    r = client.get("/api/image.png?seed=1")
    assert r.status_code == 500 and r.json()["error"]["type"] == "RenderError"
    assert "OutOfMemoryError" in r.json()["error"]["message"]
    assert client.get("/api/image.png?seed=1").status_code == 200

    z = client.get("/api/z?seeds=1,2").json()["z"]
    from latentwalk.animation import frames

    real = frames.apply_view_filter
    calls = {"n": 0}

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("the filter broke")
        return real(*args, **kwargs)

    monkeypatch.setattr(frames, "apply_view_filter", failing_once)
    with client.websocket_connect("/ws") as ws:
        # Enough failures for every attempt: a batch that fails is retried request by request,
        # and how the socket splits a render into requests is not this test's business.
        flaky.failures.extend(RuntimeError("boom in the model") for _ in range(16))
        event = ws_render(ws, 1, z)
        assert event["type"] == "error" and "boom in the model" in event["error"]["message"]
        flaky.failures.clear()
        event = ws_render(ws, 2, z)
        assert event["type"] == "error" and "the filter broke" in event["error"]["message"]
        assert ws_render(ws, 3, z)["type"] == "done"  # same socket, next request works
    # A save whose thumbnail render fails keeps nothing half-made; the next save works.
    body = {"name": "walk", "settings": {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [3]}, "latents": z}
    flaky.failures.append(torch.OutOfMemoryError("out of memory"))
    assert client.post("/api/animations", json=body).status_code == 500
    assert client.get("/api/animations").json()["animations"] == []
    assert client.post("/api/animations", json=body).status_code == 200


def test_a_model_file_changed_or_deleted_while_loaded_and_a_vanished_models_folder(
    worker: InferenceWorker, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    path = write_tiny_dcgan(models / "tiny.pt", seed=1)
    s = Settings(
        models_dirs=(models,),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    with TestClient(create_app(s, worker, ModelRef(name="procedural", zoo="procedural"))) as c:
        assert c.post("/api/model", json={"name": "tiny"}).status_code == 200
        first = c.get("/api/image.png?seed=3").content
        write_tiny_dcgan(path, seed=2)  # retrained in place: the new weights are used
        changed = c.get("/api/image.png?seed=3")
        assert changed.status_code == 200 and changed.content != first
        path.write_bytes(b"\x80\x04 truncated while being copied")  # a half-copied file: clear error
        r = c.get("/api/image.png?seed=3")
        assert 400 <= r.status_code < 500 and "tiny.pt" in r.json()["error"]["message"], r.text
        path.unlink()  # deleted while loaded
        r = c.get("/api/image.png?seed=3")
        assert r.status_code == 404 and r.json()["error"]["type"] == "ModelNotFound", r.text
        assert c.get("/api/health").status_code == 200
        shutil.rmtree(models)  # the whole folder (an unplugged drive)
        listed = c.get("/api/models")
        assert listed.status_code == 200 and "tiny" not in [m["name"] for m in listed.json()["models"]]
        assert c.post("/api/model", json={"name": "tiny"}).status_code == 404
        assert c.post("/api/model", json={"name": "procedural"}).status_code == 200  # switching away works
        assert c.get("/api/image.png?seed=3").status_code == 200
