"""The explorer's workflow in a real Chromium against a real `latentwalk serve --dummy` (issue 4).

Choose a model, set 24 steps, shuffle both, generate, scrub (frames differ), shadows (the image
changes), save, reload, load (identical frames), chain with "use destination as next source"
(earlier frames kept), bookmark a frame, branch from a frame, delete; then the laptop screen, the
Marrow import and a failed save. Frames are compared as the page decoded them, read off its canvas.
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from browser_support import (
    LAPTOP_VIEWPORT,
    RENDER_TIMEOUT_MS,
    differing,
    open_explorer,
    pixels,
    render_id,
    save_screenshot,
    seek,
    wait_render,
    wait_thumb,
)

pytestmark = pytest.mark.browser


def _seeds(page: Any) -> tuple[str, str]:
    return page.locator("#source-seed").input_value(), page.locator("#destination-seed").input_value()


def _switch_model(page: Any, name: str) -> None:
    page.locator("#model-select").select_option(name)
    page.wait_for_selector('body[data-state="ready"]', state="attached")
    page.locator("#status-model").filter(has_text=name).wait_for()


def _library_item(page: Any, name: str) -> Any:
    return page.locator(f'#library-list li[data-name="{name}"]')


def _dialog(page: Any, choice: str, text: str | None = None) -> None:
    page.wait_for_selector("#dialog[open]")
    if text is not None:
        page.locator("#dialog-input").fill(text)
    page.locator(f"#dialog-{choice}").click()
    page.wait_for_selector("#dialog:not([open])", state="attached")


def _assert_shadows(img: np.ndarray) -> None:
    """A shadow frame: grey (JPEG leaves a little colour), with both a dark figure and a light ground."""
    rgb = img.astype(int)
    level = rgb.mean(axis=-1)
    grey = float(((rgb.max(axis=-1) - rgb.min(axis=-1)) <= 12).mean())
    dark, light = float((level < 70).mean()), float((level > 190).mean())
    assert grey > 0.95, f"only {grey:.0%} of the shadow frame is grey"
    assert dark > 0.05 and light > 0.05, f"figure {dark:.0%}, ground {light:.0%}: not a silhouette"
    assert np.percentile(level, 2) < 50 and np.percentile(level, 98) > 210, "no deep figure or bright ground"


def test_the_whole_workflow(page: Any, server_url: str, tmp_path: Path) -> None:
    name = f"walk {uuid.uuid4().hex[:6]}"
    models = page.request.get(f"{server_url}/api/models").json()
    open_explorer(page)
    assert page.locator("#viewer").get_attribute("data-state") == "empty"
    assert "No animation yet" in page.locator("#overlay-title").inner_text()

    # Choose a model: the picker lists the server's models; switching shows the new one and back.
    options = page.locator("#model-select option").evaluate_all("(os) => os.map((o) => o.value)")
    assert sorted(options) == sorted(m["name"] for m in models["models"])
    _switch_model(page, "tiny-dcgan")
    assert "16×16" in page.locator("#model-info").inner_text()
    wait_thumb(page, "source")
    assert pixels(page, "#source-thumb").shape == (16, 16, 3)
    _switch_model(page, "procedural")
    wait_thumb(page, "source")
    assert pixels(page, "#source-thumb").shape == (256, 256, 3)

    # 24 steps; shuffle both gives two new seeds and their pictures.
    page.locator("#steps").fill("24")
    page.locator("#steps").press("Enter")
    before = _seeds(page)
    page.locator("#shuffle-both").click()
    page.wait_for_function("(b) => document.getElementById('source-seed').value !== b", arg=before[0])
    source, destination = _seeds(page)
    assert source != before[0] and destination != before[1]
    wait_thumb(page, "source", int(source))
    wait_thumb(page, "destination", int(destination))

    # Generate: 24 frames stream in; scrubbing shows different frames.
    page.locator("#generate").click()
    plain = wait_render(page)
    assert page.locator("#progress").inner_text().startswith("24 / 24")
    assert page.locator("#frame-slider").get_attribute("max") == "23"
    frame3, frame20 = seek(page, 3), seek(page, 20)
    assert differing(frame3, frame20) > 0.2, "frames 3 and 20 look alike"
    assert (seek(page, 3) == frame3).all(), "scrubbing back does not show the same frame"

    # Transport and keys: next, previous, play/pause, help.
    page.locator("#next-frame").click()
    page.wait_for_selector('#frame-canvas[data-frame="4"]', state="attached")
    page.locator("#frame-canvas").click()  # focus leaves the slider; keys go to the page
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#frame-canvas[data-frame="3"]', state="attached")
    page.keyboard.press("Space")
    page.wait_for_function("() => Number(document.getElementById('frame-canvas').dataset.frame) > 5")
    page.keyboard.press("Space")
    assert page.locator("#play").get_attribute("data-playing") == "false"
    held = int(page.locator("#frame-canvas").get_attribute("data-frame") or 0)
    page.keyboard.down("ArrowRight")  # held down: it keeps stepping
    page.wait_for_timeout(900)
    page.keyboard.up("ArrowRight")
    stepped = (int(page.locator("#frame-slider").input_value()) - held) % 24
    assert stepped >= 3, f"holding → stepped {stepped} frames"
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#help").is_hidden()
    save_screenshot(page, tmp_path, "explorer.png", docs=True)

    # Shadows: rendered again on the server, the picture becomes a two-tone silhouette.
    page.locator("#shadows").check()
    shadows = wait_render(page, after=plain)
    k = 12
    shadow_k = seek(page, k)
    _assert_shadows(shadow_k)
    assert differing(shadow_k, seek(page, 3)) > 0.2
    # Back to colour and to shadows again: the frames are still in the page, shown at once.
    page.locator("#shadows").uncheck()
    colour = wait_render(page, after=shadows)
    assert differing(seek(page, 3), frame3) == 0
    page.locator("#shadows").check()
    wait_render(page, after=colour)
    assert differing(seek(page, k), shadow_k) == 0

    # Save under a name; it is listed with its frames and a thumbnail.
    page.locator("#tab-library").click()
    page.locator("#save-name").fill(name)
    page.locator("#save").click()
    item = _library_item(page, name)
    item.wait_for()
    assert "24 frames" in item.inner_text()
    item.locator("img.lib-thumb").evaluate("(img) => img.complete || new Promise((r) => img.onload = r)")
    save_screenshot(page, tmp_path, "explorer-shadows-library.png", docs=True)

    # Reload: the frames are gone from the page; loading the animation renders identical ones.
    page.reload()
    open_explorer(page)
    page.locator("#tab-library").click()
    _library_item(page, name).locator('button[data-action="load"]').click()
    loaded = wait_render(page)
    assert page.locator("#shadows").is_checked()
    assert page.locator("#steps").input_value() == "24"
    assert _seeds(page) == (source, destination)
    assert (seek(page, k) == shadow_k).all(), "the loaded animation's frame differs from the saved one's"

    # Chain: the destination becomes the next source; earlier frames stay, the chain plays on.
    page.locator("#next-from-destination").click()
    chained = wait_render(page, after=loaded)
    assert page.locator("#progress").inner_text().startswith("47 / 47")
    assert page.locator("#chain-list li").count() == 3
    assert (seek(page, k) == shadow_k).all(), "chaining changed an earlier frame"
    assert differing(seek(page, 23), seek(page, 40)) > 0.1
    page.locator("#tab-settings").click()
    save_screenshot(page, tmp_path, "explorer-chain.png", docs=True)
    page.keyboard.press("Control+s")  # the loaded animation, saved again: now a chain of 47 frames
    _library_item(page, name).filter(has_text="47 frames").wait_for()

    # Bookmark the frame on screen, and use it as the destination.
    seek(page, 30)
    page.locator("#bookmark-frame").click()
    _dialog(page, "ok", f"{name} mark")
    page.locator("#tab-bookmarks").click()
    mark = page.locator(f'#bookmark-list li[data-name="{name} mark"]')
    mark.wait_for()
    mark.locator('button[data-action="destination"]').click()
    page.locator("#destination-note").filter(has_text=f"bookmark: {name} mark").wait_for()
    assert page.locator("#destination-seed").input_value() == ""

    # Branch: the frame on screen becomes the source of a new, short walk.
    page.locator("#steps").fill("6")
    page.locator("#steps").press("Enter")
    frame30 = seek(page, 30)
    page.locator("#next-from-frame").click()
    wait_render(page, after=chained)
    assert page.locator("#progress").inner_text().startswith("6 / 6")
    assert "frame 30" in page.locator("#source-note").inner_text()
    assert differing(seek(page, 0), frame30) == 0, "the branch does not start on the frame it came from"

    # Delete, with a confirmation: Cancel keeps it, Delete removes it.
    page.locator("#tab-library").click()
    item = _library_item(page, name)
    item.locator('button[data-action="delete"]').click()
    _dialog(page, "cancel")
    assert item.count() == 1
    item.locator('button[data-action="delete"]').click()
    page.locator("#dialog-message").filter(has_text=name).wait_for()
    _dialog(page, "ok")
    item.wait_for(state="detached")
    names = [a["name"] for a in page.request.get(f"{server_url}/api/animations").json()["animations"]]
    assert name not in names


def test_the_laptop_screen(open_page: Any, tmp_path: Path) -> None:
    page = open_page(LAPTOP_VIEWPORT)
    open_explorer(page, "/?source=11&destination=12&steps=8")
    wait_thumb(page, "destination", 12)
    page.keyboard.press("g")
    wait_render(page)
    seek(page, 4)
    size = page.evaluate("() => [innerWidth, innerHeight]")
    scroll = page.evaluate("() => [document.body.scrollWidth, document.body.scrollHeight]")
    assert scroll == size, f"the page scrolls at {size}: content is {scroll}"

    def box(selector: str) -> dict[str, float]:
        b = page.locator(selector).bounding_box()
        assert b is not None, f"{selector} is not shown"
        inside = b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= size[0] + 0.5
        assert inside and b["y"] + b["height"] <= size[1] + 0.5, f"{selector} is cut off: {b}"
        return b

    viewer = box("#viewer")
    assert viewer["width"] >= 480 and abs(viewer["width"] - viewer["height"]) < 1
    transport = box("#transport")
    assert transport["y"] >= viewer["y"] + viewer["height"], "the transport overlaps the image"
    for selector in (
        "#generate", "#source-card", "#destination-card", "#next-from-destination", "#tab-library",
        "#shadows", "#play", "#fps", "#model-select", "#status-model",
    ):  # fmt: skip
        box(selector)
    # Every tab label is whole and no two tabs overlap (six tabs share the right panel).
    tabs = page.evaluate(
        """() => [...document.querySelectorAll('.tabs [role=tab]')].map(t => {
             const r = t.getBoundingClientRect();
             return {id: t.id, x: r.x, y: r.y, w: r.width, h: r.height,
                     clipped: t.scrollWidth > t.clientWidth};
           })"""
    )
    assert len(tabs) >= 6, tabs
    for i, a in enumerate(tabs):
        assert not a["clipped"], f"the label of {a['id']} is cut: {a}"
        for b in tabs[i + 1 :]:
            apart = a["x"] + a["w"] <= b["x"] + 0.5 or b["x"] + b["w"] <= a["x"] + 0.5
            assert apart or a["y"] + a["h"] <= b["y"] + 0.5 or b["y"] + b["h"] <= a["y"] + 0.5, (a, b)
    save_screenshot(page, tmp_path, "explorer-laptop.png")


def _write_marrow(folder: Path, name: str, z_dim: int, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.RandomState(seed)
    np.save(folder / "source.npy", rng.randn(1, z_dim))
    np.save(folder / "dest.npy", rng.randn(1, z_dim))
    info = {"name": name, "snapshot": "network-snapshot-000240", "steps": 6}
    (folder / "info.json").write_text(json.dumps(info))


def test_marrow_import_and_a_failed_save(page: Any, server_url: str, tmp_path: Path) -> None:
    name = f"dusk {uuid.uuid4().hex[:6]}"
    _write_marrow(tmp_path / "marrow" / "dusk", name, 512, 1)
    _write_marrow(tmp_path / "marrow" / "faces", f"{name} faces", 100, 2)  # another model's z_dim
    open_explorer(page)
    page.locator("#tab-library").click()

    # A folder of Marrow folders: the one that fits is imported, the other is refused with a reason.
    page.locator("#marrow-input").set_input_files(tmp_path / "marrow")
    item = _library_item(page, name)
    item.wait_for()
    assert "6 frames" in item.inner_text()
    page.locator("#error-text").filter(has_text=f"{name} faces").wait_for()
    assert "512" in page.locator("#error-text").inner_text()

    # Saving another animation under that name asks first; "Keep both" gives it a free name.
    page.locator("#save-name").fill(name)
    page.locator("#save").click()
    page.locator("#dialog-title").filter(has_text="already exists").wait_for()
    _dialog(page, "rename")
    page.locator("#library-list li.current").wait_for()
    kept = page.locator("#library-list li.current").get_attribute("data-name")
    assert kept != name and kept.startswith(name)

    # Rename and duplicate.
    item.locator('button[data-action="rename"]').click()
    _dialog(page, "ok", f"{name} renamed")
    name = f"{name} renamed"
    item = _library_item(page, name)
    item.wait_for()
    item.locator('button[data-action="duplicate"]').click()
    _library_item(page, f"{name} copy").wait_for()

    # The import loads and plays like any animation, from Marrow's float64 vectors.
    item.locator('button[data-action="load"]').click()
    wait_render(page)
    assert page.locator("#progress").inner_text().startswith("6 / 6")
    assert page.locator("#chain-list li").count() == 2
    assert differing(seek(page, 0), seek(page, 5)) > 0.1

    # Export as a PNG sequence: frame N of the file is frame N on screen, pixel for pixel.
    page.locator("#tab-settings").click()
    jpeg = render_id(page)
    page.locator("#lossless").check()
    wait_render(page, after=jpeg)
    page.locator("#tab-library").click()
    page.locator("#export-format").select_option("png")
    page.locator("#export").click()
    download = page.locator("#export-download")
    download.wait_for(timeout=RENDER_TIMEOUT_MS)
    archive = page.request.get(f"{server_url}{download.get_attribute('href')}")
    assert archive.ok, archive.status
    with zipfile.ZipFile(io.BytesIO(archive.body())) as zf:
        frames = sorted(n for n in zf.namelist() if n.endswith(".png"))
        assert len(frames) == 6, frames
        with Image.open(io.BytesIO(zf.read(frames[4]))) as img:
            exported = np.asarray(img.convert("RGB"))
    assert differing(seek(page, 4), exported) == 0, "frame 4 of the export differs from frame 4 on screen"

    # The disk is full: the save fails, the page says so, and nothing is lost.
    def full(route: Any) -> None:
        message = "could not write the library: No space left on device"
        body = {"error": {"type": "StorageError", "message": message}}
        route.fulfill(status=500, content_type="application/json", body=json.dumps(body))

    page.route(re.compile(r".*/api/animations$"), full)
    page.locator("#save-name").fill(f"{name} copy")
    page.locator("#save").click()
    page.locator("#error-text").filter(has_text="No space left on device").wait_for()
    assert page.locator(".toast.error").filter(has_text="Save failed").count() == 1
    assert render_id(page)  # the animation is still on screen
    assert page.locator("#viewer").get_attribute("data-state") == "frames"


def _npy_bytes(array: np.ndarray, version: tuple[int, int] = (1, 0)) -> str:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version)
    return base64.b64encode(buf.getvalue()).decode()


def test_the_page_modules(page: Any) -> None:
    """The pure modules of the page, run in the page: .npy parsing and the chain arithmetic."""
    page.goto("/")
    rng = np.random.RandomState(0)
    arrays = {
        "f8": rng.randn(1, 512),
        "f4": rng.randn(2, 3).astype(np.float32),
        "big": rng.randn(1, 5).astype(">f8"),
        "vector": rng.randn(7),
    }
    files = {k: _npy_bytes(v) for k, v in arrays.items()}
    files["v2"] = _npy_bytes(arrays["f8"], (2, 0))
    parsed = page.evaluate(
        """async (files) => {
            const { parseNpy, toRows } = await import("/static/js/npy.js");
            const out = {};
            for (const [k, b64] of Object.entries(files)) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                out[k] = toRows(parseNpy(bytes.buffer));
            }
            try { parseNpy(new TextEncoder().encode("not numpy").buffer); out.bad = null; }
            catch (e) { out.bad = e.message; }
            return out;
        }""",
        files,
    )
    for k in ("f8", "f4", "big"):
        assert np.array_equal(np.asarray(parsed[k]), arrays[k].astype(np.float64)), k
    assert np.array_equal(np.asarray(parsed["vector"]), arrays["vector"][None])
    assert np.array_equal(np.asarray(parsed["v2"]), arrays["f8"])
    assert parsed["bad"] and "npy" in parsed["bad"].lower()

    chain = page.evaluate(
        """async () => {
            const c = await import("/static/js/chain.js");
            const kf = (n) => c.keyframe({ z: [n], seed: n });
            const [a, b, d, e] = [kf(1), kf(2), kf(3), kf(4)];
            const model = { name: "m", sha256: "x" };
            const settings = { interpolation: "slerp", easing: "ease-in-out", loop: "none", psi: 1, fps: 12 };
            const req = (chain, s = settings) => ({ model, chain, settings: s, format: "jpeg" });
            const one = c.newChain(a, b, 24, "none");
            const two = c.appendKeyframe(one, d, 24, "none");
            const other = c.withDestination(two, e);
            const spline = { ...settings, interpolation: "spline" };
            return {
                one: one.steps, two: two.steps, total: c.frameCount(two.steps),
                appended: c.sharedPrefix(req(one), req(two)),
                newDestination: c.sharedPrefix(req(two), req(other)),
                fpsOnly: c.sharedPrefix(req(two), req(two, { ...settings, fps: 24 })),
                psi: c.sharedPrefix(req(two), req(two, { ...settings, psi: 0.7 })),
                splineAppended: c.sharedPrefix(req(one, spline), req(two, spline)),
                closed: c.stepsFor(3, 24, "closed"), circle: c.stepsFor(3, 24, "circle"),
                back: c.transitionLength(two.steps, "none"),
                seeds: ["7", "4294967295", "4294967296", "-1", "1e3", " 12 "].map(c.parseSeed),
            };
        }"""
    )
    assert chain["one"] == [24] and chain["two"] == [23, 24] and chain["total"] == 47
    assert chain["appended"] == 23  # every frame before the join is kept
    assert chain["newDestination"] == 23
    assert chain["fpsOnly"] == 47 and chain["psi"] == 0
    assert chain["splineAppended"] == 0  # a spline's last segment bends towards the new keyframe
    assert chain["closed"] == [23, 23, 23] and chain["circle"] == [24] and chain["back"] == 24
    assert chain["seeds"] == [7, 4294967295, None, None, None, 12]
