"""A slow, explicit float64 StyleGAN3 ``G_ema`` forward written from the math, for tests.

Input: the NVIDIA-named state dict (``synthesis.input.freqs``, ``synthesis.L0_36_8.up_filter``...) as numpy
arrays, and per layer the stored hyper-parameters (factors, padding, flags) as a plain dict. Every step is
spelled out with numpy:

* Fourier features: frequencies and phases turned and shifted by the rotation/translation that the input
  affine predicts from w, composed with the user transform, faded out of band, evaluated at pixel centres
  ``(j + 0.5 - size/2) / sampling_rate`` and mixed by the input weight.
* Modulated convolution in the weight form: weights scaled per sample by the styles (both first
  normalised when demodulating), demodulated per output channel, times the input gain
  ``1/sqrt(magnitude_ema)``, then a correlation with ``k - 1`` zeros of padding on each side.
* Filtered leaky ReLU: bias; zero insertion (``u[up*i] = x[i]``); zero padding (negative = crop); the up
  filter as a true convolution at the valid positions, gain ``up`` per axis; leaky ReLU (0.2) times sqrt 2,
  clamp; the down filter as a true convolution at the valid positions; every ``down``-th sample. The ToRGB
  layer is bias + clamp only.

Nothing here imports torch, latentwalk or NVIDIA code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sg2_reference import map_z

__all__ = ["fourier_features", "filtered_lrelu", "map_z", "reference_render", "synthesize"]

_F64 = np.float64


def _a(state: dict[str, np.ndarray], key: str) -> np.ndarray:
    return np.asarray(state[key], dtype=_F64)


def _affine(state: dict[str, np.ndarray], prefix: str, w: np.ndarray) -> np.ndarray:
    weight = _a(state, prefix + ".weight")
    return w @ (weight / math.sqrt(weight.shape[1])).T + _a(state, prefix + ".bias")


def user_matrix(translate: tuple[float, float], degrees: float) -> np.ndarray:
    """The inverse of the translate/rotate matrix that gen_images.py builds."""
    a = degrees / 360.0 * 2 * math.pi
    m = np.array(
        [[math.cos(a), math.sin(a), translate[0]], [-math.sin(a), math.cos(a), translate[1]], [0, 0, 1]]
    )
    return np.linalg.inv(m).astype(np.float32).astype(_F64)


def fourier_features(
    state: dict[str, np.ndarray],
    w: np.ndarray,
    *,
    size: int,
    sampling_rate: float,
    bandwidth: float,
    user: np.ndarray | None = None,
) -> np.ndarray:
    """[N, w_dim] -> [N, C, size, size]."""
    user = _a(state, "synthesis.input.transform") if user is None else user
    t = _affine(state, "synthesis.input.affine", w)  # (cos, sin, tx, ty)
    t = t / np.linalg.norm(t[:, :2], axis=1, keepdims=True)
    freqs0 = _a(state, "synthesis.input.freqs")
    phases0 = _a(state, "synthesis.input.phases")
    weight = _a(state, "synthesis.input.weight")
    centres = (np.arange(size) + 0.5 - size / 2) / sampling_rate
    out = []
    for n in range(len(w)):
        c, s, tx, ty = t[n]
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        shift = np.array([[1, 0, -tx], [0, 1, -ty], [0, 0, 1]])
        m = rot @ shift @ user
        phases = phases0 + freqs0 @ m[:2, 2]
        freqs = freqs0 @ m[:2, :2]
        amp = np.clip(1 - (np.linalg.norm(freqs, axis=1) - bandwidth) / (sampling_rate / 2 - bandwidth), 0, 1)
        arg = centres[None, :, None] * freqs[:, 0][None, None, :] + centres[:, None, None] * freqs[:, 1]
        x = np.sin(2 * math.pi * (arg + phases)) * amp  # [H, W, C]
        x = x @ (weight / math.sqrt(weight.shape[0])).T
        out.append(x.transpose(2, 0, 1))
    return np.stack(out)


def _conv_valid_1d(x: np.ndarray, f: np.ndarray, axis: int) -> np.ndarray:
    """True convolution with f along ``axis``, valid positions only (length n - k + 1)."""
    k = len(f)
    n = x.shape[axis] - k + 1
    out = np.zeros(x.shape[:axis] + (n,) + x.shape[axis + 1 :])
    for j in range(k):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(j, j + n)
        out += f[k - 1 - j] * x[tuple(sl)]
    return out


def _conv_valid_2d(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    """True 2-D convolution with f over the last two axes, valid positions only."""
    kh, kw = f.shape
    h, w = x.shape[-2] - kh + 1, x.shape[-1] - kw + 1
    out = np.zeros(x.shape[:-2] + (h, w))
    for i in range(kh):
        for j in range(kw):
            out += f[kh - 1 - i, kw - 1 - j] * x[..., i : i + h, j : j + w]
    return out


def _pad(x: np.ndarray, x0: int, x1: int, y0: int, y1: int) -> np.ndarray:
    x = np.pad(x, [(0, 0), (0, 0), (max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))])
    return x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]


def filtered_lrelu(
    x: np.ndarray,
    fu: np.ndarray | None,
    fd: np.ndarray | None,
    b: np.ndarray,
    *,
    up: int,
    down: int,
    padding: list[int],
    gain: float,
    slope: float,
    clamp: float | None,
) -> np.ndarray:
    x = x + b[None, :, None, None]
    n, c, h, w = x.shape
    z = np.zeros((n, c, h * up, w * up))
    z[:, :, ::up, ::up] = x
    z = _pad(z, *padding)
    if fu is not None:
        f = np.asarray(fu, dtype=_F64) * up  # gain up**2 over both axes
        z = _conv_valid_1d(_conv_valid_1d(z, f, 2), f, 3)
    z = np.where(z >= 0, z, z * slope) * gain
    if clamp is not None:
        z = np.clip(z, -clamp, clamp)
    if fd is not None:
        fd = np.asarray(fd, dtype=_F64)
        z = _conv_valid_2d(z, fd) if fd.ndim == 2 else _conv_valid_1d(_conv_valid_1d(z, fd, 2), fd, 3)
    return z[:, :, ::down, ::down]


def _modulated_conv(
    x: np.ndarray, weight: np.ndarray, styles: np.ndarray, *, demodulate: bool, input_gain: float
) -> np.ndarray:
    out_ch, in_ch, k, _ = weight.shape
    if demodulate:
        weight = weight / np.sqrt(np.mean(weight**2, axis=(1, 2, 3), keepdims=True))
        styles = styles / np.sqrt(np.mean(styles**2, axis=1, keepdims=True))
    xp = np.pad(x, [(0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)])
    h, w = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    out = np.zeros((len(x), out_ch, h, w))
    for n in range(len(x)):
        wn = weight * styles[n][None, :, None, None]
        if demodulate:
            wn = wn / np.sqrt(np.sum(wn**2, axis=(1, 2, 3), keepdims=True) + 1e-8)
        wn = wn * input_gain
        for i in range(k):
            for j in range(k):
                out[n] += np.einsum("oi,ihw->ohw", wn[:, :, i, j], xp[n, :, i : i + h, j : j + w])
    return out


def synthesize(
    state: dict[str, np.ndarray],
    ws: np.ndarray,
    layers: list[dict[str, Any]],
    *,
    input_spec: dict[str, Any],
    output_scale: float,
    user: np.ndarray | None = None,
) -> np.ndarray:
    """ws [N, num_ws, w_dim] -> images [N, C, H, W]. ``layers``: per layer name and stored attributes."""
    x = fourier_features(state, ws[:, 0], user=user, **input_spec)
    for idx, spec in enumerate(layers):
        p = f"synthesis.{spec['name']}"
        styles = _affine(state, p + ".affine", ws[:, idx + 1])
        weight = _a(state, p + ".weight")
        if spec["is_torgb"]:
            styles = styles / math.sqrt(weight.shape[1] * weight.shape[2] ** 2)
        gain_in = 1 / math.sqrt(float(state[p + ".magnitude_ema"]))
        x = _modulated_conv(x, weight, styles, demodulate=not spec["is_torgb"], input_gain=gain_in)
        x = filtered_lrelu(
            x,
            state.get(p + ".up_filter"),
            state.get(p + ".down_filter"),
            _a(state, p + ".bias"),
            up=spec["up_factor"],
            down=spec["down_factor"],
            padding=spec["padding"],
            gain=1.0 if spec["is_torgb"] else math.sqrt(2),
            slope=1.0 if spec["is_torgb"] else 0.2,
            clamp=spec["conv_clamp"],
        )
    return x * output_scale


def reference_render(
    state: dict[str, np.ndarray],
    tree: Any,
    *,
    z: np.ndarray,
    c: np.ndarray | None,
    psi: float,
    cutoff: int | None = None,
    transform: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """z -> image for a writer tree (``nvpickle_writer.build_stylegan3``); attributes read from the tree."""
    syn = tree.get("synthesis")
    mapping = tree.get("mapping")
    layers = [dict(syn.modules[n].state, name=n) for n in syn.state["layer_names"]]
    inp = syn.modules["input"].state
    ws = map_z(
        state,
        z=z,
        c=c,
        psi=psi,
        cutoff=cutoff,
        num_ws=syn.state["num_ws"],
        mapping_layers=mapping.state["num_layers"],
        lr_multiplier=float(mapping.modules["fc0"].state["bias_gain"]),
    )
    user = None if transform is None else user_matrix(transform[:2], transform[2])
    spec = {
        "size": int(inp["size"][0]),
        "sampling_rate": float(inp["sampling_rate"]),
        "bandwidth": float(inp["bandwidth"]),
    }
    return synthesize(
        state, ws, layers, input_spec=spec, output_scale=float(syn.state["output_scale"]), user=user
    )
