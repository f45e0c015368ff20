"""The command line and composition root: settings, logging, the worker and the server are built here."""

from __future__ import annotations

import json
import logging
import math
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
        return InferenceWorker(s.cache_dir, s.device, s.max_batch, s.model_cache_size, s.cuda_graphs)


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
    "--cutoff",
    "--trunc-cutoff",
    "cutoff",
    type=int,
    default=None,
    help="Truncate only the first N ws (StyleGAN); the later layers keep their variety.",
)
@click.option(
    "--space",
    type=click.Choice(["w", "z"]),
    default=None,
    help="Where --trunc pulls: w toward w_avg (StyleGAN, default), or z toward 0 (every model).",
)
@click.option("--noise-mode", type=click.Choice(NOISE_MODES), default="const", show_default=True)
@click.option("--class", "class_idx", type=int, default=None, help="Class label (conditional models).")
@click.option("--outdir", required=True, type=click.Path(path_type=Path), help="Where to save the PNGs.")
@click.option("--batch", type=int, default=None, help="Images per batch (default: the engine's maximum).")
@click.option(
    "--translate", default="0,0", show_default=True, metavar="X,Y", help="Move the picture (StyleGAN3)."
)
@click.option(
    "--rotate",
    type=float,
    default=0.0,
    show_default=True,
    metavar="DEG",
    help="Turn the picture (StyleGAN3).",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    default="fp32",
    show_default=True,
    help="bf16: a faster preview on CPUs with bf16 instructions, a few grey levels off fp32.",
)
@click.pass_obj
def generate(
    obj: Context,
    network: str,
    seeds: str,
    psi: float,
    cutoff: int | None,
    space: str | None,
    noise_mode: str,
    class_idx: int | None,
    outdir: Path,
    batch: int | None,
    translate: str,
    rotate: float,
    precision: str,
) -> None:
    """Generate images for seeds, like NVIDIA's gen_images.py (same z, same quantisation, same names)."""
    seed_list = parse_seeds(seeds)
    psi = check_psi(psi)
    shift = _parse_translate(translate)
    if not math.isfinite(rotate):
        raise InvalidRequest(f"--rotate {rotate} is not a finite number of degrees")
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
                raise InvalidRequest(f"{info.name} has no w space: --cutoff does not apply")
            if space == "w":
                raise InvalidRequest(
                    f"{info.name} has no mapping network (no w space): its truncation scales z toward 0; "
                    "use --space z or leave --space out"
                )
        z_psi = 1.0
        if space == "z" and info.has_w:  # z truncation on a StyleGAN: scale z, leave w alone
            if cutoff is not None:
                raise InvalidRequest("--cutoff counts ws: it applies with --space w, not --space z")
            psi, z_psi = 1.0, psi
        transform = None
        if "transform" in info.capabilities:  # always set, as gen_images.py writes it for every image
            transform = (shift[0], shift[1], rotate)
        elif shift != (0.0, 0.0) or rotate != 0:
            raise InvalidRequest(
                f"{info.name} ({info.family}) cannot be translated or rotated: --translate and --rotate "
                "need a model with an input transform (StyleGAN3)"
            )
        size = max(1, batch or worker.max_batch)
        with _progress(len(seed_list)) as progress:
            task = progress.add_task(f"{info.name}", total=len(seed_list))
            futures = []
            for start in range(0, len(seed_list), size):
                chunk = seed_list[start : start + size]
                z = seeds_to_z(chunk, info.z_dim) * z_psi
                c = label.repeat(len(chunk), axis=0) if info.c_dim else None
                req = RenderRequest(
                    ref,
                    z,
                    c,
                    psi=psi,
                    cutoff=cutoff,
                    noise_mode=noise_mode,  # type: ignore[arg-type]
                    transform=transform,
                    precision=precision,  # type: ignore[arg-type]
                )
                futures.append((chunk, worker.submit(req)))
            from latentwalk.render.images import to_pil

            for chunk, fut in futures:
                for seed, pixels in zip(chunk, fut.result(), strict=True):
                    to_pil(pixels).save(outdir / f"seed{seed:04d}.png")
                    progress.advance(task)
    click.echo(f"wrote {len(seed_list)} image(s) to {outdir}")
    if precision != "fp32":
        click.echo(
            f"note: rendered in {precision}, a preview precision: pixels differ from fp32 by a few grey "
            "levels (the explorer's Settings > Preview precision > Measure shows how many)",
            err=True,
        )


def _parse_translate(text: str) -> tuple[float, float]:
    """'X,Y' -> (x, y), as gen_images.py's --translate."""
    parts = text.split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise InvalidRequest(f"--translate wants two numbers as X,Y (e.g. 0.3,1), not {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidRequest(f"--translate {text!r} is not two finite numbers")
    return x, y


@main.command("mix")
@click.option("--network", required=True, help="Model file path or a model name (a StyleGAN model).")
@click.option("--rows", "row_seeds", required=True, help="Row seeds (they keep the other layers).")
@click.option("--cols", "col_seeds", required=True, help="Column seeds: they give the --styles layers.")
@click.option(
    "--styles",
    default="0-6",
    show_default=True,
    help="Layers taken from the columns: inclusive ranges (0-6) or coarse, middle, fine.",
)
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi.")
@click.option("--noise-mode", type=click.Choice(NOISE_MODES), default="const", show_default=True)
@click.option("--class", "class_idx", type=int, default=None, help="Class label (conditional models).")
@click.option("--out", "outdir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.pass_obj
def mix_cmd(
    obj: Context,
    network: str,
    row_seeds: str,
    col_seeds: str,
    styles: str,
    psi: float,
    noise_mode: str,
    class_idx: int | None,
    outdir: Path,
) -> None:
    """Style mixing, like NVIDIA's style_mixing.py: ROW-COL.png for each pair and grid.png."""
    from latentwalk.mixgrid import mix_grid
    from latentwalk.render.images import to_pil

    rows, cols, psi = parse_seeds(row_seeds), parse_seeds(col_seeds), check_psi(psi)
    ref = resolve(network, obj.settings.models_dirs)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequest(f"cannot create the output folder {outdir}: {exc.strerror}") from None
    with obj.worker() as worker:
        grid = mix_grid(worker, ref, rows, cols, styles, psi, noise_mode, class_idx)  # type: ignore[arg-type]
    for (row, col), pixels in grid.mixed.items():
        to_pil(pixels).save(outdir / f"{row}-{col}.png")
    to_pil(grid.sheet()).save(outdir / "grid.png")
    layers = ",".join(str(i) for i in grid.layers)
    click.echo(f"wrote {len(grid.mixed)} mixed image(s) and grid.png to {outdir} (cols give layers {layers})")


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
    if "container" in d:  # TensorFlow pickles: the container and the level of detail they were saved at
        lod = f", stored lod {d['stored_lod']:g} (rendered at lod 0)" if d.get("stored_lod") else ""
        rows.append(("container", f"{d['container']}{lod}"))
    if "conv_clamp" in d:
        rows.append(("conv_clamp", d["conv_clamp"]))
    if d.get("fp16_resolutions"):
        rows.append(("fp16 blocks", ", ".join(str(r) for r in d["fp16_resolutions"]) + " (float32 on CPU)"))
    if "channels" in d:
        ch = d["channels"]
        rows.append(
            ("channels", ", ".join(f"{k}:{v}" for k, v in ch.items()) if isinstance(ch, dict) else ch)
        )
    rows.extend(_stylegan3_rows(d))
    rows.append(("parameters", f"{mi.num_params:,}"))
    if d.get("training_set"):
        rows.append(("training set", d["training_set"]))
    if d.get("credit"):
        rows.append(("credit", f"{d['credit']}"))
    rows.append(("file", d.get("path", "(built-in)")))
    rows.append(("sha256", d.get("sha256")))
    for key, value in rows:
        click.echo(f"{key:16s} {value}")


def _stylegan3_rows(d: dict[str, Any]) -> list[tuple[str, Any]]:
    """`info` rows for a StyleGAN3 model: config, the Fourier-feature input, every layer."""
    rows: list[tuple[str, Any]] = []
    if "config" in d:
        rows.append(("config", d["config"]))
    if "output_scale" in d:
        rows.append(("output scale", d["output_scale"]))
    inp = d.get("input")
    if isinstance(inp, dict):
        w, h = inp["size"]
        rows.append(
            (
                "input",
                f"Fourier features, {inp['channels']} channels, {w}x{h}, sampling rate "
                f"{inp['sampling_rate']:g}, bandwidth {inp['bandwidth']:g}",
            )
        )
    for i, layer in enumerate(d.get("layers") or []):
        w, h = layer["size"]
        notes = " critically sampled" if layer["critically_sampled"] else ""
        notes += " radial" if layer["radial"] else ""
        text = (
            f"{layer['name']:14s} {w:>4d}x{h:<4d} {layer['channels']:>5d} ch  sampling rate "
            f"{layer['sampling_rate']:>5g}  cutoff {layer['cutoff']:8.3f}  "
            f"up {layer['up']} down {layer['down']}{notes}"
        )
        rows.append(("layers" if i == 0 else "", text))
    return rows


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


def _live_options(f: Any) -> Any:
    """Options of the live stage, shared by `serve` and `play`."""
    options = [
        click.option(
            "--osc-host", default="127.0.0.1", show_default=True, help="Address OSC input binds to."
        ),
        click.option(
            "--osc-target",
            metavar="HOST:PORT",
            help="Send /latentwalk/frame INDEX TOTAL (and started/ended) to this OSC receiver.",
        ),
        click.option(
            "--midi",
            "midi_port",
            metavar="PORT",
            help="Read a MIDI controller: its port name or part of it ('' for the first port).",
        ),
        click.option("--ndi", is_flag=True, help="Also send the frames as an NDI source (needs ndi-python)."),
        click.option("--host", help="Address to bind (default 127.0.0.1)."),
        click.option("--port", type=int, help="Port (default 8080)."),
        click.option(
            "--token",
            help="Access token every request must carry (default: none on loopback, "
            "a generated one otherwise; env LATENTWALK_TOKEN).",
        ),
        click.option(
            "--allowed-host",
            "allowed_hosts",
            multiple=True,
            help="Another host name the server answers to (repeatable).",
        ),
        click.option(
            "--osc-allow",
            "osc_allow",
            multiple=True,
            help="A sender address or network OSC accepts when bound beyond loopback (repeatable).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _with_access(
    settings: Settings, token: str | None, allowed_hosts: tuple[str, ...], osc_allow: tuple[str, ...]
) -> Settings:
    """The access flags over the settings (repeated flags add to the configured lists)."""
    return settings.with_overrides(
        token=token,
        allowed_hosts=(*settings.allowed_hosts, *allowed_hosts) if allowed_hosts else None,
        osc_allow=(*settings.osc_allow, *osc_allow) if osc_allow else None,
    )


def _run_live_server(
    obj: Context,
    settings: Settings,
    names: tuple[str, ...],
    player_options: Any,
    osc_port: int | None,
    osc_host: str,
    osc_target: str | None,
    midi_port: str | None,
    ndi: bool,
) -> None:
    """Load the model, build the stage and the app, switch on the controls asked for, serve."""
    import uvicorn

    from latentwalk.animation.store import AnimationStore
    from latentwalk.playback.commands import Play
    from latentwalk.playback.osc import parse_target
    from latentwalk.playback.stage import build_stage
    from latentwalk.server.app import create_app

    ref: ModelRef = resolve(settings.model, settings.models_dirs)
    target = parse_target(osc_target) if osc_target else None
    worker = obj.worker().start()
    apps: list[Any] = []
    stage = build_stage(
        worker,
        AnimationStore(settings.data_dir / "animations"),
        settings.models_dirs,
        settings.data_dir,
        lambda: apps[0].state.lw.model if apps else ref,  # /random and seed follow the explorer's model
        player_options,
    )
    try:
        info = worker.info(ref)  # load (and download) before listening, so the first page is instant
        log.info("model %s ready (%s, %dx%d)", info.name, info.family, info.resolution, info.resolution)
        apps.append(create_app(settings, worker, ref, store=stage.player.store, stage=stage))
        if osc_port:
            stage.listen_osc(osc_host, osc_port, settings.osc_allow)
        if target is not None:
            stage.announce_osc(*target)
        if ndi:
            stage.send_ndi()
        if midi_port is not None:
            stage.read_midi(midi_port or None)
        if names:
            stage.player.apply(Play(names)).result(timeout=600)
        base = f"http://{settings.host}:{settings.port}"
        token = apps[0].state.access.token
        click.echo(
            f"latentwalk {__version__}: open {base}/{f'?token={token}' if token else ''}  (Ctrl+C stops)"
        )
        if token:
            click.echo(
                "  every request needs this token (?token=, the cookie it sets, or Authorization: Bearer)"
            )
        click.echo(f"  output page {base}/output   MJPEG {base}/stream.mjpg")
        if stage.osc is not None:
            click.echo(f"  OSC in udp://{osc_host}:{stage.osc.port} (/latentwalk/...)")
        if target is not None:
            click.echo(f"  OSC out udp://{target[0]}:{target[1]} (/latentwalk/frame INDEX TOTAL)")
        if stage.ndi is not None:
            click.echo(f"  NDI source {stage.ndi.name!r}")
        uvicorn.run(apps[0], host=settings.host, port=settings.port, log_level="warning")
    finally:
        stage.close()
        worker.stop()


@main.command()
@click.option("--dummy", is_flag=True, help="Use the procedural generator: no download at all.")
@click.option("--model", "model_name", help="Model to start with (name or path). Default: dcgan-faces.")
@click.option(
    "--osc-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Listen for OSC playback control (off by default).",
)
@_live_options
@click.pass_obj
def serve(
    obj: Context,
    dummy: bool,
    model_name: str | None,
    osc_port: int | None,
    osc_host: str,
    osc_target: str | None,
    midi_port: str | None,
    ndi: bool,
    host: str | None,
    port: int | None,
    **access: Any,
) -> None:
    """Start the web explorer at http://127.0.0.1:8080 (with live playback: /output, /stream.mjpg)."""
    from latentwalk.playback.player import PlayerOptions

    settings = obj.settings.with_overrides(host=host, port=port, model="procedural" if dummy else model_name)
    settings = _with_access(settings, **access)
    _run_live_server(obj, settings, (), PlayerOptions(), osc_port, osc_host, osc_target, midi_port, ndi)


@main.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--fps", type=click.FloatRange(1, 240), default=24.0, show_default=True, help="Frames per second."
)
@click.option(
    "--speed",
    type=click.FloatRange(0, 16, min_open=True),
    default=1.0,
    show_default=True,
    help="Animation frames per presented frame (0.5: half speed).",
)
@click.option(
    "--loop/--once", default=True, show_default=True, help="Loop the chain, or play it once and hold."
)
@click.option(
    "--late",
    type=click.Choice(["drop", "hold"]),
    default="drop",
    show_default=True,
    help="A frame not ready at its time: skip it, or hold the newest ready one in its place.",
)
@click.option(
    "--osc-port", type=click.IntRange(0, 65535), default=9000, show_default=True, help="OSC input (0: off)."
)
@click.option("--model", "model_name", help="Model for /random and seed (default: dcgan-faces).")
@click.option("--dummy", is_flag=True, help="The procedural generator for /random and seed.")
@_live_options
@click.pass_obj
def play(
    obj: Context,
    names: tuple[str, ...],
    fps: float,
    speed: float,
    loop: bool,
    late: str,
    osc_port: int,
    model_name: str | None,
    dummy: bool,
    osc_host: str,
    osc_target: str | None,
    midi_port: str | None,
    ndi: bool,
    host: str | None,
    port: int | None,
    **access: Any,
) -> None:
    """Play saved animations live, in order, on a steady clock: a full-screen page at /output, MJPEG
    at /stream.mjpg, OSC control on port 9000 (and the explorer at /)."""
    from latentwalk.playback.player import PlayerOptions

    settings = obj.settings.with_overrides(host=host, port=port, model="procedural" if dummy else model_name)
    settings = _with_access(settings, **access)
    options = PlayerOptions(fps=fps, speed=speed, loop=loop, late=late)  # type: ignore[arg-type]
    _run_live_server(obj, settings, names, options, osc_port, osc_host, osc_target, midi_port, ndi)


def _add_directions() -> None:
    from latentwalk.directions.commands import directions

    main.add_command(directions)


_add_directions()


# ------------------------------------------------------------------------------------------------
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
        with _progress(steps) as progress:
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
