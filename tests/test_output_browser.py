"""The output page in a real Chromium: `latentwalk serve --dummy --osc-port P` in its own process, the
page at /output, playback started by an OSC packet, and the frames on the page changing."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from browser_support import UI_TIMEOUT_MS, free_port, pixels, save_screenshot, subprocess_env
from latentwalk.animation.schema import Animation, ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.latents import seeds_to_z

pytestmark = pytest.mark.browser


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A `serve --dummy` process listening for OSC, with one saved animation ("walk") in its library."""
    workdir = tmp_path_factory.mktemp("live")
    store = AnimationStore(workdir / "data" / "animations")
    anim = Animation(
        name="walk", model=ModelIdentity(name="procedural"), keyframes=[{"seed": 1}, {"seed": 2}], steps=[24]
    )
    store.save(anim, seeds_to_z([1, 2], 512).astype(np.float32))
    port, osc_port = free_port(), _free_udp_port()
    cmd = [
        sys.executable, "-m", "latentwalk", "--cache-dir", str(workdir / "cache"), "--data-dir",
        str(workdir / "data"), "serve", "--dummy", "--host", "127.0.0.1", "--port", str(port),
        "--osc-port", str(osc_port),
    ]  # fmt: skip
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
            env=subprocess_env(workdir),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log_path.read_text()[-4000:]}", pytrace=False)
            try:
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with opener.open(f"{base}/api/health", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield base, osc_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def output_page(browser: Any, live_server: tuple[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 960, "height": 540}, base_url=live_server[0])
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert not errors, f"uncaught errors in the output page: {errors}"
    finally:
        context.close()


def test_output_page_shows_frames_started_over_osc(
    output_page: Any, live_server: tuple[str, int], tmp_path: Path
) -> None:
    page = output_page
    page.goto("/output")
    page.wait_for_selector('body[data-connection="online"]', state="attached")
    assert page.locator("body").get_attribute("data-frames") == "0"  # nothing plays yet
    assert page.locator("#hud").is_hidden()  # chrome-free

    with SimpleUDPClient("127.0.0.1", live_server[1]) as osc:
        osc.send_message("/latentwalk/play", ["walk"])
    page.wait_for_selector('body[data-state="playing"]', state="attached")
    page.wait_for_function("Number(document.body.dataset.frames) >= 2", timeout=120_000)
    first_index = page.locator("body").get_attribute("data-frame")
    first = pixels(page, "#output")
    page.wait_for_function(f"document.body.dataset.frame !== '{first_index}'", timeout=120_000)
    second = pixels(page, "#output")
    assert first.shape == second.shape and first.shape[:2] == (540, 960)
    middle = (slice(200, 340), slice(410, 550))
    assert (first[middle] != second[middle]).any(), "the picture did not change between frames"
    # Centred and scaled on black: a square image in a wide window leaves black bars at the sides.
    assert (second[:, :150] == 0).all() and (second[:, -150:] == 0).all()
    assert second[middle].mean() > 5
    save_screenshot(page, tmp_path, "output-page.png")
