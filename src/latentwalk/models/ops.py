"""Resampling, bias/activation and modulated convolution in plain PyTorch (no custom CUDA).

These are reference implementations written for clarity: FIR filtering with zero-insertion
upsampling (`upfirdn2d`), bias + activation + gain + clamp (`bias_act`), and StyleGAN2's
modulated convolution with demodulation (`modulated_conv2d`). The geometry (padding, filter
orientation, gains) follows the conventions of NVIDIA's StyleGAN2 so that pixels match its output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_ALPHA = 0.2
# Default gain of each activation: keeps the signal's second moment for Gaussian input.
ACTIVATION_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2.0), "relu": math.sqrt(2.0)}


def setup_filter(taps: list[float] | torch.Tensor) -> torch.Tensor:
    """A separable 1-D kernel like [1, 3, 3, 1] as a normalised 2-D FIR filter [k, k] (sums to 1)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = torch.outer(f, f)
    return f / f.sum()


def bias_act(
    x: torch.Tensor,  # [N, C, ...]
    b: torch.Tensor | None = None,  # [C]
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Add a per-channel bias, apply the activation, scale by `gain`, clamp to +-`clamp`.

    Args:
        x: input, channels on dim 1.
        b: optional bias per channel.
        act: 'linear', 'relu' or 'lrelu' (slope 0.2).
        gain: output scale; None means the activation's default gain.
        clamp: symmetric clamp applied last; None disables it.

    Returns:
        A tensor shaped like `x`.
    """
    if b is not None:
        x = x + b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
    elif not x.requires_grad:
        x = x.clone()  # the steps below work in place on a tensor of our own
    if x.requires_grad and torch.is_grad_enabled():
        # Autograd (projection) keeps the activation's output for its backward: no in-place steps.
        if act not in ACTIVATION_GAINS:
            raise ValueError(f"unknown activation {act!r}")
        x = F.leaky_relu(x, LRELU_ALPHA) if act == "lrelu" else F.relu(x) if act == "relu" else x
        g = ACTIVATION_GAINS[act] if gain is None else gain
        x = x * g if g != 1 else x
        return x.clamp(-clamp, clamp) if clamp is not None and clamp >= 0 else x
    if act == "lrelu":
        F.leaky_relu_(x, LRELU_ALPHA)
    elif act == "relu":
        F.relu_(x)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    g = ACTIVATION_GAINS[act] if gain is None else gain
    if g != 1:
        x.mul_(g)
    if clamp is not None and clamp >= 0:
        x.clamp_(-clamp, clamp)
    return x


def upfirdn2d(
    x: torch.Tensor,  # [N, C, H, W]
    f: torch.Tensor,  # [fh, fw], float32
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),  # x0, x1, y0, y1; negative crops
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with the FIR filter `f`, downsample by striding.

    Each input pixel lands at index `i * up` of the upsampled grid. The filter is applied as a true
    convolution (flipped correlation) and scaled by `gain`; with `up > 1` pass `gain=up**2` to keep
    the signal's level.
    """
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros([n, c, h, up, w, up])
        z[:, :, :, 0, :, 0] = x
        x = z.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    kernel = (f * gain).flip([0, 1]).to(x.dtype)
    x = F.conv2d(x, kernel[None, None].expand(c, 1, *f.shape), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample by `up` with the FIR filter `f`, output exactly `up` times the input size."""
    fh, fw = f.shape
    pad = ((fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2)
    return upfirdn2d(x, f, up=up, padding=pad, gain=up * up)


def conv2d_up2(
    x: torch.Tensor,  # [N, I*groups, H, W]
    w: torch.Tensor,  # [O*groups, I, k, k]
    f: torch.Tensor,  # [fh, fw]
    padding: int,
    groups: int = 1,
) -> torch.Tensor:  # [N, O*groups, 2H, 2W]
    """A k x k convolution of the 2x-upsampled input, computed as a strided transposed convolution
    followed by the FIR filter (the input is never materialised at full resolution)."""
    up = 2
    o_total, i_per_group, kh, kw = w.shape
    fh, fw = f.shape
    # Total padding of the upsampled signal, then what the transposed conv already provides.
    px0 = padding + (fw + up - 1) // 2 - (kw - 1)
    px1 = padding + (fw - up) // 2 - (kw - up)
    py0 = padding + (fh + up - 1) // 2 - (kh - 1)
    py1 = padding + (fh - up) // 2 - (kh - up)
    # conv_transpose2d wants [in, out/groups, k, k]: swap the in/out axes within each group.
    o = o_total // groups
    wt = w.reshape(groups, o, i_per_group, kh, kw).transpose(1, 2).reshape(groups * i_per_group, o, kh, kw)
    x = F.conv_transpose2d(x, wt, stride=up, groups=groups)
    return upfirdn2d(x, f, padding=(px0, px1, py0, py1), gain=up * up)


def modulated_conv2d(
    x: torch.Tensor,  # [N, I, H, W]
    weight: torch.Tensor,  # [O, I, k, k]
    styles: torch.Tensor,  # [N, I]
    noise: torch.Tensor | None = None,  # broadcastable to the output [N, O, H', W']
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution: scale the input channels by the styles, convolve with the
    shared weight, then divide each output channel by the norm of its modulated weight.

    This is the "scale the activations" form: mathematically identical to modulating the weights
    per sample, and independent of the batch size (each sample goes through the same convolution).
    """
    n = x.shape[0]
    if demodulate:
        # ||w * s||^2 per output channel: sum over (I, k, k) of w^2 s^2 = (w^2 summed over k) @ s^2.
        wsq = weight.square().sum(dim=[2, 3])  # [O, I]
        dcoefs = (styles.square() @ wsq.t() + 1e-8).rsqrt()  # [N, O]
    if n == 1:
        # One sample: fold the styles and the demodulation into the (small) weight instead of
        # scaling the (large) activations twice. Same result within float rounding.
        w = weight * styles.reshape(1, -1, 1, 1)
        if demodulate:
            w = w * dcoefs.reshape(-1, 1, 1, 1)
        x = _conv(x, w.to(x.dtype), up, padding, resample_filter)
    else:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        x = _conv(x, weight.to(x.dtype), up, padding, resample_filter)
        if demodulate:
            x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
    if noise is not None:
        x = x.add_(noise.to(x.dtype))
    return x


def _conv(
    x: torch.Tensor, w: torch.Tensor, up: int, padding: int, resample_filter: torch.Tensor | None
) -> torch.Tensor:
    if up == 1:
        return F.conv2d(x, w, padding=padding)
    if up == 2:
        assert resample_filter is not None
        return conv2d_up2(x, w, resample_filter, padding=padding)
    raise ValueError(f"upsampling factor {up} is not supported")


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Divide by the root mean square along `dim` (StyleGAN's pixel norm on z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
