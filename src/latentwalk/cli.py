"""The command line and composition root: settings, logging, the worker and the server are built here."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from latentwalk import __version__
from latentwalk.catalog import ModelRef, resolve, scan
from latentwalk.config import Settings, settings_from_env
from latentwalk.errors import InvalidRequest, LatentwalkError
from latentwalk.latents import check_psi, class_label, parse_seeds, seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.types import NOISE_MODES
from latentwalk.zoo import ZOO, fetch, is_fetched

log = logging.getLogger("latentwalk")


@dataclass
class Context:
    settings: Settings
    debug: bool

    def worker(self) -> InferenceWorker:
        s = self.settings
        return InferenceWorker(s.cache_dir, s.device, s.max_batch, s.model_cache_size)


class LatentwalkGroup(click.Group):
    """Turns LatentwalkError into a one-line message and exit status 1 (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LatentwalkError as exc:
            obj = ctx.obj if isinstance(ctx.obj, Context) else None
            if obj is not None and obj.debug:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=LatentwalkGroup)
@click.version_option(__version__, prog_name="latentwalk")
@click.option(
    "--models-dir",
    "models_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra folder with model files (repeatable; also LATENTWALK_MODELS).",
)
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Download cache for built-in models.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder for animations and directions.")
@click.option("--device", help="cpu, cuda, cuda:N or auto (default).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def main(
    ctx: click.Context,
    models_dirs: tuple[Path, ...],
    cache_dir: Path | None,
    data_dir: Path | None,
    device: str | None,
    debug: bool,
) -> None:
    """latentwalk: explore the latent space of image generators and turn walks into animations."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    settings = settings_from_env()
    if models_dirs:
        settings = settings.with_overrides(models_dirs=tuple(models_dirs) + settings.models_dirs)
    settings = settings.with_overrides(cache_dir=cache_dir, data_dir=data_dir, device=device)
    ctx.obj = Context(settings=settings, debug=debug)


def _progress(total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=total <= 4,
        transient=False,
    )


@main.command()
@click.option(
    "--network", "network", required=True, help="Model file path or a model name (`latentwalk models`)."
)
@click.option("--seeds", required=True, help="Seeds: numbers and inclusive ranges, e.g. 0-3,7.")
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi.")
@click.option(
    "--trunc-cutoff", "cutoff", type=int, default=None, help="Truncate only the first N ws (StyleGAN)."
)
@click.option("--noise-mode", type=click.Choice(NOISE_MODES), default="const", show_default=True)
@click.option("--class", "class_idx", type=int, default=None, help="Class label (conditional models).")
@click.option("--outdir", required=True, type=click.Path(path_type=Path), help="Where to save the PNGs.")
@click.option("--batch", type=int, default=None, help="Images per batch (default: the engine's maximum).")
@click.pass_obj
def generate(
    obj: Context,
    network: str,
    seeds: str,
    psi: float,
    cutoff: int | None,
    noise_mode: str,
    class_idx: int | None,
    outdir: Path,
    batch: int | None,
) -> None:
    """Generate images for seeds, like NVIDIA's gen_images.py (same z, same quantisation, same names)."""
    seed_list = parse_seeds(seeds)
    psi = check_psi(psi)
    ref = resolve(network, obj.settings.models_dirs)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequest(f"cannot create the output folder {outdir}: {exc.strerror}") from None
    with obj.worker() as worker:
        info = worker.info(ref)
        label = class_label(class_idx, info.c_dim)
        if not info.has_w:
            if noise_mode != "const":
                click.echo(f"note: {info.name} has no noise inputs; --noise-mode has no effect", err=True)
            if cutoff is not None:
                raise InvalidRequest(f"{info.name} has no w space: --trunc-cutoff does not apply")
        size = max(1, batch or worker.max_batch)
        with _progress(len(seed_list)) as progress:
            task = progress.add_task(f"{info.name}", total=len(seed_list))
            futures = []
            for start in range(0, len(seed_list), size):
                chunk = seed_list[start : start + size]
                z = seeds_to_z(chunk, info.z_dim)
                c = label.repeat(len(chunk), axis=0) if info.c_dim else None
                req = RenderRequest(ref, z, c, psi=psi, cutoff=cutoff, noise_mode=noise_mode)  # type: ignore[arg-type]
                futures.append((chunk, worker.submit(req)))
            from latentwalk.render.images import to_pil

            for chunk, fut in futures:
                for seed, pixels in zip(chunk, fut.result(), strict=True):
                    to_pil(pixels).save(outdir / f"seed{seed:04d}.png")
                    progress.advance(task)
    click.echo(f"wrote {len(seed_list)} image(s) to {outdir}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def models(obj: Context, as_json: bool) -> None:
    """List what can be loaded: built-in models and files in the models folders (with snapshots)."""
    found = scan(obj.settings.models_dirs)
    if as_json:
        click.echo(json.dumps([_model_json(m, obj.settings) for m in found], indent=2))
        return
    for m in found:
        if m.source == "zoo":
            state = "ready" if is_fetched(ZOO[m.name], obj.settings.cache_dir) else "downloads on first use"
            click.echo(f"{m.name:24s} built-in  {m.description} [{state}]")
        else:
            snaps = m.snapshots
            if len(snaps) == 1 and snaps[0].kimg is None:
                click.echo(f"{m.name:24s} file      {snaps[0].path}")
            else:
                click.echo(f"{m.name:24s} run       {len(snaps)} snapshot(s) in {snaps[0].path.parent}")
                for s in snaps:
                    click.echo(f"{'':26s}{m.name}@{s.label}  ({s.kimg} kimg)  {s.path.name}")
    dirs = ", ".join(str(d) for d in obj.settings.models_dirs)
    click.echo(f"\nmodels folders: {dirs}")


def _model_json(m: Any, settings: Settings) -> dict[str, Any]:
    return {
        "name": m.name,
        "source": m.source,
        "description": m.description,
        "snapshots": [{"label": s.label, "kimg": s.kimg, "path": str(s.path)} for s in m.snapshots],
    }


@main.command()
@click.argument("network")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def info(obj: Context, network: str, as_json: bool) -> None:
    """Describe a model: format, architecture, resolution, latent sizes, parameters, sha256."""
    ref = resolve(network, obj.settings.models_dirs)
    with obj.worker() as worker:
        mi = worker.info(ref)
    if as_json:
        click.echo(json.dumps(mi.as_dict(), indent=2, default=str))
        return
    d = mi.details
    rows: list[tuple[str, Any]] = [
        ("name", mi.name),
        ("format", d.get("format")),
        ("family", mi.family),
        ("class", d.get("class")),
        ("resolution", f"{mi.resolution}x{mi.resolution}, {mi.img_channels} channels"),
        ("z_dim", mi.z_dim),
        ("w_dim", mi.w_dim if mi.has_w else "none (no mapping network)"),
        ("c_dim", f"{mi.c_dim}" + (" (unconditional)" if mi.c_dim == 0 else " classes")),
        ("num_ws", mi.num_ws if mi.has_w else "-"),
        ("truncation", "w space, toward w_avg" if mi.has_w else "z space: psi scales z toward 0"),
    ]
    if "mapping_layers" in d:
        rows.append(("mapping layers", d["mapping_layers"]))
    if "architecture" in d:
        rows.append(("architecture", d["architecture"]))
    if "conv_clamp" in d:
        rows.append(("conv_clamp", d["conv_clamp"]))
    if d.get("fp16_resolutions"):
        rows.append(("fp16 blocks", ", ".join(str(r) for r in d["fp16_resolutions"]) + " (float32 on CPU)"))
    if "channels" in d:
        ch = d["channels"]
        rows.append(
            ("channels", ", ".join(f"{k}:{v}" for k, v in ch.items()) if isinstance(ch, dict) else ch)
        )
    rows.append(("parameters", f"{mi.num_params:,}"))
    if d.get("training_set"):
        rows.append(("training set", d["training_set"]))
    if d.get("credit"):
        rows.append(("credit", f"{d['credit']}"))
    rows.append(("file", d.get("path", "(built-in)")))
    rows.append(("sha256", d.get("sha256")))
    for key, value in rows:
        click.echo(f"{key:16s} {value}")


@main.command("fetch")
@click.argument("names", nargs=-1)
@click.pass_obj
def fetch_cmd(obj: Context, names: tuple[str, ...]) -> None:
    """Download the weights of built-in models (all of them by default) into the cache."""
    for name in names or tuple(ZOO):
        if name not in ZOO:
            raise InvalidRequest(f"no built-in model {name!r}; built-in models: {', '.join(ZOO)}")
        path = fetch(ZOO[name], obj.settings.cache_dir)
        click.echo(f"{name:16s} {'no weights needed' if path is None else path}")


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
    from latentwalk.latents import seeds_to_z

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
        with _progress(p.total) as progress:
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


@main.command()
@click.option("--dummy", is_flag=True, help="Use the procedural generator: no download at all.")
@click.option("--model", "model_name", help="Model to start with (name or path). Default: dcgan-faces.")
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8080).")
@click.pass_obj
def serve(obj: Context, dummy: bool, model_name: str | None, host: str | None, port: int | None) -> None:
    """Start the web explorer at http://127.0.0.1:8080."""
    import uvicorn

    from latentwalk.server.app import create_app

    settings = obj.settings.with_overrides(host=host, port=port, model="procedural" if dummy else model_name)
    ref: ModelRef = resolve(settings.model, settings.models_dirs)
    worker = obj.worker().start()
    info = worker.info(ref)  # load (and download) before listening, so the first page is instant
    log.info("model %s ready (%s, %dx%d)", info.name, info.family, info.resolution, info.resolution)
    app = create_app(settings, worker, ref)
    click.echo(f"latentwalk {__version__}: open http://{settings.host}:{settings.port}/  (Ctrl+C stops)")
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        worker.stop()
