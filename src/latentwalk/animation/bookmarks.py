"""Bookmarks: named z latents kept in one JSON file (data_dir / "bookmarks.json"), written atomically."""

from __future__ import annotations

import builtins
import json
import logging
import math
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from latentwalk.animation.files import file_lock, read_nofollow, storage_error, write_atomic
from latentwalk.animation.schema import NAME_MAX, ModelIdentity, check_latents
from latentwalk.animation.store import library_name
from latentwalk.errors import InvalidRequest, NameNotFound, NameTaken, StorageError

log = logging.getLogger(__name__)

BOOKMARKS_VERSION = 1
_FILE_LIMIT = 64 << 20


class Bookmark(BaseModel):
    """One named z vector and the model it was found with."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=NAME_MAX)
    model: ModelIdentity
    z_dim: int = Field(ge=1)
    z: list[float]
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        try:
            return library_name(name)
        except InvalidRequest as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _z_fits(self) -> Bookmark:
        if len(self.z) != self.z_dim:
            raise ValueError(f"z has {len(self.z)} values but z_dim is {self.z_dim}")
        if not all(math.isfinite(v) for v in self.z):
            raise ValueError("z contains NaN or infinite values")
        return self

    def latent(self) -> np.ndarray:
        """z as float32 [z_dim] (bit-identical to what was added)."""
        return np.asarray(self.z, dtype=np.float32)


class _BookmarksFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = BOOKMARKS_VERSION
    bookmarks: list[Bookmark] = Field(default_factory=list)


class BookmarkStore:
    """The bookmarks file; safe to share between threads, and between processes (a lock file).

    A file that cannot be parsed is moved aside (`bookmarks.damaged-TIME.json`, logged) so that
    adding a bookmark never writes over it; one from a newer latentwalk is left alone and refused.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_file = self.path.with_name(f".{self.path.name}.lock")
        self._thread_lock = threading.Lock()

    def list(self) -> builtins.list[Bookmark]:
        """Every bookmark, in the order they were added."""
        if not self.path.exists():
            return []
        with file_lock(self._lock_file, self._thread_lock):
            return self._read()

    def get(self, name: str) -> Bookmark:
        """One bookmark. Raises NameNotFound."""
        name = library_name(name)
        for b in self.list():
            if b.name == name:
                return b
        raise NameNotFound(f"no bookmark named {name!r}")

    def add(self, name: str, z: np.ndarray | Sequence[float], model: ModelIdentity) -> Bookmark:
        """Bookmark the z vector `z` ([z_dim] or [1, z_dim], finite) under `name`.

        Raises:
            NameTaken: a bookmark has that name already.
            InvalidRequest: a bad name or z.
            StorageError: the file could not be written (the old one is intact).
        """
        name = library_name(name)
        arr = np.asarray(z)
        if arr.ndim == 2 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 1 or arr.size < 1 or arr.dtype.kind not in "fiu":
            raise InvalidRequest(
                f"a bookmark holds one z vector [z_dim]; got {arr.dtype} of shape {arr.shape}"
            )
        vector = check_latents(arr[None], 1, arr.size)[0]
        bookmark = Bookmark(name=name, model=model, z_dim=vector.size, z=[float(v) for v in vector])
        with file_lock(self._lock_file, self._thread_lock):
            marks = self._read()
            if any(b.name == name for b in marks):
                raise NameTaken(f"a bookmark named {name!r} already exists: choose another name")
            self._write([*marks, bookmark], f"could not add the bookmark {name!r}")
        return bookmark

    def delete(self, name: str) -> None:
        """Remove a bookmark. Raises NameNotFound, StorageError."""
        name = library_name(name)
        with file_lock(self._lock_file, self._thread_lock):
            marks = self._read()
            kept = [b for b in marks if b.name != name]
            if len(kept) == len(marks):
                raise NameNotFound(f"no bookmark named {name!r}")
            self._write(kept, f"could not delete the bookmark {name!r}")

    def _read(self) -> builtins.list[Bookmark]:
        try:
            raw = read_nofollow(self.path, _FILE_LIMIT)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read the bookmarks {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            return self._set_aside(f"not valid JSON ({exc})")
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, int) and version > BOOKMARKS_VERSION:
            raise StorageError(
                f"the bookmarks {self.path} were saved by a newer latentwalk (schema_version {version}; "
                f"this one reads {BOOKMARKS_VERSION}): upgrade latentwalk to use them"
            )
        try:
            return _BookmarksFile.model_validate(data).bookmarks
        except ValidationError as exc:
            return self._set_aside(f"not a bookmarks file ({exc.error_count()} problem(s))")

    def _set_aside(self, why: str) -> builtins.list[Bookmark]:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        aside = self.path.with_name(f"{self.path.stem}.damaged-{stamp}{self.path.suffix}")
        try:
            self.path.rename(aside)
        except OSError as exc:
            raise StorageError(
                f"the bookmarks {self.path} are damaged ({why}) and could not be moved aside "
                f"({exc.strerror}): move the file away by hand"
            ) from None
        log.warning("the bookmarks file %s was damaged (%s); moved it to %s", self.path, why, aside)
        return []

    def _write(self, marks: builtins.list[Bookmark], what: str) -> None:
        text = _BookmarksFile(bookmarks=marks).model_dump_json(indent=1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, text.encode("utf-8"))
        except OSError as exc:
            raise storage_error(what, exc) from None
