"""Time to find directions on the default model (dcgan-faces), CPU: GANSpace PCA with 20,000
samples (early-layer activations regressed onto z) and an attribute fit (brightness) with 2,000
rendered samples. Targets on two cores: PCA under 20 s, fit under 60 s.

Run: PYTHONPATH=src python benchmarks/bench_directions.py [--pca-samples 20000] [--fit-samples 2000]
     [--threads 2] [--cache-dir DIR]
Prints figures; never fails on time. The default model's weights are fetched into the cache first
(not timed).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from latentwalk.catalog import ModelRef
from latentwalk.config import settings_from_env
from latentwalk.directions.axes import feature_scorer, fit_axes
from latentwalk.directions.pca import pca_directions
from latentwalk.render.worker import InferenceWorker

DEFAULT = ModelRef("dcgan-faces", zoo="dcgan-faces")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pca-samples", type=int, default=20_000)
    ap.add_argument("--components", type=int, default=32)
    ap.add_argument("--fit-samples", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the targets are for two cores)")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = args.cache_dir or Path(os.environ.get("LATENTWALK_TEST_CACHE", settings_from_env().cache_dir))
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)"
    )
    with InferenceWorker(cache, device="cpu") as worker:
        t = time.perf_counter()
        worker.info(DEFAULT)  # load (and fetch) the model: not part of the figures
        print(f"model load: {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        pcs = pca_directions(worker, DEFAULT, args.pca_samples, args.components)
        pca_s = time.perf_counter() - t
        top = ", ".join(f"{d.stats['explained']:.3f}" for d in pcs[:4])
        print(f"PCA  {args.pca_samples:6d} samples, {len(pcs)} components: {pca_s:6.1f} s  (target < 20 s)")
        print(f"     variance share of pc0..pc3: {top}")

        t = time.perf_counter()
        (axis,) = fit_axes(worker, DEFAULT, feature_scorer(["brightness"]), samples=args.fit_samples)
        fit_s = time.perf_counter() - t
        print(f"fit  {args.fit_samples:6d} rendered samples (brightness): {fit_s:6.1f} s  (target < 60 s)")
        print(f"     cross-validated R^2 {axis.stats['r2']:.3f}, {args.fit_samples / fit_s:.0f} samples/s")


if __name__ == "__main__":
    main()
