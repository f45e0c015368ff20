"""Slow, explicit float64 forward passes of StyleGAN (v1) and Progressive GAN, from TF variables.

Inputs are the TF-named variables (``4x4/Conv/weight`` [kh, kw, in, out], ...) exactly as a pickle holds
them; every op follows TensorFlow's definition in NCHW, written with numpy loops over kernel taps:

* ``conv2d`` with 'SAME' padding: cross-correlation,
  ``y[o, i, j] = sum x[c, i + ky - p, j + kx - p] w[ky, kx, c, o]``;
* ``conv2d_transpose`` with stride 2, 'SAME' and a 4x4 kernel [kh, kw, out, in]: every input pixel
  scatters ``x[c, i, j] w[ky, kx, o, c]`` to output pixel ``(2i + ky - 1, 2j + kx - 1)``;
* the fused-upscale kernel: the 3x3 kernel zero-padded to 5x5 and summed at its four 4x4 corners;
* nearest upscale by repetition; the [1, 2, 1] blur as a depthwise 'SAME' filter summing to one.

Nothing here imports torch, latentwalk or NVIDIA code.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["progan_render", "stylegan1_mapping", "stylegan1_render"]

F64 = np.float64


def _lrelu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.2 * x)


def _pixel_norm(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + eps)


def conv2d_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:  # x [N, C, H, W], w [kh, kw, C, O]
    kh, kw = w.shape[:2]
    py, px = kh // 2, kw // 2
    n, _, h, wd = x.shape
    xp = np.zeros((n, x.shape[1], h + 2 * py, wd + 2 * px))
    xp[:, :, py : py + h, px : px + wd] = x
    y = np.zeros((n, w.shape[3], h, wd))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky : ky + h, kx : kx + wd]
            y += np.einsum("nchw,co->nohw", patch, w[ky, kx])
    return y


def conv2d_transpose_s2(x: np.ndarray, w: np.ndarray) -> np.ndarray:  # w [4, 4, O, C] -> [N, O, 2H, 2W]
    n, _, h, wd = x.shape
    y = np.zeros((n, w.shape[2], 2 * h + 2, 2 * wd + 2))  # one spare row/column on each side
    for ky in range(4):
        for kx in range(4):
            contrib = np.einsum("nchw,oc->nohw", x, w[ky, kx])
            # output index 2i + ky - 1, stored at offset +1
            y[:, :, ky : ky + 2 * h : 2, kx : kx + 2 * wd : 2] += contrib
    return y[:, :, 1 : 2 * h + 1, 1 : 2 * wd + 1]


def fused_kernel(w: np.ndarray) -> np.ndarray:
    p = np.pad(w, [(1, 1), (1, 1), (0, 0), (0, 0)])
    return p[1:, 1:] + p[:-1, 1:] + p[1:, :-1] + p[:-1, :-1]


def _upscale(x: np.ndarray) -> np.ndarray:
    return x.repeat(2, axis=2).repeat(2, axis=3)


def _blur(x: np.ndarray) -> np.ndarray:
    f = np.array([1.0, 2.0, 1.0])
    k = np.outer(f, f) / 16.0
    n, c, h, wd = x.shape
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    y = np.zeros_like(x)
    for ky in range(3):
        for kx in range(3):
            y += k[ky, kx] * xp[:, :, ky : ky + h, kx : kx + wd]
    return y


def _he(shape: tuple[int, ...], gain: float = math.sqrt(2)) -> float:
    return gain / math.sqrt(float(np.prod(shape[:-1])))


# ------------------------------------------------------------------------------------------------
# StyleGAN (v1)


def stylegan1_mapping(
    v: dict[str, np.ndarray], z: np.ndarray, c: np.ndarray | None, psi: float, cutoff: int, num_ws: int
) -> np.ndarray:
    """G_mapping then G_style's truncation: z [N, z_dim] -> dlatents [N, num_ws, w_dim]."""
    x = np.asarray(z, np.float32).astype(F64)
    if "mapping/LabelConcat/weight" in v:
        x = np.concatenate([x, np.asarray(c, F64) @ v["mapping/LabelConcat/weight"].astype(F64)], axis=1)
    x = _pixel_norm(x)
    i = 0
    while f"mapping/Dense{i}/weight" in v:
        w = v[f"mapping/Dense{i}/weight"].astype(F64)
        x = _lrelu(x @ (w * _he(w.shape) * 0.01) + v[f"mapping/Dense{i}/bias"].astype(F64) * 0.01)
        i += 1
    ws = np.repeat(x[:, None], num_ws, axis=1)
    avg = v["dlatent_avg"].astype(F64)
    coefs = np.where(np.arange(num_ws) < cutoff, psi, 1.0)[None, :, None]
    return avg + (ws - avg) * coefs


def _epilogue(v: dict[str, np.ndarray], scope: str, x: np.ndarray, dl: np.ndarray, noise: np.ndarray | None):
    s = f"synthesis/{scope}"
    if noise is not None:
        x = x + noise * v[f"{s}/Noise/weight"].astype(F64).reshape(1, -1, 1, 1)
    x = _lrelu(x + v[f"{s}/bias"].astype(F64).reshape(1, -1, 1, 1))
    x = x - x.mean(axis=(2, 3), keepdims=True)
    x = x / np.sqrt(np.mean(x * x, axis=(2, 3), keepdims=True) + 1e-8)
    sw = v[f"{s}/StyleMod/weight"].astype(F64)
    style = dl @ (sw * _he(sw.shape, 1.0)) + v[f"{s}/StyleMod/bias"].astype(F64)  # [N, 2C]
    ch = x.shape[1]
    return x * (style[:, :ch, None, None] + 1) + style[:, ch:, None, None]


def stylegan1_render(
    v: dict[str, np.ndarray], dlatents: np.ndarray, *, noise_mode: str = "const", fused_from: int = 128
) -> np.ndarray:
    """G_synthesis at lod 0, randomize_noise=False (const) or without noise ('none')."""
    res = int(math.sqrt(v[f"synthesis/noise{dlatents.shape[1] - 1}"].size))

    def noise(i: int) -> np.ndarray | None:
        return v[f"synthesis/noise{i}"].astype(F64) if noise_mode == "const" else None

    n = dlatents.shape[0]
    x = np.repeat(v["synthesis/4x4/Const/const"].astype(F64), n, axis=0)
    x = _epilogue(v, "4x4/Const", x, dlatents[:, 0], noise(0))
    w = v["synthesis/4x4/Conv/weight"].astype(F64)
    x = _epilogue(v, "4x4/Conv", conv2d_same(x, w * _he(w.shape)), dlatents[:, 1], noise(1))
    for k in range(3, int(math.log2(res)) + 1):
        r = 2**k
        w = v[f"synthesis/{r}x{r}/Conv0_up/weight"].astype(F64) * _he(
            v[f"synthesis/{r}x{r}/Conv0_up/weight"].shape
        )
        if r >= fused_from:
            x = conv2d_transpose_s2(x, fused_kernel(w.transpose(0, 1, 3, 2)))
        else:
            x = conv2d_same(_upscale(x), w)
        x = _epilogue(v, f"{r}x{r}/Conv0_up", _blur(x), dlatents[:, 2 * k - 4], noise(2 * k - 4))
        w = v[f"synthesis/{r}x{r}/Conv1/weight"].astype(F64)
        x = _epilogue(
            v, f"{r}x{r}/Conv1", conv2d_same(x, w * _he(w.shape)), dlatents[:, 2 * k - 3], noise(2 * k - 3)
        )
    w = v["synthesis/ToRGB_lod0/weight"].astype(F64)
    return conv2d_same(x, w * _he(w.shape, 1.0)) + v["synthesis/ToRGB_lod0/bias"].astype(F64).reshape(
        1, -1, 1, 1
    )


# ------------------------------------------------------------------------------------------------
# Progressive GAN


def progan_render(v: dict[str, np.ndarray], z: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """G_paper at lod 0 (leaky ReLU, pixel norm, equalised learning rate)."""
    x = np.asarray(z, np.float32).astype(F64)
    if c is not None:
        x = np.concatenate([x, np.asarray(c, F64)], axis=1)
    x = _pixel_norm(x)

    def post(y: np.ndarray, scope: str) -> np.ndarray:
        return _pixel_norm(_lrelu(y + v[f"{scope}/bias"].astype(F64).reshape(1, -1, 1, 1)))

    w = v["4x4/Dense/weight"].astype(F64)
    ch = v["4x4/Dense/bias"].shape[0]
    x = post((x @ (w * _he(w.shape, math.sqrt(2) / 4))).reshape(-1, ch, 4, 4), "4x4/Dense")
    w = v["4x4/Conv/weight"].astype(F64)
    x = post(conv2d_same(x, w * _he(w.shape)), "4x4/Conv")
    r = 8
    while f"{r}x{r}/Conv1/weight" in v:
        if f"{r}x{r}/Conv0_up/weight" in v:
            w = v[f"{r}x{r}/Conv0_up/weight"].astype(F64)  # [3, 3, out, in]; fan_in = 9 * in
            gain = math.sqrt(2) / math.sqrt(9 * w.shape[3])
            x = post(conv2d_transpose_s2(x, fused_kernel(w * gain)), f"{r}x{r}/Conv0_up")
        else:
            w = v[f"{r}x{r}/Conv0/weight"].astype(F64)
            x = post(conv2d_same(_upscale(x), w * _he(w.shape)), f"{r}x{r}/Conv0")
        w = v[f"{r}x{r}/Conv1/weight"].astype(F64)
        x = post(conv2d_same(x, w * _he(w.shape)), f"{r}x{r}/Conv1")
        r *= 2
    w = v["ToRGB_lod0/weight"].astype(F64)
    return conv2d_same(x, w * _he(w.shape, 1.0)) + v["ToRGB_lod0/bias"].astype(F64).reshape(1, -1, 1, 1)
