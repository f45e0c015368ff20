"""Load: many WebSocket clients at once, some of them too slow to read, for a long time.

Starts `latentwalk serve` in a subprocess on a free loopback port (the procedural model, 256 px,
unless --model) and runs --clients clients for --seconds: each asks for short transitions with fresh
seeds and reads every frame, asks for a latent now and then, and lists the library over HTTP; at the
deadline each hangs up, mid-transition or not. --slow clients ask for long transitions and never
read: the server must block on them (their frames wait, nobody else's do) instead of queueing frames
in memory. Prints the server's RSS every --every seconds, then errors, frames served, latency, and
the RSS growth after the warm-up (flat within 10% is the target). The server's frame cache is
bounded (--frame-cache-mb, 8 by default) so that it fills early and the growth is not the cache.

Run: .venv/bin/python benchmarks/bench_load.py [--seconds 600] [--clients 50] [--slow 5] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets

from latentwalk.latents import seeds_to_z


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Figures:
    frames: int = 0
    renders: int = 0
    latents: int = 0
    http: int = 0
    errors: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # request -> last frame of a transition
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MiB)
    slow_connected: int = 0
    hung_up: int = 0  # fast clients stopped by the deadline (mid-request or between requests)
    served: int = 0  # fast clients that received at least one whole transition

    def summary(self, seconds: float, warmup: float) -> dict[str, Any]:
        after = [m for t, m in self.rss if t >= warmup]
        lat = sorted(self.latency_ms)
        return {
            "seconds": round(seconds, 1),
            "errors": len(self.errors),
            "frames": self.frames,
            "frames_per_s": round(self.frames / seconds, 1) if seconds else 0.0,
            "renders": self.renders,
            "latents": self.latents,
            "http": self.http,
            "slow_clients_connected": self.slow_connected,
            "hung_up_at_deadline": self.hung_up,
            "clients_served": self.served,
            "latency_ms_p50": round(statistics.median(lat), 1) if lat else None,
            "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
            "rss_mib_start": round(self.rss[0][1], 1) if self.rss else None,
            "rss_mib_after_warmup": round(after[0], 1) if after else None,
            "rss_mib_end": round(self.rss[-1][1], 1) if self.rss else None,
            "rss_mib_max_after_warmup": round(max(after), 1) if after else None,
            "rss_growth_after_warmup": round(max(after) / after[0] - 1, 3) if after else None,
            # A trend rather than one sample's luck: the peak of the later half of the samples after
            # the warm-up over the peak of the earlier half (a plateau gives 0, a leak keeps growing).
            "rss_growth_late_over_early_peak": _late_over_early(after),
        }


def _late_over_early(samples: list[float]) -> float | None:
    if len(samples) < 2:
        return None
    half = len(samples) // 2
    return round(max(samples[half:]) / max(samples[:half]) - 1, 3)


def _render_message(request_id: int, z: list[list[float]], steps: int) -> str:
    settings = {"keyframes": [{"seed": 0}, {"seed": 1}], "steps": [steps]}
    return json.dumps({"type": "render", "id": request_id, "settings": settings, "latents": z, "quality": 70})


async def fast_client(
    url: str,
    base: str,
    z_dim: int,
    steps: int,
    until: float,
    rng: random.Random,
    fig: Figures,
    hang_up: bool = True,
) -> None:
    request_id = 0
    first_render = 1  # the first request is a transition
    # At the deadline the client hangs up, even mid-transition (the server must cancel that render),
    # so the load ends on time instead of waiting for the last long queue to drain. Without
    # `hang_up` it finishes the transition it is reading, so every client gets whole ones.
    deadline = asyncio.timeout(until - time.monotonic() if hang_up else None)
    try:
        async with deadline, websockets.connect(url, max_size=2**24) as ws:
            while hang_up or time.monotonic() < until:
                request_id += 1
                seeds = [rng.randrange(1 << 30), rng.randrange(1 << 30)]
                z = seeds_to_z(seeds, z_dim).astype(np.float32).tolist()
                if request_id > 1 and rng.random() < 0.15:  # a transition first, then a mix
                    settings = {"keyframes": [{"seed": 0}, {"seed": 1}], "steps": [steps]}
                    body = {
                        "type": "latent",
                        "id": request_id,
                        "settings": settings,
                        "latents": z,
                        "index": 1,
                    }
                    await ws.send(json.dumps(body))
                    event = json.loads(await ws.recv())
                    if event.get("type") != "latent":
                        fig.errors.append(f"latent: {event}")
                    fig.latents += 1
                    continue
                if rng.random() < 0.1:
                    await asyncio.to_thread(_get, f"{base}/api/animations")
                    fig.http += 1
                t0 = time.perf_counter()
                await ws.send(_render_message(request_id, z, steps))
                while True:
                    msg = await ws.recv()
                    if isinstance(msg, bytes):
                        fig.frames += 1
                        continue
                    event = json.loads(msg)
                    if event.get("type") == "error":
                        fig.errors.append(f"render: {event}")
                        break
                    if event.get("type") == "done" and event.get("id") == request_id:
                        fig.latency_ms.append((time.perf_counter() - t0) * 1000)
                        fig.renders += 1
                        fig.served += request_id == first_render
                        break
    except TimeoutError as exc:
        if deadline.expired():
            fig.hung_up += 1
        else:
            fig.errors.append(f"client: timeout: {exc}")
    except Exception as exc:  # a dropped connection is an error to report, not a crash of the bench
        fig.errors.append(f"client: {type(exc).__name__}: {exc}")


async def slow_client(url: str, z_dim: int, until: float, fig: Figures) -> None:
    """Asks for a long transition and never reads a frame (a frozen tab, a stalled network)."""
    try:
        async with websockets.connect(url, max_size=2**24, max_queue=1) as ws:
            fig.slow_connected += 1
            z = seeds_to_z([7, 8], z_dim).astype(np.float32).tolist()
            await ws.send(_render_message(1, z, 2000))
            while time.monotonic() < until:
                await asyncio.sleep(0.5)  # never recv()
    except Exception as exc:
        fig.errors.append(f"slow client: {type(exc).__name__}: {exc}")


def _get(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=60) as r:
        return json.loads(r.read())


async def watch_memory(
    pid: int, start: float, done: asyncio.Event, fig: Figures, every: float, echo: bool
) -> None:
    """Sample the server's RSS every `every` seconds until `done` is set (printing each when `echo`)."""
    while True:
        t, mib = time.monotonic() - start, rss_mib(pid)
        fig.rss.append((t, mib))
        if echo:
            line = f"t={t:6.0f} s  rss {mib:7.1f} MiB  frames {fig.frames}  errors {len(fig.errors)}"
            print(line, flush=True)
        if done.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), every)


async def drive(
    base: str,
    pid: int,
    clients: int,
    slow: int,
    seconds: float,
    steps: int,
    seed: int,
    every: float | None = None,
    echo: bool = False,
    hang_up: bool = True,
) -> Figures:
    """Run the load against a server already listening at `base` (process `pid`)."""
    fig = Figures()
    z_dim = int(_get(f"{base}/api/model")["z_dim"])
    url = base.replace("http://", "ws://") + "/ws"
    start = time.monotonic()
    until = start + seconds
    rng = random.Random(seed)
    done = asyncio.Event()
    every = every if every is not None else max(0.2, seconds / 100)
    watch = asyncio.create_task(watch_memory(pid, start, done, fig, every, echo))
    tasks = [slow_client(url, z_dim, until, fig) for _ in range(slow)]
    tasks += [
        fast_client(url, base, z_dim, steps, until, random.Random(rng.random()), fig, hang_up)
        for _ in range(clients)
    ]
    await asyncio.gather(*tasks)
    done.set()
    await watch
    # The server still answers at once after the load (the slow clients have gone).
    _get(f"{base}/api/health")
    return fig


def start_server(workdir: Path, model: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "latentwalk",
        "--cache-dir", str(workdir / "cache"), "--data-dir", str(workdir / "data"),
        "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            _get(f"{base}/api/health")
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--slow", type=int, default=5, help="clients that never read")
    parser.add_argument("--steps", type=int, default=8, help="frames per transition of the fast clients")
    parser.add_argument("--model", default="procedural")
    parser.add_argument("--warmup", type=float, default=None, help="seconds (default: a fifth of the run)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples (printed)")
    parser.add_argument(
        "--frame-cache-mb",
        type=int,
        default=8,
        help="the server's frame cache: small, so that it is full early and the memory figure shows "
        "growth beyond it (the server's own default is 256)",
    )
    args = parser.parse_args()
    os.environ["LATENTWALK_FRAME_CACHE_MB"] = str(args.frame_cache_mb)  # the server inherits it
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(Path(tmp), args.model)
        try:
            load = drive(
                base, proc.pid, args.clients, args.slow, args.seconds, args.steps, 0, args.every, echo=True
            )
            fig = asyncio.run(load)
            warmup = args.warmup if args.warmup is not None else args.seconds / 5
            summary = fig.summary(args.seconds, warmup)
        finally:
            t0 = time.monotonic()
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    summary["server_exit_s"] = round(time.monotonic() - t0, 1)  # SIGTERM to exit (killed at 60)
    print(json.dumps(summary, indent=1))
    print("rss over time (s, MiB):", [(round(t), round(m)) for t, m in fig.rss])
    for err in fig.errors[:10]:
        print("error:", err)


if __name__ == "__main__":
    main()
