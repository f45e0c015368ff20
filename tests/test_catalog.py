"""Models folders: runs grouped into snapshots by kimg, names resolved, errors list what exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentwalk.catalog import resolve, scan
from latentwalk.errors import ModelNotFound


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_snapshots_of_a_run_are_grouped_and_ordered_by_kimg(tmp_path: Path) -> None:
    run = tmp_path / "models" / "00003-stylegan2-faces-gpus1"
    for kimg in ("001000", "000240", "000480"):
        _touch(run / f"network-snapshot-{kimg}.pkl")
    _touch(tmp_path / "models" / "painting.pkl")
    _touch(tmp_path / "models" / "notes.txt")
    found = {m.name: m for m in scan([tmp_path / "models"])}
    assert {"dcgan-faces", "procedural", "00003-stylegan2-faces-gpus1", "painting"} <= set(found)
    assert "notes" not in found
    snaps = found["00003-stylegan2-faces-gpus1"].snapshots
    assert [s.kimg for s in snaps] == [240, 480, 1000]


def test_resolve_prefers_existing_file_then_zoo_then_folders(tmp_path: Path) -> None:
    models = tmp_path / "models"
    run = models / "run1"
    _touch(run / "network-snapshot-000100.pkl")
    _touch(run / "network-snapshot-000200.pkl")
    assert resolve("procedural", [models]).zoo == "procedural"
    latest = resolve("run1", [models])
    assert latest.path == run / "network-snapshot-000200.pkl" and latest.snapshot == "000200"
    assert resolve("run1@000100", [models]).path == run / "network-snapshot-000100.pkl"
    assert resolve("run1@100", [models]).path == run / "network-snapshot-000100.pkl"
    f = _touch(tmp_path / "procedural")  # an existing file wins over a built-in name
    assert resolve(str(f), [models]).path == f


def test_unknown_name_lists_what_exists(tmp_path: Path) -> None:
    _touch(tmp_path / "m" / "mine.pt")
    with pytest.raises(ModelNotFound, match=r"no model named 'nope'.*dcgan-faces.*procedural.*mine"):
        resolve("nope", [tmp_path / "m"])
    with pytest.raises(ModelNotFound, match="no file at /x/y.pkl"):
        resolve("/x/y.pkl", [tmp_path / "m"])
    _touch(tmp_path / "m" / "r" / "network-snapshot-000010.pkl")
    with pytest.raises(ModelNotFound, match="has no snapshot '999'.*000010"):
        resolve("r@999", [tmp_path / "m"])


def test_missing_folder_is_skipped(tmp_path: Path) -> None:
    names = [m.name for m in scan([tmp_path / "does-not-exist"])]
    assert names == ["dcgan-faces", "procedural"]
