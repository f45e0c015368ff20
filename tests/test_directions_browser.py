"""The Directions tab in a real Chromium against `latentwalk serve --dummy`: the panel appears, a fit
adds a slider, the slider changes the image, a lock toggles, and marks teach a new axis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from browser_support import (
    RENDER_TIMEOUT_MS,
    differing,
    open_explorer,
    pixels,
    render_id,
    save_screenshot,
    seek,
    wait_render,
)

pytestmark = pytest.mark.browser


def test_directions_panel(page: Any, tmp_path: Path) -> None:
    open_explorer(page)
    page.locator("#generate").click()
    first = wait_render(page)
    before = seek(page, 0)

    page.locator("#tab-directions").click()
    panel = page.locator("#directions-panel")
    assert panel.is_visible()
    page.wait_for_selector('#dir-feature option[value="brightness"]', state="attached")

    # Fit the brightness axis (few samples: the dummy model is fast) and wait for its slider.
    page.locator("#dir-feature").select_option("brightness")
    page.locator("#dir-fit-samples").fill("20")  # the least a fit takes
    page.locator("#dir-fit").click()
    page.locator("#dir-job").wait_for()  # progress shows while the samples render
    item = page.locator('#dir-list li[data-name="brightness"]')
    item.wait_for(timeout=RENDER_TIMEOUT_MS)

    # Moving the slider renders the walk again, with the image changed.
    item.locator('input[data-role="amount"]').fill("2.5")
    assert item.locator("output").inner_text() == "2.5"
    wait_render(page, after=first)
    after = seek(page, 0)
    changed = differing(before, after)
    assert changed > 0.2, f"only {changed:.0%} of the pixels changed"

    # A lock toggles.
    lock = item.locator('button[data-role="lock"]')
    assert lock.get_attribute("aria-pressed") == "false"
    lock.click()
    assert lock.get_attribute("aria-pressed") == "true"
    lock.click()
    assert lock.get_attribute("aria-pressed") == "false"

    # Teach by example: too few marks is a clear error; 10 with and 10 without make an axis.
    cells = page.locator("#dir-grid button[data-seed]")
    assert cells.count() >= 20
    for i in range(3):
        cells.nth(i).click()
    page.locator("#dir-teach-name").fill("sunny")
    page.locator("#dir-teach").click()
    page.locator("#dir-teach-result").filter(has_text="at least 10 of each").wait_for()
    for i in range(3, 10):
        cells.nth(i).click()
    for i in range(10, 20):
        cells.nth(i).click()
        cells.nth(i).click()
    assert page.locator("#dir-marks").inner_text() == "10 with, 10 without"
    page.locator("#dir-teach").click()
    page.locator('#dir-list li[data-name="sunny"]').wait_for()
    assert "accuracy" in page.locator("#dir-teach-result").inner_text()
    save_screenshot(page, tmp_path, "directions.png", docs=True)

    # Reset puts the image back.
    rid = render_id(page)
    page.locator("#dir-reset").click()
    wait_render(page, after=rid)
    assert differing(before, seek(page, 0)) == 0.0
    assert pixels(page, "#frame-canvas").shape == before.shape


def test_directions_panel_fits_an_uploaded_onnx_classifier(page: Any, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from classifier_support import onnx_classifier

    open_explorer(page)
    page.locator("#generate").click()
    first = wait_render(page)
    before = seek(page, 0)
    page.locator("#tab-directions").click()
    assert page.locator("#dir-fit-classifier").is_disabled()

    # A file that is not ONNX is refused with the server's message; nothing is added.
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"PK\x03\x04 a zip, as TorchScript files are")
    page.locator("#dir-classifier-file").set_input_files(str(junk))
    page.locator("#dir-teach-result").filter(has_text="--trust-classifier").wait_for()
    assert page.locator("#dir-teach-result").get_attribute("data-error") == "true"

    # Choose a file: it is checked and listed with the axes it gives.
    page.locator("#dir-classifier-file").set_input_files(str(onnx_classifier(tmp_path / "colour.onnx")))
    page.wait_for_selector('#dir-classifier option[value="colour"]', state="attached")
    assert page.locator("#dir-classifier-axes").inner_text() == "axes: red, green, blue"

    # Or drop one on the panel.
    data = list(onnx_classifier(tmp_path / "dropped.onnx").read_bytes())
    transfer = page.evaluate_handle(
        """(bytes) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(bytes)], "dropped.onnx"));
          return dt;
        }""",
        data,
    )
    page.dispatch_event("#dir-classifier-drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector('#dir-classifier option[value="dropped"]', state="attached")
    assert page.locator("#dir-classifier").input_value() == "dropped"

    # Fit on it: progress shows, then its outputs are sliders.
    page.locator("#dir-classifier").select_option("colour")
    page.locator("#dir-fit-samples").fill("20")
    page.locator("#dir-fit-classifier").click()
    page.locator("#dir-job").wait_for()
    assert "fit of colour" in page.locator("#dir-job-text").inner_text()
    for name in ("red", "green", "blue"):
        page.locator(f'#dir-list li[data-name="{name}"]').wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#dir-job").is_hidden() and not page.locator("#dir-fit-classifier").is_disabled()
    assert "found red, green, blue" in page.locator("#dir-teach-result").inner_text()

    red = page.locator('#dir-list li[data-name="red"]')
    red.locator('input[data-role="amount"]').fill("2.5")
    wait_render(page, after=first)
    assert differing(before, seek(page, 0)) > 0.2
    save_screenshot(page, tmp_path, "directions-classifier.png")

    # Delete one: it leaves the list.
    page.locator("#dir-classifier").select_option("dropped")
    page.locator("#dir-classifier-delete").click()
    page.wait_for_selector('#dir-classifier option[value="dropped"]', state="detached")
