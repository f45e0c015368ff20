"""Load, short version: 50 WebSocket clients on loopback against a real server, plus clients that never
read. No errors, every client served, the slow ones hold no backlog (benchmarks/bench_load.py runs long)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from browser_support import REPO, subprocess_env
from conftest import write_tiny_dcgan


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_load", REPO / "benchmarks" / "bench_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float, slow: int) -> dict[str, object]:
    b = bench()
    for key, value in subprocess_env(tmp_path).items():
        monkeypatch.setenv(key, value)  # the server runs this checkout, with its folders in tmp_path
    # A small frame cache fills during warm-up, so the memory check sees growth beyond that bound.
    monkeypatch.setenv("LATENTWALK_FRAME_CACHE_MB", "8")
    write_tiny_dcgan(tmp_path / "models" / "tiny.pt")  # 16 px: the load is on the server, not the model
    proc, base = b.start_server(tmp_path, "tiny")
    try:
        # A thread of its own: Playwright's sync API (browser tests) may hold a running loop in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # Clients finish the transition they are reading at the deadline: each gets whole ones.
            drive = b.drive(base, proc.pid, 50, slow, seconds, steps=4, seed=1, hang_up=False)
            fig = pool.submit(asyncio.run, drive).result()
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    summary = fig.summary(seconds, warmup=seconds / 3)
    print(f"load: {summary}")
    assert alive
    assert not fig.errors, fig.errors[:5]
    assert fig.served == 50 and fig.frames == fig.renders * 4, summary  # every client got whole transitions
    assert fig.slow_connected == slow
    return summary


def test_fifty_clients_and_slow_readers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = run_load(tmp_path, monkeypatch, seconds=6.0, slow=5)
    # Slow readers asked for 2000 frames each and read none: the server blocked on them rather than
    # rendering ahead into memory. Their frames would be ~10 MB per client; growth stays far below.
    growth = float(summary["rss_mib_max_after_warmup"]) - float(summary["rss_mib_after_warmup"])  # type: ignore[arg-type]
    assert growth < 40, summary


@pytest.mark.slow
def test_load_for_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = run_load(tmp_path, monkeypatch, seconds=60.0, slow=5)
    assert float(summary["rss_growth_after_warmup"]) < 0.10, summary  # type: ignore[arg-type]
