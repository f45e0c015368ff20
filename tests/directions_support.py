"""Shared by the directions API tests: the real app on a tiny DCGAN, and waiting for a direction job."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app


@contextlib.contextmanager
def directions_app(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    """A client of the app whose model is a tiny DCGAN (`tiny`), data and cache under `tmp_path`."""
    path = write_tiny_dcgan(tmp_path / "models" / "tiny.pt", seed=3)
    settings = Settings(
        allowed_hosts=TESTSERVER,
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
    )
    with TestClient(create_app(settings, worker, ModelRef(name="tiny", path=path))) as c:
        yield c


def wait_job(client: TestClient, job: dict[str, Any]) -> dict[str, Any]:
    """Poll a direction job until it is no longer running (30 s at most)."""
    for _ in range(600):
        job = client.get(f"/api/directions/jobs/{job['id']}").json()
        if job["state"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError("direction job did not finish")
