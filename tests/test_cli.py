"""The command line as a user meets it: outputs, names, and one-line errors with exit status 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import write_tiny_dcgan
from latentwalk.catalog import ModelRef
from latentwalk.cli import main
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_generate_writes_nvidia_named_pngs_equal_to_the_engine(tmp_path: Path) -> None:
    code, out = run(
        [
            "generate",
            "--network",
            "procedural",
            "--seeds",
            "0-2,5",
            "--trunc",
            "0.7",
            "--outdir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, out
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["seed0000.png", "seed0001.png", "seed0002.png", "seed0005.png"]
    with Image.open(tmp_path / "out" / "seed0005.png") as img:
        assert img.mode == "RGB" and img.size == (256, 256)
        pixels = np.asarray(img)
    with InferenceWorker(tmp_path / "c", device="cpu") as w:
        ref = w.render(RenderRequest(ModelRef("procedural", zoo="procedural"), seeds_to_z([5], 512), psi=0.7))
    np.testing.assert_array_equal(pixels, ref[0])


def test_generate_from_a_file_and_noise_note(tmp_path: Path) -> None:
    path = write_tiny_dcgan(tmp_path / "tiny.pt")
    code, out = run(
        [
            "generate",
            "--network",
            str(path),
            "--seeds",
            "1",
            "--noise-mode",
            "random",
            "--outdir",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    assert "no noise inputs" in out
    with Image.open(tmp_path / "o" / "seed0001.png") as img:
        assert img.size == (16, 16)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--network", "procedural", "--seeds", "1-x"], "cannot read seeds"),
        (["--network", "procedural", "--seeds", "1", "--trunc", "-1"], "truncation psi -1.0 is out of range"),
        (["--network", "procedural", "--seeds", "1", "--trunc", "1e9"], "out of range"),
        (["--network", "procedural", "--seeds", "1", "--class", "2"], "unconditional"),
        (["--network", "procedural", "--seeds", "1", "--trunc-cutoff", "2"], "no w space"),
        (["--network", "no-such-model", "--seeds", "1"], "Available models: dcgan-faces, procedural"),
        (["--network", "/nowhere/x.pkl", "--seeds", "1"], "no file at /nowhere/x.pkl"),
    ],
)
def test_bad_input_gives_one_line_and_status_1(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["generate", *args, "--outdir", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1


def test_broken_files_in_a_real_process(tmp_path: Path) -> None:
    """A truncated pickle: status 1, one line, no traceback; with --debug the traceback shows."""
    bad = tmp_path / "network-snapshot-000001.pkl"
    bad.write_bytes(b"\x80\x04\x95" + b"\x00" * 10)
    cmd = [
        sys.executable,
        "-m",
        "latentwalk",
        "generate",
        "--network",
        str(bad),
        "--seeds",
        "0",
        "--outdir",
        str(tmp_path / "o"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "error: network-snapshot-000001.pkl" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([*cmd[:3], "--debug", *cmd[3:]], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_info_and_models(tmp_path: Path) -> None:
    code, out = run(["info", "procedural"])
    assert code == 0
    assert "z space: psi scales z toward 0" in out and "256x256" in out and "z_dim" in out
    run_dir = tmp_path / "models" / "myrun"
    write_tiny_dcgan(run_dir / "network-snapshot-000040.pt")
    write_tiny_dcgan(run_dir / "network-snapshot-000020.pt")
    code, out = run(["--models-dir", str(tmp_path / "models"), "models"])
    assert code == 0
    assert "myrun@000020" in out and "myrun@000040" in out
    assert out.index("myrun@000020") < out.index("myrun@000040")
    code, out = run(["--models-dir", str(tmp_path / "models"), "info", "myrun"])
    assert code == 0 and "dcgan" in out and "sha256" in out and "16x16" in out
