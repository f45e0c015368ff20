"""Export: decode what was written and compare with the engine's frames; bad input leaves nothing."""

from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from latentwalk.animation.frames import FramePlan, plan, render_frames
from latentwalk.animation.schema import Animation, AnimationSettings, ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.cli import main
from latentwalk.errors import ExportCancelled, ExportError, InvalidRequest
from latentwalk.export import ExportOptions, export_frames
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker

PROC = ModelRef(name="procedural", zoo="procedural")


@pytest.fixture
def small_plan(worker: InferenceWorker) -> FramePlan:
    settings = AnimationSettings(keyframes=[{"seed": 1}, {"seed": 2}], steps=[10])
    return plan(worker, PROC, settings, seeds_to_z([1, 2], 512).astype(np.float32))


def _engine_frames(worker: InferenceWorker, p: FramePlan) -> np.ndarray:
    return np.stack([f for _, f in render_frames(worker, p)])


def _decode(path: Path) -> tuple[list[np.ndarray], av.video.stream.VideoStream]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return frames, stream


def test_png_sequence_is_lossless_and_named_for_animators(
    worker: InferenceWorker, small_plan: FramePlan, tmp_path: Path
) -> None:
    out = export_frames(worker, small_plan, tmp_path / "walk", ExportOptions(fmt="png"))
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(1, 11)]
    expected = _engine_frames(worker, small_plan)
    for i, name in enumerate(names):
        with Image.open(out / name) as img:
            np.testing.assert_array_equal(np.asarray(img), expected[i])
    side = json.loads((tmp_path / "walk.json").read_text())
    assert side["frames"] == 10 and side["model"]["sha256"] == "procedural-v1" and len(side["latents"]) == 2


@pytest.mark.parametrize(
    ("fmt", "codec", "pix_fmt"), [("mp4", "h264", "yuv420p"), ("mov", "prores", "yuv422p10le")]
)
def test_video_formats_decode_with_the_right_frames(
    worker: InferenceWorker, small_plan: FramePlan, tmp_path: Path, fmt: str, codec: str, pix_fmt: str
) -> None:
    out = export_frames(worker, small_plan, tmp_path / "walk", ExportOptions(fmt=fmt, fps=24))  # type: ignore[arg-type]
    assert out.suffix == f".{fmt}"
    frames, stream = _decode(out)
    assert stream.codec_context.name == codec and stream.codec_context.pix_fmt == pix_fmt
    assert float(stream.average_rate) == 24 and len(frames) == 10
    expected = _engine_frames(worker, small_plan)
    for got, want in zip(frames, expected, strict=True):
        assert got.shape == want.shape
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 4  # the codec's loss only
    order = [int(np.argmin([np.abs(f.astype(int) - w.astype(int)).mean() for w in expected])) for f in frames]
    assert order == list(range(10))


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_animated_images(worker: InferenceWorker, small_plan: FramePlan, tmp_path: Path, fmt: str) -> None:
    out = export_frames(worker, small_plan, tmp_path / "walk", ExportOptions(fmt=fmt, fps=10))  # type: ignore[arg-type]
    with Image.open(out) as img:
        assert img.n_frames == 10 and img.size == (256, 256)
        img.seek(1)
        img.load()
        assert img.info.get("duration") == 100


def test_upscaling_with_a_chosen_filter(
    worker: InferenceWorker, small_plan: FramePlan, tmp_path: Path
) -> None:
    out = export_frames(
        worker, small_plan, tmp_path / "big", ExportOptions(fmt="png", size=512, upscale="nearest")
    )
    expected = _engine_frames(worker, small_plan)[3]
    with Image.open(out / "frame_00004.png") as img:
        np.testing.assert_array_equal(np.asarray(img), expected.repeat(2, axis=0).repeat(2, axis=1))


def test_bad_options_and_failures_leave_nothing(
    worker: InferenceWorker, small_plan: FramePlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidRequest, match="4096"):
        export_frames(worker, small_plan, tmp_path / "x", ExportOptions(size=5000))
    with pytest.raises(InvalidRequest, match="even size"):
        export_frames(worker, small_plan, tmp_path / "x", ExportOptions(size=301))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # root can write anywhere; a file in the way still stops it
    with pytest.raises(ExportError, match="cannot create the folder"):
        export_frames(worker, small_plan, blocker / "x", ExportOptions())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled):
        export_frames(worker, small_plan, tmp_path / "c", ExportOptions(), cancel=cancel)

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(ExportError, match="disk is full"):
        export_frames(worker, small_plan, tmp_path / "f", ExportOptions(fmt="png"))
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"], "a partial export was left behind"


def test_cli_render_saved_animation_and_quick_walk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = AnimationSettings(
        keyframes=[{"seed": 3}, {"seed": 4}], steps=[6], view_filter={"kind": "none"}
    )
    anim = Animation(
        name="saved walk",
        model=ModelIdentity(name="procedural", sha256="procedural-v1"),
        **settings.model_dump(),
    )
    AnimationStore(data / "animations").save(anim, seeds_to_z([3, 4], 512).astype(np.float32))
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "--data-dir",
            str(data),
            "render",
            "saved walk",
            "--format",
            "png",
            "--shadows",
            "--out",
            str(tmp_path / "out"),
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "out").iterdir())) == 6
    with Image.open(tmp_path / "out" / "frame_00001.png") as img:
        px = np.asarray(img)
    assert (px[..., 0] == px[..., 1]).all()  # shadows: grey
    r = runner.invoke(
        main,
        [
            "render",
            "--network",
            "procedural",
            "--seeds",
            "1,5,9",
            "--steps",
            "4",
            "--loop",
            "--format",
            "gif",
            "--out",
            str(tmp_path / "loop.gif"),
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "loop.gif") as img:
        assert img.n_frames == 12
    r = runner.invoke(main, ["render", "nothing-saved"])
    assert r.exit_code == 1 and "error:" in r.output
