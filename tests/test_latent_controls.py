"""Latent controls over the real app: truncation cutoff, z truncation, w+ keyframes, nudges,
partial randomising, style mixing, and their errors. A tiny random StyleGAN2 and the procedural
model (no mapping network) stand in for real networks."""

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
from latentwalk.backends import load_model_bytes
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.errors import InvalidRequest
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.server.app import create_app
from latentwalk.server.ws import FRAME_HEADER
from latentwalk.styles import layer_groups, parse_layers, truncate_w
from nvpickle_writer import build_stylegan2, dumps_network_pickle

SG2 = ModelRef(name="sg2", zoo="sg2-test")
PROC = ModelRef(name="procedural", zoo="procedural")


@pytest.fixture
def sg2(worker: InferenceWorker) -> Any:
    tree, _ = build_stylegan2(seed=4)
    return worker.register(SG2, load_model_bytes(dumps_network_pickle(tree), "sg2.pkl"))


def _client(worker: InferenceWorker, tmp_path: Path, model: ModelRef) -> TestClient:
    settings = Settings(
        allowed_hosts=TESTSERVER, models_dirs=(), cache_dir=tmp_path / "cache", data_dir=tmp_path / "data"
    )
    return TestClient(create_app(settings, worker, model))


@pytest.fixture
def client(worker: InferenceWorker, sg2: Any, tmp_path: Path) -> Iterator[TestClient]:
    with _client(worker, tmp_path, SG2) as c:
        yield c


def _frames(
    client: TestClient, settings: dict[str, Any], latents: list[list[float]]
) -> dict[int, np.ndarray]:
    """Render an animation over the socket; raise InvalidRequest with the server's message on error."""
    with client.websocket_connect("/ws") as ws:
        ws.send_text(
            json.dumps({"type": "render", "id": 1, "settings": settings, "latents": latents, "format": "png"})
        )
        frames: dict[int, np.ndarray] = {}
        while True:
            msg = ws.receive()
            if msg.get("bytes") is not None:
                index = FRAME_HEADER.unpack(msg["bytes"][: FRAME_HEADER.size])[2]
                frames[index] = np.asarray(
                    Image.open(io.BytesIO(msg["bytes"][FRAME_HEADER.size :])).convert("RGB")
                )
                continue
            event = json.loads(msg["text"])
            if event["type"] == "error":
                raise InvalidRequest(event["error"]["message"])
            if event["type"] == "done":
                return frames


def _keys(seeds: list[int], z_dim: int) -> list[list[float]]:
    return seeds_to_z(seeds, z_dim).astype(np.float32).tolist()


def _still(**kw: Any) -> dict[str, Any]:
    """Settings of a 2-frame walk between two keyframes."""
    keyframes = kw.pop("keyframes", [{"seed": 1}, {"seed": 2}])
    return {"keyframes": keyframes, "steps": [2], "interpolation": "linear", **kw}


# ---------------------------------------------------------------------------------- pure helpers


def test_layer_groups_and_ranges() -> None:
    assert layer_groups(18) == {"coarse": (0, 3), "middle": (4, 7), "fine": (8, 17)}
    assert layer_groups(6) == {"coarse": (0, 0), "middle": (1, 2), "fine": (3, 5)}
    assert parse_layers("0-2,5", 6) == [0, 1, 2, 5]
    assert parse_layers("fine", 6) == [3, 4, 5]
    assert parse_layers(None, 4) == [0, 1, 2, 3]
    with pytest.raises(InvalidRequest, match="outside the model"):
        parse_layers("0-6", 6)
    with pytest.raises(InvalidRequest, match="backwards"):
        parse_layers("4-1", 6)
    with pytest.raises(InvalidRequest, match="no mapping network"):
        parse_layers("coarse", None)


# ---------------------------------------------------------------------------------- truncation


def test_cutoff_truncates_only_the_first_layers(
    client: TestClient, worker: InferenceWorker, sg2: Any
) -> None:
    z = seeds_to_z([3], sg2.z_dim)
    free = worker.map(SG2, z)[0]
    cut = worker.map(SG2, z, psi=0.3, cutoff=2)[0]
    np.testing.assert_array_equal(cut[2:], free[2:])  # late layers untouched
    np.testing.assert_allclose(cut[:2], sg2.w_avg + 0.3 * (free[:2] - sg2.w_avg), atol=1e-5)
    np.testing.assert_allclose(truncate_w(free, sg2.w_avg, 0.3, 2), cut, atol=1e-5)

    # Over the socket, in z and in w: frames equal the engine's render with the same cutoff.
    latents = _keys([3, 4], sg2.z_dim)
    for space in ("z", "w"):
        got = _frames(client, _still(psi=0.3, cutoff=2, space=space), latents)
        want = worker.render(RenderRequest(SG2, np.asarray(latents, np.float32), psi=0.3, cutoff=2))
        np.testing.assert_array_equal(got[0], want[0])
        every = _frames(client, _still(psi=0.3, space=space), latents)
        assert np.abs(got[0].astype(int) - every[0]).max() > 0  # truncating fewer layers shows
    full = _frames(client, _still(psi=0.3, cutoff=sg2.num_ws), latents)
    np.testing.assert_array_equal(full[0], every[0])
    png = client.get("/api/image.png", params={"seed": 3, "psi": 0.3, "cutoff": 2})
    want = worker.render(RenderRequest(SG2, z.astype(np.float32), psi=0.3, cutoff=2))[0]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB")), want)


def test_z_truncation_scales_z_toward_zero(worker: InferenceWorker, tmp_path: Path) -> None:
    z = seeds_to_z([5], 512).astype(np.float32)
    np.testing.assert_array_equal(
        worker.render(RenderRequest(PROC, z, psi=0.4)),
        worker.render(RenderRequest(PROC, z * np.float32(0.4))),
    )
    with _client(worker, tmp_path, PROC) as c:
        assert c.get("/api/model").json()["truncation"].startswith("z space")
        assert c.get("/api/model/layers").json() == {
            "num_ws": None,
            "w_dim": None,
            "groups": None,
            "truncation": "z",
        }
        avg = np.asarray(Image.open(io.BytesIO(c.get("/api/model/average.png").content)).convert("RGB"))
        zero = worker.render(RenderRequest(PROC, np.zeros((1, 512), np.float32)))[0]
        np.testing.assert_array_equal(avg, zero)
        with pytest.raises(InvalidRequest, match="no mapping network.*cutoff"):
            _frames(c, _still(cutoff=2), _keys([1, 2], 512))


def test_average_image_is_w_avg(client: TestClient, worker: InferenceWorker, sg2: Any) -> None:
    avg = np.asarray(Image.open(io.BytesIO(client.get("/api/model/average.png").content)).convert("RGB"))
    ws = np.broadcast_to(sg2.w_avg, (1, sg2.num_ws, sg2.w_dim)).copy()
    np.testing.assert_array_equal(avg, worker.render(RenderRequest(SG2, ws=ws))[0])
    layers = client.get("/api/model/layers").json()
    assert layers["num_ws"] == 6 and layers["groups"]["coarse"] == [0, 0] and layers["truncation"] == "w"


# ---------------------------------------------------------------------------------- mixing


def test_mixing_equals_a_w_plus_built_by_hand(client: TestClient, worker: InferenceWorker, sg2: Any) -> None:
    answer = client.post(
        "/api/latents/mix", json={"latent": {"seed": 1}, "other": {"seed": 2}, "layers": "0-2"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["layers"] == [0, 1, 2]
    parents = [worker.map(SG2, seeds_to_z([s], sg2.z_dim))[0] for s in (1, 2)]  # one by one, as the route
    hand = parents[0].copy()
    hand[0:3] = parents[1][0:3]
    np.testing.assert_array_equal(np.asarray(body["ws"], np.float32), hand)
    np.testing.assert_allclose(body["z"], seeds_to_z([1], sg2.z_dim)[0], atol=1e-6)

    # The child as a keyframe: its frame is the render of the hand-made w+ (truncated like any keyframe).
    kf = [{"seed": None, "label": "child", "ws": body["ws"]}, {"seed": 2}]
    frames = _frames(client, _still(keyframes=kf, space="w"), _keys([1, 2], sg2.z_dim))
    np.testing.assert_array_equal(frames[0], worker.render(RenderRequest(SG2, ws=hand[None]))[0])
    trunc = _frames(client, _still(keyframes=kf, space="w", psi=0.5, cutoff=3), _keys([1, 2], sg2.z_dim))
    want = worker.render(RenderRequest(SG2, ws=truncate_w(hand, sg2.w_avg, 0.5, 3)[None]))
    np.testing.assert_array_equal(trunc[0], want[0])
    # A named preset, and a w+ parent given as ws.
    fine = client.post(
        "/api/latents/mix", json={"latent": {"ws": body["ws"]}, "other": {"seed": 9}, "layers": "fine"}
    ).json()
    assert fine["layers"] == [3, 4, 5]
    np.testing.assert_array_equal(np.asarray(fine["ws"], np.float32)[:3], hand[:3])


def test_w_plus_keyframes_survive_save_and_load(client: TestClient, sg2: Any, tmp_path: Path) -> None:
    mixed = client.post("/api/latents/mix", json={"latent": {"seed": 1}, "other": {"seed": 7}}).json()
    settings = _still(
        keyframes=[{"seed": 1, "label": "mixed", "ws": mixed["ws"]}, {"seed": 2}], space="w", cutoff=4
    )
    latents = _keys([1, 2], sg2.z_dim)
    before = _frames(client, settings, latents)
    saved = client.post(
        "/api/animations", json={"name": "mixed walk", "settings": settings, "latents": latents}
    )
    assert saved.status_code == 200, saved.text
    loaded = client.get("/api/animations/mixed walk").json()
    assert loaded["settings"]["keyframes"][0]["ws"] == mixed["ws"]
    assert loaded["settings"]["keyframes"][1]["ws"] is None and loaded["settings"]["cutoff"] == 4
    after = _frames(client, loaded["settings"], loaded["latents"])
    for i in before:
        np.testing.assert_array_equal(before[i], after[i])

    # A file written before w+ keyframes and cutoffs existed still loads.
    folder = tmp_path / "data" / "animations" / "mixed walk"
    old = json.loads((folder / "animation.json").read_text())
    old.pop("cutoff")
    for k in old["keyframes"]:
        k.pop("ws")
    old["name"] = "old walk"
    (folder.parent / "old walk").mkdir()
    (folder.parent / "old walk" / "animation.json").write_text(json.dumps(old))
    (folder.parent / "old walk" / "latents.npy").write_bytes((folder / "latents.npy").read_bytes())
    back = client.get("/api/animations/old walk")
    assert back.status_code == 200, back.text
    assert back.json()["settings"]["cutoff"] is None


# ---------------------------------------------------------------------------------- nudge, randomise


def test_nudge_moves_by_its_size_and_repeats_with_its_seed(client: TestClient, sg2: Any) -> None:
    z = seeds_to_z([1], sg2.z_dim)[0]
    body = {"latent": {"z": z.tolist()}, "space": "z", "size": 0.2, "seed": 11}
    a, b = (client.post("/api/latents/nudge", json=body).json() for _ in range(2))
    assert a == b and a["seed"] == 11 and a["ws"] is None
    step = np.asarray(a["z"]) - z
    assert 0.0 < np.sqrt(np.mean(step**2)) < 0.6

    # w+ with a layer range: only those rows move; "w" moves the chosen rows by one shared step.
    wplus = client.post("/api/latents/nudge", json={**body, "space": "w+", "layers": "3-5"}).json()
    base = np.asarray(client.post("/api/latents/map", json={"z": z.tolist()}).json()["ws"])
    moved = np.asarray(wplus["ws"])
    np.testing.assert_array_equal(moved[:3], base[:3])
    assert (np.abs(moved[3:] - base[3:]).max(axis=1) > 0).all()
    assert not np.allclose(moved[3] - base[3], moved[4] - base[4])
    shared = np.asarray(client.post("/api/latents/nudge", json={**body, "space": "w"}).json()["ws"]) - base
    np.testing.assert_allclose(shared, np.broadcast_to(shared[0], shared.shape), atol=1e-5)


def test_randomise_replaces_a_fraction(client: TestClient, sg2: Any) -> None:
    z = seeds_to_z([1], sg2.z_dim)[0].astype(np.float32)
    out = np.asarray(
        client.post(
            "/api/latents/randomise",
            json={"latent": {"z": z.tolist()}, "space": "z", "fraction": 0.5, "seed": 3},
        ).json()["z"],
        np.float32,
    )
    assert (out != z).sum() == 4  # half of z_dim 8
    base = np.asarray(client.post("/api/latents/map", json={"seed": 1}).json()["ws"], np.float32)
    wplus = client.post(
        "/api/latents/randomise",
        json={"latent": {"seed": 1}, "space": "w+", "layers": "coarse", "fraction": 1.0, "seed": 3},
    ).json()
    ws = np.asarray(wplus["ws"], np.float32)
    np.testing.assert_array_equal(ws[1:], base[1:])
    assert (ws[0] != base[0]).all()


# ---------------------------------------------------------------------------------- bad input


def test_bad_input_gets_clear_errors(
    client: TestClient, worker: InferenceWorker, sg2: Any, tmp_path: Path
) -> None:
    latents = _keys([1, 2], sg2.z_dim)
    with pytest.raises(InvalidRequest, match="cutoff 7 is outside 0..6"):
        _frames(client, _still(psi=0.5, cutoff=7), latents)
    r = client.get("/api/image.png", params={"seed": 1, "cutoff": 9})
    assert r.status_code == 400 and "cutoff 9 is outside 0..6" in r.json()["error"]["message"]
    r = client.post("/api/latents/mix", json={"latent": {"seed": 1}, "other": {"seed": 2}, "layers": "2-9"})
    assert r.status_code == 400 and "outside the model" in r.json()["error"]["message"]
    r = client.post("/api/latents/nudge", json={"latent": {"seed": 1}, "space": "z", "size": 0})
    assert r.status_code == 400 and "nudge size" in r.json()["error"]["message"]
    r = client.post("/api/latents/mix", json={"latent": {"ws": [[0.0] * 16] * 3}, "other": {"seed": 2}})
    assert r.status_code == 400 and "6 rows of 16" in r.json()["error"]["message"]
    ws = client.post("/api/latents/map", json={"seed": 1}).json()["ws"]
    kf = [{"seed": None, "ws": ws}, {"seed": 2}]
    with pytest.raises(InvalidRequest, match="set the space to 'w'"):
        _frames(client, _still(keyframes=kf, space="z"), latents)
    with pytest.raises(InvalidRequest, match=r"needs \(6, 16\)"):
        _frames(client, _still(keyframes=[{"ws": [row[:8] for row in ws]}, {"seed": 2}], space="w"), latents)
    with _client(worker, tmp_path / "proc", PROC) as c:
        r = c.post("/api/latents/mix", json={"latent": {"seed": 1}, "other": {"seed": 2}})
        assert r.status_code == 400 and "no mapping network" in r.json()["error"]["message"]
        r = c.post("/api/latents/nudge", json={"latent": {"seed": 1}, "space": "w+"})
        assert r.status_code == 400 and "no mapping network" in r.json()["error"]["message"]
        with pytest.raises(InvalidRequest, match="no w space"):
            _frames(c, _still(keyframes=kf, space="w"), _keys([1, 2], 512))
