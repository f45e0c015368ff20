"""The built-in models: the default face model is really downloaded, verified and rendered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from latentwalk.catalog import ModelRef
from latentwalk.errors import ZooDownloadError
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.zoo import ZOO, fetch, is_fetched, load_zoo_model, weights_path

GOLDEN = Path(__file__).parent / "golden" / "dcgan_faces_seeds0-3_16px.npy"


def test_zoo_entries_are_declared_completely() -> None:
    for entry in ZOO.values():
        assert entry.name and entry.description and entry.licence and entry.credit
        if entry.source is not None:
            assert len(entry.source.wheel_sha256) == 64 and entry.source.version.count(".") >= 1
    assert ZOO["dcgan-faces"].source.requirement == "gan-face-generate==1.1.1"  # type: ignore[union-attr]


@pytest.mark.network
def test_default_model_downloads_and_renders_faces(cache_dir: Path) -> None:
    entry = ZOO["dcgan-faces"]
    path = fetch(entry, cache_dir)
    assert path is not None and path.is_file() and is_fetched(entry, cache_dir)
    loaded = load_zoo_model("dcgan-faces", cache_dir)
    g = loaded.generator
    assert (g.z_dim, g.img_resolution, g.c_dim) == (100, 64, 0)
    assert loaded.info["licence"] == "MIT"
    with InferenceWorker(cache_dir, device="cpu") as w:
        px = w.render(
            RenderRequest(ModelRef("dcgan-faces", zoo="dcgan-faces"), seeds_to_z([0, 1, 2, 3], 100))
        )
    assert px.shape == (4, 64, 64, 3)
    # Plausible images: not constant, using a good part of the range, each seed different.
    assert all(p.std() > 20 for p in px)
    assert np.abs(px[0].astype(int) - px[1].astype(int)).mean() > 10
    # Stable across runs and machines: a 16x16 golden within a few grey levels (not a hash:
    # CPU math libraries differ by a rounding).
    small = px.reshape(4, 16, 4, 16, 4, 3).astype(np.float64).mean(axis=(2, 4))
    golden = np.load(GOLDEN).astype(np.float64)
    assert np.abs(small - golden).max() <= 3.0
    assert np.abs(small - golden).mean() <= 0.5


@pytest.mark.network
def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    entry = ZOO["dcgan-faces"]
    assert entry.source is not None
    forged = dataclasses.replace(entry, source=dataclasses.replace(entry.source, wheel_sha256="0" * 64))
    with pytest.raises(ZooDownloadError, match="refusing to use it"):
        fetch(forged, tmp_path)
    target = weights_path(forged, tmp_path)
    assert target is not None and not target.exists()


@pytest.mark.network
def test_a_failed_download_says_what_failed(tmp_path: Path) -> None:
    entry = ZOO["dcgan-faces"]
    assert entry.source is not None
    missing = dataclasses.replace(
        entry, source=dataclasses.replace(entry.source, package="latentwalk-no-such-package", version="0.0.1")
    )
    with pytest.raises(ZooDownloadError, match=r"pip download --no-deps latentwalk-no-such-package==0\.0\.1"):
        fetch(missing, tmp_path)
