"""Saved directions moved and locked live in the player (`direction NAME AMOUNT`, `direction/lock
NAME 0|1`): each moved direction is made orthogonal to every locked one, as the explorer's sliders are."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace

from latentwalk.directions.store import DirectionStore, model_key
from latentwalk.directions.vectors import Direction, steered
from latentwalk.errors import InvalidRequest, LatentwalkError
from latentwalk.render.worker import ModelInfo

Move = tuple[Direction, float]
Warn = Callable[[str, str], None]  # (key, message): said once per key


def live_moves(
    known: Mapping[str, Direction], amounts: Mapping[str, float], locks: Collection[str]
) -> list[Move]:
    """(direction carrying the vector it moves along, amount) for each moved direction in `known`.

    A locked direction moves along itself; any other along itself made orthogonal to every locked
    direction of its space (`vectors.steered`, as the explorer's `/api/directions/offsets`).

    Raises:
        InvalidRequest: an unlocked moved direction lies within the locked ones.
    """
    held = [known[n] for n in sorted(locks) if n in known]
    moves = []
    for name, amount in sorted(amounts.items()):
        d = known.get(name)
        if d is None or amount == 0:
            continue
        try:
            moves.append((replace(d, vector=steered(d, name in locks, held)), amount))
        except InvalidRequest as exc:
            raise InvalidRequest(f"direction {name!r}: {exc}") from None
    return moves


class LiveDirections:
    """The amounts and locks of the player's directions, and the moves they make on a model.

    Owned by the player's thread; `amounts` and `locks` are replaced (never changed in place), so
    other threads may read them for the status."""

    def __init__(self, store: DirectionStore | None = None) -> None:
        self.store = store  # the saved directions (None: `direction` commands are refused)
        self.amounts: dict[str, float] = {}
        self.locks: frozenset[str] = frozenset()
        self._cache: tuple[tuple[int, str], list[Move]] | None = None

    def set_amount(self, info: ModelInfo | None, name: str, amount: float) -> None:
        """Move along `name` by `amount` std (0: not at all), checked against the model playing.

        Raises:
            InvalidRequest, NameNotFound: see `_check`; nothing changes then.
        """
        amounts = {k: v for k, v in self.amounts.items() if k != name}
        if amount != 0:
            amounts[name] = amount
        self._check(info, name, amounts, self.locks)
        self.amounts = amounts

    def set_lock(self, info: ModelInfo | None, name: str, on: bool | None) -> None:
        """Lock `name` (True), unlock it (False) or toggle (None), checked against the model playing.

        Raises:
            InvalidRequest, NameNotFound: see `_check`; nothing changes then.
        """
        if on is None:
            on = name not in self.locks
        locks = self.locks | {name} if on else self.locks - {name}
        self._check(info, name, self.amounts, locks)
        self.locks = frozenset(locks)

    def _check(
        self, info: ModelInfo | None, name: str, amounts: Mapping[str, float], locks: Collection[str]
    ) -> None:
        """Raises InvalidRequest (no directions folder; a moved direction within the locked ones) or
        NameNotFound (`name` is not a direction of the model playing; unchecked while none plays)."""
        if self.store is None:
            raise InvalidRequest("this player has no directions folder")
        if info is None:
            return
        self.store.get(info, name)  # NameNotFound if unknown
        live_moves({d.name: d for d in self.store.list(info)}, amounts, locks)

    def moves(self, info: ModelInfo, generation: int, warn: Warn) -> list[Move]:
        """The moves on the model `info`, read and made orthogonal once per generation and model."""
        if not self.amounts or self.store is None:
            return []
        key = (generation, model_key(info))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        try:
            known = {d.name: d for d in self.store.list(info)}
        except LatentwalkError as exc:
            warn("directions", f"directions cannot be read: {exc}")
            known = {}
        missing = sorted((set(self.amounts) | self.locks) - set(known))
        if missing:
            warn(f"dir:{missing}", f"{info.name} has no direction(s) {missing}; ignored")
        try:
            moves = live_moves(known, self.amounts, self.locks)
        except InvalidRequest as exc:  # another model, whose same-named directions do not fit
            warn(f"dir-locks:{key[1]}", f"directions not applied to {info.name}: {exc}")
            moves = []
        self._cache = (key, moves)
        return moves
