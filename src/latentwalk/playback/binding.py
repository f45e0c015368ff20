"""Sources bound to their loaded model with the live truncation and view filter: the player's items."""

from __future__ import annotations

import logging
import random

import numpy as np

from latentwalk.animation.frames import plan
from latentwalk.catalog import ModelRef
from latentwalk.latents import seed_to_z
from latentwalk.playback.program import Item, Program, Source, still_source, walk_leg
from latentwalk.render.worker import InferenceWorker

log = logging.getLogger(__name__)


class Binder:
    """Makes items (each with its own id) and programs of them, for the worker's models, with the
    truncation `psi` and `shadows` filter of the moment (None: as the animation was saved)."""

    def __init__(self, worker: InferenceWorker, seed: int | None = None) -> None:
        self.worker = worker
        self.psi: float | None = None
        self.shadows: bool | None = None
        self.rng = random.Random(seed)  # seeds of random walks
        self._next_id = 0
        self._warned: set[str] = set()

    def bind(self, source: Source) -> Item:
        """Load the model if needed (blocking) and plan the source's frames."""
        p = plan(self.worker, source.model, source.with_overrides(self.psi, self.shadows), source.keys)
        sha = p.info.details.get("sha256")
        if source.sha256 and sha and sha != source.sha256 and source.name not in self._warned:
            self._warned.add(source.name)
            log.warning(
                "%s has changed since %r was saved (different content hash): frames may differ from "
                "the ones you saw",
                source.model.name,
                source.name,
            )
        self._next_id += 1
        return Item(self._next_id, source, p)

    def program(self, sources: list[Source], loop: bool) -> Program:
        return Program([self.bind(s) for s in sources], loop)

    def rebound(self, program: Program) -> Program:
        """The program with every item bound anew (after a change of truncation or filter)."""
        return program.rebound(lambda item: self.bind(item.source))

    def still(self, model: ModelRef, seed: int) -> Program:
        """One seed's picture, held."""
        info = self.worker.info(model)
        return Program([self.bind(still_source(model, info.z_dim, seed))], loop=True)

    def walk(self, model: ModelRef, start: np.ndarray | None, steps: int) -> Program:
        """An endless walk from latent `start` (a random seed's when None) to random seeds."""
        if start is None:
            start = seed_to_z(self.rng.randrange(2**31), self.worker.info(model).z_dim)[0].astype(np.float32)
        psi = 1.0 if self.psi is None else self.psi

        def extend(prev: Item) -> Item:
            return self.bind(walk_leg(model, prev.source.keys[-1], self.rng.randrange(2**31), steps, psi))

        first = self.bind(walk_leg(model, start, self.rng.randrange(2**31), steps, psi))
        return Program([first], loop=False, extend=extend)
