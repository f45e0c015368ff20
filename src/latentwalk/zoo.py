"""The built-in models: declared in one table, fetched once through pip, verified, cached.

Weights of the default face model ship in a PyPI wheel under the MIT licence. We never install
that package (it pulls torchvision and wandb): `pip download --no-deps` fetches the wheel, its
sha256 is checked against the pinned value, and the one weights file is extracted into the cache.
After the first fetch everything works offline.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from latentwalk.backends import LoadedModel, load_model_file
from latentwalk.errors import ZooDownloadError
from latentwalk.models.procedural import ProceduralGenerator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WheelSource:
    """Weights inside a pinned PyPI wheel."""

    package: str
    version: str
    wheel_sha256: str
    member: str  # path of the weights file inside the wheel

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class ZooEntry:
    """A built-in model: where its weights come from, under which licence, and how to load it."""

    name: str
    description: str
    licence: str
    credit: str
    source: WheelSource | None  # None: no weights (procedural)
    build: Callable[[Path | None], LoadedModel]


def _build_procedural(_: Path | None) -> LoadedModel:
    g = ProceduralGenerator().eval()
    info = {
        "format": "built-in (no weights)",
        "family": "procedural",
        "class": "CPPN ProceduralGenerator",
        "sha256": "procedural-v1",
    }
    return LoadedModel(generator=g, info=info)


def _build_from_file(path: Path | None) -> LoadedModel:
    assert path is not None
    return load_model_file(path)


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        ZooEntry(
            name="dcgan-faces",
            description="DCGAN faces, 64x64, z_dim 100, trained on DigiFace-1M (the default model)",
            licence="MIT",
            credit="Chien Liu, gan-face-generate (PyPI), MIT licence",
            source=WheelSource(
                package="gan-face-generate",
                version="1.1.1",
                wheel_sha256="24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569",
                member="gan_face_generate/weights.tar",
            ),
            build=_build_from_file,
        ),
        ZooEntry(
            name="procedural",
            description="CPPN pattern generator with fixed random weights, 256x256, no download",
            licence="MIT (part of latentwalk)",
            credit="latentwalk",
            source=None,
            build=_build_procedural,
        ),
    )
}

DEFAULT_MODEL = "dcgan-faces"


def weights_path(entry: ZooEntry, cache_dir: Path) -> Path | None:
    """Where the entry's weights live in the cache (None for models without weights)."""
    if entry.source is None:
        return None
    src = entry.source
    return cache_dir / "zoo" / entry.name / f"{src.package}-{src.version}" / Path(src.member).name


def is_fetched(entry: ZooEntry, cache_dir: Path) -> bool:
    path = weights_path(entry, cache_dir)
    return path is None or path.is_file()


def fetch(entry: ZooEntry, cache_dir: Path) -> Path | None:
    """Make sure the entry's weights are in the cache; download and verify them if not.

    Raises:
        ZooDownloadError: pip could not download the wheel, or its hash does not match.
    """
    target = weights_path(entry, cache_dir)
    if target is None or target.is_file():
        return target
    src = entry.source
    assert src is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        log.info("downloading %s (weights of %s) with pip", src.requirement, entry.name)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-d", tmp, src.requirement]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ZooDownloadError(f"could not run pip to fetch {src.requirement}: {exc}") from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ZooDownloadError(
                f"downloading the weights of '{entry.name}' failed: `pip download --no-deps "
                f"{src.requirement}` said: {last[0]}. Check your connection to the package index "
                f"(or pip's proxy settings), or use `--dummy` / another model meanwhile."
            )
        wheel = wheels[0]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != src.wheel_sha256:
            raise ZooDownloadError(
                f"the wheel {wheel.name} has sha256 {digest}, expected {src.wheel_sha256}: "
                "refusing to use it. Your package index may serve a modified file."
            )
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(src.member) as member:
                partial = target.with_suffix(".partial")
                with partial.open("wb") as out:
                    shutil.copyfileobj(member, out)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ZooDownloadError(f"{wheel.name} does not hold {src.member}: {exc}") from None
        partial.replace(target)  # atomic: a half-written file never carries the final name
    log.info("saved %s", target)
    return target


def load_zoo_model(name: str, cache_dir: Path) -> LoadedModel:
    """Fetch (if needed) and load a built-in model by name."""
    entry = ZOO[name]
    loaded = entry.build(fetch(entry, cache_dir))
    loaded.info["zoo"] = name
    loaded.info["licence"] = entry.licence
    loaded.info["credit"] = entry.credit
    return loaded
