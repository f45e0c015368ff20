"""The command group, its context (settings, debug) and the error handling every command shares."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from latentwalk import __version__
from latentwalk.config import Settings, settings_from_env
from latentwalk.errors import LatentwalkError
from latentwalk.render.worker import InferenceWorker


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


def progress_bar(total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=total <= 4,
        transient=False,
    )
