"""Shared fixtures: an isolated cache/data folder per session, a CPU worker, tiny networks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from latentwalk.render.worker import InferenceWorker

REPO = Path(__file__).resolve().parent.parent
# Starlette's TestClient sends `Host: testserver`; apps under it must accept that name
# (Settings(allowed_hosts=TESTSERVER)), as a real server accepts its configured names.
TESTSERVER = ("testserver",)


def shared_cache_dir() -> Path:
    """Download cache shared by the tests (the default model is fetched once per machine)."""
    path = Path(os.environ.get("LATENTWALK_TEST_CACHE", REPO / ".latentwalk-test" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return shared_cache_dir()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[InferenceWorker]:
    w = InferenceWorker(cache_dir=tmp_path / "cache", device="cpu", max_batch=8, cache_size=2).start()
    yield w
    w.stop()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the user's own folders or settings during tests."""
    for key in list(os.environ):
        if key.startswith("LATENTWALK_") and key not in (
            "LATENTWALK_NVIDIA_SRC",
            "LATENTWALK_NVIDIA_ADA_SRC",
            "LATENTWALK_CHROMIUM",
            "LATENTWALK_SKIP_BROWSER",
            "LATENTWALK_SAVE_SCREENSHOTS",
            "LATENTWALK_TEST_CACHE",
            "LATENTWALK_FUZZ_RANDOM",
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)  # the default ./models folder is then empty


def write_tiny_dcgan(path: Path, seed: int = 0, z_dim: int = 8, resolution: int = 16) -> Path:
    """A small random DCGAN saved as a weights-only state dict (the default model's file layout)."""
    import torch

    from latentwalk.models.dcgan import DCGANGenerator

    torch.manual_seed(seed)
    g = DCGANGenerator(z_dim=z_dim, base_channels=4, resolution=resolution)
    with torch.no_grad():
        for name, t in g.state_dict().items():
            if not t.is_floating_point():
                continue
            t.copy_(torch.rand_like(t) + 0.5 if name.endswith("running_var") else torch.randn_like(t) * 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"netG_state_dict": g.state_dict()}, path)
    return path


# ------------------------------------------------------------------------------------------------
# Browser fixtures (tests marked `browser`): one `latentwalk serve --dummy` process and one headless
# Chromium for the whole session; a fresh page per test. Helpers live in browser_support.py.


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real `latentwalk serve --dummy` process, stopped at teardown.

    Its ./models folder holds a tiny random DCGAN (`tiny-dcgan`, 16x16, z_dim 8) to switch to, and
    `broken.pkl`, a file that is no model, for the "failed to load" state.
    """
    from browser_support import running_server

    workdir = tmp_path_factory.mktemp("server")
    write_tiny_dcgan(workdir / "models" / "tiny-dcgan.pt")
    (workdir / "models" / "broken.pkl").write_bytes(b"this is not a network pickle\n" * 40)
    with running_server(workdir) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, launched by Playwright's sync API."""
    from browser_support import CHROMIUM_ARGS, browser_unavailable, find_chromium

    executable = find_chromium()
    if executable is None:
        browser_unavailable("no Chromium found on PATH (looked for `chromium` and `chromium-browser`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(browser: Any, server_url: str) -> Iterator[Any]:
    """open_page(viewport=None) -> a fresh page on the server; an uncaught JS error fails the test."""
    from browser_support import UI_TIMEOUT_MS, VIEWPORT

    contexts: list[Any] = []
    js_errors: list[str] = []

    def open_(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or VIEWPORT, base_url=server_url)
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(UI_TIMEOUT_MS)
        tab.on("pageerror", lambda exc: js_errors.append(str(exc)))
        return tab

    try:
        yield open_
        assert not js_errors, f"uncaught errors in the page: {js_errors}"
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(open_page: Any) -> Any:
    """A fresh 1280x800 page on the server."""
    return open_page()
