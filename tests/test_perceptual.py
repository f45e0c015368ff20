"""The optional perceptual loss of projection: a VGG-16-layout feature network from a local file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_tiny_dcgan
from latentwalk.backends import load_model_file
from latentwalk.catalog import ModelRef
from latentwalk.errors import ModelLoadError
from latentwalk.projection import ProjectionOptions, project
from latentwalk.projection.losses import ProjectionLoss
from latentwalk.projection.perceptual import CONV_INDICES, load_vgg_features
from latentwalk.render.worker import InferenceWorker, RenderRequest


def write_tiny_vgg(path: Path, widths: tuple[int, ...] = (4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8)) -> Path:
    """A narrow network in VGG-16's key layout, with classifier keys that the loader must ignore."""
    gen = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    cin = 3
    for idx, cout in zip(CONV_INDICES, widths, strict=True):
        state[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * (2 / (9 * cin)) ** 0.5
        state[f"features.{idx}.bias"] = torch.randn(cout, generator=gen) * 0.1
        cin = cout
    state["classifier.0.weight"] = torch.zeros(2, 2)
    torch.save(state, path)
    return path


def test_features_compare_images_and_pass_gradients(tmp_path: Path) -> None:
    net = load_vgg_features(write_tiny_vgg(tmp_path / "vgg.pth"))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    f = net(x)
    assert f.shape[0] == 2 and f.ndim == 2 and torch.isfinite(f).all()
    torch.testing.assert_close(net(x[:1]), f[:1])  # each image on its own
    loss = ProjectionLoss(x[:1], ssim_weight=0.0, features=net)
    plain = ProjectionLoss(x[:1], ssim_weight=0.0)
    y = x.flip(0).clone().requires_grad_(True)
    with_features, without = loss(y), plain(y)
    assert with_features[0] > without[0] > 0  # the feature term adds to a different picture's loss
    assert float(with_features[1].detach()) == pytest.approx(0.0, abs=1e-6)  # y[1] is the target itself
    assert float(loss(x[:1])[0]) == pytest.approx(0.0, abs=1e-6)  # and nothing to the target itself
    with_features.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_projection_with_a_perceptual_term_lowers_the_loss(worker: InferenceWorker, tmp_path: Path) -> None:
    ref = ModelRef(name="tiny", zoo="tiny-dcgan")
    worker.register(ref, load_model_file(write_tiny_dcgan(tmp_path / "tiny.pt", seed=3)))
    target = worker.render(RenderRequest(ref, z=np.random.RandomState(7).randn(1, 8).astype(np.float32)))[0]
    result = project(
        worker,
        ref,
        target,
        ProjectionOptions(steps=60, seed=1),
        perceptual_weights=write_tiny_vgg(tmp_path / "v.pth"),
    )
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.psnr > 20, result.psnr


def test_bad_perceptual_files_get_clear_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a state dict")
    with pytest.raises(ModelLoadError, match="cannot read the perceptual weights"):
        load_vgg_features(garbage)
    missing = tmp_path / "missing.pth"
    torch.save({"features.0.weight": torch.zeros(4, 3, 3, 3)}, missing)
    with pytest.raises(ModelLoadError, match="not a VGG-16 state dict"):
        load_vgg_features(missing)
    broken = write_tiny_vgg(tmp_path / "broken.pth")
    state = torch.load(broken, weights_only=True)
    state["features.2.weight"] = torch.zeros(4, 5, 3, 3)  # does not follow the 4 channels before it
    torch.save(state, broken)
    with pytest.raises(ModelLoadError, match="does not chain"):
        load_vgg_features(broken)
    listed = tmp_path / "list.pth"
    torch.save([1, 2, 3], listed)
    with pytest.raises(ModelLoadError, match="not a state dict"):
        load_vgg_features(listed)
