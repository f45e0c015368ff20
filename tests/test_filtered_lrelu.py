"""The fast filtered leaky ReLU against the plain reference, over the geometry StyleGAN3 uses and more."""

from __future__ import annotations

import math

import pytest
import torch

from latentwalk.models import filtered_lrelu as fl

# (up, down, up taps, down taps, padding, radial down filter, input size): StyleGAN3's layer kinds
# (same rate, rate doubling with up 4, critically sampled crops, config R) and odd ones.
CASES = {
    "T-same-rate": (2, 2, 12, 12, [9, 8, 9, 8], False, 20),
    "T-up4": (4, 2, 24, 12, [-6, -9, -6, -9], False, 20),
    "T-critical-crop": (2, 2, 12, 12, [-11, -12, -11, -12], False, 30),
    "R-radial": (2, 2, 12, 12, [11, 10, 11, 10], True, 18),
    "R-radial-up4": (4, 2, 24, 12, [-2, -5, -2, -5], True, 16),
    "torgb": (1, 1, 1, 1, [0, 0, 0, 0], False, 9),
    "pad-only": (1, 1, 1, 1, [2, -1, 0, 3], False, 9),
    "up-only": (2, 1, 8, 1, [3, 2, 1, 0], False, 11),
    "down-only": (1, 2, 1, 6, [3, 2, 1, 0], False, 13),
    "asymmetric": (2, 2, 8, 6, [5, 1, 0, 7], False, 17),
    "up3-odd": (3, 2, 9, 5, [1, 2, 3, 4], False, 10),
    "down3": (2, 3, 6, 9, [4, 4, 2, 6], False, 14),
}


def _inputs(case: str, seed: int = 0, batch: int = 2, channels: int = 3):
    up, down, ku, kd, pad, radial, size = CASES[case]
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn([batch, channels, size, size + 3], generator=gen)
    b = torch.randn([channels], generator=gen)
    fu = torch.randn([ku], generator=gen) / math.sqrt(ku) if ku > 1 else None
    fd = None
    if kd > 1:
        fd = (
            torch.randn([kd, kd], generator=gen) / kd
            if radial
            else torch.randn([kd], generator=gen) / math.sqrt(kd)
        )
    return x, fu, fd, b, up, down, pad


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    ("gain", "slope", "clamp"), [(math.sqrt(2), 0.2, 256.0), (1.0, 1.0, None), (1.7, 0.0, 0.8)]
)
def test_fast_matches_reference(case: str, gain: float, slope: float, clamp: float | None) -> None:
    x, fu, fd, b, up, down, pad = _inputs(case)
    ref = fl.filtered_lrelu_reference(x, fu, fd, b, up, down, pad, gain, slope, clamp)
    before = x.clone()
    out = fl.filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp)
    assert torch.equal(x, before), "the input must not be modified"
    assert out.shape == ref.shape
    assert (out.shape[2], out.shape[3]) == fl.output_size(
        (x.shape[2], x.shape[3]),
        fu.shape[-1] if fu is not None else 1,
        fd.shape[-1] if fd is not None else 1,
        up,
        down,
        pad,
    )
    scale = float(ref.abs().max())
    assert scale > 0.1
    torch.testing.assert_close(out, ref, atol=2e-5 * scale, rtol=0)
    if clamp is not None and clamp < 1:
        assert bool((ref.abs() > 0.5 * clamp).any()), "the clamp should matter in this case"


def test_chunks_and_plans_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small channel chunks (the memory bound) and a reused plan change nothing."""
    x, fu, fd, b, up, down, pad = _inputs("T-up4", batch=3, channels=5)
    whole = fl.filtered_lrelu(x, fu, fd, b, up, down, pad, clamp=256.0)
    monkeypatch.setattr(fl, "CHUNK_ELEMENTS", 1000)
    plan = fl.make_plan(fu, fd, up, down, pad, math.sqrt(2), (x.shape[2], x.shape[3]))
    chunked = fl.filtered_lrelu(x, fu, fd, b, up, down, pad, clamp=256.0, plan=plan)
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=0)


def test_no_bias_non_contiguous_input_and_batch_independence() -> None:
    x, fu, fd, _, up, down, pad = _inputs("T-same-rate", batch=3)
    xt = x.transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
    ref = fl.filtered_lrelu_reference(x, fu, fd, None, up, down, pad, clamp=256.0)
    out = fl.filtered_lrelu(xt, fu, fd, None, up, down, pad, clamp=256.0)
    torch.testing.assert_close(out, ref, atol=2e-5 * float(ref.abs().max()), rtol=0)
    one = fl.filtered_lrelu(x[1:2], fu, fd, None, up, down, pad, clamp=256.0)
    torch.testing.assert_close(one[0], out[1], atol=1e-6, rtol=0)


def test_too_small_input_is_refused() -> None:
    fu, fd = torch.ones(12) / 12, torch.ones(12) / 12
    with pytest.raises(ValueError, match="too small"):
        fl.make_plan(fu, fd, 2, 2, [-11, -12, -11, -12], 1.0, (8, 8))


@pytest.mark.parametrize("config", ["T", "R"])
def test_every_layer_of_a_256px_generator(config: str) -> None:
    """The real layer geometry (sizes, factors, paddings, designed filters) of 256x256 configs T and R."""
    from latentwalk.models.stylegan3_design import design_stylegan3, lowpass_filter

    cfg = design_stylegan3(config=config, img_resolution=256, channel_base=64, channel_max=1)
    half_widths = cfg.extra["half_widths"]
    gen = torch.Generator().manual_seed(1)
    for i, spec in enumerate(cfg.layers):
        rate = spec.in_sampling_rate * spec.up_factor
        up = lowpass_filter(spec.up_taps, spec.in_cutoff, half_widths[max(i - 1, 0)] * 2, rate)
        down = lowpass_filter(spec.down_taps, spec.out_cutoff, half_widths[i] * 2, rate, spec.down_radial)
        fu = None if up is None else torch.from_numpy(up).float()
        fd = None if down is None else torch.from_numpy(down).float()
        n = spec.in_size[0] + spec.conv_kernel - 1
        x = 3 * torch.randn([1, 1, n, n], generator=gen)
        args = (
            fu,
            fd,
            torch.ones(1),
            spec.up_factor,
            spec.down_factor,
            list(spec.padding),
            math.sqrt(2),
            0.2,
            4.0,
        )
        ref = fl.filtered_lrelu_reference(x, *args)
        out = fl.filtered_lrelu(x, *args)
        assert out.shape[2:] == (spec.out_size[1], spec.out_size[0]) == ref.shape[2:], spec.name
        torch.testing.assert_close(out, ref, atol=2e-6 * float(ref.abs().max()), rtol=0, msg=spec.name)
