"""Render farm on one machine: frames per second against the number of Ray workers, and the cost of
splitting and joining (actor start and model load, per-shard overhead, the join), with a
projection to more workers from the measured per-frame and per-shard costs.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_cluster.py [--model procedural] [--frames 96]
     [--size 256] [--shard-frames 16] [--workers 1,2] [--threads 1] [--formats mp4,png]
     [--network FILE]  (a model file instead of a built-in model: shipped to the actors as bytes)
     [--project 8]     (workers to project to, e.g. GPUs)
Starts a local Ray with as many CPUs as this machine has (or joins RAY_ADDRESS). `--threads` is the
torch thread count of every actor and of the single-process baseline (the same count gives the same
bytes); on a loaded 2-core machine more than one thread per process is much slower.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from latentwalk.animation.frames import plan
from latentwalk.animation.schema import AnimationSettings
from latentwalk.catalog import ModelRef
from latentwalk.cluster.connection import connect
from latentwalk.cluster.job import Cluster
from latentwalk.cluster.shards import shard_folder
from latentwalk.export import ExportOptions, export_frames, output_path
from latentwalk.latents import seeds_to_z
from latentwalk.render.worker import InferenceWorker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="procedural")
    ap.add_argument("--network", type=Path, help="a model file (instead of --model)")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--shard-frames", type=int, default=16)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--formats", default="mp4,png")
    ap.add_argument("--project", type=int, default=8)
    ap.add_argument("--project-frames", type=int, default=10000, help="a long job to project too")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "latentwalk-bench-cache")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref = (
        ModelRef(name=args.network.stem, path=args.network)
        if args.network
        else ModelRef(name=args.model, zoo=args.model)
    )
    t0 = time.perf_counter()
    ray = connect("auto")
    print(f"ray: {time.perf_counter() - t0:.2f} s to start or join; cluster {ray.cluster_resources()}")
    workers = [int(w) for w in args.workers.split(",")]
    with InferenceWorker(args.cache_dir, device="cpu") as worker, tempfile.TemporaryDirectory() as tmp:
        info = worker.info(ref)
        settings = AnimationSettings(keyframes=[{"seed": 1}, {"seed": 2}], steps=[args.frames])
        p = plan(worker, ref, settings, seeds_to_z([1, 2], info.z_dim).astype(np.float32))
        print(
            f"model {info.name} ({info.resolution} px) -> {args.size} px, {p.total} frames, shards of "
            f"{args.shard_frames}, torch threads {args.threads}, {os.cpu_count()} CPUs"
        )
        for fmt in args.formats.split(","):
            options = ExportOptions(fmt=fmt, size=args.size)  # type: ignore[arg-type]
            t = time.perf_counter()
            export_frames(worker, p, Path(tmp) / f"single-{fmt}", options)
            single = time.perf_counter() - t
            print(f"\n[{fmt}] single process: {p.total / single:6.2f} fps ({single:.2f} s)")
            print("   (fps: frames / render time; speed-up: single time / (render + join), start excluded)")
            print(
                " workers |   fps | speed-up | actors+load s | render s | join s "
                "| s/frame/worker | overhead s/shard"
            )
            per_frame = per_shard = join_per_frame = start = 0.0
            for n in workers:
                with Cluster("auto", workers=n, threads=args.threads, cache_dir=args.cache_dir) as farm:
                    out = Path(tmp) / f"farm-{fmt}-{n}"
                    r = farm.render(p, out, options, shard_frames=args.shard_frames)
                metas = r.shard_seconds
                render_s = r.seconds["render"]
                frame_s = sum(metas) / p.total  # render + encode, per frame, on one worker
                # wall time the n workers spent beyond rendering and encoding, per shard
                shard_s = max(0.0, (render_s * n - sum(metas)) / r.shards)
                if n == min(workers):  # the costs without contention between workers
                    per_frame, start = frame_s, r.seconds["actors"]
                per_shard = max(per_shard, shard_s)
                join_per_frame = r.seconds["join"] / p.total
                print(
                    f" {n:7d} | {p.total / render_s:5.2f} | {single / (render_s + r.seconds['join']):8.2f} | "
                    f"{r.seconds['actors']:13.2f} | {render_s:8.2f} | {r.seconds['join']:6.3f} | "
                    f"{frame_s:14.4f} | {shard_s:16.4f}"
                )
                _remove_leftovers(out, fmt)
            _project(args, p.total, per_frame, per_shard, join_per_frame, start)


def _project(
    args: argparse.Namespace, total: int, per_frame: float, per_shard: float, join: float, start: float
) -> None:
    """T(N) = start + ceil(S / N) * (F * t_frame + t_shard) + total * t_join, for S shards of F frames,
    t_frame and start from the fewest workers (no contention), t_shard the largest seen."""
    print(
        f"   costs: {per_frame * 1000:.1f} ms/frame/worker, {per_shard * 1000:.1f} ms/shard overhead, "
        f"{join * 1000:.2f} ms/frame join, {start:.2f} s actors start + model load"
    )
    for frames in sorted({total, args.project_frames}):
        shards = math.ceil(frames / args.shard_frames)
        for n in sorted({1, 2, args.project}):
            t = start + math.ceil(shards / n) * (args.shard_frames * per_frame + per_shard) + frames * join
            print(f"   projected {n:3d} workers: {frames / t:8.2f} fps for {frames} frames ({t:.1f} s)")


def _remove_leftovers(out: Path, fmt: str) -> None:
    final = output_path(out, fmt)  # type: ignore[arg-type]
    assert not shard_folder(final).exists()


if __name__ == "__main__":
    main()
