"""The animation library, bookmarks and Marrow import: round trips, names, clashes, links, crashes."""

from __future__ import annotations

import errno
import io
import json
import os
import threading
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pydantic import ValidationError

import latentwalk.animation.store as store_mod
from conftest import write_tiny_dcgan
from latentwalk.animation.bookmarks import BookmarkStore
from latentwalk.animation.marrow import import_marrow, import_marrow_folder
from latentwalk.animation.schema import Animation, Keyframe, ModelIdentity, ViewFilter
from latentwalk.animation.store import AnimationStore, folder_name
from latentwalk.cli import main
from latentwalk.errors import CorruptAnimation, InvalidRequest, NameNotFound, NameTaken, StorageError

MODEL = ModelIdentity(name="procedural", sha256="procedural-v1")


def anim(name: str = "walk", keyframes: int = 2, steps: int = 24, **settings: object) -> Animation:
    return Animation(
        name=name,
        model=MODEL,
        keyframes=[Keyframe(seed=i) for i in range(keyframes)],
        steps=[steps] * (keyframes - 1),
        **settings,  # type: ignore[arg-type]
    )


def z(keyframes: int = 2, z_dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((keyframes, z_dim)).astype(np.float32)


def jpeg(value: int = 80) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (value, 20, 30)).save(buf, "JPEG")
    return buf.getvalue()


def dot_entries(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.name.startswith(".")}


# ---------------------------------------------------------------------------- round trip, list


def test_round_trip_after_restart_gives_identical_bytes_and_settings(tmp_path: Path) -> None:
    root = tmp_path / "animations"
    original = anim(
        "Dusk walk",
        keyframes=3,
        steps=40,
        interpolation="linear",
        easing="ease-in-out",
        psi=0.7,
        noise_mode="const",
        view_filter=ViewFilter(kind="shadows", softness=0.6),
        fps=24.0,
    )
    latents = z(3, 512, seed=7)
    assert AnimationStore(root).save(original, latents, jpeg()) == "Dusk walk"

    restarted = AnimationStore(root)  # a new process would build a new store
    loaded, loaded_z = restarted.load("Dusk walk")
    assert loaded_z.dtype == np.float32 and loaded_z.tobytes() == latents.tobytes()
    assert loaded.model_dump(exclude={"updated"}) == original.model_dump(exclude={"updated"})
    assert loaded.updated >= original.updated
    on_disk = json.loads((root / "Dusk walk" / "animation.json").read_text())
    assert on_disk["schema_version"] == 1 and on_disk["model"]["sha256"] == "procedural-v1"
    thumb = restarted.thumb_path("Dusk walk")
    assert thumb is not None and thumb.read_bytes() == jpeg()
    entry = restarted.entry("Dusk walk")
    assert (entry.frames, entry.fps, entry.model, entry.has_thumb) == (80, 24.0, MODEL, True)
    assert dot_entries(root) == {".lock"}


def test_list_is_newest_first_and_skips_broken_folders(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = AnimationStore(tmp_path)
    assert store.list() == []
    for name in ("a", "b", "c"):
        store.save(anim(name), z())
    (tmp_path / "broken json").mkdir()
    (tmp_path / "broken json" / "animation.json").write_text("{not json")
    (tmp_path / "future").mkdir()
    (tmp_path / "future" / "animation.json").write_text(
        json.dumps({**json.loads(anim("future").model_dump_json()), "schema_version": 99})
    )
    (tmp_path / "no json").mkdir()
    (tmp_path / "notes.txt").write_text("not an animation")

    names = [e.name for e in store.list()]
    assert names == ["c", "b", "a"]
    assert "broken json" in caplog.text and "newer latentwalk" in caplog.text
    with pytest.raises(CorruptAnimation, match="not valid JSON"):
        store.load("broken json")
    with pytest.raises(CorruptAnimation, match="schema_version 99.*upgrade"):
        store.load("future")
    with pytest.raises(CorruptAnimation, match="animation.json is missing"):
        store.load("no json")

    store.overwrite("a", anim("a", fps=6.0), z(seed=1))
    assert [e.name for e in store.list()] == ["a", "c", "b"]
    assert store.entry("a").fps == 6.0


def test_bad_latents_fail_on_load_of_that_animation_only(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    for name in ("wrong shape", "nan", "pickled", "fine"):
        store.save(anim(name), z())
    np.save(tmp_path / "wrong shape" / "latents.npy", z(3))
    bad = z()
    bad[1, 3] = np.nan
    np.save(tmp_path / "nan" / "latents.npy", bad)
    np.save(tmp_path / "pickled" / "latents.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)

    with pytest.raises(
        CorruptAnimation, match=r"'wrong shape' is damaged.*shape \(3, 8\); expected \(2, 8\)"
    ):
        store.load("wrong shape")
    with pytest.raises(CorruptAnimation, match="'nan' is damaged.*NaN"):
        store.load("nan")
    with pytest.raises(CorruptAnimation, match="'pickled' is damaged"):
        store.load("pickled")
    assert store.load("fine")[1].tobytes() == z().tobytes()
    assert sorted(e.name for e in store.list()) == ["fine", "nan", "pickled", "wrong shape"]


def test_save_checks_latents_and_thumbnail(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    with pytest.raises(InvalidRequest, match="expected \\(2, 8\\)"):
        store.save(anim(), z(3))
    with pytest.raises(InvalidRequest, match="NaN"):
        store.save(anim(), np.full((2, 8), np.nan, np.float32))
    with pytest.raises(InvalidRequest, match="JPEG"):
        store.save(anim(), z(), b"\x89PNG\r\n")
    with pytest.raises(InvalidRequest, match="on_clash"):
        store.save(anim(), z(), on_clash="overwrite")  # type: ignore[arg-type]
    assert store.list() == []


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize("bad", ["..", "a/b", "../x", "a\\b", "a\x00b", "x" * 81, ".hidden", "", "   "])
def test_bad_names_are_refused_everywhere(tmp_path: Path, bad: str) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk"), z())
    with pytest.raises(ValidationError):
        anim(bad)
    for call in (
        lambda: store.load(bad),
        lambda: store.rename("walk", bad),
        lambda: store.duplicate("walk", bad),
        lambda: store.delete(bad),
        lambda: store.thumb_path(bad),
    ):
        with pytest.raises(InvalidRequest):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "walk"]
    assert not (tmp_path.parent / "x").exists()


def test_unicode_and_awkward_names_round_trip(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    names = [
        "Schädel — 夜の散歩 🌙",
        "🌙" * 80,  # 320 bytes in UTF-8: longer than a file name may be, so the folder is hashed
        "CON",
        "ends with a dot.",
        "looks hashed~0123456789abcdef",
        "x" * 80,
    ]
    for i, name in enumerate(names):
        assert store.save(anim(name), z(seed=i)) == name
    folders = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(folders) == len(names)
    assert all(len(p.name.encode()) <= 255 and p.parent == tmp_path for p in folders)
    assert folder_name("🌙" * 80) != "🌙" * 80 and folder_name("CON") != "CON"
    assert folder_name("looks hashed~0123456789abcdef") != "looks hashed~0123456789abcdef"
    assert sorted(e.name for e in store.list()) == sorted(names)
    for i, name in enumerate(names):
        loaded, latents = AnimationStore(tmp_path).load(name)
        assert loaded.name == name and latents.tobytes() == z(seed=i).tobytes()
    decomposed = unicodedata.normalize("NFD", "Café")
    assert store.save(anim(decomposed), z()) == "Café"
    assert store.load(decomposed)[0].name == "Café"
    with pytest.raises(NameTaken):
        store.save(anim("Café"), z())


def test_a_folder_renamed_by_hand_is_listed_under_its_folder_name(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk"), z())
    os.rename(tmp_path / "walk", tmp_path / "stroll")
    assert [e.name for e in store.list()] == ["stroll"]
    assert store.load("stroll")[0].name == "stroll"


# ---------------------------------------------------------------- clashes, rename, duplicate, delete


def test_clash_is_refused_or_renamed_never_overwritten(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk"), z(seed=1))
    with pytest.raises(NameTaken, match="'walk' already exists"):
        store.save(anim("walk"), z(seed=2))
    assert store.load("walk")[1].tobytes() == z(seed=1).tobytes()
    assert store.save(anim("walk"), z(seed=2), on_clash="rename") == "walk (2)"
    assert store.save(anim("walk"), z(seed=3), on_clash="rename") == "walk (3)"
    assert store.load("walk (2)")[0].name == "walk (2)"
    assert store.load("walk (3)")[1].tobytes() == z(seed=3).tobytes()
    assert store.save(anim("x" * 80), z(), on_clash="refuse") == "x" * 80
    assert store.save(anim("x" * 80), z(), on_clash="rename") == "x" * 76 + " (2)"


def test_rename_duplicate_delete(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk"), z(seed=1), jpeg(10))
    store.save(anim("other"), z(seed=2))
    created = store.entry("walk").created

    assert store.rename("walk", "run") == "run"
    with pytest.raises(NameNotFound, match="no saved animation named 'walk'"):
        store.load("walk")
    loaded, latents = store.load("run")
    assert loaded.name == "run" and loaded.created == created and latents.tobytes() == z(seed=1).tobytes()
    assert store.thumb_path("run").read_bytes() == jpeg(10)  # type: ignore[union-attr]
    with pytest.raises(NameTaken):
        store.rename("run", "other")
    with pytest.raises(NameNotFound):
        store.rename("walk", "stroll")

    assert store.duplicate("run") == "run copy"
    assert store.duplicate("run") == "run copy 2"
    assert store.duplicate("run copy") == "run copy 3"
    assert store.duplicate("run", "sprint") == "sprint"
    with pytest.raises(NameTaken):
        store.duplicate("run", "other")
    copy, copy_z = store.load("run copy 2")
    assert copy.name == "run copy 2" and copy_z.tobytes() == z(seed=1).tobytes()
    assert store.thumb_path("sprint").read_bytes() == jpeg(10)  # type: ignore[union-attr]
    assert store.load("run")[1].tobytes() == z(seed=1).tobytes()

    store.delete("run")
    with pytest.raises(NameNotFound):
        store.delete("run")
    assert sorted(e.name for e in store.list()) == ["other", "run copy", "run copy 2", "run copy 3", "sprint"]
    assert dot_entries(tmp_path) == {".lock"}


# ---------------------------------------------------------------------------- links


def test_symlinks_in_the_library_are_never_followed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outside = AnimationStore(tmp_path / "outside")
    outside.save(anim("secret"), z(seed=5))
    (tmp_path / "outside-file.json").write_text(anim("sneaky").model_dump_json())
    root = tmp_path / "library"
    store = AnimationStore(root)
    store.save(anim("mine"), z())
    (root / "secret").symlink_to(tmp_path / "outside" / "secret", target_is_directory=True)
    (root / "sneaky").mkdir()
    np.save(root / "sneaky" / "latents.npy", z())
    (root / "sneaky" / "animation.json").symlink_to(tmp_path / "outside-file.json")

    assert [e.name for e in store.list()] == ["mine"]
    assert f"skipping {root / 'secret'}: a symbolic link" in caplog.text
    with pytest.raises(CorruptAnimation, match="symbolic link"):
        store.load("secret")
    with pytest.raises(CorruptAnimation, match="symbolic link"):
        store.load("sneaky")
    with pytest.raises(CorruptAnimation):
        store.delete("secret")
    with pytest.raises(NameTaken):
        store.save(anim("secret"), z(seed=6))
    assert store.save(anim("secret"), z(seed=6), on_clash="rename") == "secret (2)"
    assert store.thumb_path("secret") is None
    assert outside.load("secret")[1].tobytes() == z(seed=5).tobytes()
    assert sorted(p.name for p in (tmp_path / "outside" / "secret").iterdir()) == [
        "animation.json",
        "latents.npy",
    ]


# ---------------------------------------------------------------------------- concurrency, failures, crashes


def test_concurrent_saves_of_one_name_all_survive(tmp_path: Path) -> None:
    stores = [AnimationStore(tmp_path), AnimationStore(tmp_path)]  # two "tabs" on two store objects
    n = 8
    barrier = threading.Barrier(n)
    saved: dict[int, str] = {}
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            barrier.wait()
            saved[i] = stores[i % 2].save(anim("walk"), z(seed=i), on_clash="rename")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(saved.values()) == sorted(["walk"] + [f"walk ({k})" for k in range(2, n + 1)])
    for i, name in saved.items():
        assert stores[0].load(name)[1].tobytes() == z(seed=i).tobytes()
    assert dot_entries(tmp_path) == {".lock"}


def test_a_failed_overwrite_leaves_the_old_version_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk", fps=12.0), z(seed=1), jpeg(10))
    before = (tmp_path / "walk" / "animation.json").read_bytes()
    real = store_mod.write_synced

    def disk_full_at_json(path: Path, data: bytes) -> None:
        if path.name == "animation.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(store_mod, "write_synced", disk_full_at_json)
    with pytest.raises(StorageError, match="could not save 'walk': the disk is full.*nothing was changed"):
        store.overwrite("walk", anim("walk", fps=30.0), z(seed=2), jpeg(200))
    with pytest.raises(StorageError, match="disk is full"):
        store.save(anim("new one"), z())
    monkeypatch.undo()

    loaded, latents = AnimationStore(tmp_path).load("walk")
    assert loaded.fps == 12.0 and latents.tobytes() == z(seed=1).tobytes()
    assert (tmp_path / "walk" / "animation.json").read_bytes() == before
    assert store.thumb_path("walk").read_bytes() == jpeg(10)  # type: ignore[union-attr]
    assert [e.name for e in store.list()] == ["walk"]
    assert dot_entries(tmp_path) == {".lock"}


def test_a_failed_rename_into_place_puts_the_old_version_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk", fps=12.0), z(seed=1))
    real = os.rename

    def refuse_new(src: str | Path, dst: str | Path) -> None:
        if Path(src).name.startswith(".new~"):
            raise OSError(errno.EACCES, "Permission denied", str(dst))
        real(src, dst)

    monkeypatch.setattr(store_mod.os, "rename", refuse_new)
    with pytest.raises(StorageError, match="no permission to write there"):
        store.overwrite("walk", anim("walk", fps=30.0), z(seed=2))
    monkeypatch.undo()
    loaded, latents = store.load("walk")
    assert loaded.fps == 12.0 and latents.tobytes() == z(seed=1).tobytes()
    assert dot_entries(tmp_path) == {".lock"}


def test_a_crash_between_the_renames_of_an_overwrite_is_finished_on_next_open(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path)
    store.save(anim("walk", fps=12.0), z(seed=1))
    store.save(anim("new", fps=30.0), z(seed=2))
    store.save(anim("kept", fps=12.0), z(seed=3))
    # crash 1: the new version complete as .new~walk, the old one renamed away, nothing under "walk"
    os.rename(tmp_path / "new", tmp_path / ".new~walk")
    os.rename(tmp_path / "walk", tmp_path / ".old~walk")
    # crash 2: an unfinished write beside an intact animation
    (tmp_path / ".new~kept").mkdir()
    (tmp_path / ".new~kept" / "latents.npy").write_bytes(b"half")

    reopened = AnimationStore(tmp_path)
    loaded, latents = reopened.load("walk")
    assert loaded.fps == 30.0 and latents.tobytes() == z(seed=2).tobytes()
    assert reopened.load("kept")[0].fps == 12.0
    assert dot_entries(tmp_path) == {".lock"}


# ---------------------------------------------------------------------------- bookmarks


def test_bookmarks_add_list_delete_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bookmarks.json"
    marks = BookmarkStore(path)
    assert marks.list() == []
    vector = z(1, 512, seed=4)[0]
    b = marks.add("nice face", vector, MODEL)
    assert (b.name, b.z_dim, b.model) == ("nice face", 512, MODEL)
    marks.add("other", vector[None] * 0.5, ModelIdentity(name="dcgan-faces", sha256="ab" * 32))
    with pytest.raises(NameTaken, match="'nice face' already exists"):
        marks.add("nice face", vector, MODEL)
    with pytest.raises(InvalidRequest, match="NaN"):
        marks.add("bad", np.full(8, np.nan), MODEL)
    with pytest.raises(InvalidRequest):
        marks.add("../x", vector, MODEL)

    again = BookmarkStore(path)
    assert [m.name for m in again.list()] == ["nice face", "other"]
    assert again.get("nice face").latent().tobytes() == vector.tobytes()
    assert again.get("other").model.name == "dcgan-faces"
    again.delete("nice face")
    with pytest.raises(NameNotFound):
        again.delete("nice face")
    with pytest.raises(NameNotFound):
        marks.get("nice face")
    assert [m.name for m in marks.list()] == ["other"]
    assert sorted(p.name for p in path.parent.iterdir()) == [".bookmarks.json.lock", "bookmarks.json"]


def test_concurrent_bookmark_adds_all_survive(tmp_path: Path) -> None:
    marks = [BookmarkStore(tmp_path / "bookmarks.json"), BookmarkStore(tmp_path / "bookmarks.json")]
    threads = [
        threading.Thread(target=marks[i % 2].add, args=(f"b{i}", z(1, 8, seed=i)[0], MODEL)) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.name for m in marks[0].list()) == [f"b{i}" for i in range(8)]


def test_damaged_bookmarks_are_set_aside_and_newer_ones_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "bookmarks.json"
    path.write_text("{oops")
    marks = BookmarkStore(path)
    marks.add("fresh", z(1)[0], MODEL)
    aside = list(tmp_path.glob("bookmarks.damaged-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == "{oops"
    assert [m.name for m in marks.list()] == ["fresh"]

    newer = json.dumps({"schema_version": 2, "bookmarks": [], "tags": []})
    path.write_text(newer)
    with pytest.raises(StorageError, match="newer latentwalk"):
        marks.add("x", z(1)[0], MODEL)
    assert path.read_text() == newer


# ---------------------------------------------------------------------------- Marrow import


def write_marrow(folder: Path, seed: int, info: dict[str, object] | None, z_dim: int = 512) -> np.ndarray:
    """A Marrow GAN Explorer animation folder: float64 (1, z_dim) source and dest, info.json."""
    folder.mkdir(parents=True)
    rng = np.random.RandomState(seed)
    source, dest = rng.randn(1, z_dim), rng.randn(1, z_dim)
    np.save(folder / "source.npy", source)
    np.save(folder / "dest.npy", dest)
    if info is not None:
        (folder / "info.json").write_text(json.dumps(info))
    return np.concatenate([source, dest]).astype(np.float32)


def test_marrow_folder_becomes_a_two_keyframe_linear_animation(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path / "library")
    expected = write_marrow(
        tmp_path / "animations" / "Sunrise", 1, {"name": "Sunrise", "snapshot": "network-000240", "steps": 36}
    )
    assert import_marrow_folder(tmp_path / "animations" / "Sunrise", 512, MODEL, store) == ["Sunrise"]
    loaded, latents = store.load("Sunrise")
    assert latents.tobytes() == expected.tobytes()
    assert loaded.steps == [36] and loaded.interpolation == "linear" and loaded.space == "z"
    assert len(loaded.keyframes) == 2 and "network-000240" in (loaded.keyframes[0].label or "")
    assert loaded.model == MODEL
    # imported again: a new name, the first import untouched
    assert import_marrow_folder(tmp_path / "animations" / "Sunrise", 512, MODEL, store) == ["Sunrise (2)"]


def test_marrow_parent_folder_imports_each_and_defaults_steps(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path / "library")
    write_marrow(tmp_path / "marrow" / "animations" / "b-second", 2, {"name": "Second", "steps": "12"})
    no_info = write_marrow(tmp_path / "marrow" / "animations" / "a-first", 3, None)
    (tmp_path / "marrow" / "animations" / "not-an-animation").mkdir()
    names = import_marrow_folder(tmp_path / "marrow", 512, MODEL, store)
    assert names == ["a-first", "Second"]
    loaded, latents = store.load("a-first")
    assert loaded.steps == [24] and latents.tobytes() == no_info.tobytes()
    assert store.load("Second")[0].steps == [12]
    with pytest.raises(InvalidRequest, match="no Marrow animation"):
        import_marrow_folder(tmp_path / "marrow" / "animations" / "not-an-animation", 512, MODEL, store)


def test_marrow_z_dim_mismatch_says_which_model_to_choose(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path / "library")
    write_marrow(tmp_path / "m" / "ok", 1, {"name": "ok"})
    write_marrow(tmp_path / "m" / "Sunrise", 2, {"name": "Sunrise", "steps": 24})
    with pytest.raises(InvalidRequest) as info:
        import_marrow_folder(tmp_path / "m", 100, MODEL, store)
    assert (
        "these latents have 512 values; the current model needs z_dim 100: choose a model with z_dim 512"
        in str(info.value)
    )
    assert store.list() == []  # checked before anything was saved


def test_marrow_from_arrays_and_malformed_input(tmp_path: Path) -> None:
    store = AnimationStore(tmp_path / "library")
    rng = np.random.RandomState(0)
    source, dest = rng.randn(1, 512), rng.randn(1, 512)
    name = import_marrow(
        source.tolist(), dest.tolist(), {"name": "From/the web", "steps": 48}, 512, MODEL, store
    )
    assert name == "From-the web"
    loaded, latents = store.load(name)
    assert loaded.steps == [48]
    assert latents.tobytes() == np.concatenate([source, dest]).astype(np.float32).tobytes()
    with pytest.raises(InvalidRequest, match="steps=0"):
        import_marrow(source, dest, {"steps": 0}, 512, MODEL, store)
    with pytest.raises(InvalidRequest, match="source has 512 values and dest 8"):
        import_marrow(source, dest[:, :8], {}, 512, MODEL, store)
    with pytest.raises(InvalidRequest, match="NaN"):
        import_marrow(np.full((1, 512), np.nan), dest, {}, 512, MODEL, store)
    with pytest.raises(InvalidRequest, match="one z vector"):
        import_marrow([["a", "b"]], dest, {}, 512, MODEL, store)
    pickled = tmp_path / "pickled"
    write_marrow(pickled, 1, {"name": "p"})
    np.save(pickled / "source.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidRequest, match="not a plain numeric"):
        import_marrow_folder(pickled, 512, MODEL, store)
    assert [e.name for e in store.list()] == [name]


def test_cli_import_marrow(tmp_path: Path) -> None:
    expected = write_marrow(tmp_path / "marrow" / "Sunrise", 1, {"name": "Sunrise", "steps": 30})
    data = tmp_path / "data"
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data), "import-marrow", str(tmp_path / "marrow"), "--network", "procedural"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "imported 'Sunrise'" in result.output
    loaded, latents = AnimationStore(data / "animations").load("Sunrise")
    assert loaded.model == ModelIdentity(name="procedural", sha256="procedural-v1")
    assert loaded.steps == [30] and latents.tobytes() == expected.tobytes()

    small = write_tiny_dcgan(tmp_path / "tiny.pt")  # z_dim 8
    result = CliRunner().invoke(
        main, ["--data-dir", str(data), "import-marrow", str(tmp_path / "marrow"), "--network", str(small)]
    )
    assert result.exit_code == 1
    assert "needs z_dim 8: choose a model with z_dim 512" in result.output
    assert [e.name for e in AnimationStore(data / "animations").list()] == ["Sunrise"]
