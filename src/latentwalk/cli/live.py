"""The live stage: `serve` (the web explorer) and `play` (installations), with OSC, MIDI and NDI."""

from __future__ import annotations

import logging
from typing import Any

import click

from latentwalk import __version__
from latentwalk.catalog import ModelRef, resolve
from latentwalk.cli.base import Context, main
from latentwalk.config import Settings

log = logging.getLogger("latentwalk")


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
