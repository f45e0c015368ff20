"""Directions on the real default model (dcgan-faces): the brightness axis brightens faces, a locked
warmth axis holds far better than an unlocked one, and PCA finds directions that matter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentwalk.catalog import ModelRef
from latentwalk.directions.axes import feature_scorer, fit_axes
from latentwalk.directions.features import brightness, warmth
from latentwalk.directions.pca import pca_directions
from latentwalk.directions.vectors import offset, unit
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest

DEFAULT = ModelRef("dcgan-faces", zoo="dcgan-faces")
SEEDS = list(range(1000, 1032))  # 32 seeds the fits never saw


@pytest.mark.network
def test_brightness_axis_with_and_without_a_warmth_lock(cache_dir: Path) -> None:
    with InferenceWorker(cache_dir, device="cpu") as worker:
        bright, warm = fit_axes(worker, DEFAULT, feature_scorer(["brightness", "warmth"]), samples=300)
        z = seeds_to_z(SEEDS, 100)

        def render(zz: np.ndarray) -> np.ndarray:
            return worker.render(RenderRequest(DEFAULT, zz.astype(np.float32)))

        base = render(z)
        moved = {}
        for lock in (False, True):
            z_off, _ = offset([bright, warm], [1.0, 0.0], [False, lock])
            assert z_off is not None
            moved[lock] = render(z + z_off)
    d_bright = {k: brightness(v) - brightness(base) for k, v in moved.items()}
    d_warm = {k: warmth(v) - warmth(base) for k, v in moved.items()}
    print(
        f"\nbrightness fit R^2 {bright.stats['r2']:.3f}, warmth fit R^2 {warm.stats['r2']:.3f}, "
        f"cos(brightness, warmth) {bright.vector @ warm.vector:+.3f}"
    )
    for lock in (False, True):
        print(
            f"+1 std brightness, warmth {'locked  ' if lock else 'unlocked'}: "
            f"brightness {brightness(base).mean():.4f} -> {brightness(moved[lock]).mean():.4f} "
            f"(mean change {d_bright[lock].mean():+.4f}, brighter in {(d_bright[lock] > 0).sum()}/32), "
            f"warmth mean change {d_warm[lock].mean():+.4f}, mean |change| {np.abs(d_warm[lock]).mean():.4f}"
        )
    for lock in (False, True):
        assert d_bright[lock].mean() > 0.05  # a tenth of the brightness range per 2 std, at least
        assert (d_bright[lock] > 0).sum() >= 28
    # The warmth of the faces moves on average far less with the lock than without it.
    assert abs(d_warm[True].mean()) < 0.5 * abs(d_warm[False].mean())


@pytest.mark.network
def test_pca_directions_of_the_default_model_change_faces_more_than_random_ones(cache_dir: Path) -> None:
    with InferenceWorker(cache_dir, device="cpu") as worker:
        pcs = pca_directions(worker, DEFAULT, samples=1000, components=4)
        z = seeds_to_z(SEEDS[:12], 100)
        a = worker.render(RenderRequest(DEFAULT, z.astype(np.float32))).astype(float)

        def change(v: np.ndarray) -> float:
            b = worker.render(RenderRequest(DEFAULT, (z + 2.0 * v).astype(np.float32))).astype(float)
            return float(np.abs(a - b).mean())

        rng = np.random.default_rng(0)
        pc_change = [change(d.vector) for d in pcs[:2]]
        random_change = [change(unit(rng.standard_normal(100))) for _ in range(3)]
    print(
        f"\nmean |pixel change| for 2 std: pc0 {pc_change[0]:.2f}, pc1 {pc_change[1]:.2f}, "
        f"random {', '.join(f'{c:.2f}' for c in random_change)}"
    )
    assert pcs[0].stats["explained"] > pcs[1].stats["explained"] > pcs[3].stats["explained"]
    assert min(pc_change) > 1.3 * float(np.mean(random_change))
