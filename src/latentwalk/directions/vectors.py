"""Direction vectors and their maths: unit axes, Gram-Schmidt against locked axes, offsets. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from latentwalk.errors import InvalidRequest

DirectionSpace = Literal["z", "w"]
METHODS = ("pca", "feature", "classifier", "taught", "imported")
_EPS = 1e-8


@dataclass(frozen=True)
class Direction:
    """A named axis in z (models without a mapping network) or in w (StyleGAN models).

    `vector` is a unit vector; an amount of 1 moves the latent by one standard deviation of the
    sampled latents along it (`std`). `layers` restricts a w direction to the layers
    `start..end-1` of w+ (None: every layer), as GANSpace does.
    """

    name: str
    method: str
    space: DirectionSpace
    vector: np.ndarray  # [dim] float64, unit length
    std: float = 1.0
    layers: tuple[int, int] | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])

    def with_layers(self, layers: tuple[int, int] | None, num_ws: int | None) -> Direction:
        return replace(self, layers=check_layers(layers, num_ws, self.space))

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (the vector itself left out)."""
        return {
            "name": self.name,
            "method": self.method,
            "space": self.space,
            "dim": self.dim,
            "std": self.std,
            "layers": list(self.layers) if self.layers is not None else None,
            "stats": self.stats,
        }


def unit(v: np.ndarray) -> np.ndarray:
    """v scaled to length 1.

    Raises:
        InvalidRequest: v is zero or not finite.
    """
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < _EPS:
        raise InvalidRequest("a direction must be a finite, non-zero vector")
    return v / n


def check_layers(layers: tuple[int, int] | None, num_ws: int | None, space: str) -> tuple[int, int] | None:
    """A layer range `start..end-1` of w+, checked against the model.

    Raises:
        InvalidRequest: a range on a model with no w+, or outside 0..num_ws.
    """
    if layers is None:
        return None
    start, end = int(layers[0]), int(layers[1])
    if space != "w" or not num_ws:
        raise InvalidRequest("a layer range needs a StyleGAN model (w+); this direction is in z")
    if not 0 <= start < end <= num_ws:
        raise InvalidRequest(
            f"layer range {start}..{end} is outside the model: it has {num_ws} layers, so use "
            f"start < end within 0..{num_ws}"
        )
    return start, end


def orthonormal_basis(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Gram-Schmidt: an orthonormal basis [k, dim] of the span of `vectors` (dependent ones dropped)."""
    basis: list[np.ndarray] = []
    for v in vectors:
        r = np.asarray(v, dtype=np.float64).reshape(-1).copy()
        for _ in range(2):  # twice is enough for numerical orthogonality
            for b in basis:
                r -= (r @ b) * b
        n = float(np.linalg.norm(r))
        if n > 1e-6 * max(float(np.linalg.norm(v)), _EPS):
            basis.append(r / n)
    dim = int(np.asarray(vectors[0]).size) if len(vectors) else 0
    return np.stack(basis) if basis else np.zeros((0, dim))


def orthogonalise(v: np.ndarray, locked: Sequence[np.ndarray]) -> np.ndarray:
    """The unit vector of v with its components along every locked direction removed.

    Moving along the result leaves the latent's projection on each locked direction (its score on
    a linear attribute) unchanged.

    Raises:
        InvalidRequest: v lies (almost) within the span of the locked directions.
    """
    v = unit(v)
    if not len(locked):
        return v
    basis = orthonormal_basis(list(locked))
    r = v - basis.T @ (basis @ v)
    r -= basis.T @ (basis @ r)
    n = float(np.linalg.norm(r))
    if n < 1e-6:
        raise InvalidRequest("this direction lies within the locked directions: unlock one to move along it")
    return r / n


def steered(direction: Direction, lock: bool, locked: Sequence[Direction]) -> np.ndarray:
    """The vector a slider moves along: a locked direction's own, any other made orthogonal to every
    locked direction of its space (so the locked attributes stay where their sliders put them).

    Raises:
        InvalidRequest: an unlocked direction lies within the locked ones.
    """
    if lock:
        return direction.vector
    return orthogonalise(direction.vector, [o.vector for o in locked if o.space == direction.space])


def apply(
    latent: np.ndarray,
    vector: np.ndarray,
    amount: float,
    std: float = 1.0,
    layers: tuple[int, int] | None = None,
) -> np.ndarray:
    """latent + amount * std * vector.

    Args:
        latent: [..., dim] (z or w) or [..., num_ws, dim] (w+ when `layers` is given).
        vector: [dim] direction (unit length for `amount` to be in std units).
        amount: how far, in standard deviations.
        std: the direction's standard deviation.
        layers: for w+: only layers start..end-1 move.

    Returns:
        A new float64 array of the latent's shape.
    """
    out = np.array(latent, dtype=np.float64, copy=True)
    step = float(amount) * float(std) * np.asarray(vector, dtype=np.float64)
    if layers is None:
        out += step
    else:
        out[..., layers[0] : layers[1], :] += step
    return out


def offset(
    directions: Sequence[Direction],
    amounts: Sequence[float],
    locked: Sequence[bool],
    num_ws: int | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The summed offset of several sliders: (z offset [z_dim] or None, w offset [num_ws, w_dim] or None).

    A locked direction moves along itself; every unlocked one moves along itself made orthogonal
    to all locked directions of its space, so the locked scores stay where their sliders put them.
    """
    z_off: np.ndarray | None = None
    w_off: np.ndarray | None = None
    held = [o for o, k in zip(directions, locked, strict=True) if k]
    for d, a, lock in zip(directions, amounts, locked, strict=True):
        if a == 0:
            continue
        v = steered(d, lock, held)
        if d.space == "z":
            z_off = apply(np.zeros(d.dim) if z_off is None else z_off, v, a, d.std)
        else:
            if not num_ws:
                raise InvalidRequest(f"direction {d.name!r} is in w, but the model has no w space")
            base = np.zeros((num_ws, d.dim)) if w_off is None else w_off
            w_off = apply(base, v, a, d.std, d.layers)
    return z_off, w_off
