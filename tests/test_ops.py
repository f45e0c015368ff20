"""The resampling and modulation ops against straightforward definitions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from latentwalk.models.ops import bias_act, modulated_conv2d, setup_filter, upfirdn2d, upsample2d


def _upfirdn_loops(
    x: np.ndarray, f: np.ndarray, up: int, pad: tuple[int, int, int, int], gain: float
) -> np.ndarray:
    """Literal definition: zero-insert, pad, convolve (flipped kernel), one output pixel at a time."""
    c, h, w = x.shape
    u = np.zeros((c, h * up, w * up))
    u[:, ::up, ::up] = x
    px0, px1, py0, py1 = pad
    u = np.pad(u, ((0, 0), (py0, py1), (px0, px1)))
    k = f[::-1, ::-1] * gain
    fh, fw = f.shape
    out = np.zeros((c, u.shape[1] - fh + 1, u.shape[2] - fw + 1))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = (u[:, i : i + fh, j : j + fw] * k).sum(axis=(1, 2))
    return out


def test_setup_filter_is_normalised_outer_product() -> None:
    f = setup_filter([1, 3, 3, 1])
    np.testing.assert_allclose(f.numpy(), np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)


def test_upfirdn2d_matches_literal_definition() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6))
    f = rng.standard_normal((4, 4))  # asymmetric: catches a missing flip
    for up, pad in [(1, (1, 2, 0, 3)), (2, (2, 1, 2, 1)), (2, (1, 1, 1, 1))]:
        ours = upfirdn2d(torch.tensor(x)[None], torch.tensor(f), up=up, padding=pad, gain=up * up)[0].numpy()
        np.testing.assert_allclose(ours, _upfirdn_loops(x, f, up, pad, up * up), atol=1e-10)


def test_upsample2d_keeps_constants_and_doubles_size() -> None:
    x = torch.full([1, 2, 6, 6], 3.0)
    y = upsample2d(x, setup_filter([1, 3, 3, 1]))
    assert y.shape == (1, 2, 12, 12)
    # Away from the zero-padded border a constant stays constant (gain 4 compensates the zeros).
    torch.testing.assert_close(y[..., 2:-2, 2:-2], torch.full_like(y[..., 2:-2, 2:-2], 3.0))


def test_bias_act_order_bias_act_gain_clamp() -> None:
    x = torch.tensor([[-2.0, 1.0, 300.0]]).reshape(1, 3, 1, 1)
    b = torch.tensor([1.0, 1.0, 1.0])
    y = bias_act(x, b, act="lrelu", gain=2.0, clamp=256.0).flatten()
    torch.testing.assert_close(y, torch.tensor([-0.4, 4.0, 256.0]))


def test_modulated_conv_equals_per_sample_modulated_weights() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 8, 8, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(3, 4, dtype=torch.float64)
    ours = modulated_conv2d(x, weight, styles, padding=1)
    for n in range(3):
        wn = weight * styles[n].reshape(1, -1, 1, 1)
        wn = wn / wn.square().sum(dim=[1, 2, 3], keepdim=True).add(1e-8).sqrt()
        torch.testing.assert_close(ours[n : n + 1], F.conv2d(x[n : n + 1], wn, padding=1))


def test_modulated_conv_up2_equals_upsample_then_conv() -> None:
    """The transposed-conv path equals: zero-insert, FIR (gain 4), then a plain 3x3 convolution,
    with the padding that gives exactly twice the input size."""
    torch.manual_seed(1)
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    styles = torch.ones(2, 3, dtype=torch.float64)
    f = setup_filter([1, 3, 3, 1]).to(torch.float64)
    ours = modulated_conv2d(x, weight, styles, up=2, padding=1, resample_filter=f, demodulate=False)
    assert ours.shape == (2, 4, 10, 10)
    # In 1-D, NVIDIA's result is out[k] = (u * w * f)[k + 2] with u the zero-inserted input and *
    # full convolution. Filtering first with 3 zeros before and 2 after, then a 'valid' 3x3 true
    # convolution, gives the same indices and exactly twice the size.
    up = upfirdn2d(x, f, up=2, padding=(3, 2, 3, 2), gain=4)  # [.., 12, 12]
    ref = F.conv2d(up, weight.flip([2, 3]))  # a true convolution is a correlation with the flipped kernel
    torch.testing.assert_close(ours, ref)
