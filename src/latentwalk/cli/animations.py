"""Saved animations: `import-marrow` and `render` (export to video, PNG, GIF or WebP)."""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

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
@click.option(
    "--cluster",
    default=None,
    help="Render on a Ray cluster: auto (RAY_ADDRESS, or a local Ray) or ray://HOST:PORT. "
    "Needs pip install 'latentwalk[cluster]'.",
)
@click.option(
    "--shard-frames",
    type=click.IntRange(1, 100000),
    default=32,
    show_default=True,
    help="With --cluster: frames per shard (one actor renders one shard at a time).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 4096),
    default=None,
    help="With --cluster: actors to start (default: one per GPU, or one per 4 CPUs).",
)
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file of renders, one per line, each with the arguments of this command (see the README).",
)
@click.pass_context
def render(ctx: click.Context, **params: Any) -> None:
    """Export a saved animation (a name or its folder), or a quick walk through seeds, as a video
    (MP4 H.264, MOV ProRes 422), a PNG sequence, or an animated GIF/WebP; on a Ray cluster with
    --cluster, and many at once with --batch."""
    obj: Context = ctx.obj
    farm_opts = {k: params.pop(k) for k in ("cluster", "shard_frames", "workers", "batch")}
    batch: Path | None = farm_opts["batch"]
    if batch is not None:
        if params["animation"] is not None or params["network"] is not None:
            raise InvalidRequest("--batch takes its renders from the file: give no animation or --network")
        jobs = _batch_jobs(ctx, batch)  # every line is checked before anything renders
    else:
        jobs = [params]
    with _farm(obj, farm_opts["cluster"], farm_opts["workers"]) as farm:
        for job in jobs:
            _render_one(obj, farm, farm_opts["shard_frames"], **job)


def _batch_jobs(ctx: click.Context, path: Path) -> list[dict[str, Any]]:
    """The renders of a batch file: one per line, shell-quoted `render` arguments; # comments."""
    jobs = []
    farm_only = ("cluster", "shard_frames", "workers", "batch")
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            args = shlex.split(line, comments=True)
            if not args:
                continue
            sub = render.make_context("render", args, parent=ctx)
        except (ValueError, click.ClickException) as exc:
            msg = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            raise InvalidRequest(f"{path}, line {number}: {msg}") from None
        given = [k for k in farm_only if sub.get_parameter_source(k) == ParameterSource.COMMANDLINE]
        if given:
            raise InvalidRequest(
                f"{path}, line {number}: --{given[0].replace('_', '-')} belongs on the command line, "
                "not in a batch file"
            )
        jobs.append({k: v for k, v in sub.params.items() if k not in farm_only})
    if not jobs:
        raise InvalidRequest(f"{path} lists no renders")
    return jobs


def _farm(obj: Context, cluster: str | None, workers: int | None) -> Any:
    """The render farm for --cluster (Ray is imported only then), else nothing."""
    if cluster is None:
        return contextlib.nullcontext(None)
    from latentwalk.cluster.job import Cluster

    return Cluster(cluster, workers=workers, cache_dir=obj.settings.cache_dir)


def _render_one(
    obj: Context,
    farm: Any,
    shard_frames: int,
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
        options = ExportOptions(fmt=fmt, fps=fps, size=size, upscale=upscale)  # type: ignore[arg-type]
        with progress_bar(p.total) as progress:
            task = progress.add_task(f"{name} ({fmt})", total=p.total)

            def advance(done: int, _total: int) -> None:
                progress.update(task, completed=done)

            if farm is None:
                written = export_frames(worker, p, target, options, progress=advance)
            else:
                result = farm.render(p, target, options, shard_frames=shard_frames, progress=advance)
                written = result.path
    if farm is None:
        click.echo(f"wrote {p.total} frames to {written}")
    else:
        click.echo(
            f"wrote {p.total} frames to {written} ({result.shards} shards: {result.rendered} rendered "
            f"on the cluster, {result.reused} found done on disk, {result.retries} retried)"
        )


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
