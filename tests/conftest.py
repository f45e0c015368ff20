"""Shared fixtures: an isolated cache/data folder per session, a CPU worker, tiny networks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from latentwalk.render.worker import InferenceWorker

REPO = Path(__file__).resolve().parent.parent


def shared_cache_dir() -> Path:
    """Download cache shared by the tests (the default model is fetched once per machine)."""
    path = Path(os.environ.get("LATENTWALK_TEST_CACHE", REPO / ".latentwalk-test" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return shared_cache_dir()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[InferenceWorker]:
    w = InferenceWorker(cache_dir=tmp_path / "cache", device="cpu", max_batch=8, cache_size=2).start()
    yield w
    w.stop()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the user's own folders or settings during tests."""
    for key in list(os.environ):
        if key.startswith("LATENTWALK_") and key not in (
            "LATENTWALK_NVIDIA_SRC",
            "LATENTWALK_NVIDIA_ADA_SRC",
            "LATENTWALK_CHROMIUM",
            "LATENTWALK_SKIP_BROWSER",
            "LATENTWALK_SAVE_SCREENSHOTS",
            "LATENTWALK_TEST_CACHE",
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)  # the default ./models folder is then empty


def write_tiny_dcgan(path: Path, seed: int = 0, z_dim: int = 8, resolution: int = 16) -> Path:
    """A small random DCGAN saved as a weights-only state dict (the default model's file layout)."""
    import torch

    from latentwalk.models.dcgan import DCGANGenerator

    torch.manual_seed(seed)
    g = DCGANGenerator(z_dim=z_dim, base_channels=4, resolution=resolution)
    with torch.no_grad():
        for name, t in g.state_dict().items():
            if not t.is_floating_point():
                continue
            t.copy_(torch.rand_like(t) + 0.5 if name.endswith("running_var") else torch.randn_like(t) * 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"netG_state_dict": g.state_dict()}, path)
    return path
