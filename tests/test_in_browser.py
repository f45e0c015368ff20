"""The In page in Chromium with a fake camera: the live feed plays, Capture fills the second frame,
Translate (the built-in CycleGAN, real weights) fills the third; a projection hands its latent to the
explorer as the first keyframe (a z, or for a StyleGAN a w+ latent that the explorer walks in w)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser_support import (
    CHROMIUM_ARGS,
    RENDER_TIMEOUT_MS,
    UI_TIMEOUT_MS,
    VIEWPORT,
    browser_unavailable,
    find_chromium,
    pixels,
    running_server,
)
from conftest import shared_cache_dir, write_tiny_dcgan
from latentwalk.translation import TRANSLATOR_ZOO
from latentwalk.zoo import fetch
from nvpickle_writer import build_stylegan2, dumps_network_pickle

pytestmark = [pytest.mark.browser, pytest.mark.network]
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def in_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose cache already holds the translator's weights (fetched once into the shared cache)."""
    entry = TRANSLATOR_ZOO["cyclegan-vintage"][0]
    weights = fetch(entry, shared_cache_dir())
    assert weights is not None
    workdir = tmp_path_factory.mktemp("in-server")
    target = workdir / "cache" / weights.relative_to(shared_cache_dir())
    target.parent.mkdir(parents=True)
    shutil.copyfile(weights, target)
    write_tiny_dcgan(workdir / "models" / "tiny-dcgan.pt", seed=3)
    tree, _ = build_stylegan2(seed=4)  # 16x16, 6 ws
    (workdir / "models" / "sg2.pkl").write_bytes(dumps_network_pickle(tree))
    with running_server(workdir) as url:
        yield url


@pytest.fixture
def cam_page(browser: Any, in_server: str) -> Iterator[Any]:
    """A page in a second Chromium, launched through the session's Playwright with a fake camera."""
    executable = find_chromium()
    if executable is None:
        browser_unavailable("no Chromium found on PATH")
    errors: list[str] = []
    cam = browser.browser_type.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS + FAKE_CAMERA
    )
    try:
        context = cam.new_context(viewport=VIEWPORT, base_url=in_server, permissions=["camera"])
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
    finally:
        cam.close()
    assert not errors, errors


def test_live_feed_capture_and_translate(cam_page: Any, tmp_path: Path) -> None:
    page = cam_page
    page.goto("/in")
    page.wait_for_function("document.getElementById('live').videoWidth > 0")
    assert page.locator("#no-camera").is_hidden()
    slot = page.locator("#result + .slot").bounding_box()  # the result frame holds its square until a result
    assert slot is not None and slot["width"] > 100 and abs(slot["width"] - slot["height"]) < 1, slot
    assert page.locator("#no-result").is_visible()
    blank = pixels(page, "#captured")
    page.click("#capture")
    page.wait_for_function("document.body.dataset.captured === 'yes'")
    captured = pixels(page, "#captured")
    assert (
        np.abs(captured.astype(int) - blank).mean() > 5 and captured[..., :3].std() > 5
    )  # the fake camera's picture
    page.select_option("#size", "256")
    page.click("#translate")
    page.wait_for_function("document.body.dataset.translated === 'yes'", timeout=RENDER_TIMEOUT_MS)
    result = pixels(page, "#result")
    assert result.shape[:2] == (256, 256) and result[..., :3].std() > 5
    assert page.locator("#no-result").is_hidden() and page.locator("#result + .slot").is_hidden()
    if os.environ.get("LATENTWALK_SAVE_SCREENSHOTS"):
        page.screenshot(path=os.environ["LATENTWALK_SAVE_SCREENSHOTS"] + "/in-page.png")
    page.screenshot(path=str(tmp_path / "in.png"))


def test_projection_lands_as_the_explorers_first_keyframe(cam_page: Any) -> None:
    page = cam_page
    page.goto("/")
    page.wait_for_function("document.body.dataset.state !== 'loading'")
    page.select_option("#model-select", "tiny-dcgan")
    page.wait_for_function("document.getElementById('model-info').textContent.includes('16')")
    page.goto("/in")
    page.wait_for_function("document.getElementById('space').options[0].textContent === 'auto (z)'")
    assert page.eval_on_selector("#space option[value='w']", "o => o.disabled")  # no mapping network
    page.wait_for_function("document.getElementById('live').videoWidth > 0")
    page.click("#capture")
    page.fill("#steps", "60")
    page.click("#project")
    page.wait_for_function("document.body.dataset.projected === 'yes'", timeout=RENDER_TIMEOUT_MS)
    assert "PSNR" in page.text_content("#proj-status")
    assert page.eval_on_selector("#proj-recon", "img => img.naturalWidth") == 16
    if os.environ.get("LATENTWALK_SAVE_SCREENSHOTS"):
        page.screenshot(path=os.environ["LATENTWALK_SAVE_SCREENSHOTS"] + "/in-projection.png")
    page.click("#walk")
    page.wait_for_url("**/")
    page.wait_for_function(
        "document.body.textContent.includes('projected picture')", timeout=RENDER_TIMEOUT_MS
    )


def test_a_stylegan_projection_hands_a_w_plus_keyframe_to_the_explorer(cam_page: Any) -> None:
    page = cam_page
    page.goto("/")
    page.wait_for_function("document.body.dataset.state !== 'loading'")
    page.select_option("#model-select", "sg2")
    page.locator("#status-model").filter(has_text="sg2").wait_for()
    page.goto("/in")
    page.wait_for_function("document.getElementById('space').options[0].textContent === 'auto (w)'")
    assert not page.eval_on_selector("#space option[value='w+']", "o => o.disabled")
    page.wait_for_function("document.getElementById('live').videoWidth > 0")
    page.click("#capture")
    page.fill("#steps", "40")
    page.select_option("#space", "w+")
    page.click("#project")
    page.wait_for_function("document.body.dataset.projected === 'yes'", timeout=RENDER_TIMEOUT_MS)
    recon = pixels(page, "#proj-recon")
    assert recon.shape == (16, 16, 3)
    page.click("#walk")
    page.wait_for_url("**/")
    page.wait_for_function(
        "document.body.textContent.includes('projected picture')", timeout=RENDER_TIMEOUT_MS
    )
    # The walk is in w (z is disabled while a keyframe holds a w+ latent) and the source is the projection.
    assert page.locator("#space-w").is_checked() and page.locator("#space-z").is_disabled()
    page.wait_for_function(
        "document.getElementById('source-thumb').naturalWidth > 0", timeout=RENDER_TIMEOUT_MS
    )
    thumb = pixels(page, "#source-thumb")
    if thumb.shape != recon.shape:  # thumbnails may be drawn larger: compare at the model's size
        from PIL import Image

        thumb = np.asarray(Image.fromarray(thumb).resize((16, 16), Image.Resampling.BOX))
    assert np.abs(thumb.astype(int) - recon.astype(int)).max() <= 2, "the keyframe is not the projection"
