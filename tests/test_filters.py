"""The shadows view filter: two tones, soft edges that grow with softness, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from latentwalk.filters import FIGURE, GROUND, apply_view_filter, shadows


def _scene() -> np.ndarray:
    """A dark disc on a light, slightly noisy ground."""
    yy, xx = np.mgrid[:64, :64]
    img = np.full((64, 64, 3), 200, dtype=np.float64)
    img[(yy - 32) ** 2 + (xx - 30) ** 2 < 15**2] = (60, 40, 30)
    img += np.random.RandomState(0).randn(64, 64, 3) * 5
    return np.clip(img, 0, 255).astype(np.uint8)[None]


def test_shadows_are_two_tone_with_the_figure_dark() -> None:
    out = shadows(_scene(), softness=0.0)
    assert out.shape == (1, 64, 64, 3)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()  # grey
    assert out[0, 32, 30, 0] == pytest.approx(FIGURE, abs=2)
    assert out[0, 2, 2, 0] == pytest.approx(GROUND, abs=2)
    share_extreme = np.isin(out[0, ..., 0], [round(FIGURE), round(GROUND)]).mean()
    assert share_extreme > 0.95


def test_softness_softens_the_edge() -> None:
    hard = shadows(_scene(), 0.0)[0, ..., 0].astype(int)
    soft = shadows(_scene(), 0.8)[0, ..., 0].astype(int)
    mid = lambda a: ((a > FIGURE + 10) & (a < GROUND - 10)).sum()  # noqa: E731
    assert mid(soft) > 3 * max(mid(hard), 1)


def test_filter_dispatch_and_determinism() -> None:
    frames = _scene()
    assert apply_view_filter(frames, "none") is frames
    np.testing.assert_array_equal(apply_view_filter(frames, "shadows", 0.3), shadows(frames, 0.3))
    with pytest.raises(ValueError):
        apply_view_filter(frames, "sepia")
