"""The directions API over the real app with a tiny DCGAN; the w-space render path with a tiny StyleGAN2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from conftest import TESTSERVER
from directions_support import directions_app, wait_job
from latentwalk.animation.frames import plan
from latentwalk.animation.schema import AnimationSettings
from latentwalk.backends import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.errors import InvalidRequest
from latentwalk.latents import seeds_to_z
from latentwalk.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.server.app import create_app
from latentwalk.server.ws import FRAME_HEADER


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    with directions_app(worker, tmp_path) as c:
        yield c


def _frames(client: TestClient, settings: dict[str, Any]) -> list[bytes]:
    latents = seeds_to_z([1, 2], 8).astype(np.float32).tolist()
    with client.websocket_connect("/ws") as ws:
        ws.send_text(
            json.dumps({"type": "render", "id": 1, "settings": settings, "latents": latents, "format": "png"})
        )
        frames: list[bytes] = []
        while True:
            msg = ws.receive()
            if msg.get("bytes") is not None:
                frames.append(msg["bytes"][FRAME_HEADER.size :])
                continue
            event = json.loads(msg["text"])
            if event["type"] == "error":
                raise AssertionError(event)
            if event["type"] == "done":
                return frames


def test_pca_fit_teach_offsets_render_export_import(client: TestClient) -> None:
    listing = client.get("/api/directions").json()
    assert listing["directions"] == [] and listing["space"] == "z" and "brightness" in listing["features"]

    job = client.post("/api/directions/jobs", json={"kind": "pca", "samples": 300, "components": 4}).json()
    job = wait_job(client, job)
    assert job["state"] == "done", job
    assert job["names"] == ["pc0", "pc1", "pc2", "pc3"] and job["done"] == job["total"]
    job = wait_job(
        client,
        client.post(
            "/api/directions/jobs", json={"kind": "fit", "samples": 60, "features": ["brightness", "warmth"]}
        ).json(),
    )
    assert job["state"] == "done", job
    listing = client.get("/api/directions").json()
    by_name = {d["name"]: d for d in listing["directions"]}
    assert set(by_name) == {"pc0", "pc1", "pc2", "pc3", "brightness", "warmth"}
    assert by_name["pc0"]["stats"]["explained"] >= by_name["pc1"]["stats"]["explained"]
    assert "r2" in by_name["brightness"]["stats"]

    taught = client.post(
        "/api/directions/teach",
        json={"name": "smiles", "positive": list(range(10)), "negative": list(range(10, 22))},
    )
    assert taught.status_code == 200, taught.text
    assert 0.0 <= taught.json()["stats"]["accuracy"] <= 1.0 and taught.json()["method"] == "taught"

    # Sliders: brightness unlocked moves orthogonally to locked warmth.
    body = {
        "entries": [{"name": "brightness", "amount": 2.0}, {"name": "warmth", "amount": 0.0, "locked": True}]
    }
    offs = client.post("/api/directions/offsets", json=body).json()["directions"]
    assert [o["name"] for o in offs] == ["brightness"]
    exported = client.get("/api/directions/export")
    assert exported.status_code == 200
    np_file = np.load(__import__("io").BytesIO(exported.content), allow_pickle=False)
    names = json.loads(bytes(np_file["meta"]).decode())["directions"]
    warm = np_file["vectors"][[d["name"] for d in names].index("warmth")]
    assert abs(np.asarray(offs[0]["vector"]) @ warm) < 1e-9

    plain = _frames(client, {"keyframes": [{}, {}], "steps": [3]})
    moved = _frames(client, {"keyframes": [{}, {}], "steps": [3], "directions": offs})
    ramp = _frames(
        client,
        {"keyframes": [{}, {}], "steps": [3], "directions": [{**offs[0], "amount": 0.0, "amount_end": 2.0}]},
    )
    assert all(a != b for a, b in zip(plain, moved, strict=True))
    assert ramp[0] == plain[0] and ramp[-1] == moved[-1] and ramp[1] not in (plain[1], moved[1])

    # Round trip through a file: delete, import it back.
    assert client.delete("/api/directions/warmth").status_code == 200
    assert "warmth" not in {d["name"] for d in client.get("/api/directions").json()["directions"]}
    clash = client.post("/api/directions/import", content=exported.content)
    assert clash.status_code == 409
    back = client.post("/api/directions/import?replace=true", content=exported.content)
    assert back.status_code == 200 and "warmth" in back.json()["imported"]


def test_bad_input_gets_clear_errors(client: TestClient) -> None:
    r = client.post("/api/directions/offsets", json={"entries": [{"name": "nope", "amount": 1}]})
    assert r.status_code == 404 and "unknown direction" in r.json()["error"]["message"]
    r = client.post(
        "/api/directions/teach", json={"name": "few", "positive": [1, 2, 3], "negative": list(range(10, 30))}
    )
    assert r.status_code == 400 and "at least 10 of each" in r.json()["error"]["message"]
    r = client.post("/api/directions/jobs", json={"kind": "fit", "features": ["beauty"]})
    assert r.status_code == 400 and "unknown feature" in r.json()["error"]["message"]
    r = client.post("/api/directions/import", content=b"not a directions file")
    assert r.status_code == 400 and "not a latentwalk directions file" in r.json()["error"]["message"]
    assert client.delete("/api/directions/nope").status_code == 404
    r = client.get("/api/directions/jobs/nope")
    assert r.status_code == 404
    # A direction of the wrong size in an animation is refused before rendering.
    latents = seeds_to_z([1, 2], 8).astype(np.float32).tolist()
    bad = {
        "keyframes": [{}, {}],
        "steps": [2],
        "directions": [{"name": "x", "vector": [1.0, 0.0], "amount": 1}],
    }
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "render", "id": 5, "settings": bad, "latents": latents}))
        event = json.loads(ws.receive_text())
    assert event["type"] == "error" and "needs 8" in event["error"]["message"]


def _tiny_stylegan(worker: InferenceWorker) -> ModelRef:
    torch.manual_seed(0)
    cfg = StyleGAN2Config(
        z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, channels={4: 8, 8: 8}, mapping_layers=2
    )
    g = StyleGAN2Generator(cfg)
    with torch.no_grad():  # every tensor random, so that w varies with z
        for p in g.parameters():
            p.copy_(torch.randn_like(p))
    ref = ModelRef(name="tiny-sg2", zoo="tiny-sg2")
    worker.register(ref, LoadedModel(g, {"family": "stylegan2", "sha256": "tiny-sg2"}))
    return ref


def test_w_directions_render_through_the_mapping_with_layer_ranges(worker: InferenceWorker) -> None:
    ref = _tiny_stylegan(worker)
    info = worker.info(ref)
    z = seeds_to_z([4, 5], 8).astype(np.float32)
    ws = worker.map(ref, z)
    off = np.zeros_like(ws)
    off[:, 1:3, :] = 1.5
    direct = worker.render(RenderRequest(ref, ws=ws + off))
    via_z = worker.render(RenderRequest(ref, z=z, w_offset=off))
    assert np.array_equal(direct, via_z)
    settings = AnimationSettings.model_validate(
        {
            "keyframes": [{}, {}],
            "steps": [2],
            "directions": [{"name": "d", "space": "w", "vector": [1.0] * 8, "amount": 1.5, "layers": [1, 3]}],
        }
    )
    p = plan(worker, ref, settings, z)
    req = p.request(np.array([0]))
    assert (
        req.w_offset is not None and np.allclose(req.w_offset[0, 1:3], 1.5) and not req.w_offset[0, 3:].any()
    )
    assert np.array_equal(worker.render(req)[0], direct[0])
    bad = settings.model_copy(
        update={"directions": [settings.directions[0].model_copy(update={"layers": (0, info.num_ws + 1)})]}
    )
    with pytest.raises(InvalidRequest, match="outside the model"):
        plan(worker, ref, bad, z)


def test_pca_fit_and_teach_on_a_w_space_model(worker: InferenceWorker) -> None:
    from latentwalk.directions.axes import feature_scorer, fit_axes, teach
    from latentwalk.directions.pca import pca_directions

    ref = _tiny_stylegan(worker)
    pcs = pca_directions(worker, ref, samples=300, components=3)
    assert [d.space for d in pcs] == ["w"] * 3 and all(d.dim == 8 for d in pcs)
    assert pcs[0].stats["variance"] >= pcs[1].stats["variance"] >= pcs[2].stats["variance"]
    assert abs(pcs[0].std ** 2 - pcs[0].stats["variance"]) < 1e-9
    (axis,) = fit_axes(worker, ref, feature_scorer(["contrast"]), samples=40)
    assert axis.space == "w" and np.isclose(np.linalg.norm(axis.vector), 1.0)
    taught = teach(worker, ref, "t", list(range(10)), list(range(10, 20)))
    assert taught.space == "w" and taught.stats["samples"] == 20


def test_slider_layer_ranges_on_a_stylegan_model(worker: InferenceWorker, tmp_path: Path) -> None:
    from latentwalk.directions.store import DirectionStore
    from latentwalk.directions.vectors import Direction, unit

    ref = _tiny_stylegan(worker)
    info = worker.info(ref)
    settings = Settings(
        allowed_hosts=TESTSERVER, models_dirs=(), cache_dir=tmp_path / "cache", data_dir=tmp_path / "data"
    )
    DirectionStore(tmp_path / "data" / "directions").put(
        info, [Direction("coarse", "pca", "w", unit(np.ones(8)), std=0.7)]
    )
    with TestClient(create_app(settings, worker, ref)) as client:
        listing = client.get("/api/directions").json()
        assert listing["space"] == "w" and listing["num_ws"] == info.num_ws
        ok = client.post(
            "/api/directions/offsets", json={"entries": [{"name": "coarse", "amount": 1, "layers": [0, 2]}]}
        )
        assert ok.status_code == 200 and ok.json()["directions"][0]["layers"] == [0, 2]
        bad = client.post(
            "/api/directions/offsets", json={"entries": [{"name": "coarse", "amount": 1, "layers": [0, 99]}]}
        )
        assert bad.status_code == 400 and "outside the model" in bad.json()["error"]["message"]
