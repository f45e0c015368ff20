"""Run a projection through the inference worker in short slices, with progress and cancellation.

Each slice (a few steps, about a quarter of a second) is one job on the worker's queue, so the
device keeps its one owner and the explorer's renders are served between slices: a projection of
several minutes never freezes the page. The projector keeps its own trainable copy of the
generator, made once in the first slice, so an eviction from the model cache does not disturb it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from latentwalk.backends import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.errors import LatentwalkError
from latentwalk.projection.perceptual import load_vgg_features
from latentwalk.projection.projector import (
    ProjectionOptions,
    ProjectionResult,
    ProjectionStep,
    Projector,
    trainable_copy,
)
from latentwalk.render.worker import InferenceWorker


class ProjectionCancelled(LatentwalkError):
    """The projection was stopped; the latent found so far is in `partial`."""

    def __init__(self, message: str, partial: ProjectionResult | None = None) -> None:
        super().__init__(message)
        self.partial = partial


def project(
    worker: InferenceWorker,
    model: ModelRef,
    target: np.ndarray,  # [R, R, 3] uint8 at the model's resolution (see imagein.load_target)
    options: ProjectionOptions,
    progress: Callable[[ProjectionStep], None] | None = None,
    cancel: threading.Event | None = None,
    slice_seconds: float = 0.25,
    perceptual_weights: Path | None = None,
) -> ProjectionResult:
    """Project `target` into `model`'s latent space. Blocking; call it from a thread, not a loop.

    Raises:
        ProjectionCancelled: `cancel` was set; the exception carries the latent found so far.
        InvalidRequest: bad options, a target of the wrong size, a space the model lacks.
        ModelLoadError: `perceptual_weights` (a local VGG-16 state dict, optional) did not load.
    """
    options.check()

    def start(loaded: LoadedModel | None, device: torch.device) -> Projector:
        assert loaded is not None
        g = trainable_copy(loaded.generator).to(device)
        features = load_vgg_features(perceptual_weights, device) if perceptual_weights else None
        return Projector(g, target, options, device, features=features)

    projector: Projector = worker.call(start, model).result()
    while not projector.done:
        if cancel is not None and cancel.is_set():
            partial = worker.call(lambda *_: projector.result()).result()
            raise ProjectionCancelled(f"projection stopped at step {projector.step}", partial)
        step: ProjectionStep = worker.call(
            lambda *_: projector.run(max_steps=50, max_seconds=slice_seconds)
        ).result()
        if progress is not None:
            progress(step)
    return worker.call(lambda *_: projector.result()).result()
