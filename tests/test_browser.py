"""End to end: a real `latentwalk serve --dummy` process, driven by Chromium through Playwright.

Proves the chain browser -> server -> engine -> model -> image, and that the page shows exactly the
pixels that `latentwalk generate` writes for the same seed.

Chromium is Debian's package (`scripts/install-browser.sh`), found on PATH or through
`LATENTWALK_CHROMIUM`; Playwright's own browser downloads are not used. Without a Chromium these
tests fail, unless `LATENTWALK_SKIP_BROWSER=1` turns that into a skip. `LATENTWALK_SAVE_SCREENSHOTS=1`
also writes the screenshot to docs/screenshot-first-page.png (otherwise only to pytest's tmp_path).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
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
from PIL import Image

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 180.0
UI_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Draws the <img> at its natural size onto a canvas and returns its RGBA bytes as base64.
READ_IMAGE_PIXELS_JS = """(img) => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) {
        binary += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
    }
    return { width: canvas.width, height: canvas.height, rgba: btoa(binary) };
}"""


# ------------------------------------------------------------------------------------------------
# Helpers


def _subprocess_env() -> dict[str, str]:
    """The environment for child processes: they import latentwalk from this checkout's src/."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO / "src")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, timeout: float = 2.0) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost: never a proxy
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return text[-limit:] or "<empty>"


def _wait_for_health(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            pytest.fail(
                f"`latentwalk serve` exited with code {code} before answering /api/health.\n"
                f"--- server log ({log_path}) ---\n{_tail(log_path)}",
                pytrace=False,
            )
        try:
            health = _get_json(f"{base_url}/api/health")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last_error = exc
            time.sleep(0.2)
            continue
        if isinstance(health, dict) and health.get("status") == "ok":
            return
        last_error = RuntimeError(f"unexpected /api/health answer: {health!r}")
        time.sleep(0.2)
    pytest.fail(
        f"`latentwalk serve` did not answer {base_url}/api/health within {SERVER_START_TIMEOUT_S:.0f} s "
        f"(last error: {last_error}).\n--- server log ({log_path}) ---\n{_tail(log_path)}",
        pytrace=False,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("LATENTWALK_SKIP_BROWSER") == "1":
        pytest.skip(f"{reason} (LATENTWALK_SKIP_BROWSER=1)")
    pytest.fail(
        f"{reason}. Run scripts/install-browser.sh to install Debian's chromium, or point "
        "LATENTWALK_CHROMIUM at a Chromium binary; set LATENTWALK_SKIP_BROWSER=1 to skip these tests.",
        pytrace=False,
    )


def _find_chromium() -> str | None:
    explicit = os.environ.get("LATENTWALK_CHROMIUM")
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            pytest.fail(f"LATENTWALK_CHROMIUM={explicit!r} is not an executable file", pytrace=False)
        return found
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _generate_reference(seed: int, outdir: Path) -> np.ndarray:
    """The image `latentwalk generate` writes for `seed` with the dummy model, as uint8 HWC RGB."""
    cmd = [
        sys.executable, "-m", "latentwalk", "--cache-dir", str(outdir / "cache"), "generate",
        "--network", "procedural", "--seeds", str(seed), "--trunc", "1.0", "--noise-mode", "const",
        "--outdir", str(outdir),
    ]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=_subprocess_env(), timeout=CLI_TIMEOUT_S, check=False
    )
    path = outdir / f"seed{seed:04d}.png"
    if done.returncode != 0 or not path.is_file():
        pytest.fail(
            f"`{' '.join(cmd[1:])}` failed (exit {done.returncode}, {path.name} "
            f"{'exists' if path.is_file() else 'missing'}).\n--- stdout ---\n{done.stdout[-3000:]}\n"
            f"--- stderr ---\n{done.stderr[-3000:]}",
            pytrace=False,
        )
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _displayed_pixels(page: Any) -> np.ndarray:
    """The pixels of #image as the page decoded them, as uint8 HWC RGB."""
    got = page.locator("#image").evaluate(READ_IMAGE_PIXELS_JS)
    rgba = np.frombuffer(base64.b64decode(got["rgba"]), dtype=np.uint8)
    rgba = rgba.reshape(got["height"], got["width"], 4)
    assert (rgba[..., 3] == 255).all(), "the displayed image is not fully opaque"
    return rgba[..., :3]


def _wait_for_image(page: Any, seed: int | str) -> None:
    page.wait_for_selector(f'#image[data-seed="{seed}"]', state="attached", timeout=UI_TIMEOUT_MS)
    page.wait_for_selector('body[data-state="ready"]', state="attached", timeout=UI_TIMEOUT_MS)


def _save_screenshot(page: Any, tmp_path: Path) -> Path:
    shot = tmp_path / "screenshot-first-page.png"
    page.screenshot(path=str(shot))
    if os.environ.get("LATENTWALK_SAVE_SCREENSHOTS") == "1":
        docs = REPO / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copyfile(shot, docs / "screenshot-first-page.png")
    return shot


# ------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real `latentwalk serve --dummy` process, stopped at teardown."""
    workdir = tmp_path_factory.mktemp("server")
    log_path = workdir / "server.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # --cache-dir belongs to the command group (`latentwalk --cache-dir DIR serve`), not to `serve`.
    cmd = [
        sys.executable, "-m", "latentwalk", "--cache-dir", str(workdir / "cache"),
        "serve", "--dummy", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
            env=_subprocess_env(),
        )  # fmt: skip
    try:
        _wait_for_health(base_url, proc, log_path)
        yield base_url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, launched by Playwright's sync API."""
    executable = _find_chromium()
    if executable is None:
        _browser_unavailable("no Chromium found on PATH (looked for `chromium` and `chromium-browser`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    """A fresh 1280x800 page; fails the test if the page throws an uncaught JS error."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server_url)
    tab = context.new_page()
    tab.set_default_timeout(UI_TIMEOUT_MS)
    js_errors: list[str] = []
    tab.on("pageerror", lambda exc: js_errors.append(str(exc)))
    try:
        yield tab
        assert not js_errors, f"uncaught errors in the page: {js_errors}"
    finally:
        context.close()


# ------------------------------------------------------------------------------------------------
# Tests


def test_page_shows_the_cli_pixels_for_a_seed(page: Any, server_url: str, tmp_path: Path) -> None:
    model = page.request.get(f"{server_url}/api/model").json()
    page.goto("/")
    assert page.title() == "latentwalk"

    # The status names the model; the first image (the default seed) arrives by itself.
    status = page.locator("#status")
    status.filter(has_text=model["name"]).wait_for()
    assert f"{model['resolution']}×{model['resolution']}" in status.inner_text()
    page.wait_for_selector('body[data-state="ready"]', state="attached")
    first_seed = page.locator("#image").get_attribute("data-seed")
    assert first_seed is not None and first_seed != "7"

    page.locator("#seed").fill("7")
    page.locator("#render").click()
    _wait_for_image(page, 7)
    assert page.locator("#error").is_hidden()
    assert "7" in page.locator("#status").inner_text()

    image = page.locator("#image")
    natural = image.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert natural == [model["resolution"], model["resolution"]]
    box = image.bounding_box()
    assert box is not None and round(box["width"]) == 512 and round(box["height"]) == 512
    if model["resolution"] < 512:  # enlarged: hard pixel edges, not a blur
        assert image.evaluate("(img) => getComputedStyle(img).imageRendering") == "pixelated"

    shot = _save_screenshot(page, tmp_path)
    assert shot.stat().st_size > 0

    shown7 = _displayed_pixels(page)
    expected7 = _generate_reference(7, tmp_path / "generated")
    assert shown7.shape == expected7.shape
    differing = int((shown7 != expected7).any(axis=-1).sum())
    assert differing == 0, (
        f"{differing} pixels of seed 7 differ between the page and `latentwalk generate` "
        f"(max abs difference {int(np.abs(shown7.astype(int) - expected7.astype(int)).max())})"
    )

    # Enter in the seed box renders too; another seed gives another picture.
    page.locator("#seed").fill("8")
    page.locator("#seed").press("Enter")
    _wait_for_image(page, 8)
    shown8 = _displayed_pixels(page)
    assert shown8.shape == shown7.shape
    assert (shown8 != shown7).any(axis=-1).mean() > 0.1, "seeds 7 and 8 rendered (nearly) the same image"


def test_server_errors_are_shown_in_the_page(page: Any, server_url: str) -> None:
    # An invalid psi given in the page URL is sent verbatim; the server's own message is displayed.
    bad = page.request.get(f"{server_url}/api/image.png?seed=7&psi=-5&noise_mode=const")
    assert 400 <= bad.status < 500, f"psi=-5 answered HTTP {bad.status}"
    assert bad.headers["content-type"].startswith("application/json")
    psi_message = bad.json()["error"]["message"]
    assert psi_message

    page.goto("/?seed=7&psi=-5")
    page.wait_for_selector('body[data-state="error"]', state="attached")
    error = page.locator("#error")
    assert error.is_visible()
    assert error.inner_text().strip() == psi_message
    assert page.locator("#image").get_attribute("data-seed") is None

    # A good render clears the error.
    page.locator("#psi").fill("1")
    page.locator("#seed").fill("7")
    page.locator("#render").click()
    _wait_for_image(page, 7)
    assert error.is_hidden()

    # A seed outside 0..2**32-1 typed into the box: the server refuses it and the old image stays.
    seed_message = page.request.get(f"{server_url}/api/image.png?seed=-1&psi=1&noise_mode=const").json()
    page.locator("#seed").fill("-1")
    page.locator("#seed").press("Enter")
    page.wait_for_selector('body[data-state="error"]', state="attached")
    assert error.inner_text().strip() == seed_message["error"]["message"]
    assert page.locator("#image").get_attribute("data-seed") == "7"


def test_a_newer_render_supersedes_one_in_flight(page: Any) -> None:
    page.goto("/")
    page.wait_for_selector('body[data-state="ready"]', state="attached")
    # Three renders started back to back in one task: only the last may land.
    page.evaluate(
        """() => {
            const seed = document.getElementById("seed");
            const render = document.getElementById("render");
            for (const s of ["11", "12", "13"]) { seed.value = s; render.click(); }
        }"""
    )
    _wait_for_image(page, 13)
    page.wait_for_timeout(300)  # a stale answer landing late would show up here
    assert page.locator("#image").get_attribute("data-seed") == "13"
    assert page.locator("body").get_attribute("data-state") == "ready"


def test_random_renders_the_seed_it_picks(page: Any) -> None:
    page.goto("/")
    page.wait_for_selector('body[data-state="ready"]', state="attached")
    before = page.locator("#image").get_attribute("data-seed")
    page.locator("#random-seed").click()
    page.wait_for_function(
        """(before) => {
            const img = document.getElementById("image");
            return document.body.dataset.state === "ready" && img.dataset.seed !== before;
        }""",
        arg=before,
    )
    picked = page.locator("#seed").input_value()
    assert picked.isdigit() and 0 <= int(picked) < 2**32
    assert page.locator("#image").get_attribute("data-seed") == picked
    assert f"seed={picked}" in page.url  # the page URL names the image it shows
