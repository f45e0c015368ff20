"""Attribute axes: sample latents, render, score (built-in features or a classifier), fit; and axes
taught by example from seeds marked in the browser."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from latentwalk.catalog import ModelRef
from latentwalk.directions import sampling
from latentwalk.directions.features import feature
from latentwalk.directions.fit import MIN_PER_CLASS, fit_logistic, fit_ridge
from latentwalk.directions.vectors import Direction
from latentwalk.errors import InvalidRequest
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker

Scorer = Callable[[np.ndarray], dict[str, np.ndarray]]  # uint8 frames [N, H, W, C] -> {name: [N]}


def feature_scorer(names: Sequence[str]) -> Scorer:
    """Scores of the named built-in features (unknown names raise InvalidRequest at once)."""
    fns = {n: feature(n) for n in names}
    if not fns:
        raise InvalidRequest("name at least one feature")
    return lambda pixels: {n: f(pixels) for n, f in fns.items()}


def _std_along(latents: np.ndarray, axis: np.ndarray) -> float:
    return float(np.std(latents @ axis, ddof=1))


def fit_axes(
    worker: InferenceWorker,
    model: ModelRef,
    scorer: Scorer,
    method: str = "feature",
    samples: int = 2000,
    seed: int = 0,
    progress: sampling.Progress | None = None,
    cancel: threading.Event | None = None,
    score_samples: Callable[[sampling.Samples, sampling.Progress], dict[str, np.ndarray]] | None = None,
) -> list[Direction]:
    """One axis per score: ridge regression of the score on the sampled latents.

    Progress counts rendered images (then one more step for scoring and fitting). `score_samples`
    renders and scores the samples elsewhere (the render farm: cluster/samples.py) instead of on
    `worker` with `scorer`."""
    sampling.check_count(samples, 20)
    total = samples + 1

    def step(done: int, _n: int) -> None:
        if progress:
            progress(done, total)

    s = sampling.sample(worker, model, samples, seed, cancel=cancel)
    if score_samples is not None:
        scores = score_samples(s, step)
    else:
        scores = scorer(sampling.render(worker, model, s, progress=step, cancel=cancel))
    out = []
    for name, y in scores.items():
        sampling.stopped(cancel)
        if float(np.std(y)) == 0.0:
            raise InvalidRequest(f"'{name}' is the same for every sample: no axis to find")
        f = fit_ridge(s.latents, y)
        # The axis points toward a higher score; its std is that of the samples along it.
        out.append(
            Direction(
                name,
                method,
                s.space,  # type: ignore[arg-type]
                f.axis,
                _std_along(s.latents, f.axis),
                stats={
                    "r2": round(f.score, 4),
                    "samples": samples,
                    "score_mean": float(np.mean(y)),
                    "score_std": float(np.std(y)),
                    "score_per_std": float(np.linalg.norm(f.weights)) * _std_along(s.latents, f.axis),
                },
            )
        )
    step(total, total)
    return out


def seed_latents(worker: InferenceWorker, model: ModelRef, seeds: Sequence[int]) -> tuple[np.ndarray, str]:
    """The latents directions live in for seeds: z, or w (psi 1, first layer) for StyleGAN models."""
    info = worker.info(model)
    z = seeds_to_z(list(seeds), info.z_dim).astype(np.float32)
    if not info.has_w:
        return z.astype(np.float64), "z"
    return worker.map(model, z, sampling.labels(info, len(z)))[:, 0, :].astype(np.float64), "w"


def teach(
    worker: InferenceWorker, model: ModelRef, name: str, positive: Sequence[int], negative: Sequence[int]
) -> Direction:
    """An axis from seeds marked with the quality (positive) and without it (negative).

    Raises:
        InvalidRequest: fewer than MIN_PER_CLASS marks of either kind, or a seed marked both ways.
    """
    pos, neg = sorted(set(positive)), sorted(set(negative))
    both = set(pos) & set(neg)
    if both:
        raise InvalidRequest(f"seeds {sorted(both)[:5]} are marked both with and without the quality")
    if len(pos) < MIN_PER_CLASS or len(neg) < MIN_PER_CLASS:
        raise InvalidRequest(
            f"{len(pos)} marked with and {len(neg)} without the quality: mark at least "
            f"{MIN_PER_CLASS} of each"
        )
    latents, space = seed_latents(worker, model, pos + neg)
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    f = fit_logistic(latents, labels)
    return Direction(
        name,
        "taught",
        space,  # type: ignore[arg-type]
        f.axis,
        # One std is that of the model's own latents along the axis (the marked ones are a biased lot).
        max(_std_along(sampling.sample(worker, model, 1000, seed=1).latents, f.axis), 1e-3),
        stats={
            "accuracy": round(f.score, 4),
            "positive": pos,
            "negative": neg,
            "samples": len(pos) + len(neg),
        },
    )
