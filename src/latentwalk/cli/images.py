"""Still images: `generate` (like NVIDIA's gen_images.py) and `mix` (like style_mixing.py)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from latentwalk.catalog import resolve
from latentwalk.cli.base import Context, main, progress_bar
from latentwalk.errors import InvalidRequest
from latentwalk.latents import check_psi, class_label, parse_seeds, seeds_to_z
from latentwalk.render.worker import RenderRequest
from latentwalk.types import NOISE_MODES


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
        with progress_bar(len(seed_list)) as progress:
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
