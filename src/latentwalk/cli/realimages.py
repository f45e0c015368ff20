"""Real images in: `project` (image to latent) and `translate` (image-to-image)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from latentwalk.catalog import resolve
from latentwalk.cli.base import Context, main, progress_bar
from latentwalk.errors import InvalidRequest

# Real images in: projection and image-to-image translation (latentwalk.projection, .translation)


@main.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--network", default=None, help="Model to project into (default: the settings' model).")
@click.option("--steps", type=int, default=500, show_default=True, help="Optimisation steps.")
@click.option(
    "--space", type=click.Choice(["z", "w", "w+"]), default=None, help="Default: w, or z without one."
)
@click.option("--fit", type=click.Choice(["crop", "pad"]), default="crop", show_default=True)
@click.option("--starts", type=int, default=None, help="Random starts (default: 8 in z space, 1 in w).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the starts and the latent noise."
)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Folder for the results.")
@click.option("--video", is_flag=True, help="Also write projection.mp4 of the optimisation.")
@click.option(
    "--perceptual",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A local VGG-16 state dict for a perceptual loss (default: the perceptual_weights setting).",
)
@click.pass_obj
def project(
    obj: Context,
    image: Path,
    network: str | None,
    steps: int,
    space: str | None,
    fit: str,
    starts: int | None,
    seed: int,
    out: Path,
    video: bool,
    perceptual: Path | None,
) -> None:
    """Find the latent whose picture is closest to IMAGE; write projected.npy and reconstruction.png."""
    from latentwalk.imagein import fit_image, read_image_file
    from latentwalk.projection import ProjectionOptions
    from latentwalk.projection import project as run_projection
    from latentwalk.projection.outputs import write_projection

    options = ProjectionOptions(
        steps=steps, space=space, starts=starts, seed=seed, preview_every=2 if video else 0
    )  # type: ignore[arg-type]
    options.check()
    picture = read_image_file(image)
    ref = resolve(network or obj.settings.model, obj.settings.models_dirs)
    frames: list[Any] = []
    with obj.worker() as worker:
        info = worker.info(ref)
        import numpy as np

        target = np.asarray(fit_image(picture, info.resolution, fit))  # type: ignore[arg-type]
        with progress_bar(steps) as progress:
            task = progress.add_task(f"projecting into {info.name}", total=steps)

            def on_step(step: Any) -> None:
                progress.update(task, completed=step.step, description=f"loss {step.loss:.4f}")
                if step.preview is not None:
                    frames.append(step.preview)

            weights = perceptual or obj.settings.perceptual_weights
            result = run_projection(
                worker, ref, target, options, progress=on_step, perceptual_weights=weights
            )
    written = write_projection(result, out, frames if video else None)
    click.echo(
        f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.4f} ({result.space} space, {result.seconds:.1f} s)"
    )
    click.echo("wrote " + ", ".join(str(p) for p in written))


@main.command("translate")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", "name", default="cyclegan-vintage", show_default=True, help="Translator name.")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output PNG."
)
@click.option(
    "--size", type=int, default=None, help="Working size in pixels (default: the translator's native)."
)
@click.option("--fit", type=click.Choice(["crop", "pad"]), default="crop", show_default=True)
@click.pass_obj
def translate_cmd(obj: Context, image: Path, name: str, out: Path, size: int | None, fit: str) -> None:
    """Translate IMAGE with an image-to-image model (CycleGAN), e.g. photo to vintage."""
    import numpy as np
    from PIL import Image

    from latentwalk.imagein import fit_image, read_image_file
    from latentwalk.translation import TranslatorCache, native_size, translate

    s = obj.settings
    picture = read_image_file(image)
    cache = TranslatorCache(s.cache_dir, s.models_dirs, s.trusted_files)
    with obj.worker() as worker:
        size = size or native_size(worker, cache, name)
        result = translate(worker, cache, name, np.asarray(fit_image(picture, size, fit)))  # type: ignore[arg-type]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(result).save(out)
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"cannot write {out}: {exc}") from None
    click.echo(f"wrote {out} ({result.shape[1]}x{result.shape[0]})")
