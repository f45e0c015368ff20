"""Linear fits from latents to scores (ridge) or labels (logistic regression), cross-validated.

The normalised weight vector of the fit is the attribute's axis (TL-GAN, InterFaceGAN). Both fits
standardise nothing: latents are used as they are, so the weight vector lives in latent space.
Plain torch; no scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latentwalk.errors import InvalidRequest

MIN_PER_CLASS = 10


@dataclass(frozen=True)
class Fit:
    """A fitted axis: its unit vector, the raw weights and bias, and how well it predicts."""

    axis: np.ndarray  # [dim] unit
    weights: np.ndarray  # [dim]
    bias: float
    score: float  # cross-validated R^2 (ridge) or accuracy (logistic)
    metric: str  # "r2" | "accuracy"
    samples: int


def _checked(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise InvalidRequest(f"latents {tuple(x.shape)} and scores {tuple(y.shape)} do not match")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidRequest("latents or scores contain NaN or infinite values")
    return x, y


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    mx, my = x.mean(0), y.mean()
    xc, yc = torch.from_numpy(x - mx), torch.from_numpy(y - my)
    gram = xc.T @ xc + alpha * len(x) * torch.eye(x.shape[1], dtype=torch.float64)
    w = torch.linalg.solve(gram, xc.T @ yc).numpy()
    return w, float(my - mx @ w)


def _logistic(x: np.ndarray, y: np.ndarray, alpha: float, iters: int = 200) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (IRLS): a few exact steps."""
    xt = torch.from_numpy(np.concatenate([x, np.ones((len(x), 1))], axis=1))
    yt = torch.from_numpy(y)
    d = xt.shape[1]
    reg = alpha * len(x) * torch.eye(d, dtype=torch.float64)
    reg[-1, -1] = 0.0  # the bias is not shrunk
    beta = torch.zeros(d, dtype=torch.float64)
    for _ in range(iters):
        p = torch.sigmoid(xt @ beta)
        grad = xt.T @ (p - yt) + reg @ beta
        hess = (xt * (p * (1 - p)).unsqueeze(1)).T @ xt + reg + 1e-9 * torch.eye(d, dtype=torch.float64)
        step = torch.linalg.solve(hess, grad)
        beta = beta - step
        if float(step.abs().max()) < 1e-8:
            break
    b = beta.numpy()
    return b[:-1], float(b[-1])


def _folds(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [f for f in np.array_split(order, k) if len(f)]


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1e-2, folds: int = 5) -> Fit:
    """Ridge regression of continuous scores y [N] on latents x [N, dim].

    Raises:
        InvalidRequest: too few samples, mismatched shapes, constant scores.
    """
    x, y = _checked(x, y)
    if len(x) < 2 * folds or float(y.std()) == 0.0:
        raise InvalidRequest(f"a fit needs at least {2 * folds} samples with scores that vary")
    sse = sst = 0.0
    for f in _folds(len(x), folds):
        train = np.setdiff1d(np.arange(len(x)), f)
        w, b = _ridge(x[train], y[train], alpha)
        pred = x[f] @ w + b
        sse += float(((y[f] - pred) ** 2).sum())
        sst += float(((y[f] - y[train].mean()) ** 2).sum())
    w, b = _ridge(x, y, alpha)
    norm = float(np.linalg.norm(w))
    if norm == 0.0:
        raise InvalidRequest("the scores do not depend on the latents: no axis to find")
    return Fit(w / norm, w, b, 1.0 - sse / max(sst, 1e-300), "r2", len(x))


def fit_logistic(x: np.ndarray, labels: np.ndarray, alpha: float = 1e-2, folds: int = 5) -> Fit:
    """Logistic regression of binary labels [N] (1 = has the quality) on latents x [N, dim].

    Raises:
        InvalidRequest: fewer than MIN_PER_CLASS examples of either class, mismatched shapes.
    """
    x, y = _checked(x, labels)
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidRequest("labels must be 0 (without the quality) or 1 (with it)")
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if min(pos, neg) < MIN_PER_CLASS:
        raise InvalidRequest(
            f"{pos} marked with and {neg} without the quality: mark at least {MIN_PER_CLASS} of each"
        )
    folds = min(folds, min(pos, neg))
    correct = 0
    # Stratified folds, so every fold sees both classes.
    idx_pos, idx_neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    fp, fn = _folds(pos, folds, 1), _folds(neg, folds, 2)
    for a, b_ in zip(fp, fn, strict=True):
        test = np.concatenate([idx_pos[a], idx_neg[b_]])
        train = np.setdiff1d(np.arange(len(x)), test)
        w, b = _logistic(x[train], y[train], alpha)
        correct += int(((x[test] @ w + b > 0) == (y[test] == 1)).sum())
    w, b = _logistic(x, y, alpha)
    norm = float(np.linalg.norm(w))
    if norm == 0.0:
        raise InvalidRequest("the labels do not depend on the latents: no axis to find")
    return Fit(w / norm, w, b, correct / len(x), "accuracy", len(x))
