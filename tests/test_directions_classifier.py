"""User classifiers as feature extractors: a tiny ONNX file built here, TorchScript only when trusted,
and clear errors for files that do not load or give scores of the wrong shape."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from classifier_support import onnx_classifier
from conftest import write_tiny_dcgan
from latentwalk.cli import main
from latentwalk.directions.classifier import load_classifier
from latentwalk.errors import CorruptModelFile, InvalidRequest, UnsafeModelFile

onnx = pytest.importorskip("onnx")  # in the `test` extra, so CI has it
pytest.importorskip("onnxruntime")


def _script(module: torch.nn.Module, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module), str(path))


def test_onnx_classifier_scores_name_the_axes(tmp_path: Path) -> None:
    c = load_classifier(onnx_classifier(tmp_path / "colour.onnx"))
    pixels = np.zeros((2, 32, 32, 3), np.uint8)  # resized to the model's 16x16
    pixels[0, ..., 0] = 255
    pixels[1, ..., 2] = 255
    scores = c.scores(pixels)
    assert list(scores) == ["red", "green", "blue"]
    assert np.allclose(scores["red"], [1.0, 0.0], atol=1e-5)
    assert np.allclose(scores["blue"], [0.0, 1.0], atol=1e-5)


def test_classifiers_run_in_batches_and_a_fixed_batch_is_padded(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    want = pixels.astype(np.float64).mean(axis=(1, 2)) / 255.0
    one = load_classifier(onnx_classifier(tmp_path / "one.onnx", batch=1))
    assert one.fixed_batch == 1
    two = load_classifier(onnx_classifier(tmp_path / "two.onnx", batch=2))  # 5 frames: 2 + 2 + 1 padded
    any_ = load_classifier(onnx_classifier(tmp_path / "any.onnx"))
    any_.batch = 2
    for c in (one, two, any_):
        scores = c.scores(pixels)
        np.testing.assert_allclose(
            np.stack([scores[k] for k in ("red", "green", "blue")], 1), want, atol=1e-5
        )
    with pytest.raises(InvalidRequest, match=r"takes image \[N, 1, 16, 16\].*\[N, 3, H, W\]"):
        load_classifier(onnx_classifier(tmp_path / "grey.onnx", "grey"))


def test_classifier_errors(tmp_path: Path) -> None:
    wrong = load_classifier(onnx_classifier(tmp_path / "wrong.onnx", "bad-output"))
    with pytest.raises(InvalidRequest, match=r"shape \(2, 1, 1, 1\).*expected \[N\] or \[N, K\]"):
        wrong.scores(np.zeros((2, 16, 16, 3), np.uint8))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07 this is no graph" * 10)
    with pytest.raises(CorruptModelFile, match="does not load as an ONNX classifier"):
        load_classifier(junk)
    script = tmp_path / "net.pt"
    _script(torch.nn.Flatten(), script)
    with pytest.raises(UnsafeModelFile, match="TorchScript, which is code"):
        load_classifier(script)
    trusted = load_classifier(script, trusted=True)
    with pytest.raises(InvalidRequest, match="expected"):  # [N, 3*H*W] is fine, [N, 3, ...] is not
        _script(torch.nn.Identity(), script)
        load_classifier(script, trusted=True).scores(np.zeros((1, 4, 4, 3), np.uint8))
    assert len(trusted.scores(np.zeros((1, 2, 2, 3), np.uint8))) == 12


def test_cli_fit_with_a_classifier_and_features(tmp_path: Path) -> None:
    net = write_tiny_dcgan(tmp_path / "tiny.pt", seed=2)
    clf = onnx_classifier(tmp_path / "colour.onnx")
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"), "directions"]
    r = runner.invoke(
        main, [*base, "fit", "--network", str(net), "--classifier", str(clf), "--samples", "40"]
    )
    assert r.exit_code == 0, r.output
    assert "saved 3 direction(s)" in r.output and "red" in r.output
    r = runner.invoke(
        main, [*base, "fit", "--network", str(net), "--feature", "brightness,contrast", "--samples", "40"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, [*base, "pca", "--network", str(net), "--samples", "200", "--components", "3"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, [*base, "list", "--network", str(net)])
    assert all(n in r.output for n in ("red", "green", "blue", "brightness", "contrast", "pc0", "pc2"))
    out = tmp_path / "shared.npz"
    r = runner.invoke(main, [*base, "export", "--network", str(net), "--name", "red", str(out)])
    assert r.exit_code == 0 and out.exists(), r.output
    other = ["--data-dir", str(tmp_path / "data2"), "--cache-dir", str(tmp_path / "cache"), "directions"]
    r = runner.invoke(main, [*other, "import", "--network", str(net), str(out)])
    assert r.exit_code == 0 and "imported 1 direction(s): red" in r.output, r.output
    r = runner.invoke(main, [*base, "fit", "--network", str(net), "--feature", "beauty"])
    assert r.exit_code == 1 and "unknown feature 'beauty'" in r.output
    r = runner.invoke(
        main, [*base, "fit", "--network", str(net), "--classifier", str(tmp_path / "none.onnx")]
    )
    assert r.exit_code == 1 and "no classifier file" in r.output
