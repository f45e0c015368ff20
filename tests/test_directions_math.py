"""Direction maths: PCA recovers planted axes, fits recover planted attributes, locks hold, moves undo."""

from __future__ import annotations

import numpy as np
import pytest

from latentwalk.animation.schema import AnimationSettings, Keyframe
from latentwalk.directions.features import FEATURES, brightness, centre_x, feature, shadow_area, warmth
from latentwalk.directions.fit import fit_logistic, fit_ridge
from latentwalk.directions.offsets import amounts, frame_offsets
from latentwalk.directions.pca import principal_axes
from latentwalk.directions.vectors import Direction, apply, check_layers, offset, orthogonalise, unit
from latentwalk.errors import InvalidRequest
from latentwalk.render.worker import ModelInfo


def _random_orthonormal(rng: np.random.Generator, k: int, dim: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((dim, k)))
    return q.T  # [k, dim]


def test_pca_recovers_planted_directions() -> None:
    rng = np.random.default_rng(0)
    dim, n = 64, 5000
    planted = _random_orthonormal(rng, 3, dim)
    scales = np.array([6.0, 4.0, 2.5])
    x = rng.standard_normal((n, dim)) * 0.5 + (rng.standard_normal((n, 3)) * scales) @ planted + 3.0
    axes, var = principal_axes(x, 5)
    for i in range(3):
        assert abs(axes[i] @ planted[i]) > 0.995, (i, axes[i] @ planted[i])
    assert np.allclose(var[:3], scales**2 + 0.25, rtol=0.1)
    assert var[3] < 0.5  # the rest is the isotropic noise
    assert np.allclose(np.linalg.norm(axes, axis=1), 1.0)


def test_ridge_recovers_a_planted_linear_attribute() -> None:
    rng = np.random.default_rng(1)
    dim = 32
    true = unit(rng.standard_normal(dim))
    x = rng.standard_normal((600, dim))
    y = 2.5 * x @ true + 0.7 + 0.1 * rng.standard_normal(600)
    f = fit_ridge(x, y)
    assert f.axis @ true > 0.995
    assert f.score > 0.98 and f.metric == "r2"
    assert abs(f.bias - 0.7) < 0.05


def test_logistic_recovers_a_planted_binary_attribute() -> None:
    rng = np.random.default_rng(2)
    dim = 16
    true = unit(rng.standard_normal(dim))
    x = rng.standard_normal((800, dim))
    p = 1 / (1 + np.exp(-4.0 * (x @ true)))
    labels = (rng.random(800) < p).astype(float)
    f = fit_logistic(x, labels)
    assert f.axis @ true > 0.97, f.axis @ true
    assert f.score > 0.8 and f.metric == "accuracy"


def test_too_few_marks_is_a_clear_error() -> None:
    x = np.random.default_rng(3).standard_normal((25, 4))
    labels = np.array([1.0] * 9 + [0.0] * 16)
    with pytest.raises(InvalidRequest, match="at least 10 of each"):
        fit_logistic(x, labels)


def test_orthogonalisation_keeps_locked_scores_to_numerical_precision() -> None:
    rng = np.random.default_rng(4)
    dim = 100
    locked = [unit(rng.standard_normal(dim)) for _ in range(3)]
    moving = unit(rng.standard_normal(dim) + 2 * locked[0])  # strongly correlated with a locked one
    v = orthogonalise(moving, locked)
    z = rng.standard_normal(dim)
    moved = apply(z, v, 3.0, 1.7)
    for axis in locked:
        assert abs(moved @ axis - z @ axis) < 1e-12
    assert v @ moving > 0.1  # still goes the same way, where the locks allow
    # The combined offset of the sliders: an unlocked slider leaves every locked score alone...
    dirs = [Direction(f"d{i}", "pca", "z", d) for i, d in enumerate([*locked, moving])]
    z_off, w_off = offset(dirs, [0.0, 0.0, 0.0, 2.0], [True, True, True, False])
    assert w_off is None and z_off is not None
    assert max(abs(z_off @ axis) for axis in locked) < 1e-12
    assert z_off @ moving > 0.2
    # ...and a locked slider still moves along its own axis.
    z_off, _ = offset(dirs, [0.0, 0.5, 0.0, 0.0], [True, True, True, False])
    assert z_off is not None and abs(z_off @ locked[1] - 0.5) < 1e-12
    with pytest.raises(InvalidRequest, match="within the locked"):
        orthogonalise(locked[0], locked)


def test_plus_then_minus_returns_the_latent() -> None:
    rng = np.random.default_rng(5)
    z = rng.standard_normal(512)
    v = unit(rng.standard_normal(512))
    assert np.allclose(apply(apply(z, v, 1.3, 2.0), v, -1.3, 2.0), z, atol=1e-12)
    ws = rng.standard_normal((2, 14, 512))
    there = apply(ws, v, 2.0, 0.5, layers=(4, 8))
    assert np.array_equal(there[:, :4], ws[:, :4]) and np.array_equal(there[:, 8:], ws[:, 8:])
    assert not np.allclose(there[:, 4:8], ws[:, 4:8])
    assert np.allclose(apply(there, v, -2.0, 0.5, layers=(4, 8)), ws, atol=1e-12)


def test_layer_ranges_are_checked_against_the_model() -> None:
    assert check_layers((0, 14), 14, "w") == (0, 14)
    with pytest.raises(InvalidRequest, match="outside the model"):
        check_layers((2, 20), 14, "w")
    with pytest.raises(InvalidRequest, match="outside the model"):
        check_layers((5, 5), 14, "w")
    with pytest.raises(InvalidRequest, match="StyleGAN"):
        check_layers((0, 2), None, "z")


def _info(**kw: object) -> ModelInfo:
    base = dict(name="m", family="x", resolution=8, img_channels=3, z_dim=4, c_dim=0, w_dim=None, num_ws=None)
    base.update(kw)
    return ModelInfo(num_params=0, **base)  # type: ignore[arg-type]


def test_frame_offsets_constant_and_ramped() -> None:
    s = AnimationSettings(
        keyframes=[Keyframe(), Keyframe()],
        steps=[5],
        directions=[
            {"name": "a", "space": "z", "vector": [1, 0, 0, 0], "std": 2.0, "amount": 1.0},
            {"name": "b", "space": "z", "vector": [0, 1, 0, 0], "amount": 0.0, "amount_end": 4.0},
        ],
    )
    z_off, w_off = frame_offsets(s, _info(), np.arange(5))
    assert w_off is None and z_off is not None
    assert np.allclose(z_off[:, 0], 2.0)
    assert np.allclose(z_off[:, 1], [0, 1, 2, 3, 4])
    assert np.allclose(amounts(1.0, None, np.arange(3), 3), 1.0)
    winfo = _info(w_dim=3, num_ws=4)
    s2 = s.model_copy(
        update={
            "directions": [
                s.directions[0].model_copy(update={"space": "w", "vector": [0, 0, 1], "layers": (1, 3)})
            ]
        }
    )
    _, w2 = frame_offsets(s2, winfo, np.arange(2))
    assert w2 is not None and w2.shape == (2, 4, 3)
    assert np.allclose(w2[:, 1:3, 2], 2.0) and np.allclose(w2[:, 0], 0) and np.allclose(w2[:, 3], 0)


def test_old_settings_without_directions_still_load() -> None:
    s = AnimationSettings.model_validate({"keyframes": [{}, {}], "steps": [3]})
    assert s.directions == []


def test_features_measure_what_they_say() -> None:
    dark = np.full((1, 16, 16, 3), 40, np.uint8)
    light = np.full((1, 16, 16, 3), 200, np.uint8)
    assert brightness(light)[0] > brightness(dark)[0]
    warm = np.zeros((1, 8, 8, 3), np.uint8)
    warm[..., 0] = 200
    cool = warm[..., ::-1].copy()
    assert warmth(warm)[0] > 0 > warmth(cool)[0]
    left = np.full((1, 16, 16, 3), 230, np.uint8)
    left[:, 4:12, 1:6] = 10  # a dark figure on the left
    right = left[:, :, ::-1].copy()
    assert centre_x(left)[0] < 0.5 < centre_x(right)[0]
    assert 0.1 < shadow_area(left)[0] < 0.25
    frames = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    for name, fn in FEATURES.items():
        out = fn(frames)
        assert out.shape == (3,) and np.isfinite(out).all(), name
    with pytest.raises(InvalidRequest, match="unknown feature"):
        feature("beauty")
