"""What can be loaded: the built-in zoo plus model files in the models folders, grouped into runs.

Files of one training run (`network-snapshot-000240.pkl`, `network-snapshot-000480.pkl`, ...) are
snapshots of one model, named after their folder and ordered by kimg. Other files are models of
their own, named by their file stem. Names are resolved here, and only here, to a `ModelRef`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from latentwalk.backends import MODEL_SUFFIXES
from latentwalk.errors import ModelNotFound
from latentwalk.zoo import ZOO

_SNAPSHOT = re.compile(r"^(?P<prefix>.*?)[-_]?snapshot[-_](?P<kimg>\d+)$")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: a zoo entry (`zoo` set) or a file (`path` set)."""

    name: str
    zoo: str | None = None
    path: Path | None = None
    snapshot: str | None = None

    def __post_init__(self) -> None:
        assert (self.zoo is None) != (self.path is None)


@dataclass(frozen=True)
class Snapshot:
    label: str  # e.g. "000240" (kimg) or the file name for single files
    kimg: int | None
    path: Path


@dataclass
class CatalogModel:
    name: str
    source: str  # "zoo" or "file"
    description: str = ""
    snapshots: list[Snapshot] = field(default_factory=list)


def scan(models_dirs: tuple[Path, ...] | list[Path]) -> list[CatalogModel]:
    """Every built-in model, then the models found in the folders (first folder wins on a clash)."""
    found: list[CatalogModel] = [
        CatalogModel(name=e.name, source="zoo", description=e.description) for e in ZOO.values()
    ]
    by_name = {m.name: m for m in found}
    for root in models_dirs:
        if not root.is_dir():
            continue
        try:
            files = sorted(
                p
                for p in root.rglob("*")
                if p.suffix.lower() in MODEL_SUFFIXES
                and p.is_file()
                and "translators" not in p.relative_to(root).parts
            )  # translators/ holds image-to-image models (latentwalk.translation), not generators
        except OSError:
            continue  # a vanished or unreadable mount: skip it, keep the rest
        for path in files:
            name, snap = _name_of(path, root)
            model = by_name.get(name)
            if model is None:
                model = CatalogModel(name=name, source="file", description=str(path.parent))
                by_name[name] = model
                found.append(model)
            if model.source != "file" or any(s.path == path for s in model.snapshots):
                continue
            if any(s.label == snap.label for s in model.snapshots):
                continue  # same run in two folders: the first folder wins
            model.snapshots.append(snap)
    for model in found:
        model.snapshots.sort(key=lambda s: (s.kimg is None, s.kimg or 0, s.label))
    return found


def _name_of(path: Path, root: Path) -> tuple[str, Snapshot]:
    m = _SNAPSHOT.match(path.stem)
    if m:
        kimg = int(m.group("kimg"))
        prefix = m.group("prefix")
        if prefix in ("", "network"):
            run = path.parent.name if path.parent != root else root.name
        else:
            run = prefix
        return run, Snapshot(label=m.group("kimg"), kimg=kimg, path=path)
    return path.stem, Snapshot(label=path.name, kimg=None, path=path)


def resolve(spec: str, models_dirs: tuple[Path, ...] | list[Path], allow_paths: bool = True) -> ModelRef:
    """Turn what a user typed into a model: an existing file wins, then a built-in name, then a
    model from the folders (`name` takes its latest snapshot, `name@000240` a given one).
    With `allow_paths=False` (names from the web) only names listed by `scan` are accepted.

    Raises:
        ModelNotFound: nothing matches; the message lists what exists.
    """
    if allow_paths:
        path = Path(spec).expanduser()
        if path.is_file():
            return ModelRef(name=path.stem, path=path)
    if spec in ZOO:
        return ModelRef(name=spec, zoo=spec)
    name, _, wanted = spec.partition("@")
    models = scan(models_dirs)
    for model in models:
        if model.name == name and model.source == "file" and model.snapshots:
            if not wanted:
                snap = model.snapshots[-1]
            else:
                matches = [s for s in model.snapshots if s.label == wanted or (s.kimg == _int(wanted))]
                if not matches:
                    labels = ", ".join(s.label for s in model.snapshots)
                    raise ModelNotFound(f"model {name!r} has no snapshot {wanted!r}; it has: {labels}")
                snap = matches[0]
            return ModelRef(name=model.name, path=snap.path, snapshot=snap.label)
    listing = ", ".join(m.name for m in models)
    looks_like_path = "/" in spec or spec.endswith(MODEL_SUFFIXES)
    hint = f"no file at {spec}" if looks_like_path else f"no model named {spec!r}"
    dirs = ", ".join(str(d) for d in models_dirs)
    raise ModelNotFound(f"{hint}. Available models: {listing} (models folders: {dirs})")


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None
