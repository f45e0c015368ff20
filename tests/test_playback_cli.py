"""`latentwalk play` and `serve`'s live options as a user meets them: one-line errors before serving."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from latentwalk.cli import main


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_play_refuses_an_unknown_animation(tmp_path: Path) -> None:
    code, out = run(["--data-dir", str(tmp_path), "play", "no such walk", "--dummy", "--osc-port", "0"])
    assert code == 1 and "no saved animation named 'no such walk'" in out


def test_play_refuses_a_bad_osc_target(tmp_path: Path) -> None:
    code, out = run(["--data-dir", str(tmp_path), "play", "x", "--dummy", "--osc-target", "9001"])
    assert code == 1 and "HOST:PORT" in out


def test_ndi_without_its_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "NDIlib", None)
    code, out = run(["--data-dir", str(tmp_path), "play", "x", "--dummy", "--osc-port", "0", "--ndi"])
    assert code == 1 and "pip install 'latentwalk[ndi]'" in out


def test_play_help_lists_the_live_options() -> None:
    code, out = run(["play", "--help"])
    assert code == 0
    for option in (
        "--fps",
        "--speed",
        "--loop / --once",
        "--late",
        "--osc-port",
        "--osc-target",
        "--ndi",
        "--midi",
    ):
        assert option in out
