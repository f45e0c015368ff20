"""Shards of a render: contiguous frame ranges and the folder that keeps finished ones (no Ray here).

The folder `.NAME.shards/` sits beside the output. Its `manifest.json` holds a key that names the
rendered pixels and the export options; a folder with another key (another animation, model,
size or format) is wiped, never reused. Each finished shard is a subfolder written under a
temporary name and renamed into place with its `meta.json`, so a killed job leaves only whole
shards behind and a restarted job skips them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentwalk.errors import ExportError, InvalidRequest

MANIFEST = "manifest.json"
META = "meta.json"
MAX_SHARD_FRAMES = 100_000


@dataclass(frozen=True)
class Shard:
    """Frames `start..end-1` of a render (global frame indices)."""

    index: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def name(self) -> str:
        return f"shard_{self.start:06d}-{self.end:06d}"


def split(total: int, shard_frames: int) -> list[Shard]:
    """Contiguous shards of `shard_frames` frames covering [0, total); the last one may be shorter."""
    if not 1 <= shard_frames <= MAX_SHARD_FRAMES:
        raise InvalidRequest(f"shard size {shard_frames} is out of range 1..{MAX_SHARD_FRAMES} frames")
    if total < 0:
        raise InvalidRequest(f"frame count {total} is negative")
    return [
        Shard(i, start, min(start + shard_frames, total))
        for i, start in enumerate(range(0, total, shard_frames))
    ]


def job_key(pixels_key: str, options: dict[str, Any], shards: Iterable[Shard]) -> str:
    """The key of a job: the rendered pixels (FramePlan.cache_key), export options and shard ranges."""
    body = json.dumps([pixels_key, options, [(s.start, s.end) for s in shards]], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def shard_folder(final: Path) -> Path:
    """Where the shards of the output `final` are kept: `.NAME.shards` beside it."""
    return final.parent / f".{final.name}.shards"


class ShardStore:
    """The shards of one job on disk: which are done, writing one atomically, reading them back."""

    def __init__(self, root: Path, key: str, shards: list[Shard]) -> None:
        self.root = root
        self.key = key
        self.shards = shards
        self._open()

    def _open(self) -> None:
        manifest = self.root / MANIFEST
        try:
            found = json.loads(manifest.read_text()).get("key") if manifest.is_file() else None
        except (OSError, ValueError, AttributeError):
            found = None
        if found != self.key and self.root.exists():
            shutil.rmtree(self.root)  # shards of another animation or other options: never reuse
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if found != self.key:
                body = {"key": self.key, "shards": [[s.start, s.end] for s in self.shards]}
                _write_json(manifest, body)
        except OSError as exc:
            raise ExportError(f"cannot keep shards in {self.root}: {exc.strerror}") from None
        for stray in self.root.glob(".tmp-*"):  # a shard being written when the last run died
            shutil.rmtree(stray, ignore_errors=True)

    def path(self, shard: Shard) -> Path:
        return self.root / shard.name

    def done(self, shard: Shard) -> bool:
        return (self.path(shard) / META).is_file()

    def meta(self, shard: Shard) -> dict[str, Any]:
        return json.loads((self.path(shard) / META).read_text())

    def todo(self) -> list[Shard]:
        return [s for s in self.shards if not self.done(s)]

    def put(self, shard: Shard, files: dict[str, bytes], meta: dict[str, Any]) -> Path:
        """Write a finished shard (file name -> bytes, plus its meta) atomically; returns its folder."""
        temp = self.root / f".tmp-{shard.name}-{os.getpid()}"
        final = self.path(shard)
        try:
            shutil.rmtree(temp, ignore_errors=True)
            temp.mkdir()
            for name, data in files.items():
                if "/" in name or name.startswith(".") or name == META:
                    raise ExportError(f"shard {shard.name} holds a bad file name {name!r}")
                (temp / name).write_bytes(data)
            _write_json(temp / META, {**meta, "start": shard.start, "end": shard.end})
            if final.exists():
                shutil.rmtree(final)
            os.replace(temp, final)
        except OSError as exc:
            shutil.rmtree(temp, ignore_errors=True)
            raise ExportError(f"cannot write shard {shard.name} in {self.root}: {exc.strerror}") from None
        return final

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _write_json(path: Path, body: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)
