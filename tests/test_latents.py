"""Seeds, seed lists, truncation and labels follow NVIDIA's gen_images.py conventions."""

from __future__ import annotations

import numpy as np
import pytest

from latentwalk.errors import InvalidRequest
from latentwalk.latents import check_psi, class_label, lerp, parse_seeds, seed_to_z, seeds_to_z, slerp


def test_seed_to_z_is_numpy_randomstate_randn() -> None:
    z = seed_to_z(42, 512)
    assert z.shape == (1, 512) and z.dtype == np.float64
    np.testing.assert_array_equal(z, np.random.RandomState(42).randn(1, 512))
    # A known value pins the convention itself, independent of numpy's implementation above.
    assert z[0, 0] == pytest.approx(0.4967141530112327)


def test_seeds_to_z_stacks_rows() -> None:
    z = seeds_to_z([3, 1], 8)
    np.testing.assert_array_equal(z[1], np.random.RandomState(1).randn(1, 8)[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0-3,7", [0, 1, 2, 3, 7]), ("5", [5]), (" 1 , 2-2 ", [1, 2]), ("9-10,0", [9, 10, 0])],
)
def test_parse_seeds(text: str, expected: list[int]) -> None:
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "a", "1-", "-3", "3-1", "1.5", "1,,2", "99999999999"])
def test_parse_seeds_refuses_nonsense(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_seeds(text)


@pytest.mark.parametrize("psi", [-0.5, 2.5, float("nan"), float("inf"), 1e9])
def test_check_psi_refuses(psi: float) -> None:
    with pytest.raises(InvalidRequest, match="psi"):
        check_psi(psi)


def test_check_psi_accepts_typical() -> None:
    assert check_psi(0.7) == 0.7 and check_psi(0) == 0 and check_psi(1.5) == 1.5


def test_class_label() -> None:
    np.testing.assert_array_equal(class_label(1, 3), [[0, 1, 0]])
    assert class_label(None, 0).shape == (1, 0)
    with pytest.raises(InvalidRequest, match="unconditional"):
        class_label(1, 0)
    with pytest.raises(InvalidRequest, match="conditional"):
        class_label(None, 3)
    with pytest.raises(InvalidRequest, match="classes 0..2"):
        class_label(3, 3)


def test_slerp_endpoints_and_norm() -> None:
    a, b = seed_to_z(1, 64), seed_to_z(2, 64)
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-12)
    mid = slerp(a, b, 0.5)
    # slerp keeps the norm between the ends' norms; lerp shrinks it for near-orthogonal vectors.
    lo, hi = sorted([np.linalg.norm(a), np.linalg.norm(b)])
    assert lo * 0.99 <= np.linalg.norm(mid) <= hi * 1.01
    assert np.linalg.norm(lerp(a, b, 0.5)) < lo * 0.9
    np.testing.assert_allclose(slerp(a, a, 0.3), a, atol=1e-12)
