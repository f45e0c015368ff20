"""Animation folders found on the internet, through the HTTP API: broken JSON, other schema versions,
latents of the wrong shape, with NaN or pickled objects, symbolic links out of the data folder.
Each is refused (a 4xx in the one error shape) or skipped; nothing outside the data folder is read,
changed or served; the good animations beside them keep working."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app

Z = 8


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    tiny = ModelRef(name="tiny", path=write_tiny_dcgan(tmp_path / "models" / "tiny.pt", z_dim=Z))
    s = Settings(
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    with TestClient(create_app(s, worker, tiny)) as c:
        yield c


def save(c: TestClient, name: str, seeds: str = "1,2") -> None:
    z = c.get(f"/api/z?seeds={seeds}").json()["z"]
    body = {"name": name, "settings": {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [4]}, "latents": z}
    assert c.post("/api/animations", json=body).status_code == 200


def test_damaged_and_hostile_animation_folders(client: TestClient, tmp_path: Path) -> None:
    root = tmp_path / "data" / "animations"
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.jpg"
    secret.write_bytes(b"\xff\xd8 not for the web")
    names = ["good", "broken json", "schema 99", "schema text", "wrong shape", "nan", "pickled", "npy lies",
             "link latents", "link thumb", "link json", "empty json", "huge json"]  # fmt: skip
    for name in names:
        save(client, name)
    stored = json.loads((root / "good" / "animation.json").read_text())
    (root / "broken json" / "animation.json").write_text("{not json")
    (root / "schema 99" / "animation.json").write_text(
        json.dumps({**stored, "name": "schema 99", "schema_version": 99})
    )
    (root / "schema text" / "animation.json").write_text(
        json.dumps({**stored, "name": "schema text", "schema_version": "1"})
    )
    np.save(root / "wrong shape" / "latents.npy", np.zeros((3, Z), np.float32))
    np.save(root / "nan" / "latents.npy", np.full((2, Z), np.nan, np.float32))
    np.save(root / "pickled" / "latents.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    header = (
        b"\x93NUMPY\x01\x00" + b"v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 8), }"
    )
    (root / "npy lies" / "latents.npy").write_bytes(header.ljust(128, b" ")[:127] + b"\n")
    links = [
        ("link latents", "latents.npy", outside / "x.npy"),
        ("link thumb", "thumb.jpg", secret),
        ("link json", "animation.json", outside / "a.json"),
    ]
    for name, file, target in links:
        (root / name / file).unlink()
        (root / name / file).symlink_to(target)
    np.save(outside / "x.npy", np.zeros((2, Z), np.float32))
    (outside / "a.json").write_text(json.dumps({**stored, "name": "link json"}))
    (root / "empty json" / "animation.json").write_text("")
    (root / "huge json" / "animation.json").write_text(" " * (20 << 20) + "{}")
    (root / "escape").symlink_to(outside, target_is_directory=True)  # a whole folder pointing out
    (root / "dangling").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    before = {p: p.read_bytes() for p in outside.iterdir()}

    listing = client.get("/api/animations")
    assert listing.status_code == 200
    listed = {a["name"]: a for a in listing.json()["animations"]}
    assert "good" in listed and "escape" not in listed and "dangling" not in listed
    assert listed.get("link thumb", {}).get("thumb") is None
    assert client.get("/api/animations/link%20thumb").status_code == 200  # loads, without its thumbnail
    for name in [*(n for n in names[1:] if n != "link thumb"), "escape", "dangling"]:
        r = client.get(f"/api/animations/{quote(name, safe='')}")
        assert r.status_code in (400, 404), (name, r.status_code, r.text)
        assert set(r.json()) == {"error"} and r.json()["error"]["message"], (name, r.text)
        if r.status_code == 400:
            assert r.json()["error"]["type"] == "CorruptAnimation", (name, r.text)
    for path in ("/api/animations/link%20thumb/thumb.jpg", "/api/animations/escape/thumb.jpg"):
        r = client.get(path)
        assert r.status_code == 404 and b"not for the web" not in r.content
    # Changing them never reaches outside either.
    client.delete("/api/animations/escape")
    client.post("/api/animations/escape/rename", json={"new_name": "in"})
    client.post("/api/animations/link%20json/duplicate", json={"new_name": "dup"})
    r = client.post("/api/playback", json={"command": "play", "names": ["escape"]})
    assert 400 <= r.status_code < 500 and set(r.json()) == {"error"}
    assert {p: p.read_bytes() for p in outside.iterdir()} == before
    # The good one still works end to end.
    assert client.get("/api/animations/good").json()["latents"] == client.get("/api/z?seeds=1,2").json()["z"]
    assert client.get("/api/animations/good/thumb.jpg").status_code == 200


def test_damaged_bookmarks_file(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "data" / "bookmarks.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"bookmarks": [{"name": "x", "z": [NaN, "a"]}')
    r = client.get("/api/bookmarks")
    assert r.status_code < 500 and (r.status_code == 200 or set(r.json()) == {"error"}), r.text
    z = client.get("/api/z?seeds=1").json()["z"][0]
    assert client.post("/api/bookmarks", json={"name": "fresh", "z": z}).status_code == 200
    assert "fresh" in [b["name"] for b in client.get("/api/bookmarks").json()["bookmarks"]]
