"""The latent controls in a real Chromium: truncation cutoff and average image, nudge and reset,
style mixing with its parents and child, on a tiny StyleGAN2 and on a DCGAN (no mapping network)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from browser_support import (
    UI_TIMEOUT_MS,
    VIEWPORT,
    differing,
    open_explorer,
    pixels,
    running_server,
    save_screenshot,
    wait_render,
    wait_thumb,
)
from conftest import write_tiny_dcgan
from nvpickle_writer import build_stylegan2, dumps_network_pickle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def controls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose ./models holds a tiny StyleGAN2 (`sg2`, 16x16, 6 ws) and a tiny DCGAN."""
    workdir = tmp_path_factory.mktemp("controls-server")
    tree, _ = build_stylegan2(seed=4)
    (workdir / "models").mkdir()
    (workdir / "models" / "sg2.pkl").write_bytes(dumps_network_pickle(tree))
    write_tiny_dcgan(workdir / "models" / "tiny-dcgan.pt")
    with running_server(workdir) as url:
        yield url


@pytest.fixture
def cpage(browser: Any, controls_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, base_url=controls_url)
    tab = context.new_page()
    tab.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
        assert not errors, f"uncaught errors in the page: {errors}"
    finally:
        context.close()


def _switch_model(page: Any, name: str) -> None:
    page.locator("#model-select").select_option(name)
    page.wait_for_selector('body[data-state="ready"]', state="attached")
    page.locator("#status-model").filter(has_text=name).wait_for()
    wait_thumb(page, "source")


def _keyframe_id(page: Any) -> str:
    return str(page.locator("#source-thumb").get_attribute("data-keyframe"))


def _wait_source_changed(page: Any, old: str) -> None:
    page.wait_for_function(
        "(old) => document.getElementById('source-thumb').dataset.keyframe !== old", arg=old
    )
    wait_thumb(page, "source")


def _wait_mix(page: Any, keyframe: str, other: str, layers: str) -> None:
    """Wait until the mixing panel shows parents and child of these parents and layers."""
    page.wait_for_selector(
        f'#mix-family[data-state="shown"][data-keyframe="{keyframe}"][data-other="{other}"][data-layers="{layers}"]',
        state="attached",
    )


def test_controls_on_a_stylegan_and_a_dcgan(cpage: Any, controls_url: str, tmp_path: Path) -> None:
    page = cpage
    open_explorer(page)
    _switch_model(page, "sg2")

    # Truncation: a cutoff slider over the model's 6 ws, and the average image truncation pulls toward.
    assert page.locator("#cutoff-setting").is_visible()
    assert page.locator("#cutoff").get_attribute("max") == "6"
    assert page.locator("#cutoff-value").inner_text() == "all"
    assert "w_avg" in page.locator("#truncation-kind").inner_text()
    assert "w_avg" in (page.locator("#average-thumb").get_attribute("title") or "")
    page.wait_for_function("() => document.getElementById('average-thumb').naturalWidth === 16")
    served = page.request.get(f"{controls_url}/api/model/average.png").body()
    np.testing.assert_array_equal(
        pixels(page, "#average-thumb"), np.asarray(Image.open(io.BytesIO(served)).convert("RGB"))
    )

    # Edit tab: z, w and w+ are offered; nudge changes the source, reset brings it back exactly.
    page.locator("#tab-edit").click()
    assert page.locator("#edit-space-wplus").is_enabled() and page.locator("#mix-reason").is_hidden()
    original_id = _keyframe_id(page)
    original = pixels(page, "#source-thumb")
    assert page.locator("#edit-reset").is_disabled()
    page.locator("#edit-size").fill("0.8")
    page.locator("#edit-nudge").click()
    _wait_source_changed(page, original_id)
    nudged = pixels(page, "#source-thumb")
    assert differing(nudged, original) > 0.05, "the nudge did not change the image"
    assert (
        "nudged in z" in page.locator("#source-note").inner_text() + page.locator("#edit-note").inner_text()
    )
    page.locator("#edit-reset").click()
    page.wait_for_selector(f'#source-thumb[data-keyframe="{original_id}"]', state="attached")
    wait_thumb(page, "source")
    np.testing.assert_array_equal(pixels(page, "#source-thumb"), original)

    # A w+ nudge on the fine layers only.
    page.locator("#edit-space-wplus").check(force=True)
    page.locator("#edit-layers").fill("3-5")
    page.locator("#edit-nudge").click()
    _wait_source_changed(page, original_id)
    assert page.locator("#space-w").is_checked() and page.locator("#space-z").is_disabled()
    assert "(w+)" in page.locator("#edit-note").inner_text()
    page.locator("#edit-reset").click()
    page.wait_for_selector(f'#source-thumb[data-keyframe="{original_id}"]', state="attached")

    # Style mixing: parents and child shown; the child takes the source's place and renders the same.
    page.locator("#mix-seed").fill("821")
    page.locator("#mix-seed").press("Enter")
    _wait_mix(page, original_id, "seed 821", "coarse")
    parent_a, parent_b, child = (pixels(page, f"#mix-{s}") for s in ("a", "b", "child"))
    assert parent_a.shape == parent_b.shape == child.shape == (16, 16, 3)
    np.testing.assert_array_equal(parent_a, original)
    assert differing(child, parent_a) > 0.05 and differing(child, parent_b) > 0.05
    assert "seed 821" in page.locator("#mix-b-caption").inner_text()
    assert "0-0 of B" in page.locator("#mix-child-caption").inner_text()  # coarse of 6 ws
    page.locator("#mix-preset").select_option("middle")
    _wait_mix(page, original_id, "seed 821", "middle")
    assert "1-2 of B" in page.locator("#mix-child-caption").inner_text()
    save_screenshot(page, tmp_path, "explorer-edit-mixing.png", docs=True)
    middle = pixels(page, "#mix-child")
    page.locator("#mix-apply").click()
    _wait_source_changed(page, original_id)
    np.testing.assert_array_equal(pixels(page, "#source-thumb"), middle)
    assert page.locator("#edit-reset").is_enabled()
    page.locator("#tab-settings").click()
    page.locator("#lossless").check()
    page.locator("#generate").click()
    wait_render(page)
    page.locator("#frame-slider").fill("0")
    page.wait_for_selector('#frame-canvas[data-frame="0"][data-exact="true"]', state="attached")
    np.testing.assert_array_equal(pixels(page, "#frame-canvas"), middle)

    # The cutoff re-renders the walk: truncating only the first 2 ws at psi 0 differs from all of them.
    page.locator("#psi").fill("0")
    page.locator("#psi").dispatch_event("change")
    done = wait_render(page)
    all_layers = pixels(page, "#frame-canvas")
    page.locator("#cutoff").fill("2")
    page.locator("#cutoff").dispatch_event("change")
    assert page.locator("#cutoff-value").inner_text() == "2"
    wait_render(page, done)
    page.wait_for_selector('#frame-canvas[data-exact="true"]', state="attached")
    assert differing(pixels(page, "#frame-canvas"), all_layers) > 0.05
    save_screenshot(page, tmp_path, "explorer-truncation-cutoff.png")

    # A DCGAN: z truncation labelled as such, no cutoff, no w or w+, mixing disabled with the reason.
    _switch_model(page, "tiny-dcgan")
    assert page.locator("#cutoff-setting").is_hidden()
    assert page.locator('label[for="psi"]').inner_text() == "z truncation ψ"
    assert page.locator("#truncation-kind").inner_text() == "z truncation (no mapping network)"
    page.locator("#tab-edit").click()
    assert page.locator("#edit-space-w").is_disabled() and page.locator("#edit-space-wplus").is_disabled()
    assert "no mapping network" in page.locator("#mix-reason").inner_text()
    assert page.locator("#mix-controls").get_attribute("aria-disabled") == "true"
    assert page.locator("#mix-apply").is_disabled()
    before = _keyframe_id(page)
    page.locator("#edit-nudge").click()  # z edits still work
    _wait_source_changed(page, before)
    save_screenshot(page, tmp_path, "explorer-edit-dcgan.png")
