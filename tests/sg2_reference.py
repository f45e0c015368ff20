"""A slow, explicit float64 StyleGAN2 ``G_ema`` forward written from the math, for tests.

Input is the NVIDIA-named state dict (``synthesis.b4.const``, ``mapping.fc0.weight``...) as numpy arrays.
Every step is spelled out with numpy; the resampling geometry is written as zero-insertion upsampling,
explicit zero padding and plain sums over kernel taps:

* Up-sampling conv (``conv0``): insert zeros (``u[2i] = x[i]``), take the *full* true convolution with the
  3x3 kernel (size ``2H+1``), pad one zero on every side, then apply the separable [1,3,3,1] low-pass
  filter (normalised, times gain 4) as a valid correlation -> ``2H``.  This is the geometry of NVIDIA's
  transposed-conv-then-FIR path (kernel not flipped for the transposed conv, so relative to ``conv1``'s
  correlation the up-sampling kernel acts as a convolution).
* ``upsample2d`` (skip images, resnet skip): insert zeros to ``2H`` (``u[2i] = x[i]``), pad 2 before and
  1 after, apply the filter times 4 -> ``2H``.
* Same-size 3x3 conv: correlation with one pixel of zero padding.

Nothing here imports torch, latentwalk or NVIDIA code.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["map_z", "reference_render", "synthesize"]

_SQRT2 = math.sqrt(2.0)
_F64 = np.float64


def _a(state: dict[str, np.ndarray], key: str) -> np.ndarray:
    return np.asarray(state[key], dtype=_F64)


def _lrelu(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, 0.2 * x)


def _normalize_2nd_moment(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + 1e-8)


def _fc(state: dict[str, np.ndarray], prefix: str, x: np.ndarray, *, lr: float, act: str) -> np.ndarray:
    weight = _a(state, prefix + ".weight")  # [out, in]
    bias = _a(state, prefix + ".bias")
    y = x @ (weight * (lr / math.sqrt(weight.shape[1]))).T + bias * lr
    if act == "lrelu":
        y = _lrelu(y) * _SQRT2
    return y


def map_z(
    state: dict[str, np.ndarray],
    *,
    z: np.ndarray,
    c: np.ndarray | None,
    psi: float,
    cutoff: int | None,
    num_ws: int,
    mapping_layers: int,
    lr_multiplier: float = 0.01,
) -> np.ndarray:
    """The mapping network: z [N, z_dim] -> ws [N, num_ws, w_dim] (truncated toward ``mapping.w_avg``)."""
    # The mapping casts its inputs to float32 first.
    x = _normalize_2nd_moment(np.asarray(z, dtype=np.float32).astype(_F64))
    if "mapping.embed.weight" in state:
        if c is None:
            raise ValueError("a conditional generator needs c")
        y = _fc(state, "mapping.embed", np.asarray(c, dtype=np.float32).astype(_F64), lr=1.0, act="linear")
        x = np.concatenate([x, _normalize_2nd_moment(y)], axis=1)
    for idx in range(mapping_layers):
        x = _fc(state, f"mapping.fc{idx}", x, lr=lr_multiplier, act="lrelu")
    ws = np.repeat(x[:, None, :], num_ws, axis=1)
    if psi != 1:
        w_avg = _a(state, "mapping.w_avg")
        n = num_ws if cutoff is None else cutoff
        ws[:, :n] = w_avg + psi * (ws[:, :n] - w_avg)
    return ws


def _pad(x: np.ndarray, lo_y: int, hi_y: int, lo_x: int, hi_x: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (lo_y, hi_y), (lo_x, hi_x)))


def _correlate(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid correlation with per-sample kernels: x [N,I,H,W], w [N,O,I,kh,kw] -> [N,O,H-kh+1,W-kw+1]."""
    n, _, h, wd = x.shape
    _, o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), dtype=_F64)
    for a in range(kh):
        for b in range(kw):
            patch = x[:, :, a : a + h - kh + 1, b : b + wd - kw + 1]
            out += np.einsum("nihw,noi->nohw", patch, w[:, :, :, a, b])
    return out


def _zero_insert(x: np.ndarray, length_y: int, length_x: int) -> np.ndarray:
    """u[2i, 2j] = x[i, j], zeros elsewhere; output spatial size (length_y, length_x)."""
    n, ch, h, w = x.shape
    u = np.zeros((n, ch, length_y, length_x), dtype=_F64)
    u[:, :, 0 : 2 * h : 2, 0 : 2 * w : 2] = x
    return u


def _fir(x: np.ndarray, f: np.ndarray, gain: float) -> np.ndarray:
    """Depthwise valid convolution with the 2-D filter ``f * gain`` (flipped = true convolution)."""
    kern = np.asarray(f, dtype=_F64)[::-1, ::-1] * gain
    n, ch, h, w = x.shape
    kh, kw = kern.shape
    out = np.zeros((n, ch, h - kh + 1, w - kw + 1), dtype=_F64)
    for a in range(kh):
        for b in range(kw):
            out += x[:, :, a : a + h - kh + 1, b : b + w - kw + 1] * kern[a, b]
    return out


def _upsample2d(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    _, _, h, w = x.shape
    u = _zero_insert(x, 2 * h, 2 * w)
    return _fir(_pad(u, 2, 1, 2, 1), f, 4.0)


def _styles(state: dict[str, np.ndarray], prefix: str, w: np.ndarray) -> np.ndarray:
    return _fc(state, prefix + ".affine", w, lr=1.0, act="linear")


def _synthesis_layer(
    state: dict[str, np.ndarray],
    prefix: str,
    x: np.ndarray,
    w: np.ndarray,
    *,
    up: bool,
    noise_mode: str,
    conv_clamp: float | None,
    gain: float = 1.0,
) -> np.ndarray:
    weight = _a(state, prefix + ".weight")  # [O, I, 3, 3]
    styles = _styles(state, prefix, w)  # [N, I]
    wmod = weight[None] * styles[:, None, :, None, None]  # [N, O, I, 3, 3]
    dcoefs = 1.0 / np.sqrt(np.sum(wmod * wmod, axis=(2, 3, 4)) + 1e-8)  # [N, O]
    if up:
        _, _, h, wd = x.shape
        u = _zero_insert(x, 2 * h - 1, 2 * wd - 1)
        full = _correlate(_pad(u, 2, 2, 2, 2), wmod[:, :, :, ::-1, ::-1])  # full true convolution: 2H+1
        y = _fir(_pad(full, 1, 1, 1, 1), _a(state, prefix + ".resample_filter"), 4.0)  # -> 2H
    else:
        y = _correlate(_pad(x, 1, 1, 1, 1), wmod)
    y = y * dcoefs[:, :, None, None]
    if noise_mode == "const":
        y = y + _a(state, prefix + ".noise_const")[None, None] * _a(state, prefix + ".noise_strength")
    elif noise_mode != "none":
        raise ValueError(f"noise_mode must be 'const' or 'none', not {noise_mode!r}")
    y = y + _a(state, prefix + ".bias")[None, :, None, None]
    y = _lrelu(y) * (_SQRT2 * gain)
    if conv_clamp is not None:
        y = np.clip(y, -conv_clamp * gain, conv_clamp * gain)
    return y


def _torgb(
    state: dict[str, np.ndarray], prefix: str, x: np.ndarray, w: np.ndarray, conv_clamp: float | None
) -> np.ndarray:
    weight = _a(state, prefix + ".weight")  # [3, I, 1, 1]
    styles = _styles(state, prefix, w) / math.sqrt(weight.shape[1])
    wmod = weight[None] * styles[:, None, :, None, None]  # no demodulation
    y = _correlate(x, wmod) + _a(state, prefix + ".bias")[None, :, None, None]
    if conv_clamp is not None:
        y = np.clip(y, -conv_clamp, conv_clamp)
    return y


def _skip(state: dict[str, np.ndarray], prefix: str, x: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Resnet skip: 1x1 conv (no bias, gain 1/sqrt(I)) of the upsampled input, times sqrt(0.5)."""
    weight = _a(state, prefix + ".weight")
    up = _upsample2d(x, f)
    wk = np.broadcast_to(weight[None] / math.sqrt(weight.shape[1]), (x.shape[0], *weight.shape))
    return _correlate(up, wk) * math.sqrt(0.5)


def synthesize(
    state: dict[str, np.ndarray],
    ws: np.ndarray,
    *,
    noise_mode: str,
    architecture: str,
    conv_clamp: float | None,
    img_resolution: int,
) -> np.ndarray:
    """The synthesis network: ws [N, num_ws, w_dim] -> image [N, C, R, R]."""
    resolutions = [2**i for i in range(2, int(round(math.log2(img_resolution))) + 1)]
    x: np.ndarray | None = None
    img: np.ndarray | None = None
    w_idx = 0
    for res in resolutions:
        p = f"synthesis.b{res}"
        is_last = res == img_resolution
        has_torgb = is_last or architecture == "skip"
        f = _a(state, p + ".resample_filter")
        if res == 4:
            const = _a(state, p + ".const")
            x = np.repeat(const[None], ws.shape[0], axis=0)
            x = _synthesis_layer(
                state, p + ".conv1", x, ws[:, w_idx], up=False, noise_mode=noise_mode, conv_clamp=conv_clamp
            )
            num_conv = 1
        else:
            assert x is not None
            if architecture == "resnet":
                y = _skip(state, p + ".skip", x, f)
                x = _synthesis_layer(
                    state,
                    p + ".conv0",
                    x,
                    ws[:, w_idx],
                    up=True,
                    noise_mode=noise_mode,
                    conv_clamp=conv_clamp,
                )
                x = _synthesis_layer(
                    state,
                    p + ".conv1",
                    x,
                    ws[:, w_idx + 1],
                    up=False,
                    noise_mode=noise_mode,
                    conv_clamp=conv_clamp,
                    gain=math.sqrt(0.5),
                )
                x = y + x
            else:
                x = _synthesis_layer(
                    state,
                    p + ".conv0",
                    x,
                    ws[:, w_idx],
                    up=True,
                    noise_mode=noise_mode,
                    conv_clamp=conv_clamp,
                )
                x = _synthesis_layer(
                    state,
                    p + ".conv1",
                    x,
                    ws[:, w_idx + 1],
                    up=False,
                    noise_mode=noise_mode,
                    conv_clamp=conv_clamp,
                )
            num_conv = 2
        if img is not None:
            img = _upsample2d(img, f)
        if has_torgb:
            y = _torgb(state, p + ".torgb", x, ws[:, w_idx + num_conv], conv_clamp)
            img = y if img is None else img + y
        w_idx += num_conv
    assert img is not None
    return img


def reference_render(
    state: dict[str, np.ndarray],
    *,
    z: np.ndarray,
    c: np.ndarray | None,
    psi: float,
    cutoff: int | None,
    noise_mode: str,
    num_ws: int,
    mapping_layers: int,
    architecture: str,
    conv_clamp: float | None,
    img_resolution: int,
    lr_multiplier: float = 0.01,
) -> np.ndarray:
    """G_ema(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=...) as NCHW float64."""
    z = np.atleast_2d(np.asarray(z))
    if c is not None:
        c = np.atleast_2d(np.asarray(c))
    ws = map_z(
        state,
        z=z,
        c=c,
        psi=psi,
        cutoff=cutoff,
        num_ws=num_ws,
        mapping_layers=mapping_layers,
        lr_multiplier=lr_multiplier,
    )
    return synthesize(
        state,
        ws,
        noise_mode=noise_mode,
        architecture=architecture,
        conv_clamp=conv_clamp,
        img_resolution=img_resolution,
    )
