"""Import of animations saved by the Marrow GAN Explorer: `source.npy`, `dest.npy` and `info.json`.

A Marrow animation folder (`animations/<name>/`) holds two z vectors, float64 of shape (1, 512), and
an `info.json` with the name, the snapshot and the number of steps. It becomes an animation with two
keyframes, one segment of that many steps (24 when unsaid) and linear interpolation, as Marrow drew
it. The vectors are stored as float32, like every keyframe latent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from latentwalk.animation.files import load_npy
from latentwalk.animation.schema import (
    MAX_STEPS,
    NAME_MAX,
    Animation,
    Keyframe,
    ModelIdentity,
    check_latents,
    check_name,
)
from latentwalk.animation.store import AnimationStore
from latentwalk.errors import InvalidRequest

DEFAULT_STEPS = 24
_FILE_LIMIT = 16 << 20
_UNSAFE = re.compile(r"[/\\\x00-\x1f<>:\"|?*]+")


def is_marrow_folder(folder: Path) -> bool:
    """Whether `folder` is one Marrow animation (it holds source.npy and dest.npy)."""
    return (folder / "source.npy").is_file() and (folder / "dest.npy").is_file()


def marrow_folders(folder: Path) -> list[Path]:
    """The Marrow animations in `folder`: itself, else its subfolders, else those of `animations/`."""
    if is_marrow_folder(folder):
        return [folder]
    for parent in (folder, folder / "animations"):
        if parent.is_dir():
            found = sorted(p for p in parent.iterdir() if p.is_dir() and is_marrow_folder(p))
            if found:
                return found
    return []


def read_marrow_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(source, dest, info) as Marrow saved them; info is {} when info.json is missing.

    Raises:
        InvalidRequest: a file is missing, unreadable, pickled, or not JSON.
    """
    source, dest = (_load_npy(folder / f"{which}.npy") for which in ("source", "dest"))
    info_path = folder / "info.json"
    if not info_path.exists():
        return source, dest, {}
    try:
        info = json.loads(_read(info_path))
    except ValueError as exc:
        raise InvalidRequest(f"{info_path} is not valid JSON ({exc})") from None
    if not isinstance(info, dict):
        raise InvalidRequest(f"{info_path} should hold a JSON object with name, snapshot and steps")
    return source, dest, info


def marrow_animation(
    source: Any,
    dest: Any,
    info: Mapping[str, Any],
    z_dim: int,
    model: ModelIdentity,
    name: str | None = None,
) -> tuple[Animation, np.ndarray]:
    """The animation and its latents [2, z_dim] for Marrow's two z vectors (arrays or nested lists).

    Args:
        source, dest: z vectors of shape (1, N) or (N,).
        info: Marrow's info.json (name, snapshot, steps); missing keys take defaults.
        z_dim: the chosen model's z_dim; it must equal N.
        model: the chosen model's identity, saved with the animation.
        name: the animation's name; default: info's name, else "Marrow import" (characters that
            cannot be in a name become '-').

    Raises:
        InvalidRequest: z_dim differs, vectors malformed or not finite, steps out of range.
    """
    label = _name(name if name is not None else info.get("name"))
    src, dst = _vector(source, "source", label), _vector(dest, "dest", label)
    if src.size != dst.size:
        raise InvalidRequest(
            f"the Marrow animation {label!r} cannot be imported: source has {src.size} values and "
            f"dest {dst.size}; both should be z vectors of one model"
        )
    if src.size != z_dim:
        raise InvalidRequest(
            f"the Marrow animation {label!r} cannot be imported: these latents have {src.size} values; "
            f"the current model needs z_dim {z_dim}: choose a model with z_dim {src.size}"
        )
    try:
        latents = check_latents(np.stack([src, dst]), 2, z_dim)
    except InvalidRequest as exc:
        raise InvalidRequest(f"the Marrow animation {label!r} cannot be imported: {exc}") from None
    snapshot = info.get("snapshot")
    note = f" (Marrow, snapshot {snapshot})" if snapshot not in (None, "") else " (Marrow)"
    anim = Animation(
        name=label,
        model=model,
        keyframes=[Keyframe(label=f"source{note}"[:200]), Keyframe(label=f"dest{note}"[:200])],
        steps=[_steps(info.get("steps"), label)],
        interpolation="linear",
        space="z",
    )
    return anim, latents


def import_marrow(
    source: Any,
    dest: Any,
    info: Mapping[str, Any],
    z_dim: int,
    model: ModelIdentity,
    store: AnimationStore,
    name: str | None = None,
) -> str:
    """Save Marrow's vectors (already read, e.g. from the web API's JSON) as a new animation.

    Returns:
        The saved name: "NAME (2)" and so on when the name is taken (never overwritten).
    """
    anim, latents = marrow_animation(source, dest, info, z_dim, model, name)
    return store.save(anim, latents, None, on_clash="rename")


def import_marrow_folder(folder: Path, z_dim: int, model: ModelIdentity, store: AnimationStore) -> list[str]:
    """Import one Marrow animation folder, or every one in a folder of them.

    All are read and checked before the first is saved: a z_dim mismatch imports nothing.

    Returns:
        The saved names, in folder order.

    Raises:
        InvalidRequest: no Marrow animation there, or one that cannot be imported (the message says why).
    """
    folder = Path(folder)
    found = marrow_folders(folder)
    if not found:
        raise InvalidRequest(
            f"no Marrow animation in {folder}: expected a folder holding source.npy and dest.npy "
            "(Marrow's animations/<name>/), or a folder of such folders"
        )
    ready = []
    for path in found:
        source, dest, info = read_marrow_folder(path)
        ready.append(marrow_animation(source, dest, info, z_dim, model, info.get("name") or path.name))
    return [store.save(anim, latents, None, on_clash="rename") for anim, latents in ready]


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(_FILE_LIMIT + 1)
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > _FILE_LIMIT:
        raise InvalidRequest(f"{path} is larger than {_FILE_LIMIT >> 20} MiB: not a Marrow z vector")
    return data


def _load_npy(path: Path) -> np.ndarray:
    try:
        return load_npy(_read(path))
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidRequest(f"{path} is not a plain numeric .npy array ({exc})") from None


def _name(raw: Any) -> str:
    text = str(raw) if raw not in (None, "") else "Marrow import"
    text = _UNSAFE.sub("-", text).strip().lstrip(".").strip()[:NAME_MAX].strip() or "Marrow import"
    return check_name(text)


def _vector(value: Any, which: str, label: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError:
        arr = np.asarray([])
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "fiu":
        raise InvalidRequest(
            f"the Marrow animation {label!r} cannot be imported: {which} should be one z vector of "
            f"numbers, shape (1, N); got {arr.dtype} of shape {arr.shape}"
        )
    return arr.astype(np.float64)


def _steps(value: Any, label: str) -> int:
    if value is None:
        return DEFAULT_STEPS
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    steps = int(number) if number.is_integer() and not isinstance(value, bool) else -1
    if not 2 <= steps <= MAX_STEPS:
        raise InvalidRequest(
            f"the Marrow animation {label!r} cannot be imported: info.json says steps={value!r}; "
            f"expected a whole number from 2 to {MAX_STEPS}"
        )
    return steps
