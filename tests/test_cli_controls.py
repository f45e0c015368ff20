"""`latentwalk generate --cutoff/--space` and `latentwalk mix` on a tiny StyleGAN2 pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from latentwalk.catalog import ModelRef
from latentwalk.cli import main
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.styles import mix
from nvpickle_writer import build_stylegan2, dumps_network_pickle


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def sg2_file(tmp_path: Path) -> Path:
    tree, _ = build_stylegan2(seed=4)
    path = tmp_path / "sg2.pkl"
    path.write_bytes(dumps_network_pickle(tree))
    return path


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_generate_cutoff_and_z_space(sg2_file: Path, tmp_path: Path, worker: InferenceWorker) -> None:
    ref = ModelRef(name="sg2", path=sg2_file)
    z = seeds_to_z([3], 8)
    net = ["--network", str(sg2_file)]
    code, out = run(["generate", *net, "--seeds", "3", "--trunc", "0.5", "--cutoff", "2",
                     "--outdir", str(tmp_path / "cut")])  # fmt: skip
    assert code == 0, out
    want = worker.render(RenderRequest(ref, z, psi=0.5, cutoff=2))[0]
    np.testing.assert_array_equal(_png(tmp_path / "cut" / "seed0003.png"), want)
    code, out = run(["generate", "--network", str(sg2_file), "--seeds", "3", "--trunc", "0.5", "--space", "z",
                     "--outdir", str(tmp_path / "z")])  # fmt: skip
    assert code == 0, out
    want = worker.render(RenderRequest(ref, z * 0.5))[0]
    np.testing.assert_array_equal(_png(tmp_path / "z" / "seed0003.png"), want)
    code, out = run(["generate", "--network", str(sg2_file), "--seeds", "3", "--space", "z", "--cutoff", "2",
                     "--outdir", str(tmp_path / "bad")])  # fmt: skip
    assert code == 1 and "--cutoff counts ws" in out
    code, out = run(["generate", "--network", "procedural", "--seeds", "3", "--space", "w",
                     "--outdir", str(tmp_path / "proc")])  # fmt: skip
    assert code == 1 and "no mapping network" in out


def test_mix_writes_the_grid_and_its_cells(sg2_file: Path, tmp_path: Path, worker: InferenceWorker) -> None:
    out_dir = tmp_path / "mix"
    code, out = run(["mix", "--network", str(sg2_file), "--rows", "1,2", "--cols", "3", "--styles", "0-2",
                     "--out", str(out_dir)])  # fmt: skip
    assert code == 0, out
    assert sorted(p.name for p in out_dir.iterdir()) == ["1-3.png", "2-3.png", "grid.png"]
    ref = ModelRef(name="sg2", path=sg2_file)
    ws = {s: worker.map(ref, seeds_to_z([s], 8))[0] for s in (1, 2, 3)}
    cell = _png(out_dir / "2-3.png")
    np.testing.assert_array_equal(
        cell, worker.render(RenderRequest(ref, ws=mix(ws[2], ws[3], [0, 1, 2])[None]))[0]
    )
    grid = _png(out_dir / "grid.png")
    assert grid.shape == (3 * 16, 2 * 16, 3)
    np.testing.assert_array_equal(grid[32:48, 16:32], cell)  # row 2, column 3
    np.testing.assert_array_equal(grid[0:16, 16:32], worker.render(RenderRequest(ref, ws=ws[3][None]))[0])
    assert not grid[0:16, 0:16].any()  # the corner stays empty


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--network", "procedural", "--rows", "1", "--cols", "2"], "no mapping network"),
        (["--rows", "1", "--cols", "2", "--styles", "0-9"], "outside the model: it has layers 0..5"),
        (["--rows", "1", "--cols", "2", "--styles", "top"], "cannot read the layers"),
        (["--rows", "1", "--cols", "2", "--trunc", "5"], "out of range"),
    ],
)
def test_mix_bad_input(sg2_file: Path, tmp_path: Path, args: list[str], message: str) -> None:
    network = [] if "--network" in args else ["--network", str(sg2_file)]
    code, out = run(["mix", *network, *args, "--out", str(tmp_path / "o")])
    assert code == 1 and message in out, out
