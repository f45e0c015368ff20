"""PCA directions (GANSpace): principal axes of w, or of an early layer regressed back onto z.

Models with a mapping network: sample z, map to w, and take the top principal components of w.
Models with no w space (DCGAN, the CPPN): z is isotropic, so PCA on z finds nothing. As GANSpace
does for BigGAN, take the activations of an early layer instead, find their principal components,
and regress each sample's coordinates on those components back onto z by least squares: the
regression's columns are the matching directions in z. Everything streams in chunks as sums
(mean, covariance, cross-covariance with z), so 20,000 samples never sit in memory at once.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentwalk.catalog import ModelRef
from latentwalk.directions.sampling import Progress, check_count, sample, stopped
from latentwalk.directions.vectors import Direction
from latentwalk.errors import InvalidRequest
from latentwalk.render.worker import InferenceWorker

MAX_FEATURES = 2048  # an early layer is average-pooled down to at most this many values
_ACTIVATIONS = (
    torch.nn.ReLU,
    torch.nn.LeakyReLU,
    torch.nn.GELU,
    torch.nn.SiLU,
    torch.nn.ELU,
    torch.nn.Tanh,
    torch.nn.Sigmoid,
)


def principal_axes(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-k principal axes [k, dim] (unit rows) of samples x [N, dim] and their variances [k]."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise InvalidRequest("PCA needs at least 2 samples of a vector")
    k = min(k, x.shape[1])
    xc = torch.from_numpy(x - x.mean(0))
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    var = (s[:k] ** 2 / (len(x) - 1)).numpy()
    return _signed(vh[:k].numpy()), var


def _signed(axes: np.ndarray) -> np.ndarray:
    """Deterministic signs: the largest entry of each axis is positive."""
    idx = np.argmax(np.abs(axes), axis=1)
    return axes * np.sign(axes[np.arange(len(axes)), idx])[:, None]


class _Stop(Exception):
    """Raised by a forward hook once the early layer's output is captured."""


def early_layer(g: Any) -> torch.nn.Module | None:
    """The first activation module of a z-space generator (None: no such module)."""
    for module in g.modules():
        if isinstance(module, _ACTIVATIONS):
            return module
    return None


def activations(g: Any, device: torch.device, z: np.ndarray) -> np.ndarray:  # [n, D] float64
    """An early layer's output for latents z, average-pooled to at most MAX_FEATURES values.

    Runs on the worker thread (through `InferenceWorker.submit_task`). A generator with no
    activation module gives its image, pooled, instead."""
    zt = torch.from_numpy(z).to(device)
    c = torch.zeros([len(z), getattr(g, "c_dim", 0)], device=device)
    layer = early_layer(g)
    captured: list[torch.Tensor] = []
    if layer is None:
        captured.append(g.render(zt, c))
    else:

        def hook(_m: torch.nn.Module, _i: Any, out: torch.Tensor) -> None:
            captured.append(out)
            raise _Stop

        handle = layer.register_forward_hook(hook)
        try:
            g.render(zt, c)
        except _Stop:
            pass
        finally:
            handle.remove()
    a = captured[0].float()
    if a.ndim == 4 and a[0].numel() > MAX_FEATURES:
        side = max(1, int((MAX_FEATURES / a.shape[1]) ** 0.5))
        a = F.adaptive_avg_pool2d(a, side)
    return a.reshape(len(z), -1).double().cpu().numpy()


def pca_directions(
    worker: InferenceWorker,
    model: ModelRef,
    samples: int = 20_000,
    components: int = 32,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[Direction]:
    """GANSpace directions named pc0, pc1, ... (largest variance first), with their statistics."""
    check_count(samples, 100)
    if not 1 <= components <= 512:
        raise InvalidRequest(f"components must be in 1..512, got {components}")
    info = worker.info(model)
    if info.has_w:
        s = sample(worker, model, samples, seed, progress=progress, cancel=cancel)
        axes, var = principal_axes(s.latents, components)
        total = float(s.latents.var(axis=0, ddof=1).sum())
        if not total > 0:
            raise InvalidRequest(
                f"the sampled w of {info.name} do not vary: there are no principal directions"
            )
        return [
            Direction(
                f"pc{i}",
                "pca",
                "w",
                axes[i],
                float(np.sqrt(var[i])),
                stats={"variance": float(var[i]), "explained": float(var[i] / total), "samples": samples},
            )
            for i in range(len(axes))
        ]
    return _pca_z(worker, model, samples, components, seed, progress, cancel)


def _pca_z(
    worker: InferenceWorker,
    model: ModelRef,
    n: int,
    k: int,
    seed: int,
    progress: Progress | None,
    cancel: threading.Event | None,
    chunk: int = 1000,
) -> list[Direction]:
    info = worker.info(model)
    z = np.random.default_rng(seed).standard_normal((n, info.z_dim)).astype(np.float32)
    sx = sxx = sxz = None
    for i in range(0, n, chunk):
        stopped(cancel)
        zc = z[i : i + chunk]
        a = worker.submit_task(model, lambda g, dev, zc=zc: activations(g, dev, zc)).result()
        zd = zc.astype(np.float64)
        a32 = torch.from_numpy(a.astype(np.float32))
        gram = (a32.T @ a32).double().numpy()  # float32 products, float64 sums over chunks
        sx = a.sum(0) if sx is None else sx + a.sum(0)
        sxx = gram if sxx is None else sxx + gram
        sxz = a.T @ zd if sxz is None else sxz + a.T @ zd
        if progress:
            progress(min(i + chunk, n), n)
    assert sx is not None and sxx is not None and sxz is not None
    zz = z.astype(np.float64)
    mx, mz = sx / n, zz.mean(0)
    cov = (sxx - n * np.outer(mx, mx)) / (n - 1)  # [D, D]
    cross = sxz - n * np.outer(mx, mz)  # [D, z_dim]: centred X^T Z
    k = min(k, info.z_dim, len(cov))
    cov_t = torch.from_numpy(cov)
    # Only the top k eigenpairs are needed: a randomised subspace iteration finds them in a
    # fraction of a full eigendecomposition (the covariance is symmetric, so its SVD is one).
    evecs, _, _ = torch.svd_lowrank(cov_t, q=min(k + 16, len(cov)), niter=8, M=None)
    lam_t = ((evecs.T @ cov_t) * evecs.T).sum(1)  # Rayleigh quotients: the eigenvalues
    order = torch.argsort(lam_t, descending=True)[:k]
    lam = lam_t[order].clamp_min(1e-12).numpy()
    v = evecs[:, order].numpy()  # [D, k]
    # Least squares z ~ coords @ U^T with coords = (x - mean) @ V: since the coordinates are
    # uncorrelated with variances lam, U^T = diag(1 / ((n - 1) lam)) V^T Xc^T Zc.
    u = (v.T @ cross) / ((n - 1) * lam[:, None])  # [k, z_dim]
    zcov = np.cov(zz, rowvar=False)
    total = float(np.trace(cov))
    if not total > 0:
        raise InvalidRequest(f"the activations of {info.name} do not vary: there are no principal directions")
    out = []
    for i in range(len(lam)):
        d = u[i] / max(float(np.linalg.norm(u[i])), 1e-12)
        out.append(
            Direction(
                f"pc{i}",
                "pca",
                "z",
                d,
                float(np.sqrt(d @ zcov @ d)),
                stats={
                    "variance": float(lam[i]),
                    "explained": float(lam[i] / total),
                    "samples": n,
                    "layer": "early activations regressed onto z",
                },
            )
        )
    return out
