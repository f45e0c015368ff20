"""The procedural CPPN generator, checked in numbers: spread, colour, variety, smoothness, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentwalk.models.base import ZSpaceGenerator
from latentwalk.models.procedural import ProceduralGenerator
from latentwalk.types import Generator

Z_DIM = 512
N_SEEDS = 8


def seed_z(seed: int, z_dim: int = Z_DIM) -> torch.Tensor:
    """The latent for a seed, the way the app draws it: [1, z_dim] float32."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim)).to(torch.float32)


def mad(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image, over channels and pixels: [N]."""
    return (a - b).abs().mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def gen() -> ProceduralGenerator:
    return ProceduralGenerator(resolution=64)


@pytest.fixture(scope="module")
def seed_zs() -> torch.Tensor:
    return torch.cat([seed_z(s) for s in range(N_SEEDS)])


@pytest.fixture(scope="module")
def seed_images(gen: ProceduralGenerator, seed_zs: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return gen(seed_zs)


def test_attributes_and_buffers() -> None:
    g = ProceduralGenerator(z_dim=128, resolution=48, seed=3, hidden=16, depth=3)
    assert (g.z_dim, g.img_resolution, g.img_channels, g.c_dim) == (128, 48, 3, 0)
    assert isinstance(g, ZSpaceGenerator)
    assert isinstance(g, Generator)
    assert list(g.parameters()) == []  # weights are buffers generated from the seed, not parameters
    buffers = dict(g.named_buffers())
    assert len(buffers) >= 5
    assert not any(b.requires_grad for b in buffers.values())
    assert g.state_dict() == {}  # nothing to save or load: the seed defines the model
    assert g.w_mid.shape == (2, 16, 16)
    with torch.inference_mode():
        assert g(seed_z(0, 128)).shape == (1, 3, 48, 48)


@pytest.mark.parametrize("resolution", [32, 64, 100, 256])
def test_shape_dtype_and_range(resolution: int) -> None:
    g = ProceduralGenerator(resolution=resolution)
    z = torch.cat([seed_z(0), seed_z(1)])
    with torch.inference_mode():
        img = g(z)
    assert img.shape == (2, 3, resolution, resolution)
    assert img.dtype == torch.float32
    assert torch.isfinite(img).all()
    assert img.min().item() >= -1.0 and img.max().item() <= 1.0
    assert img.max().item() - img.min().item() > 1.0  # uses the range, not a sliver of it


def test_pixel_spread_and_colours(seed_images: torch.Tensor) -> None:
    std = seed_images.std(dim=(1, 2, 3))
    assert std.min().item() > 0.3, std  # not flat

    rgb = (seed_images + 1.0) / 2.0  # [N, 3, H, W] in [0, 1]
    # Coarse colours: 4 levels per channel, 64 bins; count the bins that hold at least 2% of pixels.
    level = (rgb * 4).clamp(0, 3.999).floor().long()
    bins = (level[:, 0] * 16 + level[:, 1] * 4 + level[:, 2]).flatten(1)
    counts = [int((torch.bincount(b, minlength=64) >= 0.02 * b.numel()).sum()) for b in bins]
    assert min(counts) >= 5, counts

    # Colourful, not grey: mean chroma (max - min over channels).
    chroma = rgb.max(dim=1).values - rgb.min(dim=1).values  # [N, H, W]
    assert chroma.mean(dim=(1, 2)).min().item() > 0.15

    # Hues: 12 sectors of the hue circle, over pixels with some chroma. Each image has at least two
    # hues, and the eight seeds between them cover most of the circle.
    hue = torch.atan2(math.sqrt(3.0) * (rgb[:, 1] - rgb[:, 2]), 2 * rgb[:, 0] - rgb[:, 1] - rgb[:, 2])
    sector = ((hue + math.pi) / (2 * math.pi) * 12).long().clamp(0, 11)
    shares = []
    for i in range(len(rgb)):
        chromatic = chroma[i] > 0.15
        assert chromatic.float().mean().item() > 0.5
        shares.append(torch.bincount(sector[i][chromatic], minlength=12).float() / chromatic.sum())
    per_image = [int((s >= 0.05).sum()) for s in shares]
    assert min(per_image) >= 2, per_image
    assert int((torch.stack(shares).mean(0) >= 0.02).sum()) >= 6


def test_seeds_give_different_images(seed_images: torch.Tensor) -> None:
    n = len(seed_images)
    diff = (seed_images[:, None] - seed_images[None]).abs().mean(dim=(2, 3, 4))  # [N, N]
    off_diagonal = diff[~torch.eye(n, dtype=torch.bool)]
    assert off_diagonal.min().item() > 0.25, diff


def test_small_latent_step_gives_tiny_change(
    gen: ProceduralGenerator, seed_zs: torch.Tensor, seed_images: torch.Tensor
) -> None:
    direction = torch.from_numpy(np.random.RandomState(1234).randn(*seed_zs.shape)).to(torch.float32)
    direction = direction / direction.norm(dim=1, keepdim=True)
    z_step = seed_zs + 1e-3 * seed_zs.norm(dim=1, keepdim=True) * direction
    with torch.inference_mode():
        stepped = gen(z_step)
    small = mad(stepped, seed_images)
    seed_change = mad(seed_images.roll(1, dims=0), seed_images)
    assert (small > 0).all()  # the image does follow z
    assert (small < 0.02 * seed_change).all(), (small, seed_change)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (2, 3)])
def test_lerp_between_seeds_is_smooth(gen: ProceduralGenerator, a: int, b: int) -> None:
    t = torch.linspace(0.0, 1.0, 11)[:, None]
    z = seed_z(a) * (1 - t) + seed_z(b) * t
    with torch.inference_mode():
        frames = gen(z)
    steps = mad(frames[1:], frames[:-1])  # 10 consecutive differences
    total = mad(frames[-1:], frames[:1]).item()
    assert total > 0.25
    assert steps.max().item() < 0.4 * total, (steps, total)  # a straight crossfade would be 0.1
    assert steps.sum().item() < 3.5 * total, (steps, total)  # the walk does not wander far off


def test_batch_independence(gen: ProceduralGenerator, seed_zs: torch.Tensor) -> None:
    z = seed_zs[:5]
    with torch.inference_mode():
        batch = gen(z)
        alone = torch.cat([gen(z[i : i + 1]) for i in range(len(z))])
        reversed_batch = gen(z.flip(0)).flip(0)
    assert (batch - alone).abs().max().item() <= 1e-6
    assert (batch - reversed_batch).abs().max().item() <= 1e-6


def test_deterministic_across_instances(seed_zs: torch.Tensor) -> None:
    g1, g2 = ProceduralGenerator(resolution=32), ProceduralGenerator(resolution=32)
    for (name, b1), (_, b2) in zip(g1.named_buffers(), g2.named_buffers(), strict=True):
        if b1.numel():
            assert torch.equal(b1, b2), name
    with torch.inference_mode():
        img1, img2 = g1(seed_zs[:3]), g2(seed_zs[:3])
        again = g1(seed_zs[:3])
        other_seed = ProceduralGenerator(resolution=32, seed=1)(seed_zs[:3])
    assert torch.equal(img1, img2)
    assert torch.equal(img1, again)
    assert mad(other_seed, img1).min().item() > 0.2  # the model seed matters


def test_psi_zero_gives_one_image(gen: ProceduralGenerator, seed_zs: torch.Tensor) -> None:
    with torch.inference_mode():
        at_zero = gen.render(seed_zs, None, psi=0.0)
        full = gen.render(seed_zs, None, psi=1.0)
        half = gen.render(seed_zs[:2], None, psi=0.5)
        mean_image = gen(torch.zeros(1, Z_DIM))
        half_direct = gen(0.5 * seed_zs[:2])
    assert (at_zero - mean_image).abs().max().item() <= 1e-6  # every z gives the same image
    assert at_zero[0].std().item() > 0.2  # and it is a real image
    assert mad(full[1:], full[:1]).min().item() > 0.25  # at psi 1 they differ
    assert (half - half_direct).abs().max().item() <= 1e-6


def test_follows_dtype_and_resolution_changes(seed_zs: torch.Tensor) -> None:
    g = ProceduralGenerator(resolution=32)
    with torch.inference_mode():
        img32 = g(seed_zs[:2])
        g64 = g.to(torch.float64)
        img64 = g64(seed_zs[:2].double())
        assert img64.dtype == torch.float64
        assert (img64 - img32.double()).abs().max().item() < 1e-3
        g64.img_resolution = 40  # the cached coordinate grid is rebuilt
        assert g64(seed_zs[:1]).shape == (1, 3, 40, 40)


def test_rejects_bad_input() -> None:
    g = ProceduralGenerator(z_dim=16, resolution=16)
    with pytest.raises(ValueError):
        g(torch.zeros(2, 15))
    with pytest.raises(ValueError):
        g(torch.zeros(16))
    with pytest.raises(ValueError):
        ProceduralGenerator(depth=0)


def test_gradients_reach_z() -> None:
    g = ProceduralGenerator(resolution=16)
    with torch.inference_mode():
        g(seed_z(0))  # the coordinate cache is built under inference mode first
    z = seed_z(1).requires_grad_(True)
    g(z).square().mean().backward()
    assert z.grad is not None and z.grad.abs().sum().item() > 0
