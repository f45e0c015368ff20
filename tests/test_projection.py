"""Projection: the loss falls, self-generated targets are recovered, it runs through the worker in
slices that leave room for renders, it stops on request, and the CLI writes its files."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from conftest import write_tiny_dcgan
from latentwalk.backends import load_model_bytes, load_model_file
from latentwalk.catalog import ModelRef
from latentwalk.cli import main
from latentwalk.errors import InvalidRequest
from latentwalk.imagein import decode_image, fit_image
from latentwalk.projection import ProjectionCancelled, ProjectionOptions, project, psnr, ssim, ssim_uint8
from latentwalk.render.worker import InferenceWorker, RenderRequest

PROC = ModelRef(name="procedural", zoo="procedural")


def _tiny_sg2(worker: InferenceWorker) -> ModelRef:
    from nvpickle_writer import build_stylegan2, dumps_network_pickle

    tree, _ = build_stylegan2(seed=4)
    ref = ModelRef(name="sg2", zoo="sg2-test")
    worker.register(ref, load_model_bytes(dumps_network_pickle(tree), "sg2.pkl"))
    return ref


def _tiny_procedural(worker: InferenceWorker) -> ModelRef:
    """The CPPN at 32x32 with a small latent: the same code as the built-in, fast enough to optimise."""
    from latentwalk.backends import LoadedModel
    from latentwalk.models.procedural import ProceduralGenerator

    ref = ModelRef(name="proc32", zoo="proc32-test")
    worker.register(ref, LoadedModel(ProceduralGenerator(z_dim=16, resolution=32), {"family": "procedural"}))
    return ref


def test_ssim_and_psnr_measure_what_they_should() -> None:
    rng = np.random.RandomState(0)
    a = np.broadcast_to(np.linspace(60, 190, 32)[None, :, None], (32, 32, 3)).astype(np.uint8)  # smooth
    noisy = np.clip(a.astype(int) + rng.randint(-20, 21, a.shape), 0, 255).astype(np.uint8)
    assert psnr(a, a) == float("inf") and ssim_uint8(a, a) == pytest.approx(1.0, abs=1e-5)
    assert 20 < psnr(a, noisy) < 30
    assert 0 < ssim_uint8(a, noisy) < 0.95
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (ssim(x, -x) < 0.1).all()


def test_self_generated_target_is_recovered_in_z_on_a_tiny_dcgan(
    worker: InferenceWorker, tmp_path: Path
) -> None:
    ref = ModelRef(name="tiny", zoo="tiny-dcgan")
    worker.register(ref, load_model_file(write_tiny_dcgan(tmp_path / "tiny.pt", seed=3)))
    z = np.random.RandomState(7).randn(1, 8).astype(np.float32)
    target = worker.render(RenderRequest(ref, z=z))[0]
    steps: list[int] = []
    result = project(
        worker, ref, target, ProjectionOptions(steps=150, seed=1), progress=lambda s: steps.append(s.step)
    )
    assert result.space == "z" and result.latent.shape == (1, 8)
    assert steps[-1] == 150 and steps == sorted(steps)
    assert result.losses[-1] < 0.2 * result.losses[0]
    assert result.psnr > 30, result.psnr
    # The reconstruction is exactly what the worker renders from the latent (the explorer's keyframe).
    again = worker.render(RenderRequest(ref, z=result.latent))[0]
    np.testing.assert_array_equal(again, result.reconstruction)


def test_projection_on_the_procedural_generator_lowers_the_loss(worker: InferenceWorker) -> None:
    ref = _tiny_procedural(worker)
    z = np.random.RandomState(2).randn(1, 16).astype(np.float32)
    target = worker.render(RenderRequest(ref, z=z))[0]
    result = project(worker, ref, target, ProjectionOptions(steps=120, starts=4, burn_in=30))
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.psnr > 25, result.psnr


@pytest.mark.parametrize("space", ["w", "w+"])
def test_self_generated_target_is_recovered_in_w_on_a_tiny_stylegan2(
    worker: InferenceWorker, space: str
) -> None:
    ref = _tiny_sg2(worker)
    z = np.random.RandomState(5).randn(1, 8).astype(np.float32)
    # A random tiny StyleGAN is a rough landscape (nothing like a trained one): a target nearer the
    # centre (psi 0.5) and a modest threshold; the default model's figure is in bench_projection.py.
    target = worker.render(RenderRequest(ref, z=z, psi=0.5))[0]
    start = worker.render(RenderRequest(ref, z=z, psi=0.0))[0]  # w_avg's picture
    result = project(worker, ref, target, ProjectionOptions(steps=100, space=space))  # type: ignore[arg-type]
    assert result.latent.shape == (1, 6, 16)
    assert result.losses[-1] < 0.25 * result.losses[0]
    assert result.psnr > psnr(start, target) + 4 and result.psnr > 16, result.psnr
    again = worker.render(RenderRequest(ref, ws=result.latent))[0]
    np.testing.assert_array_equal(again, result.reconstruction)


def test_noise_optimisation_runs_and_keeps_the_noise_normalised(worker: InferenceWorker) -> None:
    ref = _tiny_sg2(worker)
    target = worker.render(RenderRequest(ref, z=np.ones((1, 8), np.float32)))[0]
    result = project(worker, ref, target, ProjectionOptions(steps=20, optimize_noise=True))
    assert np.isfinite(result.losses).all() and result.losses[-1] < result.losses[0]


def test_renders_are_served_between_slices_and_stop_keeps_the_partial_latent(worker: InferenceWorker) -> None:
    ref = _tiny_sg2(worker)
    target = worker.render(RenderRequest(ref, z=np.zeros((1, 8), np.float32)))[0]
    cancel = threading.Event()
    rendered: list[int] = []

    def on_step(step: object) -> None:
        # A render submitted while the projection runs is answered before the projection ends.
        rendered.append(len(worker.render(RenderRequest(PROC, z=np.zeros((1, 512), np.float32)))))
        if len(rendered) == 2:
            cancel.set()

    with pytest.raises(ProjectionCancelled) as info:
        project(
            worker,
            ref,
            target,
            ProjectionOptions(steps=5000),
            progress=on_step,
            cancel=cancel,
            slice_seconds=0.01,
        )
    partial = info.value.partial
    assert rendered == [1, 1] and partial is not None
    assert 0 < len(partial.losses) < 5000 and partial.latent.shape == (1, 6, 16)


def test_bad_options_and_spaces_are_refused(worker: InferenceWorker) -> None:
    target = np.zeros((256, 256, 3), np.uint8)
    with pytest.raises(InvalidRequest, match="steps"):
        project(worker, PROC, target, ProjectionOptions(steps=0))
    with pytest.raises(InvalidRequest, match="no w space"):
        project(worker, PROC, target, ProjectionOptions(steps=2, space="w"))
    with pytest.raises(InvalidRequest, match="target"):
        project(worker, PROC, np.zeros((8, 8, 3), np.uint8), ProjectionOptions(steps=2))


def _png(array: np.ndarray, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **save)
    return buf.getvalue()


def test_rgba_and_exif_rotated_pictures_project(worker: InferenceWorker, tmp_path: Path) -> None:
    """A transparent PNG and an EXIF-rotated JPEG of the same self-generated face both reach it."""
    ref = ModelRef(name="tiny", zoo="tiny-dcgan")
    worker.register(ref, load_model_file(write_tiny_dcgan(tmp_path / "tiny.pt", seed=3)))
    face = worker.render(RenderRequest(ref, z=np.random.RandomState(9).randn(1, 8).astype(np.float32)))[0]
    big = np.asarray(Image.fromarray(face).resize((64, 64), Image.Resampling.NEAREST))
    rgba = np.dstack([big, np.full(big.shape[:2], 255, np.uint8)])
    rgba[:2, :2, 3] = 0  # a few transparent pixels in a corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": store the picture turned the other way
    rotated = Image.fromarray(big).rotate(90, expand=True)
    buf = io.BytesIO()
    rotated.save(buf, format="JPEG", quality=98, exif=exif)
    upright = np.asarray(fit_image(Image.fromarray(big), 16))
    for data in (_png(rgba), buf.getvalue()):
        target = np.asarray(fit_image(decode_image(data), 16))
        assert target.shape == (16, 16, 3)
        assert psnr(target, upright) > 25  # upright, and opaque where it matters
        assert psnr(target, upright) > psnr(np.rot90(target), upright) + 5
        result = project(worker, ref, target, ProjectionOptions(steps=100, seed=0))
        assert result.psnr > 17 and result.losses[-1] < 0.7 * result.losses[0], result.psnr


def test_cli_project_writes_latent_reconstruction_and_video(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_tiny_dcgan(models / "tiny.pt", seed=3)
    picture = tmp_path / "me.png"
    Image.fromarray((np.random.RandomState(0).rand(40, 30, 3) * 255).astype(np.uint8)).save(picture)
    out = tmp_path / "result"
    args = ["--models-dir", str(models), "--device", "cpu", "project", str(picture), "--network", "tiny"]
    res = CliRunner().invoke(main, [*args, "--steps", "12", "--fit", "pad", "--out", str(out), "--video"])
    assert res.exit_code == 0, res.output
    assert "PSNR" in res.output and "SSIM" in res.output
    assert np.load(out / "projected.npy").shape == (1, 8)
    with Image.open(out / "reconstruction.png") as recon:
        assert recon.size == (16, 16)
    assert (out / "projection.mp4").stat().st_size > 0
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    res = CliRunner().invoke(main, ["project", str(bad), "--network", "tiny", "--out", str(out)])
    assert res.exit_code == 1 and "not a picture" in res.output
