"""Export speed: 288 frames of the default model upscaled to 512x512, to MP4 and to PNG, on this
machine, with the share of the time spent generating versus encoding and writing.

Run: .venv/bin/python benchmarks/bench_export.py [--model dcgan-faces] [--frames 288] [--size 512]
     [--stylegan2 RES]  (a random-weight StyleGAN2 config-f at RES instead of a zoo model)
Targets: under 10 s for MP4 on two CPU cores (issue 5); encoding adds under 15% to generation
time (issue 9). "adds" = (export time - generation time) / generation time, against generation
with the same upscaling (as the export pipelines it) and against bare generation.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from latentwalk.animation.frames import plan, render_frames
from latentwalk.animation.schema import AnimationSettings
from latentwalk.backends.base import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.export import ExportOptions, _resized, export_frames
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker
from latentwalk.threaded import threaded_map


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan-faces")
    ap.add_argument("--frames", type=int, default=288)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--stylegan2", type=int, metavar="RES", help="a random StyleGAN2-f of this size")
    ap.add_argument("--rounds", type=int, default=3, help="alternating generation-only and MP4 runs")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "latentwalk-bench-cache")
    args = ap.parse_args()
    ref = ModelRef(name=args.model, zoo=args.model)
    with InferenceWorker(args.cache_dir, device="cpu") as worker, tempfile.TemporaryDirectory() as tmp:
        if args.stylegan2:
            from bench_speed import Case, build_ours  # the same random config-f as the speed runner

            args.model = f"random-stylegan2-f-{args.stylegan2}"
            ref = ModelRef(name=args.model, zoo=args.model)
            g = build_ours(Case("sg2", "sg2", args.stylegan2))
            worker.register(ref, LoadedModel(g, {"family": "stylegan2"}))
        info = worker.info(ref)
        settings = AnimationSettings(keyframes=[{"seed": 1}, {"seed": 2}], steps=[args.frames])
        p = plan(worker, ref, settings, seeds_to_z([1, 2], info.z_dim).astype(np.float32))

        def generate(upscale: bool) -> float:
            """Frames through the worker (and, like export's pipeline, upscaled on a stage thread)."""
            t0 = time.perf_counter()
            frames = (frame for _, frame in render_frames(worker, p))
            if upscale:
                frames = threaded_map(lambda f: _resized(f, args.size, "lanczos"), frames, depth=8)
            for _ in frames:
                pass
            return time.perf_counter() - t0

        def export(fmt: str) -> float:
            t0 = time.perf_counter()
            export_frames(worker, p, Path(tmp) / f"walk-{fmt}", ExportOptions(fmt=fmt, size=args.size))  # type: ignore[arg-type]
            return time.perf_counter() - t0

        # The three alternate, round by round, so that a busy machine slows them alike.
        runs: dict[str, list[float]] = {"generate": [], "generate + upscale": [], "mp4": []}
        for _ in range(args.rounds):
            runs["generate"].append(generate(upscale=False))
            runs["generate + upscale"].append(generate(upscale=True))
            runs["mp4"].append(export("mp4"))
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(
            f"{args.model} -> {args.size}x{args.size}, {args.frames} frames, CPU, "
            f"{args.rounds} rounds (medians; every round listed)"
        )
        for name in ("generate", "generate + upscale"):
            print(f"{name + ' only:':25s} {med[name]:6.2f} s   ({', '.join(f'{t:.2f}' for t in runs[name])})")
        base = med["generate + upscale"]
        for fmt in ("mp4", "png", "mov"):
            total = med["mp4"] if fmt == "mp4" else export(fmt)
            print(
                f"export {fmt:4s}: {total:13.2f} s   ({args.frames / total:5.1f} frames/s; adds "
                f"{(total - base) / base:+4.0%} to generation + upscale, "
                f"{(total - med['generate']) / med['generate']:+4.0%} to generation)"
                + (f"   ({', '.join(f'{t:.2f}' for t in runs['mp4'])})" if fmt == "mp4" else "")
            )


if __name__ == "__main__":
    main()
