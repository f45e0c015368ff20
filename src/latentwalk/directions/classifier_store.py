"""ONNX classifiers uploaded through the explorer, kept in DATA_DIR/classifiers/ (NAME.onnx and a
NAME.json of what was checked): safe names, a size limit, and each file loaded and tried on two
images before it is kept, so a bad file is refused whole and replaces nothing. TorchScript is code:
it is refused here (the CLI's --trust-classifier is the only way in for it)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from latentwalk.animation.files import file_lock, read_nofollow, storage_error, write_atomic, write_synced
from latentwalk.animation.schema import check_name
from latentwalk.directions.classifier import Classifier, load_classifier
from latentwalk.errors import InvalidRequest, NameNotFound, NameTaken, UnsafeModelFile

log = logging.getLogger(__name__)

MAX_BYTES = 256 << 20  # an upload larger than this is refused unread
PROBE_SIZE = 224  # side of the test images for a classifier that takes any size
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SIDECAR_MAX = 1 << 20


def check_classifier_name(name: str) -> str:
    """A classifier's name (a trailing `.onnx` dropped), safe as a file name.

    Raises:
        InvalidRequest: not 1..64 letters, digits, `_`, `.` or `-` starting with a letter or digit.
    """
    stripped = name.strip()
    if stripped.lower().endswith(".onnx"):
        stripped = stripped[:-5]
    if not _NAME.fullmatch(stripped) or ".." in stripped:
        raise InvalidRequest(
            f"a classifier name is 1..64 letters, digits, '_', '.' or '-' starting with a letter or digit, "
            f"not {name[:80]!r}"
        )
    return stripped


def size_text(n: int) -> str:
    """A byte count for messages: MiB from 1 MiB up."""
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


def check_upload(data: bytes, max_bytes: int | None = None) -> None:
    """Refuse at once what cannot be a classifier for the explorer.

    Raises:
        InvalidRequest: empty, or larger than the limit.
        UnsafeModelFile: a TorchScript archive (code).
    """
    limit = MAX_BYTES if max_bytes is None else max_bytes
    if not data:
        raise InvalidRequest("the classifier file is empty: send the bytes of an .onnx file")
    if len(data) > limit:
        raise InvalidRequest(f"a classifier file may be at most {size_text(limit)}")
    if data[:4] == b"PK\x03\x04":
        raise UnsafeModelFile(
            "this is a TorchScript (or other zip) file: TorchScript is code, so the explorer takes ONNX "
            "only; to fit with a TorchScript classifier you trust, use the CLI: latentwalk directions "
            "fit --classifier FILE --trust-classifier"
        )


def probe(classifier: Classifier) -> list[str]:
    """The axis names a classifier gives, from scoring two test images (noise at its input size).

    Raises:
        InvalidRequest: it fails on them, or its scores are of the wrong shape, or an axis name
            cannot name a direction.
    """
    h, w = classifier.size or (PROBE_SIZE, PROBE_SIZE)
    pixels = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    names = list(classifier.scores(pixels))
    for name in names:
        try:
            check_name(name)
        except InvalidRequest as exc:
            raise InvalidRequest(f"the classifier's score {name!r} cannot name a direction: {exc}") from None
    return names


class ClassifierStore:
    """Uploaded ONNX classifiers in one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def list(self) -> list[dict[str, Any]]:
        """What was checked about each classifier (name, bytes, sha256, size, axes), by name."""
        if not self.root.is_dir():
            return []
        out = []
        for sidecar in sorted(self.root.glob("*.json")):
            if sidecar.name.startswith(".") or not (self.root / f"{sidecar.stem}.onnx").is_file():
                continue
            try:
                out.append(json.loads(read_nofollow(sidecar, _SIDECAR_MAX)))
            except (OSError, ValueError) as exc:
                log.warning("skipping the damaged classifier record %s (%s)", sidecar, exc)
        return out

    def path(self, name: str) -> Path:
        """The file of classifier `name`.

        Raises:
            InvalidRequest: a name that cannot be a classifier's.
            NameNotFound: no classifier of that name.
        """
        name = check_classifier_name(name)
        path = self.root / f"{name}.onnx"
        if path.is_symlink() or not path.is_file():
            raise NameNotFound(f"no classifier {name!r}: upload its .onnx file first")
        return path

    def put(
        self, name: str, data: bytes, replace: bool = False, max_bytes: int | None = None
    ) -> dict[str, Any]:
        """Check and keep a classifier (blocking: loads and runs it once).

        Returns:
            Its record: name, bytes, sha256, size, axes (the names of the directions it fits).

        Raises:
            InvalidRequest: bad name, empty or too large, wrong input, unusable scores.
            UnsafeModelFile: TorchScript. CorruptModelFile: not a loadable ONNX file.
            NameTaken: the name is in use and `replace` is false.
            MissingExtra: onnxruntime is not installed.
            StorageError: the folder cannot be written.
        """
        name = check_classifier_name(name)
        check_upload(data, max_bytes)
        final = self.root / f"{name}.onnx"
        if not replace and final.exists():
            raise NameTaken(f"a classifier {name!r} exists: delete it first, or replace it")
        # Checked alone in a fresh folder (nothing beside it for external data to name), under its own
        # name (for the messages), then moved into place: a bad file never touches a kept one.
        staging = self.root / f".upload-{uuid.uuid4().hex[:12]}"
        try:
            staging.mkdir(parents=True)
            write_synced(staging / final.name, data)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise storage_error(f"cannot keep the classifier {name!r}", exc) from None
        try:
            classifier = load_classifier(staging / final.name)
            axes = probe(classifier)
            record = {
                "name": name,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": list(classifier.size) if classifier.size else None,  # [H, W] it takes, or any
                "axes": axes,
                "uploaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            with file_lock(self.root / ".lock", self._lock):
                if not replace and final.exists():
                    raise NameTaken(f"a classifier {name!r} exists: delete it first, or replace it")
                try:
                    os.replace(staging / final.name, final)
                    write_atomic(self.root / f"{name}.json", json.dumps(record, indent=1).encode())
                except OSError as exc:
                    raise storage_error(f"cannot keep the classifier {name!r}", exc) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return record

    def delete(self, name: str) -> None:
        """Raises NameNotFound for an unknown classifier."""
        path = self.path(name)
        with file_lock(self.root / ".lock", self._lock):
            try:
                path.unlink()
                (self.root / f"{path.stem}.json").unlink(missing_ok=True)
            except FileNotFoundError:
                raise NameNotFound(f"no classifier {path.stem!r}") from None
            except OSError as exc:
                raise storage_error(f"cannot delete the classifier {path.stem!r}", exc) from None
