"""Fresh StyleGAN3 generators from hyper-parameters: layer geometry, low-pass filters, random weights.

Loading a pickle never needs this module (files store their geometry and filters). It serves the
benchmarks and anyone who wants a randomly initialised network of a real configuration. The
geometry follows the paper ("Alias-Free Generative Adversarial Networks", section 3 and appendix
F): cutoffs and stopbands grow geometrically from the first layer to the last `num_critical`
layers, which sample critically at the output resolution; every other layer works at the
smallest power-of-two sampling rate above twice its stopband, on an image `margin_size` pixels
larger on each side. Filters are Kaiser-windowed sinc (separable) or jinc (radial) low-passes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from latentwalk.models.stylegan3 import InputSpec, LayerSpec, StyleGAN3Config, StyleGAN3Generator


def design_stylegan3(
    *,
    z_dim: int = 512,
    c_dim: int = 0,
    w_dim: int = 512,
    img_resolution: int = 256,
    img_channels: int = 3,
    config: str = "T",
    channel_base: int = 32768,
    channel_max: int = 512,
    num_layers: int = 14,
    num_critical: int = 2,
    first_cutoff: float = 2.0,
    first_stopband: float = 2**2.1,
    last_stopband_rel: float = 2**0.3,
    margin_size: int = 10,
    output_scale: float = 0.25,
    num_fp16_res: int = 4,
    filter_size: int = 6,
    lrelu_upsampling: int = 2,
    conv_clamp: float | None = 256.0,
    mapping_layers: int = 2,
) -> StyleGAN3Config:
    """The configuration NVIDIA's training code would build for these hyper-parameters.

    `config` 'T' uses 3x3 convolutions; 'R' uses 1x1 convolutions and radial down filters in the
    layers that are not critically sampled (NVIDIA's train.py also doubles channel_base and
    channel_max for R: pass them doubled).
    """
    if config not in ("T", "R"):
        raise ValueError(f"config must be 'T' or 'R', not {config!r}")
    res = img_resolution
    last_cutoff = res / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin_size * 2
    sizes[-2:] = res
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels

    layers = []
    for idx in range(num_layers + 1):
        prev = max(idx - 1, 0)
        is_torgb = idx == num_layers
        critical = idx >= num_layers - num_critical
        kernel = 1 if is_torgb or config == "R" else 3
        in_rate, out_rate = int(rates[prev]), int(rates[idx])
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else lrelu_upsampling)
        up, down = tmp_rate // in_rate, tmp_rate // out_rate
        up_taps = filter_size * up if up > 1 and not is_torgb else 1
        down_taps = filter_size * down if down > 1 and not is_torgb else 1
        in_size, out_size = int(sizes[prev]), int(sizes[idx])
        # Padding of the upsampled image that puts output pixel centres on the input's grid
        # (the "symmetric interpretation" of the paper's appendix C.3).
        pad_total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2
        pad_hi = pad_total - pad_lo
        out_ch = int(channels[idx])
        layers.append(
            LayerSpec(
                name=f"L{idx}_{out_size}_{out_ch}",
                in_channels=int(channels[prev]),
                out_channels=out_ch,
                in_size=(in_size, in_size),
                out_size=(out_size, out_size),
                in_sampling_rate=in_rate,
                out_sampling_rate=out_rate,
                in_cutoff=float(cutoffs[prev]),
                out_cutoff=float(cutoffs[idx]),
                conv_kernel=kernel,
                up_factor=up,
                up_taps=up_taps,
                down_factor=down,
                down_taps=down_taps,
                down_radial=config == "R" and not critical,
                padding=(pad_lo, pad_hi, pad_lo, pad_hi),
                is_torgb=is_torgb,
                is_critically_sampled=critical,
                use_fp16=bool(rates[idx] * 2**num_fp16_res > res),
                conv_clamp=conv_clamp,
            )
        )
    spec_in = InputSpec(int(channels[0]), (int(sizes[0]), int(sizes[0])), float(rates[0]), float(cutoffs[0]))
    extra = {"half_widths": [float(v) for v in half_widths]}
    return StyleGAN3Config(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=res,
        img_channels=img_channels,
        input=spec_in,
        layers=tuple(layers),
        mapping_layers=mapping_layers,
        output_scale=output_scale,
        extra=extra,
    )


def _kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser's empirical window parameter for a transition band `width` (Hz) at rate `fs`."""
    atten = 2.285 * (numtaps - 1) * math.pi * (width / (fs / 2)) + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def _bessel_j1(x: np.ndarray) -> np.ndarray:
    """J1 by its integral (1/pi) * int_0^pi cos(t - x sin t) dt (trapezoid; exact to ~1e-12 here)."""
    t = np.linspace(0, math.pi, 513)
    vals = np.cos(t[None, :] - x.reshape(-1, 1) * np.sin(t)[None, :])
    integral = (vals[:, 1:] + vals[:, :-1]).sum(axis=1) * (t[1] - t[0]) / 2
    return integral.reshape(x.shape) / math.pi


def lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> np.ndarray | None:
    """A Kaiser-windowed low-pass with unit DC gain: 1-D sinc, or 2-D jinc when `radial`; None for 1 tap."""
    if numtaps == 1:
        return None
    beta = _kaiser_beta(numtaps, width, fs)
    window = np.kaiser(numtaps, beta)
    pos = np.arange(numtaps) - (numtaps - 1) / 2
    if not radial:
        f = np.sinc(2 * cutoff / fs * pos) * window
        return f / f.sum()
    r = np.hypot(*np.meshgrid(pos / fs, pos / fs))
    f = _bessel_j1(2 * math.pi * cutoff * r) / (math.pi * r) * np.outer(window, window)
    return f / f.sum()


def random_stylegan3(cfg: StyleGAN3Config, seed: int = 0) -> StyleGAN3Generator:
    """A generator of `cfg` with designed filters and random weights (NVIDIA's initial distributions)."""
    g = StyleGAN3Generator(cfg).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    half_widths = cfg.extra.get("half_widths")
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("weight"):
                p.copy_(torch.randn(p.shape, generator=gen))
        for layer_idx, spec in enumerate(cfg.layers):
            layer = getattr(g.synthesis, spec.name)
            layer.affine.bias.fill_(1.0)
            tmp_rate = spec.in_sampling_rate * spec.up_factor
            prev_hw = half_widths[max(layer_idx - 1, 0)] if half_widths else spec.in_cutoff / 2
            out_hw = half_widths[layer_idx] if half_widths else spec.out_cutoff / 2
            up = lowpass_filter(spec.up_taps, spec.in_cutoff, prev_hw * 2, tmp_rate)
            down = lowpass_filter(spec.down_taps, spec.out_cutoff, out_hw * 2, tmp_rate, spec.down_radial)
            if up is not None:
                layer.up_filter.copy_(torch.from_numpy(up))
            if down is not None:
                layer.down_filter.copy_(torch.from_numpy(down))
        inp = g.synthesis.input
        freqs = torch.randn([cfg.input.channels, 2], generator=gen)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * cfg.input.bandwidth
        inp.freqs.copy_(freqs)
        inp.phases.copy_(torch.rand([cfg.input.channels], generator=gen) - 0.5)
        inp.affine.weight.zero_()
        inp.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        for name, p in g.mapping.named_parameters():
            if name.endswith("weight"):
                p.div_(cfg.mapping_lr_multiplier if name.startswith("fc") else 1.0)
    for module in g.modules():
        if hasattr(module, "forget_plans"):
            module.forget_plans()
    return g
