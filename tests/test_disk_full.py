"""A full disk during saves and exports: a clear error, the previous version kept, nothing half-written.

Exports run as a real `latentwalk render` process under a file-size limit (RLIMIT_FSIZE, the
encoder's own writes in C fail as they would on a full disk); saves and the server's export jobs
meet ENOSPC from the write calls themselves.
"""

from __future__ import annotations

import errno
import resource
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from browser_support import subprocess_env
from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app

LIMIT = 20_000  # bytes: more than a thumbnail, less than any of the exports below


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.parametrize("fmt", ["mp4", "gif", "png"])
def test_export_on_a_full_disk_fails_clearly_and_keeps_the_previous_file(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out" / "clip"
    final = out.with_suffix(f".{fmt}") if fmt != "png" else out
    final.parent.mkdir(parents=True)
    if fmt == "png":
        final.mkdir()
        (final / "old.png").write_bytes(b"previous export")
    else:
        final.write_bytes(b"previous export")
    cmd = [
        sys.executable, "-m", "latentwalk", "--cache-dir", str(tmp_path / "cache"), "render",
        "--network", str(write_tiny_dcgan(tmp_path / "tiny.pt")), "--seeds", "1,2", "--steps", "20",
        "--format", fmt, "--size", "384", "--upscale", "lanczos", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path),
        timeout=300,
        preexec_fn=_limited,
        check=False,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "could not write" in done.stderr and "nothing was left behind" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    if fmt == "png":
        assert [p.name for p in final.iterdir()] == ["old.png"]
    else:
        assert final.read_bytes() == b"previous export"
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # no temporary left


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    tiny = ModelRef(name="tiny", path=write_tiny_dcgan(tmp_path / "models" / "tiny.pt"))
    s = Settings(
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    with TestClient(create_app(s, worker, tiny)) as c:
        yield c


def enospc(*_a: Any, **_k: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def body(c: TestClient, seeds: str) -> dict[str, Any]:
    z = c.get(f"/api/z?seeds={seeds}").json()["z"]
    return {"settings": {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [6]}, "latents": z}


def test_save_on_a_full_disk_keeps_the_library(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from latentwalk.animation import bookmarks, store

    first = body(client, "1,2")
    assert client.post("/api/animations", json={"name": "walk", **first}).status_code == 200
    assert client.post("/api/bookmarks", json={"name": "mark", "z": first["latents"][0]}).status_code == 200
    root = tmp_path / "data" / "animations"
    before = sorted(p.name for p in root.iterdir())

    monkeypatch.setattr(store, "write_synced", enospc)
    monkeypatch.setattr(bookmarks, "write_atomic", enospc)
    second = body(client, "3,4")
    for r in (
        client.put("/api/animations/walk", json=second),
        client.post("/api/animations", json={"name": "other", **second}),
        client.post("/api/animations/walk/duplicate", json={"new_name": "copy"}),
        client.post("/api/animations/walk/rename", json={"new_name": "renamed"}),
        client.post("/api/bookmarks", json={"name": "mark 2", "z": second["latents"][0]}),
    ):
        assert r.status_code >= 400, r.text
        assert (
            r.json()["error"]["type"] == "StorageError" and "the disk is full" in r.json()["error"]["message"]
        )
    assert sorted(p.name for p in root.iterdir()) == before  # no temporaries, nothing half-made
    assert client.get("/api/animations/walk").json()["latents"] == first["latents"]  # the old version
    assert [b["name"] for b in client.get("/api/bookmarks").json()["bookmarks"]] == ["mark"]

    monkeypatch.undo()  # space freed: everything works again
    assert client.put("/api/animations/walk", json=second).status_code == 200
    assert client.get("/api/animations/walk").json()["latents"] == second["latents"]


def wait_job(c: TestClient, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = c.get(f"/api/exports/{job['id']}").json()
    return job


@pytest.mark.parametrize("where", ["encoder", "zip"])
def test_export_job_on_a_full_disk_ends_in_a_clear_error(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from latentwalk import export

    if where == "encoder":
        monkeypatch.setattr(export, "_write_pillow_animation", enospc)
        fmt = "gif"
    else:
        monkeypatch.setattr(zipfile.ZipFile, "write", enospc)
        fmt = "png"
    job = client.post("/api/exports", json={"name": "clip", "format": fmt, **body(client, "1,2")}).json()
    job = wait_job(client, job)
    assert job["state"] == "error" and "the disk is full" in job["error"], job
    exports = tmp_path / "data" / "exports"
    assert not exports.exists() or not any(exports.rglob("*")), list(exports.rglob("*"))
    monkeypatch.undo()
    job = wait_job(
        client,
        client.post("/api/exports", json={"name": "clip", "format": fmt, **body(client, "1,2")}).json(),
    )
    assert job["state"] == "done", job
    assert client.get(job["download"]).status_code == 200
