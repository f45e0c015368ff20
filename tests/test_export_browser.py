"""An exported MP4 plays in a real browser: Debian's Chromium plays it to its end."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from latentwalk.animation.frames import plan
from latentwalk.animation.schema import AnimationSettings
from latentwalk.catalog import ModelRef
from latentwalk.export import ExportOptions, export_frames
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker

pytestmark = pytest.mark.browser


@pytest.fixture
def served_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_exported_mp4_plays_to_its_end(
    worker: InferenceWorker, browser: Any, served_folder: tuple[Path, str]
) -> None:
    folder, base = served_folder
    settings = AnimationSettings(keyframes=[{"seed": 1}, {"seed": 2}], steps=[12])
    p = plan(
        worker, ModelRef("procedural", zoo="procedural"), settings, seeds_to_z([1, 2], 512).astype(np.float32)
    )
    export_frames(worker, p, folder / "walk.mp4", ExportOptions(fmt="mp4", fps=24))
    (folder / "index.html").write_text('<video id="v" src="walk.mp4" muted playsinline></video>')
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/index.html")
        result = page.evaluate(
            """() => new Promise((resolve) => {
                const v = document.getElementById('v');
                v.addEventListener('ended', () => resolve({ended: true, t: v.currentTime, w: v.videoWidth}));
                v.addEventListener('error', () => resolve({ended: false, error: v.error && v.error.code}));
                v.play().catch((e) => resolve({ended: false, error: String(e)}));
                setTimeout(() => resolve({ended: false, error: 'timeout', t: v.currentTime}), 20000);
            })"""
        )
    finally:
        context.close()
    assert result.get("ended") is True, result
    assert result["w"] == 256 and result["t"] == pytest.approx(0.5, abs=0.05)
