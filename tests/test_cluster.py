"""Render farm on a local Ray (two CPUs): sharded renders equal single-process ones, a killed actor
is replaced, an interrupted job resumes from its shards, and without --cluster Ray stays unloaded."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import TESTSERVER
from latentwalk.animation.frames import FramePlan, plan, render_frames
from latentwalk.animation.schema import AnimationSettings
from latentwalk.catalog import ModelRef
from latentwalk.cli import main
from latentwalk.cluster.shards import ShardStore, job_key, shard_folder, split
from latentwalk.errors import ClusterUnavailable, ExportCancelled, InvalidRequest
from latentwalk.export import ExportOptions, _resized, export_frames
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker
from nvpickle_writer import build_stylegan2, dumps_network_pickle

PROC = ModelRef(name="procedural", zoo="procedural")


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Single-process references and actors both render with one torch thread (torch's CPU results
    may differ in the last bit between thread counts; one thread is also the fast case on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def farm(ray_local: Any, tmp_path: Path) -> Iterator[Any]:
    from latentwalk.cluster.job import Cluster

    with Cluster("auto", workers=2, cache_dir=tmp_path / "cache") as cluster:
        yield cluster


def _walk(worker: InferenceWorker, ref: ModelRef, z_dim: int, steps: int, space: str = "z") -> FramePlan:
    settings = AnimationSettings(keyframes=[{"seed": 1}, {"seed": 2}, {"seed": 3}], steps=[steps, steps])
    settings = settings.model_copy(update={"space": space})
    return plan(worker, ref, settings, seeds_to_z([1, 2, 3], z_dim).astype(np.float32))


@pytest.fixture(scope="module")
def sg2(tmp_path_factory: pytest.TempPathFactory) -> ModelRef:
    """A tiny StyleGAN2 (16 px) written as an NVIDIA network pickle: fast on two CPUs."""
    tree, _ = build_stylegan2(seed=4)
    path = tmp_path_factory.mktemp("models") / "sg2.pkl"
    path.write_bytes(dumps_network_pickle(tree))
    return ModelRef(name="sg2", path=path)


def _hashes(worker: InferenceWorker, p: FramePlan, options: ExportOptions) -> list[str]:
    return [
        hashlib.sha256(np.ascontiguousarray(_resized(f, options.size, options.upscale)).tobytes()).hexdigest()
        for _, f in render_frames(worker, p)
    ]


def _png_hashes(folder: Path) -> list[str]:
    """sha256 of each frame of a PNG sequence: PNG is lossless, so these are the frames as rendered."""
    out = []
    for png in sorted(folder.iterdir()):
        with Image.open(png) as img:
            out.append(hashlib.sha256(np.ascontiguousarray(np.asarray(img)).tobytes()).hexdigest())
    return out


def _same_pngs(a: Path, b: Path) -> int:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return len(names)


def test_shards_split_and_a_foreign_folder_is_wiped(tmp_path: Path) -> None:
    shards = split(10, 4)
    assert [(s.start, s.end) for s in shards] == [(0, 4), (4, 8), (8, 10)]
    with pytest.raises(InvalidRequest, match="shard size"):
        split(10, 0)
    root = shard_folder(tmp_path / "walk.mp4")
    assert root.name == ".walk.mp4.shards"
    key = job_key("pixels", {"size": None}, shards)
    store = ShardStore(root, key, shards)
    store.put(shards[0], {"frame_00001.png": b"x"}, {"sha256": []})
    (root / ".tmp-shard_000004-000008-1").mkdir()  # a shard half-written when a run was killed
    again = ShardStore(root, key, shards)
    assert [s.index for s in again.todo()] == [1, 2] and not list(root.glob(".tmp-*"))
    other = ShardStore(root, job_key("other pixels", {"size": None}, shards), shards)
    assert len(other.todo()) == 3 and not (root / shards[0].name).exists()


def test_procedural_png_is_byte_identical_to_a_single_render(
    farm: Any, worker: InferenceWorker, tmp_path: Path
) -> None:
    p = _walk(worker, PROC, 512, 10)
    options = ExportOptions(fmt="png", size=64)
    single = export_frames(worker, p, tmp_path / "single", options)
    seen: list[tuple[int, int]] = []
    result = farm.render(
        p, tmp_path / "farm", options, shard_frames=6, progress=lambda d, t: seen.append((d, t))
    )
    assert result.path == tmp_path / "farm" and result.shards == 4 and result.rendered == 4
    assert _same_pngs(single, result.path) == 20
    assert result.frame_hashes == _hashes(worker, p, options)
    assert seen[0] == (0, 20) and seen[-1] == (20, 20) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert json.loads((tmp_path / "farm.json").read_text())["frames"] == 20
    assert not shard_folder(result.path).exists()  # shards go once the output is whole


def test_stylegan_png_and_mp4_match_the_single_render(
    farm: Any, sg2: ModelRef, worker: InferenceWorker, tmp_path: Path
) -> None:
    p = _walk(worker, sg2, 8, 9, space="w")
    png = ExportOptions(fmt="png")
    single = export_frames(worker, p, tmp_path / "single", png)
    assert _same_pngs(single, farm.render(p, tmp_path / "farm", png, shard_frames=5).path) == 18

    mp4 = ExportOptions(fmt="mp4", fps=24)
    seen: list[int] = []
    result = farm.render(p, tmp_path / "farm", mp4, shard_frames=9, progress=lambda d, _t: seen.append(d))
    assert any(d % 9 for d in seen)  # actors report frames within a shard (every 4), not only whole shards
    assert seen == sorted(seen) and seen[-1] == 18
    assert result.actors_started == 0  # the pool of this model is kept between jobs
    assert result.frame_hashes == _hashes(worker, p, mp4)  # frame-identical before encoding
    expected = [f for _, f in render_frames(worker, p)]
    with av.open(str(result.path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 24
    assert len(frames) == 18
    errors = [[np.abs(f.astype(int) - w.astype(int)).mean() for w in expected] for f in frames]
    assert [int(np.argmin(row)) for row in errors] == list(range(18))  # in order, none lost or doubled


def test_mov_shards_join_without_reencoding(
    farm: Any, sg2: ModelRef, worker: InferenceWorker, tmp_path: Path
) -> None:
    p = _walk(worker, sg2, 8, 4)
    result = farm.render(p, tmp_path / "farm", ExportOptions(fmt="mov", size=32), shard_frames=3)
    with av.open(str(result.path)) as c:
        assert c.streams.video[0].codec_context.name == "prores"
        assert sum(1 for _ in c.decode(video=0)) == 8
    gif = farm.render(p, tmp_path / "farm", ExportOptions(fmt="gif", size=32), shard_frames=3)
    single = export_frames(worker, p, tmp_path / "single", ExportOptions(fmt="gif", size=32))
    assert gif.path.read_bytes() == single.read_bytes()  # a final pass over lossless shards


def test_a_killed_actor_is_replaced_and_the_job_completes(
    farm: Any, ray_local: Any, sg2: ModelRef, worker: InferenceWorker, tmp_path: Path
) -> None:
    p = _walk(worker, sg2, 8, 10)
    options = ExportOptions(fmt="png", size=32)
    killed: list[Any] = []

    def kill_one(_shard: Any, busy: list[Any]) -> None:
        if not killed and busy:
            killed.append(busy[0])
            ray_local.kill(busy[0])  # mid-shard: its shard is lost and must be rendered again

    farm.on_shard = kill_one
    result = farm.render(p, tmp_path / "farm", options, shard_frames=4)
    assert killed and result.retries >= 1 and result.actors_started == 3
    assert result.rendered == result.shards == 5
    single = export_frames(worker, p, tmp_path / "single", options)
    assert _same_pngs(single, result.path) == 20


def test_an_interrupted_job_resumes_from_its_shards(
    farm: Any, sg2: ModelRef, worker: InferenceWorker, tmp_path: Path
) -> None:
    p = _walk(worker, sg2, 8, 10)
    options = ExportOptions(fmt="mp4", size=32)
    cancel = threading.Event()
    finished: list[int] = []

    def stop_after_two(shard: Any, _busy: list[Any]) -> None:
        finished.append(shard.index)
        if len(finished) == 2:
            cancel.set()

    farm.on_shard = stop_after_two
    with pytest.raises(ExportCancelled):
        farm.render(p, tmp_path / "farm", options, shard_frames=4, cancel=cancel)
    root = shard_folder(tmp_path / "farm.mp4")
    on_disk = sorted(d.name for d in root.iterdir() if (d / "meta.json").is_file())
    assert len(on_disk) >= 2 and not (tmp_path / "farm.mp4").exists()

    farm.on_shard = None
    result = farm.render(p, tmp_path / "farm", options, shard_frames=4)
    assert result.reused == len(on_disk) and result.rendered == 5 - len(on_disk)
    assert result.frame_hashes == _hashes(worker, p, options)
    with av.open(str(result.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 20

    # shards of another animation under the same name are never reused
    with pytest.raises(ExportCancelled):
        farm.render(p, tmp_path / "again", options, shard_frames=4, cancel=_set_after_first(farm))
    farm.on_shard = None
    other = _walk(worker, sg2, 8, 9)
    result = farm.render(other, tmp_path / "again", options, shard_frames=4)
    assert result.reused == 0 and result.rendered == 5


def _set_after_first(farm: Any) -> threading.Event:
    cancel = threading.Event()
    farm.on_shard = lambda *_: cancel.set()
    return cancel


def test_cli_batch_file_renders_each_line_on_the_cluster(
    ray_local: Any, sg2: ModelRef, tmp_path: Path
) -> None:
    batch = tmp_path / "renders.txt"
    batch.write_text(
        "# two walks of two models, one line each\n"
        "--network procedural --seeds 1,2 --steps 5 --format png --size 32 --out one\n"
        "\n"
        f"--network '{sg2.path}' --seeds 3,4 --steps 4 --format mp4 --size 32 --out 'two walk'\n"
    )
    args = ["--cache-dir", str(tmp_path / "cache"), "render", "--batch", str(batch), "--cluster", "auto"]
    res = CliRunner().invoke(main, [*args, "--shard-frames", "2", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "(3 shards: 3 rendered on the cluster" in res.output
    assert "(2 shards: 2 rendered on the cluster" in res.output
    assert len(list((tmp_path / "one").iterdir())) == 5
    with av.open(str(tmp_path / "two walk.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 4

    batch.write_text("--network procedural --seeds 1,2 --cluster auto\n")
    res = CliRunner().invoke(main, ["render", "--batch", str(batch)])
    assert res.exit_code == 1 and "line 1: --cluster belongs on the command line" in res.output
    batch.write_text("--network procedural --seeds 1,2 --format nope\n")
    res = CliRunner().invoke(main, ["render", "--batch", str(batch)])
    assert res.exit_code == 1 and "line 1:" in res.output and "nope" in res.output


def test_a_pool_that_cannot_be_placed_fails_with_a_clear_message(
    ray_local: Any, worker: InferenceWorker, tmp_path: Path
) -> None:
    from latentwalk.cluster.job import Cluster

    p = _walk(worker, PROC, 512, 2)
    with Cluster("auto", workers=3, cache_dir=tmp_path / "cache") as big:
        big._shape = lambda: (3, "cpu", 2.0, 0.0)  # type: ignore[method-assign]  # 6 CPUs of 2
        big.start_timeout = 2.0
        with pytest.raises(ClusterUnavailable, match="did not start within 2 s"):
            big.render(p, tmp_path / "walk", ExportOptions(fmt="png"))
    assert not list(tmp_path.glob("*walk*"))  # neither output nor an empty shard folder


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from latentwalk.cluster.connection import connect

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as when it is not installed
    with pytest.raises(ClusterUnavailable, match=r"pip install 'latentwalk\[cluster\]'"):
        connect("auto")
    args = ["render", "--network", "procedural", "--seeds", "1,2", "--steps", "2", "--cluster", "auto"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "latentwalk[cluster]" in res.output
    assert not list(tmp_path.glob("procedural-walk*"))


def test_a_render_without_cluster_never_imports_ray(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from latentwalk.cli import main\n"
        "try:\n"
        "    main(['render', '--network', 'procedural', '--seeds', '1,2', '--steps', '2', '--format',"
        " 'png', '--size', '16', '--out', 'walk'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok") and len(list((tmp_path / "walk").iterdir())) == 2


def test_explorer_exports_run_on_the_cluster_with_the_whole_jobs_progress(
    ray_local: Any, sg2: ModelRef, worker: InferenceWorker, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from latentwalk.config import Settings
    from latentwalk.server.app import create_app

    settings = Settings(
        models_dirs=(tmp_path / "models",),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
        cluster="auto",
    )
    body = {
        "name": "farm",
        "format": "png",
        "settings": {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [7]},
        "latents": seeds_to_z([1, 2], 8).tolist(),
    }
    with TestClient(create_app(settings, worker, sg2)) as client:
        job = client.post("/api/exports", json=body).json()
        assert job["cluster"] is True and job["total"] == 7
        seen = []
        for _ in range(600):
            status = client.get(f"/api/exports/{job['id']}").json()
            seen.append(status["done"])
            if status["state"] != "running":
                break
            time.sleep(0.05)
        assert status["state"] == "done" and status["done"] == status["total"] == 7, status
        assert seen == sorted(seen)
        data = client.get(status["download"]).content
    p = plan(worker, sg2, AnimationSettings.model_validate(body["settings"]), seeds_to_z([1, 2], 8))
    single = export_frames(worker, p, tmp_path / "single", ExportOptions(fmt="png"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == [f"farm/{f.name}" for f in sorted(single.iterdir())]
        for f in single.iterdir():
            assert zf.read(f"farm/{f.name}") == f.read_bytes()


def test_direction_fit_samples_render_and_score_on_the_cluster(
    farm: Any, sg2: ModelRef, worker: InferenceWorker, tmp_path: Path
) -> None:
    from latentwalk.cluster import samples as farm_samples
    from latentwalk.directions.axes import feature_scorer, fit_axes

    names = ("brightness", "contrast")
    local = fit_axes(worker, sg2, feature_scorer(names), samples=300, seed=3)
    spec, data = farm_samples.scorer_for(names)
    seen: list[int] = []
    remote = fit_axes(
        worker,
        sg2,
        feature_scorer(names),
        samples=300,
        seed=3,
        progress=lambda d, _t: seen.append(d),
        score_samples=farm_samples.scores_on_cluster(farm, sg2, spec, data),
    )
    assert [d.name for d in remote] == list(names)
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a.vector, b.vector)
        assert a.stats == b.stats
    assert seen[-1] == 301 and 128 in seen  # chunks of 128 samples, then the fit

    farm.close()  # the CLI starts its own actors; these would hold the two CPUs
    args = ["--cache-dir", str(tmp_path / "cache"), "--data-dir", str(tmp_path / "data"), "directions"]
    fit = [
        "fit",
        "--network",
        str(sg2.path),
        "--feature",
        "brightness",
        "--samples",
        "40",
        "--cluster",
        "auto",
    ]
    res = CliRunner().invoke(main, [*args, *fit])
    assert res.exit_code == 0, res.output
    assert "brightness" in CliRunner().invoke(main, [*args, "list", "--network", str(sg2.path)]).output
