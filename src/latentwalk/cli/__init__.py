"""The command line and composition root: settings, logging, the worker and the server are built here.

One module per group of commands; importing them registers their commands on `main`.
"""

from __future__ import annotations

from latentwalk.cli import animations, images, live, models, realimages  # noqa: F401 (register commands)
from latentwalk.cli.base import main
from latentwalk.directions.commands import directions

main.add_command(directions)

__all__ = ["main"]
