"""End to end: a real `latentwalk serve --dummy` process, driven by Chromium through Playwright.

Proves the chain browser -> server -> engine -> model -> image: the page shows exactly the pixels
that `latentwalk generate` writes for a seed (as a keyframe's thumbnail and as the first frame of a
lossless animation), shows the server's own error messages, says when the server is gone, and lets a
newer render supersede the one in flight. The explorer's whole workflow is in
test_explorer_browser.py; fixtures are in conftest.py, helpers in browser_support.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser_support import (
    differing,
    generate_reference,
    open_explorer,
    pixels,
    seek,
    wait_render,
    wait_thumb,
)

pytestmark = pytest.mark.browser


def test_a_seed_shows_the_cli_pixels(page: Any, server_url: str, tmp_path: Path) -> None:
    model = page.request.get(f"{server_url}/api/model").json()
    open_explorer(page, "/?destination=8&steps=3")
    assert page.title() == "latentwalk"
    status = page.locator("#status-model").inner_text()
    assert model["name"] in status and f"{model['resolution']}×{model['resolution']}" in status
    assert page.locator("#viewer").get_attribute("data-state") == "empty"  # nothing generated yet

    # Typing a seed shows its image on the source card: exactly what `latentwalk generate` writes.
    page.locator("#source-seed").fill("7")
    page.locator("#source-seed").press("Enter")
    wait_thumb(page, "source", 7)
    expected7 = generate_reference(7, tmp_path / "generated")
    shown7 = pixels(page, "#source-thumb")
    assert shown7.shape == expected7.shape == (model["resolution"], model["resolution"], 3)
    bad = int((shown7 != expected7).any(axis=-1).sum())
    assert bad == 0, (
        f"{bad} pixels of seed 7 differ between the page and `latentwalk generate` "
        f"(max abs difference {int(np.abs(shown7.astype(int) - expected7.astype(int)).max())})"
    )

    # A lossless animation starts on exactly that picture and ends on the destination's.
    wait_thumb(page, "destination", 8)
    page.locator("#lossless").check()
    page.locator("#generate").click()
    wait_render(page)
    assert page.locator("#progress").inner_text().startswith("3 / 3")
    assert differing(seek(page, 0), expected7) == 0
    assert differing(seek(page, 2), pixels(page, "#destination-thumb")) == 0
    assert differing(pixels(page, "#destination-thumb"), expected7) > 0.1, "seeds 7 and 8 look alike"


def test_server_errors_are_shown_in_the_page(page: Any) -> None:
    open_explorer(page, "/?source=1&destination=2")

    # One step is a valid input but not a valid animation: the server says why, the page shows it.
    page.locator("#steps").fill("1")
    page.locator("#steps").press("Enter")
    page.locator("#generate").click()
    page.wait_for_selector('body[data-render="error"]', state="attached")
    message = page.locator("#error-text").inner_text()
    assert "2 steps" in message, message

    # A name the library refuses: the server's message is shown.
    page.locator("#steps").fill("4")
    page.locator("#steps").press("Enter")
    page.locator("#tab-library").click()
    page.locator("#save-name").fill("../escape")
    page.locator("#save").click()
    page.locator("#error-text").filter(has_text="could not save").wait_for()
    assert "escape" in page.locator("#error-text").inner_text()
    page.locator("#error-close").click()
    assert page.locator("#error").is_hidden()

    # A seed that is not a uint32 is refused in the page, and the card keeps its seed.
    page.locator("#source-seed").fill("-1")
    page.locator("#source-seed").press("Enter")
    page.locator("#error-text").filter(has_text="not a seed").wait_for()
    assert page.locator("#source-seed").get_attribute("aria-invalid") == "true"


def test_a_model_that_fails_to_load_leaves_the_current_one(page: Any, server_url: str) -> None:
    open_explorer(page)
    answer = page.request.post(f"{server_url}/api/model", data={"name": "broken"})  # a dict goes as JSON
    assert answer.status == 422
    server_message = answer.json()["error"]["message"]

    page.locator("#model-select").select_option("broken")
    page.locator("#error-text").filter(has_text="could not load broken").wait_for()
    assert server_message in page.locator("#error-text").inner_text()
    page.wait_for_selector('body[data-state="ready"]', state="attached")
    assert page.locator("#model-select").input_value() == "procedural"
    assert "procedural" in page.locator("#status-model").inner_text()


def test_no_model_is_an_empty_state(page: Any) -> None:
    def refuse(route: Any) -> None:
        message = "no model named 'gone': try `latentwalk models`"
        body = {"error": {"type": "ModelNotFound", "message": message}}
        route.fulfill(status=404, content_type="application/json", body=json.dumps(body))

    page.route(re.compile(r".*/api/model$"), refuse)
    page.goto("/")
    page.wait_for_selector('body[data-state="error"]', state="attached")
    assert page.locator("#viewer").get_attribute("data-state") == "no-model"
    assert "No model loaded" in page.locator("#overlay-title").inner_text()
    assert "latentwalk models" in page.locator("#overlay-text").inner_text()
    assert page.locator("#generate").is_disabled()


def test_a_lost_server_is_shown_and_the_page_reconnects(page: Any) -> None:
    gone = {"on": False}
    routes: list[Any] = []

    def socket_route(ws: Any) -> None:
        if gone["on"]:
            ws.close()
            return
        ws.connect_to_server()
        routes.append(ws)

    page.route_web_socket(re.compile(r".*/ws$"), socket_route)
    open_explorer(page, "/?steps=4")
    assert page.locator("#banner").is_hidden()

    gone["on"] = True
    for ws in routes:
        ws.close()
    page.wait_for_selector('body[data-connection="offline"]', state="attached")
    assert "not answering" in page.locator("#banner").inner_text()

    # HTTP fails too: the action says so instead of failing silently.
    page.route(re.compile(r".*/api/.*"), lambda route: route.abort())
    page.locator("#shuffle-both").click()
    page.locator("#error-text").filter(has_text="could not reach the server").wait_for()

    page.unroute(re.compile(r".*/api/.*"))
    gone["on"] = False
    page.wait_for_selector('body[data-connection="online"]', state="attached")
    assert page.locator("#banner").is_hidden()
    page.locator("#generate").click()
    wait_render(page)


def test_a_newer_render_supersedes_the_one_in_flight(page: Any) -> None:
    sent: list[dict[str, Any]] = []
    received: list[dict[str, Any]] = []

    def keep(into: list[dict[str, Any]]) -> Any:
        return lambda payload: into.append(json.loads(payload)) if isinstance(payload, str) else None

    def watch(ws: Any) -> None:
        ws.on("framesent", keep(sent))
        ws.on("framereceived", keep(received))

    page.on("websocket", watch)
    open_explorer(page, "/?source=1&destination=2&steps=16")
    wait_thumb(page, "destination", 2)
    page.locator("#lossless").check()

    # Generate, and at once try another destination (D renders it): only the second may land.
    page.evaluate(
        """() => {
            document.getElementById("generate").click();
            document.dispatchEvent(new KeyboardEvent("keydown", { key: "d", bubbles: true }));
        }"""
    )
    page.wait_for_function("() => document.getElementById('destination-seed').value !== '2'")
    wait_render(page)
    renders = [m for m in sent if m.get("type") == "render" and m["settings"]["steps"] == [16]]
    assert len(renders) == 2, renders
    first, second = renders[0]["id"], renders[1]["id"]
    assert {"type": "cancelled", "id": first} in received
    assert any(m.get("type") == "done" and m["id"] == second for m in received)
    assert page.locator("body").get_attribute("data-render-id") == str(second)

    # The frames on screen are the new walk's: it ends on the new destination.
    seed = int(page.locator("#destination-seed").input_value())
    wait_thumb(page, "destination", seed)
    assert differing(seek(page, 15), pixels(page, "#destination-thumb")) == 0
