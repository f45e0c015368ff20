"""The explorer's Playback tab in a real Chromium: an animation saved through the API, chosen in the
tab, played on the output (the status line counts frames), then stopped."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from typing import Any

import pytest

from browser_support import open_explorer

pytestmark = pytest.mark.browser

FRAME = re.compile(r"frame (\d+) / (\d+)")


def _call(server_url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost: never a proxy
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def _frame(page: Any) -> int:
    match = FRAME.search(page.locator("#pb-status").inner_text())
    assert match, page.locator("#pb-status").inner_text()
    return int(match.group(1))


def test_play_a_saved_animation_from_the_playback_tab(open_page: Any, server_url: str) -> None:
    name = f"live-{uuid.uuid4().hex[:8]}"
    latents = _call(server_url, "GET", "/api/z?seeds=1,2")["z"]
    settings = {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [48], "easing": "linear"}
    saved = _call(
        server_url, "POST", "/api/animations", {"name": name, "settings": settings, "latents": latents}
    )
    assert saved["frames"] == 48
    page = open_page()
    try:
        open_explorer(page)
        page.click("#tab-playback")
        assert page.locator("#playback-panel").is_visible()
        # MIDI: either the reason there is no input, or a Learn button per control.
        page.wait_for_function(
            "() => !document.getElementById('midi-problem').hidden"
            " || document.querySelectorAll('#midi-learn button').length > 0"
        )
        box = page.locator(f'#pb-list li[data-name="{name}"] input[type="checkbox"]')
        box.check()
        page.click("#pb-play")
        page.wait_for_selector('#pb-status[data-state="playing"]', timeout=10_000)
        page.wait_for_function(
            "(n) => document.getElementById('pb-status').textContent.includes(n)", arg=name, timeout=10_000
        )
        text = page.locator("#pb-status").inner_text()
        assert re.search(r"frame \d+ / 48", text), text
        first = _frame(page)
        page.wait_for_function(
            """(first) => {
                const m = /frame (\\d+) \\/ \\d+/.exec(document.getElementById('pb-status').textContent);
                return m && Number(m[1]) !== first;
            }""",
            arg=first,
            timeout=10_000,
        )
        assert page.locator("#pb-error").is_hidden()
        page.click("#pb-stop")
        page.wait_for_selector('#pb-status[data-state="stopped"]', timeout=10_000)
        assert page.locator("#pb-status").inner_text().startswith("stopped")
        assert _call(server_url, "GET", "/api/playback")["state"] == "stopped"
        assert page.locator("#pb-stop").is_disabled()
    finally:
        _call(server_url, "POST", "/api/playback", {"command": "stop"})
