"""File primitives of the library: fsynced and atomic writes, lock files, reads that never follow links."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import math
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from latentwalk.errors import StorageError

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def storage_error(what: str, exc: OSError) -> StorageError:
    """A StorageError that says what failed, why, and what to do."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "the disk is full: free some space and try again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "no permission to write there: check the folder's permissions or choose another --data-dir"
    else:
        hint = exc.strerror or str(exc)
    return StorageError(f"{what}: {hint}{where}; nothing was changed")


def write_synced(path: Path, data: bytes) -> None:
    """Create a new file `path` and flush it to the disk (fsync) before anything renames it into place."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_nofollow(path: Path, limit: int) -> bytes:
    """Read a file without following a symbolic link (OSError ELOOP on one); at most `limit` bytes."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit >> 20} MiB", str(path))
    return data


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk where the system allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every system syncs directories (Windows); the data files are synced already
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` by `data` in one step: a temporary file beside it, fsynced, then os.replace."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def file_lock(lock_file: Path, thread_lock: threading.Lock) -> Iterator[None]:
    """Hold `thread_lock` and an exclusive OS lock on `lock_file` (other threads, stores, processes).

    flock locks belong to an open file, so two stores in one process exclude each other too.
    Windows has no flock: there only the thread lock applies.

    Raises:
        StorageError: the lock file cannot be created.
    """
    with thread_lock:
        try:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as exc:
            raise storage_error(f"cannot use the folder {lock_file.parent}", exc) from None
        try:
            if sys.platform != "win32":
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def remove_path(path: Path) -> None:
    """Remove a file, a link (never what it points to) or a folder tree."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


def remove_quietly(path: Path) -> None:
    """remove_path, logging instead of raising: for leftovers cleaned up again later."""
    try:
        if os.path.lexists(path):
            remove_path(path)
    except OSError as exc:
        log.warning("could not remove %s (%s); it is cleaned up later", path, exc.strerror)


def load_npy(raw: bytes) -> Any:
    """A plain .npy array from bytes, refusing one whose header claims more data than the bytes hold
    (numpy would first allocate what the header says: a 100-byte file could ask for terabytes).

    Raises:
        ValueError: not a plain .npy array, or its header does not match its size.
    """
    import numpy as np

    buf = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buf)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise ValueError(f"not a plain .npy array ({exc})") from None
    need = math.prod(shape) * dtype.itemsize
    have = len(raw) - buf.tell()
    if dtype.hasobject or need > have:
        raise ValueError(f"the header claims {shape} {dtype} ({need} bytes) but the file holds {have} bytes")
    return np.load(io.BytesIO(raw), allow_pickle=False)
