"""Direction fits on the render farm: the sampled latents rendered and scored in chunks by actors.

The samples are drawn on the driver exactly as a local fit draws them; each actor renders a chunk
and scores it with the same features or classifier, so only scores travel back and the fit is the
one a local run makes (frames identical on the same kind of device and thread count)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentwalk.catalog import ModelRef
from latentwalk.directions import sampling

CHUNK = 128  # samples per task: large enough to keep an actor busy, small enough to balance


@dataclass(frozen=True)
class ScorerSpec:
    """What scores the images on an actor: built-in features by name, or a classifier file."""

    features: tuple[str, ...] = ()
    classifier_sha256: str | None = None
    classifier_suffix: str = ""
    trusted: bool = False

    def build(self, classifier: bytes | None, folder: Path) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        from latentwalk.directions.axes import feature_scorer
        from latentwalk.directions.classifier import load_classifier
        from latentwalk.errors import ModelLoadError

        if self.classifier_sha256 is None:
            return feature_scorer(self.features)
        if classifier is None or hashlib.sha256(classifier).hexdigest() != self.classifier_sha256:
            raise ModelLoadError("the classifier arrived damaged (its sha256 differs)")
        path = folder / f"classifier-{self.classifier_sha256[:16]}{self.classifier_suffix}"
        path.write_bytes(classifier)
        return load_classifier(path, trusted=self.trusted).scores


def scorer_for(
    features: tuple[str, ...] = (), classifier: Path | None = None, trusted: bool = False
) -> tuple[ScorerSpec, bytes | None]:
    """The spec (and classifier bytes) for `features` or a `classifier` file."""
    if classifier is None:
        return ScorerSpec(features=tuple(features)), None
    data = Path(classifier).read_bytes()
    spec = ScorerSpec(
        classifier_sha256=hashlib.sha256(data).hexdigest(),
        classifier_suffix=Path(classifier).suffix,
        trusted=trusted,
    )
    return spec, data


def scores_on_cluster(
    farm: Any,
    model: ModelRef,
    spec: ScorerSpec,
    classifier: bytes | None,
    cancel: threading.Event | None = None,
) -> Callable[[sampling.Samples, sampling.Progress], dict[str, np.ndarray]]:
    """A `score_samples` for directions.axes.fit_axes that renders and scores on `farm` (a Cluster)."""

    def score(s: sampling.Samples, progress: sampling.Progress) -> dict[str, np.ndarray]:
        n = len(s.z)
        data = None if classifier is None else farm.ray.put(classifier)
        items = [
            (sampling.Samples(s.z[i : i + CHUNK], s.latents[i : i + CHUNK], s.space), spec, data)
            for i in range(0, n, CHUNK)
        ]

        def step(done_items: int) -> None:
            progress(min(done_items * CHUNK, n), n)

        parts: list[dict[str, Any]] = farm.map(model, "score_samples", items, progress=step, cancel=cancel)
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]} if parts else {}

    return score
