"""What can be loaded: `models`, `info` and `fetch`."""

from __future__ import annotations

import json
from typing import Any

import click

from latentwalk.catalog import resolve, scan
from latentwalk.cli.base import Context, main
from latentwalk.config import Settings
from latentwalk.errors import InvalidRequest
from latentwalk.zoo import ZOO, fetch, is_fetched


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
