"""The directions store: per model, atomic, shareable files; damaged or foreign files refused clearly;
directions saved with an animation come back from the library."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentwalk.animation.schema import Animation, ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.directions.store import DirectionStore, model_key
from latentwalk.directions.vectors import Direction, unit
from latentwalk.errors import InvalidRequest, NameNotFound, NameTaken, StorageError
from latentwalk.render.worker import ModelInfo


def _info(name: str = "m", z_dim: int = 4, sha: str = "abc123") -> ModelInfo:
    return ModelInfo(name, "dcgan", 8, 3, z_dim, 0, None, None, 0, details={"sha256": sha})


def _dir(name: str, dim: int = 4, seed: int = 0) -> Direction:
    v = unit(np.random.default_rng(seed).standard_normal(dim))
    return Direction(name, "feature", "z", v, 0.8, stats={"r2": 0.5})


def test_put_list_replace_delete_and_keys(tmp_path: Path) -> None:
    store = DirectionStore(tmp_path)
    info = _info()
    assert store.list(info) == []
    store.put(info, [_dir("a"), _dir("b", seed=1)])
    store.put(info, [_dir("a", seed=2)])  # replaces a, keeps b
    got = {d.name: d for d in store.list(info)}
    assert set(got) == {"a", "b"} and np.allclose(got["a"].vector, _dir("a", seed=2).vector)
    assert got["b"].std == 0.8 and got["b"].stats == {"r2": 0.5}
    with pytest.raises(NameTaken):
        store.put(info, [_dir("b")], replace=False)
    store.delete(info, "a")
    with pytest.raises(NameNotFound, match="unknown direction 'a'"):
        store.get(info, "a")
    assert [p.name for p in (tmp_path / model_key(info)).glob("vectors-*.npy")] != []
    assert len(list((tmp_path / model_key(info)).glob("vectors-*.npy"))) == 1  # old vector files removed
    assert store.list(_info(sha="other")) == []  # another model (content hash) has its own set


def test_a_write_sweeps_what_a_killed_write_left(tmp_path: Path) -> None:
    store = DirectionStore(tmp_path)
    info = _info()
    store.put(info, [_dir("a")])
    folder = tmp_path / model_key(info)
    (folder / "vectors-0123456789ab.npy").write_bytes(b"half")  # killed after the vectors, before the index
    (folder / ".directions.json.99-1.tmp").write_bytes(b"{")  # killed inside write_atomic
    assert [d.name for d in store.list(info)] == ["a"]  # strays do not disturb reading
    store.put(info, [_dir("b", seed=1)])
    named = json.loads((folder / "directions.json").read_text())["vectors"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([".lock", "directions.json", named])
    assert [d.name for d in store.list(info)] == ["a", "b"]


def test_bad_names_sizes_and_damaged_files(tmp_path: Path) -> None:
    store = DirectionStore(tmp_path)
    info = _info()
    with pytest.raises(InvalidRequest):
        store.put(info, [_dir("../escape")])
    with pytest.raises(InvalidRequest, match="does not fit"):
        store.put(info, [_dir("big", dim=7)])
    store.put(info, [_dir("a")])
    shared = store.export_bytes(info)
    with pytest.raises(InvalidRequest, match="needs z vectors of 6"):
        DirectionStore(tmp_path / "other").import_bytes(_info(z_dim=6, sha="x"), shared)
    index = tmp_path / model_key(info) / "directions.json"
    doc = json.loads(index.read_text())
    doc["vectors"] = "missing.npy"
    index.write_text(json.dumps(doc))
    with pytest.raises(StorageError, match="damaged"):
        store.list(info)


def test_animation_with_directions_round_trips_through_the_library(tmp_path: Path) -> None:
    library = AnimationStore(tmp_path / "animations")
    anim = Animation(
        name="bright walk",
        model=ModelIdentity(name="m"),
        keyframes=[{}, {}],
        steps=[4],
        directions=[{"name": "brightness", "vector": [0.5, 0.5, 0.5, 0.5], "amount": 0.0, "amount_end": 2.0}],
    )
    library.save(anim, np.zeros((2, 4), np.float32))
    loaded, _ = library.load("bright walk")
    assert loaded.directions == anim.directions
    assert loaded.directions[0].amount_end == 2.0
