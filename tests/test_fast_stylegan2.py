"""The fast StyleGAN2 path (models/fast_stylegan2.py, render/acceleration.py) against the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_tiny_dcgan
from latentwalk.backends import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.errors import InvalidRequest
from latentwalk.models import ops
from latentwalk.models.fast_stylegan2 import upsample2x
from latentwalk.models.procedural import ProceduralGenerator
from latentwalk.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from latentwalk.models.stylegan3_design import design_stylegan3, random_stylegan3
from latentwalk.render.acceleration import AcceleratedCache, AutocastGenerator, accelerate
from latentwalk.render.images import to_uint8
from latentwalk.render.worker import InferenceWorker, RenderRequest


def tiny_stylegan2(architecture: str = "skip", conv_clamp: float | None = 256, res: int = 32, seed: int = 0):
    resolutions = [2**i for i in range(2, res.bit_length())]
    cfg = StyleGAN2Config(
        z_dim=16,
        c_dim=0,
        w_dim=16,
        img_resolution=res,
        img_channels=3,
        channels={r: {4: 32, 8: 24, 16: 16}.get(r, 12) for r in resolutions},
        mapping_layers=2,
        architecture=architecture,
        conv_clamp=conv_clamp,
    )
    g = StyleGAN2Generator(cfg).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in g.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
            if "torgb.weight" in name:
                p.mul_(0.1)  # keep most pixels inside [-1, 1], so that differences are visible
        for name, b in g.named_buffers():
            if "noise_const" in name or "w_avg" in name:
                b.copy_(torch.randn(b.shape, generator=gen))
    return g


def _grey_diff(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    d = np.abs(to_uint8(a).astype(np.int16) - to_uint8(b).astype(np.int16))
    return float(d.max()), float(d.mean())


def test_upsample2x_equals_reference_upsample2d() -> None:
    x = torch.randn(2, 3, 7, 9)
    f = ops.setup_filter([1, 2, 5, 1])  # asymmetric: catches a flipped kernel
    f = f * torch.linspace(0.5, 1.5, 4)[:, None]  # and a transposed one
    want = ops.upsample2d(x, f)
    got = upsample2x(x, (f * 4)[None, None].repeat(3, 1, 1, 1))
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("architecture", ["skip", "resnet", "orig"])
@pytest.mark.parametrize("conv_clamp", [256.0, 0.5, None])
def test_fast_fp32_matches_reference(architecture: str, conv_clamp: float | None) -> None:
    g = tiny_stylegan2(architecture, conv_clamp)
    fast = accelerate(g, torch.device("cpu"), "fp32")
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        for noise_mode in ("const", "none"):
            want = g.render(z, psi=0.7, noise_mode=noise_mode)
            assert to_uint8(want).std() > 15  # a real image, not a flat or saturated one
            single = torch.cat([fast.render(z[i : i + 1], psi=0.7, noise_mode=noise_mode) for i in range(3)])
            batch = fast.render(z, psi=0.7, noise_mode=noise_mode)
            for got in (single, batch):
                assert got.shape == want.shape and got.dtype == torch.float32
                torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-3)
                worst, mean = _grey_diff(got, want)
                assert worst <= 3 and mean <= 0.5
        # Random noise: same shape and statistics, different draw each call.
        torch.manual_seed(3)
        rnd = fast.render(z[:1], noise_mode="random")
        assert rnd.shape == (1, 3, 32, 32) and torch.isfinite(rnd).all()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_is_close_and_float32_out(precision: str) -> None:
    g = tiny_stylegan2()
    fast = accelerate(g, torch.device("cpu"), precision)  # type: ignore[arg-type]
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        want = g.render(z, psi=0.7)
        got = torch.cat([fast.render(z[i : i + 1], psi=0.7) for i in range(2)])
        batch = fast.render(z, psi=0.7)  # the shared-weight form (float16: with normalised weights)
    assert got.dtype == batch.dtype == torch.float32
    for out in (got, batch):
        worst, mean = _grey_diff(out, want)
        assert mean < 3 and worst < 64, (worst, mean)  # close to fp32 but, unlike fp32, not exact
    if precision == "bf16":
        assert worst > 0  # the bf16 path really ran in bf16


def test_fp16_keeps_low_resolutions_in_fp32_and_needs_a_clamp() -> None:
    fast = accelerate(tiny_stylegan2(res=64), torch.device("cpu"), "fp16")
    dtypes = {fb.block.resolution: fb.dtype for fb in fast.synthesis.blocks}
    assert dtypes == {
        4: torch.float32,
        8: torch.float16,
        16: torch.float16,
        32: torch.float16,
        64: torch.float16,
    }
    unclamped = accelerate(tiny_stylegan2(conv_clamp=None), torch.device("cpu"), "fp16")
    assert {fb.dtype for fb in unclamped.synthesis.blocks} == {torch.float32}


def test_other_models_use_autocast_in_reduced_precision() -> None:
    g = ProceduralGenerator(z_dim=8, resolution=16)
    assert accelerate(g, torch.device("cpu"), "fp32") is g
    slow = accelerate(g, torch.device("cpu"), "bf16")
    assert isinstance(slow, AutocastGenerator)
    z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = slow.render(z)
    assert out.dtype == torch.float32 and out.shape == g.render(z).shape


def test_worker_renders_with_the_fast_path_and_the_requested_precision(tmp_path: Path) -> None:
    g = tiny_stylegan2()
    ref = ModelRef(name="tiny-sg2", zoo="tiny-sg2")
    z = np.random.RandomState(0).randn(3, 16).astype(np.float32)
    with torch.inference_mode():
        want = to_uint8(g.render(torch.from_numpy(z), psi=0.7))
    with InferenceWorker(tmp_path, device="cpu") as worker:
        worker.register(ref, LoadedModel(g, {"family": "stylegan2"}))
        fp32 = worker.render(RenderRequest(ref, z, psi=0.7))
        one = worker.render(RenderRequest(ref, z[1:2], psi=0.7))
        bf16 = worker.render(RenderRequest(ref, z, psi=0.7, precision="bf16"))
        with pytest.raises(InvalidRequest, match="precision"):
            worker.submit(RenderRequest(ref, z, precision="fp8"))  # type: ignore[arg-type]
    assert np.abs(fp32.astype(int) - want).max() <= 3
    assert np.array_equal(one[0], fp32[1])  # a row never depends on its batch
    diff = np.abs(bf16.astype(int) - fp32)
    assert 0 < diff.mean() < 3


def test_accelerated_cache_builds_once_and_forgets_evicted_models(tmp_path: Path) -> None:
    g = tiny_stylegan2()
    cache = AcceleratedCache(torch.device("cpu"))
    fast = cache.get(g, "fp32")
    assert cache.get(g, "fp32") is fast and cache.get(g, "bf16") is not fast
    cache.forget(g)
    assert len(cache) == 0 and cache.get(g, "fp32") is not fast
    # The worker forgets the fast version of a model its LRU cache evicts.
    a = ModelRef(name="a", path=write_tiny_dcgan(tmp_path / "a.pt", seed=1))
    b = ModelRef(name="b", path=write_tiny_dcgan(tmp_path / "b.pt", seed=2))
    with InferenceWorker(tmp_path, device="cpu", cache_size=1) as worker:
        for ref in (a, b, a):
            worker.render(RenderRequest(ref, np.zeros([1, 8], np.float32), precision="bf16"))
        assert len(worker._fast) == 1


def test_stylegan3_in_bf16_maps_in_fp32_and_keeps_its_transform() -> None:
    cfg = design_stylegan3(
        config="T", img_resolution=32, channel_base=1024, channel_max=64, z_dim=16, w_dim=16
    )
    g = random_stylegan3(cfg)
    fast = accelerate(g, torch.device("cpu"), "bf16")
    z = torch.randn(1, 16, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        want = g.render(z, psi=0.7, transform=(0.1, 0.0, 10.0))
        got = fast.render(z, psi=0.7, transform=(0.1, 0.0, 10.0))
        assert fast.mapping(z, psi=0.7).dtype == torch.float32
    assert got.dtype == torch.float32 and got.shape == want.shape
    assert 0 < (got - want).abs().max() < 0.1  # bf16 really ran, and stayed close


def test_fp16_batches_do_not_overflow_with_large_styles() -> None:
    g = tiny_stylegan2(res=16)
    with torch.no_grad():
        for name, p in g.synthesis.named_parameters():
            if name.endswith("affine.bias") and "torgb" not in name:
                p.mul_(3000)  # styles in the thousands: x * styles would overflow float16 unscaled
    fast = accelerate(g, torch.device("cpu"), "fp16")
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        want = g.render(z, psi=0.7)
        got = fast.render(z, psi=0.7)
    assert torch.isfinite(got).all()
    worst, mean = _grey_diff(got, want)
    assert mean < 3, (worst, mean)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own compiler stack warns about itself
def test_the_synthesis_the_gpu_path_compiles_traces_and_matches_eager() -> None:
    """`--compile` / `cuda_graphs` wrap the fast synthesis in torch.compile (reduce-overhead). CUDA
    graphs need a GPU, but the tracing does not: on the CPU, inductor compiles the same module, so a
    change that breaks tracing (a graph break on data-dependent control flow, an untraceable op)
    fails here, and the compiled result must equal eager."""
    pytest.importorskip("torch._inductor")
    from latentwalk.render.acceleration import CudaGraphSynthesis

    g = tiny_stylegan2(res=16)
    fast = accelerate(g, torch.device("cpu"), "fp32")
    compiled = CudaGraphSynthesis(fast.synthesis)
    with torch.inference_mode():
        ws = g.mapping(torch.randn(2, g.z_dim, generator=torch.Generator().manual_seed(1)), None)
        eager = fast.synthesis(ws, noise_mode="const")
        first = compiled(ws, noise_mode="const")
        again = compiled(ws, noise_mode="const")
        fresh = compiled(ws, noise_mode="random")  # random noise stays eager, out of the graph
    assert first.shape == eager.shape == fresh.shape
    assert torch.allclose(first, eager, atol=1e-4), (first - eager).abs().max()
    assert torch.equal(first, again)
    assert not torch.equal(fresh, eager)
