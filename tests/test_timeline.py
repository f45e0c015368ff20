"""Frame index -> latent: counts, joins, easing, loops with no seam, circles."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from latentwalk.animation.schema import AnimationSettings, check_latents, check_name
from latentwalk.animation.timeline import ease, latents_at, segment_positions
from latentwalk.errors import InvalidRequest
from latentwalk.latents import seeds_to_z


def settings(k: int, steps: list[int], **kw: object) -> AnimationSettings:
    return AnimationSettings(keyframes=[{"seed": i} for i in range(k)], steps=steps, **kw)  # type: ignore[arg-type]


def test_single_transition_starts_and_ends_on_its_keyframes() -> None:
    s = settings(2, [24], interpolation="linear")
    keys = seeds_to_z([1, 2], 8)
    frames = latents_at(s, keys, np.arange(24))
    assert s.frame_count == 24
    np.testing.assert_allclose(frames[0], keys[0])
    np.testing.assert_allclose(frames[-1], keys[1])
    steps = np.diff(frames, axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to(steps[0], steps.shape), atol=1e-12)  # even spacing


def test_chain_joins_show_each_keyframe_once_and_no_jump() -> None:
    s = settings(3, [10, 6], interpolation="slerp")
    keys = seeds_to_z([1, 2, 3], 16)
    frames = latents_at(s, keys, np.arange(s.frame_count))
    assert len(frames) == 16
    np.testing.assert_allclose(frames[10], keys[1], atol=1e-12)  # the join is frame 10, shown once
    np.testing.assert_allclose(frames[-1], keys[2], atol=1e-12)
    gaps = np.linalg.norm(np.diff(frames, axis=0), axis=1)
    assert gaps.max() < 2.5 * np.median(gaps), "a jump at a join"


def test_closed_loop_has_no_seam_and_spline_matches_velocity() -> None:
    keys = seeds_to_z([4, 5, 6], 12)
    for interp in ("linear", "slerp", "spline"):
        s = settings(3, [8, 8, 8], loop="closed", interpolation=interp)
        frames = latents_at(s, keys, np.arange(s.frame_count))
        wrap = np.linalg.norm(frames[0] - frames[-1])
        inner = np.linalg.norm(np.diff(frames, axis=0), axis=1)
        assert wrap < 2.0 * inner.max()  # the step from the last frame back to the first is an ordinary step
        np.testing.assert_allclose(frames[0], keys[0], atol=1e-12)

    # Velocity matches at every keyframe, the loop's start included: with fine steps, the step into a
    # keyframe and the step out of it are nearly equal for the spline; linear turns a corner.
    def corner(interp: str) -> float:
        s = settings(3, [400, 400, 400], loop="closed", interpolation=interp)
        f = latents_at(s, keys, np.arange(1200))
        worst = 0.0
        for k in (0, 400, 800):
            v_in, v_out = f[k] - f[k - 1], f[(k + 1) % 1200] - f[k]
            worst = max(worst, float(np.linalg.norm(v_out - v_in) / np.linalg.norm(v_in)))
        return worst

    assert corner("spline") < 0.05  # what is left is curvature over one step, not a corner
    assert corner("linear") > 0.5


def test_circle_is_periodic_and_keeps_the_norm() -> None:
    s = settings(2, [36], loop="circle")
    keys = seeds_to_z([7, 8], 64)
    frames = latents_at(s, keys, np.arange(36))
    norms = np.linalg.norm(frames, axis=1)
    np.testing.assert_allclose(norms, norms[0], rtol=1e-9)
    np.testing.assert_allclose(frames[0], keys[0], atol=1e-12)
    after = latents_at(s, keys, np.array([35]))[0]
    assert np.linalg.norm(after - frames[0]) == pytest.approx(np.linalg.norm(frames[1] - frames[0]), rel=1e-6)


def test_easing_and_positions() -> None:
    t = np.linspace(0, 1, 5)
    np.testing.assert_allclose(ease(t, "ease-in-out")[[0, 2, 4]], [0, 0.5, 1])
    assert ease(np.array([0.1]), "ease-in")[0] < 0.1 < ease(np.array([0.1]), "ease-out")[0]
    seg, pos = segment_positions(settings(3, [4, 3]), np.arange(7))
    assert seg.tolist() == [0, 0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(pos, [0, 0.25, 0.5, 0.75, 0, 0.5, 1.0])
    with pytest.raises(IndexError):
        segment_positions(settings(2, [4]), np.array([4]))


def test_w_space_latents_keep_their_shape() -> None:
    s = settings(2, [5])
    keys = np.random.RandomState(0).randn(2, 6, 4)
    out = latents_at(s, keys, np.arange(5))
    assert out.shape == (5, 6, 4)


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="step counts"):
        settings(3, [4])
    with pytest.raises(ValidationError, match="1..10000"):
        settings(2, [10001])
    with pytest.raises(ValidationError, match="at least 2 steps"):
        settings(2, [1])
    assert settings(2, [2000]).frame_count == 2000
    assert settings(2, [1, 1], loop="closed").frame_count == 2
    with pytest.raises(InvalidRequest, match="expected"):
        check_latents(np.zeros((3, 8)), 2, 8)
    with pytest.raises(InvalidRequest, match="NaN"):
        check_latents(np.full((2, 8), np.nan), 2, 8)
    for bad in ["", "a/b", "..", ".hidden", "x" * 81, "a\\b", "nul\x00"]:
        with pytest.raises(InvalidRequest):
            check_name(bad)
    assert check_name("  Dawn → dusk 2 ") == "Dawn → dusk 2"
