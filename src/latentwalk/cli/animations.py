"""Saved animations: `import-marrow` and `render` (export to video, PNG, GIF or WebP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from latentwalk.catalog import ModelRef, resolve
from latentwalk.cli.base import Context, main, progress_bar
from latentwalk.errors import InvalidRequest
from latentwalk.latents import check_psi, parse_seeds, seeds_to_z
from latentwalk.render.worker import InferenceWorker


@main.command("import-marrow")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--network", help="Model the animations are for (name or path). Default: the settings' model.")
@click.pass_obj
def import_marrow_cmd(obj: Context, folders: tuple[Path, ...], network: str | None) -> None:
    """Import animations saved by the Marrow GAN Explorer (folders with source.npy and dest.npy)."""
    from latentwalk.animation.marrow import import_marrow_folder
    from latentwalk.animation.schema import ModelIdentity
    from latentwalk.animation.store import AnimationStore

    ref = resolve(network or obj.settings.model, obj.settings.models_dirs)
    with obj.worker() as worker:
        mi = worker.info(ref)
    model = ModelIdentity(name=ref.name, snapshot=ref.snapshot, sha256=mi.details.get("sha256"))
    store = AnimationStore(obj.settings.data_dir / "animations")
    for folder in folders:
        for name in import_marrow_folder(folder, mi.z_dim, model, store):
            click.echo(f"imported {name!r} from {folder} (model {mi.name}, z_dim {mi.z_dim})")
    click.echo(f"library: {store.root}")


@main.command()
@click.argument("animation", required=False)
@click.option("--network", help="Quick walk without the UI: the model to walk through (with --seeds).")
@click.option("--seeds", help="Quick walk: keyframe seeds, e.g. 1,5,9.")
@click.option(
    "--steps",
    type=click.IntRange(1, 10000),
    default=120,
    show_default=True,
    help="Quick walk: frames per segment.",
)
@click.option("--loop", is_flag=True, help="Quick walk: return to the first seed (a seamless loop).")
@click.option(
    "--trunc", "psi", type=float, default=1.0, show_default=True, help="Quick walk: truncation psi."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mp4", "mov", "png", "gif", "webp"]),
    default="mp4",
    show_default=True,
)
@click.option("--fps", type=float, default=None, help="Frames per second (default: the animation's, or 12).")
@click.option("--size", type=int, default=None, help="Output size in pixels (default: the model's).")
@click.option(
    "--upscale",
    type=click.Choice(["nearest", "bicubic", "lanczos"]),
    default="lanczos",
    show_default=True,
    help="Filter for sizes above the model's resolution.",
)
@click.option("--shadows", is_flag=True, help="Render the shadows view filter.")
@click.option("--softness", type=click.FloatRange(0, 1), default=None, help="Shadows softness 0..1.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Output path (default: ./NAME.FORMAT)."
)
@click.pass_obj
def render(
    obj: Context,
    animation: str | None,
    network: str | None,
    seeds: str | None,
    steps: int,
    loop: bool,
    psi: float,
    fmt: str,
    fps: float | None,
    size: int | None,
    upscale: str,
    shadows: bool,
    softness: float | None,
    out: Path | None,
) -> None:
    """Export a saved animation (a name or its folder), or a quick walk through seeds, as a video
    (MP4 H.264, MOV ProRes 422), a PNG sequence, or an animated GIF/WebP."""
    from latentwalk.animation.frames import plan
    from latentwalk.animation.schema import AnimationSettings, ViewFilter
    from latentwalk.export import ExportOptions, export_frames

    if (animation is None) == (network is None):
        raise InvalidRequest("give a saved animation's name, or --network with --seeds for a quick walk")
    with obj.worker() as worker:
        if animation is not None:
            settings, keys, ref, name = _saved_animation(obj, worker, animation)
        else:
            if not seeds:
                raise InvalidRequest("a quick walk needs --seeds, e.g. --seeds 1,5,9")
            seed_list = parse_seeds(seeds)
            if len(seed_list) < 2:
                raise InvalidRequest("a walk needs at least two seeds")
            ref = resolve(network or "", obj.settings.models_dirs)
            info = worker.info(ref)
            count = len(seed_list) if loop else len(seed_list) - 1
            settings = AnimationSettings(
                keyframes=[{"seed": s} for s in seed_list],
                steps=[steps] * count,
                psi=check_psi(psi),
                loop="closed" if loop else "none",
                interpolation="spline" if loop else "slerp",
            )
            keys = seeds_to_z(seed_list, info.z_dim).astype("float32")
            name = f"{ref.name}-walk-{'-'.join(str(s) for s in seed_list[:6])}"
        if shadows or softness is not None:
            vf = ViewFilter(
                kind="shadows", softness=settings.view_filter.softness if softness is None else softness
            )
            settings = settings.model_copy(update={"view_filter": vf})
        fps = fps or settings.fps
        p = plan(worker, ref, settings, keys)
        target = out if out is not None else Path(name)
        with progress_bar(p.total) as progress:
            task = progress.add_task(f"{name} ({fmt})", total=p.total)
            written = export_frames(
                worker,
                p,
                target,
                ExportOptions(fmt=fmt, fps=fps, size=size, upscale=upscale),
                progress=lambda done, _total: progress.update(task, completed=done),
            )
    click.echo(f"wrote {p.total} frames to {written}")


def _saved_animation(obj: Context, worker: InferenceWorker, spec: str) -> tuple[Any, Any, ModelRef, str]:
    """A saved animation by name (from the library) or by folder path, with its model resolved."""
    from latentwalk.animation.schema import AnimationSettings
    from latentwalk.animation.store import AnimationStore

    folder = Path(spec)
    if (folder / "animation.json").is_file():
        store, name = AnimationStore(folder.parent), folder.name
    else:
        store, name = AnimationStore(obj.settings.data_dir / "animations"), spec
    anim, keys = store.load(name)
    model_spec = (
        anim.model.name if anim.model.snapshot is None else f"{anim.model.name}@{anim.model.snapshot}"
    )
    ref = resolve(model_spec, obj.settings.models_dirs)
    info = worker.info(ref)
    if anim.model.sha256 and info.details.get("sha256") != anim.model.sha256:
        click.echo(
            f"warning: {ref.name} has changed since '{anim.name}' was saved (different content "
            "hash): frames may differ from the ones you saw",
            err=True,
        )
    settings = AnimationSettings.model_validate(anim.model_dump(include=set(AnimationSettings.model_fields)))
    return settings, keys, ref, anim.name
