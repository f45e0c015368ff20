"""The preview precision select in a real Chromium: switching to bf16 re-renders the walk with
frames close to (not equal to) fp32, and Measure shows the speed-up and the difference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser_support import RENDER_TIMEOUT_MS, differing, open_explorer, pixels, save_screenshot, wait_render

pytestmark = pytest.mark.browser


def test_preview_precision_select_and_measure(page: Any, tmp_path: Path) -> None:
    open_explorer(page)
    assert page.locator("#precision").input_value() == "fp32"
    page.locator("#generate").click()
    first = wait_render(page)
    fp32 = pixels(page, "#frame-canvas")
    page.locator("#precision").select_option("bf16")
    wait_render(page, after=first)
    bf16 = pixels(page, "#frame-canvas")
    assert differing(fp32, bf16) > 0  # rendered again, in bf16
    assert np.abs(fp32.astype(int) - bf16).mean() < 8  # close to fp32: the same picture
    page.locator("#precision-measure").click()
    result = page.locator("#precision-result")
    result.filter(has_text="grey levels").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert "bf16 vs fp32" in result.inner_text()
    print(save_screenshot(page, tmp_path, "precision.png"))
