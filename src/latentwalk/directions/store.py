"""Directions on disk, per model (keyed by its content hash), and as files to share with a team.

Layout (`data_dir / "directions"`)::

    <key>/directions.json    names, methods, spaces, layer ranges, statistics; names the vectors file
    <key>/vectors-<t>.npy    float64 [n, dim], one unit vector per entry of directions.json
    <key>/.lock              every write and read takes it

`<key>` is the model's sha256 (or its name for models with none). A write puts a new vectors
file beside the old one, then replaces directions.json atomically (it names the new file), then
removes the old vectors file: a reader sees the old set or the new one, never a mix. A write killed
in the middle leaves a vectors file no index names (or a temporary); the next write sweeps them.

An exported file is an `.npz` (read back with `allow_pickle=False`) holding `vectors` and `meta`
(the same JSON, as UTF-8 bytes), plus the model's name and hash.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from latentwalk.animation.files import file_lock, read_nofollow, remove_quietly, storage_error, write_atomic
from latentwalk.animation.schema import check_name
from latentwalk.directions.vectors import METHODS, Direction, check_layers, unit
from latentwalk.errors import InvalidRequest, NameNotFound, NameTaken, StorageError
from latentwalk.render.worker import ModelInfo

FORMAT = "latentwalk-directions"
VERSION = 1
MAX_DIRECTIONS = 1024
MAX_FILE = 256 << 20
_KEY = re.compile(r"[^A-Za-z0-9._-]")


def model_key(info: ModelInfo) -> str:
    sha = info.details.get("sha256")
    return _KEY.sub("_", str(sha) if sha else f"name-{info.name}")[:100]


def space_of(info: ModelInfo) -> str:
    """Directions of a model live in w where it has one, else in z."""
    return "w" if info.has_w else "z"


def dim_of(info: ModelInfo) -> int:
    return int(info.w_dim if info.has_w else info.z_dim)  # type: ignore[arg-type]


def _meta(d: Direction) -> dict[str, Any]:
    return {k: v for k, v in d.describe().items() if k != "dim"}


def _from_meta(meta: Any, vector: np.ndarray, info: ModelInfo) -> Direction:
    if not isinstance(meta, dict):
        raise InvalidRequest("a direction entry must be a JSON object")
    try:
        name = check_name(str(meta["name"]))
        method = str(meta.get("method", "imported"))
        space = str(meta.get("space", space_of(info)))
        std = float(meta.get("std", 1.0))
        layers = meta.get("layers")
        stats = meta.get("stats") or {}
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"a direction entry is malformed ({exc})") from None
    if method not in METHODS:
        method = "imported"
    if space != space_of(info) or vector.shape != (dim_of(info),):
        raise InvalidRequest(
            f"direction {name!r} is a {space} vector of {vector.size} values; {info.name} needs "
            f"{space_of(info)} vectors of {dim_of(info)}"
        )
    if not (np.isfinite(std) and std > 0):
        raise InvalidRequest(f"direction {name!r} has a bad standard deviation {std}")
    if layers is not None:
        layers = check_layers((int(layers[0]), int(layers[1])), info.num_ws, space)
    return Direction(name, method, space, unit(vector), std, layers, dict(stats))  # type: ignore[arg-type]


class DirectionStore:
    """Named directions of each model under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def _folder(self, info: ModelInfo) -> Path:
        return self.root / model_key(info)

    # ------------------------------------------------------------------ reading

    def _read(self, folder: Path, info: ModelInfo) -> list[Direction]:
        index = folder / "directions.json"
        if not index.exists():
            return []
        try:
            doc = json.loads(read_nofollow(index, MAX_FILE))
            vectors = np.load(
                io.BytesIO(read_nofollow(folder / doc["vectors"], MAX_FILE)), allow_pickle=False
            )
            entries = doc["directions"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"the directions of {info.name} in {folder} are damaged ({exc})") from None
        if vectors.ndim != 2 or len(vectors) != len(entries):
            raise StorageError(f"the directions of {info.name} in {folder} are damaged (vector count)")
        return [_from_meta(m, v, info) for m, v in zip(entries, vectors, strict=True)]

    def list(self, info: ModelInfo) -> list[Direction]:
        folder = self._folder(info)
        if not folder.exists():
            return []
        with file_lock(folder / ".lock", self._lock):
            return self._read(folder, info)

    def get(self, info: ModelInfo, name: str) -> Direction:
        """Raises NameNotFound for an unknown direction."""
        for d in self.list(info):
            if d.name == name:
                return d
        raise NameNotFound(f"unknown direction {name!r} for {info.name}: find or import it first")

    # ------------------------------------------------------------------ writing

    def _write(self, folder: Path, info: ModelInfo, directions: list[Direction]) -> None:
        if len(directions) > MAX_DIRECTIONS:
            raise InvalidRequest(f"at most {MAX_DIRECTIONS} directions per model")
        old = None
        index = folder / "directions.json"
        if index.exists():
            try:
                old = json.loads(index.read_text()).get("vectors")
            except (OSError, ValueError):
                old = None
        name = f"vectors-{uuid.uuid4().hex[:12]}.npy"
        buf = io.BytesIO()
        np.save(buf, np.stack([d.vector for d in directions]) if directions else np.zeros((0, dim_of(info))))
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "model": {"name": info.name, "sha256": info.details.get("sha256")},
            "vectors": name,
            "directions": [_meta(d) for d in directions],
        }
        try:
            write_atomic(folder / name, buf.getvalue())
            write_atomic(index, json.dumps(doc, indent=1).encode())
        except OSError as exc:
            remove_quietly(folder / name)
            raise storage_error(f"cannot save the directions of {info.name}", exc) from None
        if old and old != name and os.path.basename(old) == old:
            remove_quietly(folder / old)
        self._sweep(folder, keep=name)

    @staticmethod
    def _sweep(folder: Path, keep: str) -> None:
        """Remove what a write killed in the middle left behind: unnamed vectors files and temporaries.

        Called with the folder's lock held, so no other writer (thread or process) is mid-write.
        """
        for path in folder.iterdir():
            stray = path.name.startswith("vectors-") and path.name.endswith(".npy") and path.name != keep
            if stray or (path.name.startswith(".") and path.name.endswith(".tmp")):
                remove_quietly(path)

    def put(self, info: ModelInfo, directions: list[Direction], replace: bool = True) -> None:
        """Add directions; one with a name already there replaces it (or, replace=False, raises NameTaken)."""
        for d in directions:
            check_name(d.name)
            if d.space != space_of(info) or d.dim != dim_of(info):
                raise InvalidRequest(f"direction {d.name!r} does not fit {info.name}")
        folder = self._folder(info)
        folder.mkdir(parents=True, exist_ok=True)
        with file_lock(folder / ".lock", self._lock):
            current = self._read(folder, info)
            names = {d.name for d in directions}
            if not replace:
                taken = sorted(names & {d.name for d in current})
                if taken:
                    raise NameTaken(f"directions {', '.join(taken)} exist already for {info.name}")
            kept = [d for d in current if d.name not in names]
            self._write(folder, info, kept + list(directions))

    def delete(self, info: ModelInfo, name: str) -> None:
        folder = self._folder(info)
        with file_lock(folder / ".lock", self._lock):
            current = self._read(folder, info)
            if not any(d.name == name for d in current):
                raise NameNotFound(f"unknown direction {name!r} for {info.name}")
            self._write(folder, info, [d for d in current if d.name != name])

    # ------------------------------------------------------------------ files to share

    def export_bytes(self, info: ModelInfo, names: list[str] | None = None) -> bytes:
        ds = self.list(info)
        if names:
            missing = sorted(set(names) - {d.name for d in ds})
            if missing:
                raise NameNotFound(f"unknown direction(s) {', '.join(missing)} for {info.name}")
            ds = [d for d in ds if d.name in names]
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "model": {"name": info.name, "sha256": info.details.get("sha256")},
            "directions": [_meta(d) for d in ds],
        }
        buf = io.BytesIO()
        vectors = np.stack([d.vector for d in ds]) if ds else np.zeros((0, dim_of(info)))
        np.savez(buf, vectors=vectors, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        return buf.getvalue()

    def import_bytes(self, info: ModelInfo, data: bytes, replace: bool = False) -> list[str]:
        """Add the directions of an exported file; returns their names.

        Raises:
            InvalidRequest: not an exported directions file, or vectors that do not fit this model.
            NameTaken: a name exists already and replace is False.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                vectors = np.asarray(npz["vectors"], dtype=np.float64)
                meta = json.loads(bytes(npz["meta"]).decode())
            entries = meta["directions"]
            if meta.get("format") != FORMAT or not isinstance(entries, list):
                raise ValueError("not a directions file")
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, EOFError) as exc:
            raise InvalidRequest(f"this is not a latentwalk directions file ({exc})") from None
        if vectors.ndim != 2 or len(vectors) != len(entries):
            raise InvalidRequest("the directions file is damaged: vectors and entries do not match")
        ds = [_from_meta(m, v, info) for m, v in zip(entries, vectors, strict=True)]
        self.put(info, ds, replace=replace)
        return [d.name for d in ds]
