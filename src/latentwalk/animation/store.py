"""The animation library on disk: one folder per animation, atomic locked writes, no silent overwrite.

Layout of the library folder (`data_dir / "animations"`)::

    F/animation.json     the `Animation` (schema-versioned JSON); written last
    F/latents.npy        keyframe latents, float32 [keyframes, z_dim]
    F/thumb.jpg          thumbnail (optional)
    .lock                lock file: every store, in any thread or process, takes it (fcntl.flock)
    .new~F .old~F .del~F folders of a write in progress, or left by a crash (repaired, see below)

F is the animation's name itself when every common file system takes it as is, else a shortened
name plus a hash of it (`folder_name`). Names go through `check_name` and are NFC-normalised.

Atomic writes. Every write first builds the complete new folder as `.new~F` (each file fsynced,
animation.json last), under the lock, then:

- save (a new name): one rename `.new~F -> F`; F appears complete or not at all.
- overwrite: rename `F -> .old~F`, rename `.new~F -> F`, remove `.old~F`. At every instant the
  folder named F is the complete old version or the complete new one; between the two renames it
  is briefly absent (never partial). Readers through a store take the same lock, so none sees the
  gap. After a crash in the gap, the next store to take the lock finishes the overwrite: `.old~F`
  exists only once `.new~F` is complete, so `.new~F` is renamed in. A `.new~F` without `.old~F` is
  an unfinished write: it is removed and F keeps the old version.
- rename and duplicate write the new folder first and remove the old one after: a crash between
  leaves both, never neither.
- delete renames F to `.del~F`, then removes it.

A failed write (disk full, no permission) removes its `.new~F`, leaves F as it was, and raises
`StorageError`. Symbolic links in the library are never followed: a linked folder is not listed
and not loaded, and files are opened with O_NOFOLLOW.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError

from latentwalk.animation.files import (
    file_lock,
    fsync_dir,
    load_npy,
    read_nofollow,
    remove_path,
    remove_quietly,
    storage_error,
    write_synced,
)
from latentwalk.animation.schema import (
    NAME_MAX,
    SCHEMA_VERSION,
    Animation,
    ModelIdentity,
    check_latents,
    check_name,
)
from latentwalk.errors import CorruptAnimation, InvalidRequest, NameNotFound, NameTaken, StorageError

log = logging.getLogger(__name__)

OnClash = Literal["refuse", "rename"]

_JSON_LIMIT = 16 << 20
_LATENTS_LIMIT = 256 << 20
_THUMB_LIMIT = 4 << 20
_FOLDER_BYTES = 150  # a name longer than this in UTF-8 gets a hashed folder (file systems allow 255)
_HASHED = re.compile(r"~[0-9a-f]{16}$")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
_TRANSIENT = (".new~", ".old~", ".del~")


# ---------------------------------------------------------------------------- names and folders


def library_name(name: str) -> str:
    """A checked name (`check_name`), NFC-normalised so that one name is one folder on every system.

    Raises:
        InvalidRequest: the name is empty, too long, or could escape its folder.
    """
    return check_name(unicodedata.normalize("NFC", check_name(name)))


def folder_name(name: str) -> str:
    """The folder of a checked name: the name itself, or a prefix plus a hash where file systems balk.

    Hashed: names over 150 bytes in UTF-8, ending in a dot or space, Windows device names (CON,
    NUL, ...), and names that already end like a hashed folder (`~` and 16 hex digits).
    """
    raw = name.encode("utf-8")
    stem = name.split(".")[0].strip().upper()
    if (
        len(raw) <= _FOLDER_BYTES
        and not name.endswith((".", " "))
        and stem not in _WINDOWS_RESERVED
        and not _HASHED.search(name)
    ):
        return name
    prefix = raw[:100].decode("utf-8", "ignore").rstrip(". ")
    return f"{prefix}~{hashlib.sha256(raw).hexdigest()[:16]}"


def _name_of(folder: str, stored: str) -> str | None:
    """The name an animation folder stands for: its JSON's name, or (a folder renamed or copied by
    hand) the folder's own name when that is a valid name; None when neither fits."""
    if folder_name(stored) == folder:
        return stored
    try:
        name = library_name(folder)
    except InvalidRequest:
        return None
    return name if folder_name(name) == folder else None


def _numbered(base: str, suffix: str) -> str:
    return base[: NAME_MAX - len(suffix)].rstrip() + suffix


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _short(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc}: {first['msg']}{more}"


def _npy_bytes(latents: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, latents, allow_pickle=False)
    return buf.getvalue()


# ---------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class AnimationEntry:
    """One line of the library's list."""

    name: str
    model: ModelIdentity
    frames: int
    fps: float
    created: datetime
    updated: datetime
    has_thumb: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        return {
            "name": self.name,
            "model": self.model.model_dump(),
            "frames": self.frames,
            "fps": self.fps,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "has_thumb": self.has_thumb,
        }


class AnimationStore:
    """The saved animations under `root` (data_dir / "animations"); safe to share between threads.

    Nothing touches the disk before the first call; the folder is made by the first write.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._thread_lock = threading.Lock()

    # ------------------------------------------------------------ reading

    def list(self) -> builtins.list[AnimationEntry]:
        """Every readable animation, newest first. Damaged folders and symbolic links are skipped
        (each logged with its reason); this never fails because of one animation."""
        if not self.root.is_dir():
            return []
        entries = []
        with self._locked():
            try:
                children = sorted(os.scandir(self.root), key=lambda e: e.name)
            except OSError as exc:
                raise storage_error(f"cannot read the library folder {self.root}", exc) from None
            for child in children:
                if child.name.startswith("."):
                    continue
                path = Path(child.path)
                if child.is_symlink():
                    log.warning("skipping %s: a symbolic link (links are never followed)", path)
                    continue
                if not child.is_dir(follow_symlinks=False):
                    continue
                try:
                    anim = self._read_animation(path, child.name)
                except StorageError as exc:
                    log.warning("skipping %s: %s", path, exc)
                    continue
                name = _name_of(child.name, anim.name)
                if name is None:
                    log.warning("skipping %s: it holds the animation %r, saved elsewhere", path, anim.name)
                    continue
                entries.append(self._entry(path, anim, name))
        entries.sort(key=lambda e: e.name)
        entries.sort(key=lambda e: e.updated, reverse=True)
        return entries

    def entry(self, name: str) -> AnimationEntry:
        """The list entry of one animation.

        Raises:
            NameNotFound, CorruptAnimation, InvalidRequest (a bad name).
        """
        name = library_name(name)
        with self._locked():
            folder = self._folder(name)
            return self._entry(folder, self._read_animation(folder, name), name)

    def load(self, name: str) -> tuple[Animation, np.ndarray]:
        """The animation and its keyframe latents, float32 [keyframes, z_dim].

        Raises:
            NameNotFound: no animation of that name.
            CorruptAnimation: damaged JSON, a newer schema_version, latents of the wrong shape or
                not finite; the message names the animation and what to do.
            InvalidRequest: the name itself is invalid.
        """
        name = library_name(name)
        with self._locked():
            folder = self._folder(name)
            anim = self._read_animation(folder, name)
            latents = self._read_latents(folder, name, len(anim.keyframes))
        if anim.name != name:
            anim = anim.model_copy(update={"name": name})
        return anim, latents

    def thumb_path(self, name: str) -> Path | None:
        """The thumbnail file, or None when there is none (or it is a symbolic link)."""
        path = self.root / folder_name(library_name(name)) / "thumb.jpg"
        if path.parent.is_symlink() or path.is_symlink() or not path.is_file():
            return None
        return path

    # ------------------------------------------------------------ writing

    def save(
        self,
        animation: Animation,
        latents: np.ndarray,
        thumbnail: bytes | None = None,
        on_clash: OnClash = "refuse",
    ) -> str:
        """Save under the animation's name; `updated` is set to now.

        Args:
            animation: settings, model identity and name.
            latents: keyframe latents [len(animation.keyframes), z_dim], finite.
            thumbnail: JPEG bytes, or None for no thumbnail.
            on_clash: "refuse" (raise NameTaken) or "rename" (save as "NAME (2)", "NAME (3)", ...).

        Returns:
            The name it was saved under.

        Raises:
            NameTaken, InvalidRequest (latents, thumbnail, on_clash), StorageError (nothing written).
        """
        if on_clash not in ("refuse", "rename"):
            raise InvalidRequest(f"on_clash must be 'refuse' or 'rename', not {on_clash!r}")
        name = library_name(animation.name)
        data = _npy_bytes(_checked_latents(latents, animation))
        _check_thumbnail(thumbnail)
        with self._locked():
            if self._taken(name):
                if on_clash == "refuse":
                    raise NameTaken(
                        f"an animation named {name!r} already exists: choose another name "
                        "(or save with on_clash 'rename')"
                    )
                name = self._free_name(lambda n: _numbered(name, f" ({n})"), 2)
            anim = animation.model_copy(update={"name": name, "updated": datetime.now(UTC)})
            self._write_new(name, anim, data, thumbnail, f"could not save {name!r}")
        return name

    def overwrite(
        self, name: str, animation: Animation, latents: np.ndarray, thumbnail: bytes | None = None
    ) -> str:
        """Replace an existing animation (its name and `created` time are kept; `updated` is now).

        The thumbnail is replaced too: None leaves the animation without one. A damaged animation
        can be overwritten (that repairs it). See the module docstring for why this is atomic.

        Raises:
            NameNotFound, InvalidRequest, StorageError (the old version is intact).
        """
        name = library_name(name)
        data = _npy_bytes(_checked_latents(latents, animation))
        _check_thumbnail(thumbnail)
        with self._locked():
            final = self._folder(name)
            now = datetime.now(UTC)
            try:
                created = self._read_animation(final, name).created
            except CorruptAnimation:
                created = now
            anim = animation.model_copy(update={"name": name, "created": created, "updated": now})
            what = f"could not save {name!r}"
            tmp = self._build(final.name, anim, data, thumbnail, what)
            away = self.root / f".old~{final.name}"
            try:
                remove_quietly(away)
                os.rename(final, away)
            except OSError as exc:
                remove_quietly(tmp)
                raise storage_error(what, exc) from None
            try:
                os.rename(tmp, final)
            except OSError as exc:
                with contextlib.suppress(OSError):  # else the next lock restores it (no .new~ left)
                    os.rename(away, final)
                remove_quietly(tmp)
                raise storage_error(what, exc) from None
            remove_quietly(away)
            fsync_dir(self.root)
        return name

    def rename(self, old: str, new: str) -> str:
        """Give an animation a new name (times kept). Returns the new name.

        Raises:
            NameNotFound (old), NameTaken (new), CorruptAnimation, InvalidRequest, StorageError.
        """
        old, new = library_name(old), library_name(new)
        with self._locked():
            src = self._folder(old)
            if new == old:
                return new
            if self._taken(new):
                raise NameTaken(f"an animation named {new!r} already exists: choose another name")
            anim, data, thumb = self._read_all(src, old)
            self._write_new(
                new, anim.model_copy(update={"name": new}), data, thumb, f"could not rename {old!r}"
            )
            self._remove_folder(src, quiet=True)
        return new

    def duplicate(self, name: str, new_name: str | None = None) -> str:
        """Copy an animation, by default as "NAME copy", "NAME copy 2", ... Returns the copy's name.

        Raises:
            NameNotFound, NameTaken (new_name), CorruptAnimation, InvalidRequest, StorageError.
        """
        name = library_name(name)
        target = None if new_name is None else library_name(new_name)
        with self._locked():
            src = self._folder(name)
            if target is None:
                base = re.sub(r" copy( \d+)?$", "", name) or name
                target = self._free_name(lambda n: _numbered(base, " copy" if n == 1 else f" copy {n}"), 1)
            elif self._taken(target):
                raise NameTaken(f"an animation named {target!r} already exists: choose another name")
            anim, data, thumb = self._read_all(src, name)
            now = datetime.now(UTC)
            copy = anim.model_copy(update={"name": target, "created": now, "updated": now})
            self._write_new(target, copy, data, thumb, f"could not duplicate {name!r}")
        return target

    def delete(self, name: str) -> None:
        """Delete an animation (damaged ones too).

        Raises:
            NameNotFound, InvalidRequest, StorageError.
        """
        name = library_name(name)
        with self._locked():
            self._remove_folder(self._folder(name), quiet=False)

    # ------------------------------------------------------------ internals (called with the lock held)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with file_lock(self.root / ".lock", self._thread_lock):
            self._recover()
            yield

    def _recover(self) -> None:
        """Finish or undo writes that a crash interrupted (see the module docstring)."""
        try:
            leftovers = [n for n in os.listdir(self.root) if n.startswith(_TRANSIENT)]
        except OSError:
            return
        for entry in leftovers:
            if not entry.startswith(".old~"):
                continue
            final, new, old = (self.root / entry[5:], self.root / f".new~{entry[5:]}", self.root / entry)
            if os.path.lexists(final):
                continue
            keep = new if new.is_dir() and not new.is_symlink() else old
            try:
                os.rename(keep, final)
                log.warning("restored %s after an interrupted save (%s version)", final, keep.name[:4])
            except OSError as exc:
                log.error("could not restore %s from %s: %s", final, keep, exc.strerror)
        for entry in leftovers:
            remove_quietly(self.root / entry)

    def _folder(self, name: str) -> Path:
        path = self.root / folder_name(name)
        if path.is_symlink():
            raise CorruptAnimation(
                f"the animation folder {path} is a symbolic link; latentwalk never follows links "
                "in its library: replace it by the folder itself"
            )
        if not path.is_dir():
            raise NameNotFound(f"no saved animation named {name!r}")
        if path.resolve().parent != self.root.resolve():
            raise CorruptAnimation(f"the animation folder {path} lies outside the library {self.root}")
        return path

    def _taken(self, name: str) -> bool:
        return os.path.lexists(self.root / folder_name(name))

    def _free_name(self, candidate: Callable[[int], str], start: int) -> str:
        for n in range(start, start + 10_000):
            name = library_name(candidate(n))
            if not self._taken(name):
                return name
        raise NameTaken("no free name left for this animation: choose another name")

    def _read(self, path: Path, limit: int, name: str) -> bytes:
        try:
            return read_nofollow(path, limit)
        except FileNotFoundError:
            raise CorruptAnimation(
                f"the animation {name!r} is damaged: {path.name} is missing from {path.parent}; "
                "delete it or restore the folder from a backup"
            ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorruptAnimation(
                    f"the animation {name!r} is damaged: {path} is a symbolic link, which latentwalk "
                    "never follows; replace it by the file itself"
                ) from None
            if exc.errno == errno.EFBIG:
                raise CorruptAnimation(
                    f"the animation {name!r} is damaged: {path.name} is {exc.strerror}, far more than an "
                    "animation holds"
                ) from None
            raise StorageError(f"cannot read the animation {name!r}: {exc.strerror} ({path})") from None

    def _read_animation(self, folder: Path, name: str) -> Animation:
        raw = self._read(folder / "animation.json", _JSON_LIMIT, name)
        where = f"{folder / 'animation.json'}"
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CorruptAnimation(
                f"the animation {name!r} is damaged: {where} is not valid JSON ({exc}); "
                "delete it or restore it from a backup"
            ) from None
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise CorruptAnimation(
                f"the animation {name!r} was saved by a newer latentwalk (schema_version {version}; "
                f"this one reads {SCHEMA_VERSION}): upgrade latentwalk to open it"
            )
        if version != SCHEMA_VERSION:
            raise CorruptAnimation(
                f"the animation {name!r} is damaged: {where} has schema_version {version!r}, "
                f"expected {SCHEMA_VERSION}"
            )
        try:
            return Animation.model_validate(data)
        except ValidationError as exc:
            raise CorruptAnimation(
                f"the animation {name!r} is damaged: {where} does not fit the animation schema: {_short(exc)}"
            ) from None

    def _read_latents(self, folder: Path, name: str, keyframes: int) -> np.ndarray:
        raw = self._read(folder / "latents.npy", _LATENTS_LIMIT, name)
        try:
            arr = load_npy(raw)
        except (ValueError, OSError, EOFError) as exc:
            raise CorruptAnimation(
                f"the animation {name!r} is damaged: latents.npy is not a plain .npy array ({exc})"
            ) from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f" or arr.ndim != 2 or arr.shape[1] < 1:
            shape = getattr(arr, "shape", None)
            raise CorruptAnimation(
                f"the animation {name!r} is damaged: latents.npy holds {getattr(arr, 'dtype', '?')} "
                f"of shape {shape}; expected float32 [{keyframes}, z_dim]"
            )
        try:
            return check_latents(arr, keyframes, arr.shape[1])
        except InvalidRequest as exc:
            raise CorruptAnimation(f"the animation {name!r} is damaged: {exc}") from None

    def _read_all(self, folder: Path, name: str) -> tuple[Animation, bytes, bytes | None]:
        anim = self._read_animation(folder, name)
        data = _npy_bytes(self._read_latents(folder, name, len(anim.keyframes)))
        thumb = folder / "thumb.jpg"
        if not thumb.is_file() or thumb.is_symlink():
            return anim, data, None
        return anim, data, self._read(thumb, _THUMB_LIMIT, name)

    def _entry(self, folder: Path, anim: Animation, name: str) -> AnimationEntry:
        thumb = folder / "thumb.jpg"
        return AnimationEntry(
            name=name,
            model=anim.model,
            frames=anim.frame_count,
            fps=anim.fps,
            created=_aware(anim.created),
            updated=_aware(anim.updated),
            has_thumb=thumb.is_file() and not thumb.is_symlink(),
        )

    def _build(self, folder: str, anim: Animation, data: bytes, thumbnail: bytes | None, what: str) -> Path:
        """The complete new folder as `.new~F`, every file fsynced, animation.json last."""
        tmp = self.root / f".new~{folder}"
        try:
            if os.path.lexists(tmp):
                remove_path(tmp)
            tmp.mkdir()
            write_synced(tmp / "latents.npy", data)
            if thumbnail is not None:
                write_synced(tmp / "thumb.jpg", thumbnail)
            write_synced(tmp / "animation.json", anim.model_dump_json(indent=2).encode("utf-8"))
            fsync_dir(tmp)
        except OSError as exc:
            remove_quietly(tmp)
            raise storage_error(what, exc) from None
        return tmp

    def _write_new(self, name: str, anim: Animation, data: bytes, thumbnail: bytes | None, what: str) -> None:
        folder = folder_name(name)
        tmp = self._build(folder, anim, data, thumbnail, what)
        try:
            os.rename(tmp, self.root / folder)
        except OSError as exc:
            remove_quietly(tmp)
            raise storage_error(what, exc) from None
        fsync_dir(self.root)

    def _remove_folder(self, folder: Path, quiet: bool) -> None:
        away = self.root / f".del~{folder.name}"
        try:
            remove_quietly(away)
            os.rename(folder, away)
        except OSError as exc:
            if not quiet:
                raise storage_error(f"could not delete {folder.name!r}", exc) from None
            log.warning("could not remove the old folder %s (%s)", folder, exc.strerror)
            return
        remove_quietly(away)
        fsync_dir(self.root)


def _checked_latents(latents: np.ndarray, animation: Animation) -> np.ndarray:
    arr = np.asarray(latents)
    if arr.ndim != 2 or arr.shape[1] < 1 or arr.dtype.kind not in "fiu":
        raise InvalidRequest(
            f"keyframe latents must be numbers of shape [{len(animation.keyframes)}, z_dim]; "
            f"got {arr.dtype} of shape {tuple(arr.shape)}"
        )
    return check_latents(arr, len(animation.keyframes), arr.shape[1])


def _check_thumbnail(thumbnail: bytes | None) -> None:
    if thumbnail is None:
        return
    if not isinstance(thumbnail, bytes | bytearray) or not thumbnail.startswith(b"\xff\xd8\xff"):
        raise InvalidRequest("the thumbnail must be JPEG bytes")
    if len(thumbnail) > _THUMB_LIMIT:
        raise InvalidRequest(f"the thumbnail is {len(thumbnail)} bytes; at most {_THUMB_LIMIT} are allowed")
