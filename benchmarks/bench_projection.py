"""Projection quality and time on the default model: self-generated targets (a perfect answer exists).

For each of --seeds targets, renders z = RandomState(1000 + i).randn(1, z_dim) with the model, then
projects that picture back with the default options (z space, 8 starts, --steps steps) on the CPU,
and prints PSNR, SSIM and seconds per target, then the mean. The issue's bar: PSNR above 25 dB.

Run: .venv/bin/python benchmarks/bench_projection.py [--model dcgan-faces] [--steps 500] [--seeds 16]
     [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import platformdirs
import torch

from latentwalk.catalog import resolve
from latentwalk.projection import ProjectionOptions, project
from latentwalk.render.worker import InferenceWorker, RenderRequest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan-faces")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("latentwalk")))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ref = resolve(args.model, [])
    rows = []
    with InferenceWorker(args.cache_dir, device=args.device) as worker:
        info = worker.info(ref)
        print(
            f"{info.name}: {info.resolution}x{info.resolution}, z_dim {info.z_dim}, {args.steps} steps, "
            f"device {worker.device}, {torch.get_num_threads()} threads"
        )
        for i in range(args.seeds):
            z = np.random.RandomState(1000 + i).randn(1, info.z_dim).astype(np.float32)
            target = worker.render(RenderRequest(ref, z=z))[0]
            t0 = time.perf_counter()
            r = project(worker, ref, target, ProjectionOptions(steps=args.steps, seed=i, preview_every=0))
            seconds = time.perf_counter() - t0
            rows.append((r.psnr, r.ssim, seconds))
            print(f"target {i:2d}: PSNR {r.psnr:6.2f} dB  SSIM {r.ssim:.4f}  {seconds:6.2f} s", flush=True)
    psnrs = [p for p, _, _ in rows]
    above = sum(p > 25 for p in psnrs)
    ssim_mean = statistics.mean(s for _, s, _ in rows)
    print(
        f"mean over {len(rows)}: PSNR {statistics.mean(psnrs):.2f} dB (min {min(psnrs):.2f}, "
        f"{above}/{len(rows)} above 25 dB), SSIM {ssim_mean:.4f}, "
        f"{statistics.mean(t for _, _, t in rows):.2f} s per projection"
    )


if __name__ == "__main__":
    main()
