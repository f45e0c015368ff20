"""Helpers of the browser tests: a real `latentwalk serve` process, Debian's Chromium, pixel reading.

Chromium is Debian's package (`scripts/install-browser.sh`), found on PATH or through
`LATENTWALK_CHROMIUM`; Playwright's own browser downloads are not used. Without a Chromium the
browser tests fail, unless `LATENTWALK_SKIP_BROWSER=1` turns that into a skip.
`LATENTWALK_SAVE_SCREENSHOTS=1` also copies chosen screenshots into docs/ (otherwise they stay in
pytest's tmp_path). The fixtures themselves live in conftest.py.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 180.0
UI_TIMEOUT_MS = 30_000
RENDER_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1280, "height": 800}
LAPTOP_VIEWPORT = {"width": 1366, "height": 768}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_KEPT_ENV = ("LATENTWALK_CHROMIUM", "LATENTWALK_SKIP_BROWSER", "LATENTWALK_SAVE_SCREENSHOTS")

# RGBA bytes (base64) of an <img> at its natural size, or of a <canvas> as it is.
READ_PIXELS_JS = """(el) => {
    let width, height, data;
    if (el instanceof HTMLCanvasElement) {
        width = el.width; height = el.height;
        data = el.getContext("2d").getImageData(0, 0, width, height).data;
    } else {
        const canvas = document.createElement("canvas");
        width = canvas.width = el.naturalWidth;
        height = canvas.height = el.naturalHeight;
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(el, 0, 0);
        data = ctx.getImageData(0, 0, width, height).data;
    }
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) {
        binary += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
    }
    return { width, height, rgba: btoa(binary) };
}"""


def subprocess_env(home: Path | None = None) -> dict[str, str]:
    """The environment for child processes: latentwalk from this checkout's src/, none of the user's
    LATENTWALK_* settings, and (with `home`) XDG folders inside it so nothing touches the user's data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATENTWALK_") or k in _KEPT_ENV}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO / "src")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    if home is not None:
        for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
            env[var] = str(home / var.lower())
    return env


def free_port() -> int:
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


@contextmanager
def running_server(workdir: Path) -> Iterator[str]:
    """`latentwalk serve --dummy` in `workdir` (its ./models folder is scanned; cache, data and XDG
    folders live inside it); yields the base URL and stops the process afterwards."""
    log_path = workdir / "server.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # --cache-dir and --data-dir belong to the command group (`latentwalk --cache-dir DIR serve`).
    cmd = [
        sys.executable, "-m", "latentwalk",
        "--cache-dir", str(workdir / "cache"), "--data-dir", str(workdir / "data"),
        "serve", "--dummy", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
            env=subprocess_env(workdir),
        )  # fmt: skip
    try:
        _wait_for_health(base_url, proc, log_path)
        yield base_url
    finally:
        _stop(proc)


def browser_unavailable(reason: str) -> None:
    if os.environ.get("LATENTWALK_SKIP_BROWSER") == "1":
        pytest.skip(f"{reason} (LATENTWALK_SKIP_BROWSER=1)")
    pytest.fail(
        f"{reason}. Run scripts/install-browser.sh to install Debian's chromium, or point "
        "LATENTWALK_CHROMIUM at a Chromium binary; set LATENTWALK_SKIP_BROWSER=1 to skip these tests.",
        pytrace=False,
    )


def find_chromium() -> str | None:
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


def generate_reference(seed: int, outdir: Path) -> np.ndarray:
    """The image `latentwalk generate` writes for `seed` with the procedural model, as uint8 HWC RGB."""
    cmd = [
        sys.executable, "-m", "latentwalk", "--cache-dir", str(outdir / "cache"), "generate",
        "--network", "procedural", "--seeds", str(seed), "--trunc", "1.0", "--noise-mode", "const",
        "--outdir", str(outdir),
    ]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=subprocess_env(outdir), timeout=CLI_TIMEOUT_S, check=False
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


def pixels(page: Any, selector: str) -> np.ndarray:
    """The pixels of an <img> (as decoded, at its natural size) or a <canvas>, as uint8 HWC RGB."""
    got = page.locator(selector).evaluate(READ_PIXELS_JS)
    rgba = np.frombuffer(base64.b64decode(got["rgba"]), dtype=np.uint8)
    rgba = rgba.reshape(got["height"], got["width"], 4)
    assert (rgba[..., 3] == 255).all(), f"{selector} is not fully opaque"
    return rgba[..., :3]


def differing(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ between two images of one shape."""
    assert a.shape == b.shape, f"{a.shape} != {b.shape}"
    return float((a != b).any(axis=-1).mean())


def save_screenshot(page: Any, tmp_path: Path, name: str, *, docs: bool = False) -> Path:
    """A screenshot in tmp_path; with docs=True and LATENTWALK_SAVE_SCREENSHOTS=1, copied to docs/NAME."""
    shot = tmp_path / name
    page.wait_for_timeout(250)  # let hover and tab transitions settle
    page.screenshot(path=str(shot))
    if docs and os.environ.get("LATENTWALK_SAVE_SCREENSHOTS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / name)
    return shot


# ------------------------------------------------------------------------------------------------
# Driving the explorer page


def open_explorer(page: Any, url: str = "/") -> None:
    """Open the page and wait until it has its model and its socket."""
    page.goto(url)
    page.wait_for_selector('body[data-state="ready"][data-connection="online"]', state="attached")


def wait_thumb(page: Any, end: str, seed: int | None = None) -> None:
    """Wait until the card of `end` ("source" or "destination") shows its keyframe (of `seed`)."""
    if seed is not None:
        page.wait_for_selector(f'#{end}-thumb[data-seed="{seed}"]', state="attached")
    page.wait_for_selector(f'#{end}-card[data-loading="false"]', state="attached")


def wait_render(page: Any, after: str | None = None) -> str:
    """Wait until a render other than the one with id `after` has finished; returns its id."""
    page.wait_for_function(
        """(after) => document.body.dataset.render === "done" && document.body.dataset.renderId !== after""",
        arg=after or "",
        timeout=RENDER_TIMEOUT_MS,
    )
    return str(page.locator("body").get_attribute("data-render-id"))


def render_id(page: Any) -> str:
    return str(page.locator("body").get_attribute("data-render-id") or "")


def seek(page: Any, index: int) -> np.ndarray:
    """Scrub to frame `index` with the slider; returns the pixels on the canvas once it is drawn."""
    page.locator("#frame-slider").fill(str(index))
    page.wait_for_selector(f'#frame-canvas[data-frame="{index}"][data-exact="true"]', state="attached")
    return pixels(page, "#frame-canvas")
