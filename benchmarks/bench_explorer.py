"""Explorer latency over a real WebSocket: request -> first frame, and -> last frame of a transition.

Starts `latentwalk serve` in a subprocess on a free loopback port (the default model unless
--model), connects as the page does, asks for a transition of --steps frames (JPEG), and prints the
times over --repeats runs with different seeds (a cached repeat would cost nothing).

Run: .venv/bin/python benchmarks/bench_explorer.py [--model dcgan-faces] [--steps 288] [--repeats 5]
Targets on two CPU cores (issue 4): first frame < 100 ms, all 288 frames < 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import websockets

from latentwalk.latents import seeds_to_z


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def one_run(url: str, z_dim: int, steps: int, seeds: tuple[int, int]) -> tuple[float, float, int]:
    latents = seeds_to_z(list(seeds), z_dim).astype(np.float32).tolist()
    msg = {
        "type": "render",
        "id": seeds[0],
        "format": "jpeg",
        "latents": latents,
        "settings": {"keyframes": [{"seed": seeds[0]}, {"seed": seeds[1]}], "steps": [steps]},
    }
    async with websockets.connect(url, max_size=None) as ws:
        t0 = time.perf_counter()
        await ws.send(json.dumps(msg))
        first = None
        frames = 0
        while True:
            data = await ws.recv()
            if isinstance(data, bytes):
                frames += 1
                if first is None:
                    first = time.perf_counter() - t0
                continue
            event = json.loads(data)
            if event["type"] == "done":
                return first or 0.0, time.perf_counter() - t0, frames
            if event["type"] == "error":
                raise RuntimeError(event["error"]["message"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan-faces")
    ap.add_argument("--steps", type=int, default=288)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "latentwalk-bench-cache")
    args = ap.parse_args()

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "latentwalk",
        "--cache-dir",
        str(args.cache_dir),
        "serve",
        "--model",
        args.model,
        "--port",
        str(port),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                info = json.load(urllib.request.urlopen(f"{base}/api/model", timeout=1))
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not start")
        url = f"ws://127.0.0.1:{port}/ws"
        asyncio.run(one_run(url, info["z_dim"], 8, (1000, 1001)))  # warm-up
        firsts, totals = [], []
        for r in range(args.repeats):
            first, total, frames = asyncio.run(one_run(url, info["z_dim"], args.steps, (2 * r, 2 * r + 1)))
            assert frames == args.steps, frames
            firsts.append(first)
            totals.append(total)
        print(
            f"model {info['name']} ({info['resolution']}x{info['resolution']}), {args.steps} frames, "
            f"JPEG, {args.repeats} runs, CPU"
        )
        print(
            f"first frame: p50 {statistics.median(firsts) * 1000:7.1f} ms   max {max(firsts) * 1000:7.1f} ms"
        )
        print(
            f"all frames:  p50 {statistics.median(totals):7.3f} s    max {max(totals):7.3f} s   "
            f"({args.steps / statistics.median(totals):.0f} frames/s)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
