"""What the player plays: saved animations chained in order (looping or once), a held seed, or an
endless random walk, laid out on one line of frame positions."""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from latentwalk.animation.frames import FramePlan
from latentwalk.animation.schema import AnimationSettings, ModelIdentity, ViewFilter
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.latents import seed_to_z

log = logging.getLogger(__name__)

MAX_WALK_LEGS = 256  # legs of a random walk kept for seeking back; older ones are forgotten


@dataclass(frozen=True)
class Source:
    """One animation to play, before it is bound to a loaded model: settings, keyframes and how many
    of its frames to show (a leg of a walk leaves out its last frame: the next leg starts on it)."""

    name: str
    model: ModelRef
    settings: AnimationSettings
    keys: np.ndarray  # [K, z_dim] float32 keyframe latents
    count: int | None = None  # frames shown: 0..count-1 (None: all)
    sha256: str | None = None  # the model's content hash when the animation was saved

    def with_overrides(self, psi: float | None, shadows: bool | None) -> AnimationSettings:
        """The settings with the live truncation and view filter put in."""
        s = self.settings
        update: dict[str, object] = {}
        if psi is not None:
            update["psi"] = psi
        if shadows is not None:
            update["view_filter"] = ViewFilter(
                kind="shadows" if shadows else "none", softness=s.view_filter.softness
            )
        return s.model_copy(update=update) if update else s


@dataclass(frozen=True)
class Item:
    """A source bound to its model: `id` is unique within a player, so frames can be cached by it."""

    id: int
    source: Source
    plan: FramePlan

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def total(self) -> int:
        return self.plan.total if self.source.count is None else min(self.source.count, self.plan.total)


def load_sources(
    store: AnimationStore, names: tuple[str, ...], resolve: Callable[[ModelIdentity], ModelRef]
) -> list[Source]:
    """Saved animations by name, with their models resolved (blocking: reads the library).

    Raises:
        NameNotFound, CorruptAnimation, InvalidRequest, ModelNotFound: the first name that fails.
    """
    sources = []
    for name in names:
        anim, keys = store.load(name)
        settings = AnimationSettings.model_validate(
            anim.model_dump(include=set(AnimationSettings.model_fields))
        )
        sources.append(Source(anim.name, resolve(anim.model), settings, keys, sha256=anim.model.sha256))
    return sources


def still_source(model: ModelRef, z_dim: int, seed: int, psi: float = 1.0) -> Source:
    """One seed's picture, held (one frame)."""
    z = seed_to_z(seed, z_dim).astype(np.float32)
    settings = AnimationSettings(keyframes=[{"seed": seed}, {"seed": seed}], steps=[2], psi=psi)
    return Source(f"seed {seed}", model, settings, np.concatenate([z, z]), count=1)


def walk_leg(model: ModelRef, start: np.ndarray, seed: int, steps: int, psi: float = 1.0) -> Source:
    """A leg of a random walk: `steps` frames from latent `start` toward seed `seed` (slerp in z).

    The leg's last keyframe is not shown: it is the first frame of the next leg."""
    z = seed_to_z(seed, start.shape[-1]).astype(np.float32)
    settings = AnimationSettings(keyframes=[{}, {"seed": seed}], steps=[steps + 1], psi=psi)
    keys = np.stack([start.astype(np.float32).reshape(-1), z[0]])
    return Source(f"random walk to seed {seed}", model, settings, keys, count=steps)


class Program:
    """Items laid end to end on frame positions 0, 1, 2...; `locate` maps a position to a frame.

    A looping program repeats its items forever; one played once ends after its last frame; an
    endless one (`extend` given) asks for a new item whenever a position runs past its last."""

    def __init__(self, items: list[Item], loop: bool, extend: Callable[[Item], Item] | None = None) -> None:
        if not items:
            raise ValueError("a program needs at least one item")
        self.items = list(items)
        self.loop = loop and extend is None
        self.extend = extend
        self._starts = list(itertools.accumulate([0] + [i.total for i in self.items[:-1]]))

    @property
    def endless(self) -> bool:
        return self.extend is not None

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.items]

    def _end(self) -> int:
        return self._starts[-1] + self.items[-1].total

    def locate(self, position: int) -> tuple[Item, int, int] | None:
        """(item, frame index within it, position of that item's frame 0) for a position, or None
        past the end of a program played once (and before the start of anything)."""
        if position < 0:
            return None
        if self.extend is not None:
            while position >= self._end():
                self._append(self.extend(self.items[-1]))
            if position < self._starts[0]:
                return None  # a leg forgotten long ago
        elif position >= self._end():
            if not self.loop:
                return None
            cycle = self._end()
            base = position - position % cycle
            item, local, start = self._find(position % cycle)
            return item, local, base + start
        return self._find(position)

    def _find(self, position: int) -> tuple[Item, int, int]:
        n = bisect.bisect_right(self._starts, position) - 1
        start = self._starts[n]
        return self.items[n], position - start, start

    def _append(self, item: Item) -> None:
        self._starts.append(self._end())
        self.items.append(item)
        while len(self.items) > MAX_WALK_LEGS:
            self.items.pop(0)
            self._starts.pop(0)

    def rebound(self, bind: Callable[[Item], Item]) -> Program:
        """The same layout with every item bound anew (after a change of truncation or filter)."""
        out = Program([bind(i) for i in self.items], self.loop, self.extend)
        out._starts = list(self._starts)
        return out

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)
