"""Seconds per image of the built-in translator (cyclegan-vintage) at several sizes on the CPU.

Run: .venv/bin/python benchmarks/bench_translate.py [--sizes 256,512] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import platformdirs
import torch

from latentwalk.render.worker import InferenceWorker
from latentwalk.translation import TranslatorCache, translate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cyclegan-vintage")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("latentwalk")))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = TranslatorCache(args.cache_dir, ())
    with InferenceWorker(args.cache_dir, device=args.device) as worker:
        print(f"{args.model} on {worker.device}, {torch.get_num_threads()} threads")
        for size in (int(s) for s in args.sizes.split(",")):
            image = np.random.RandomState(size).randint(0, 256, (size, size, 3)).astype(np.uint8)
            translate(worker, cache, args.model, image)  # warm-up (and the first load)
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                translate(worker, cache, args.model, image)
                times.append(time.perf_counter() - t0)
            print(f"{size}x{size}: {statistics.median(times):.2f} s per image (median of {args.repeats})")


if __name__ == "__main__":
    main()
