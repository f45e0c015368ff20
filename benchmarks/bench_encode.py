"""What encoding costs on its own: CPU time per frame of x264 (by preset), of the RGB to YUV
conversion, and of the Lanczos upscaling the export does, on smooth synthetic 512x512 frames.

Why: the export pipeline overlaps these stages with generation, but on two cores a model that makes
a frame in a few milliseconds leaves no idle CPU to hide them in (see bench_export.py). These
figures say how much CPU each stage needs, whatever the overlap.

Run: .venv/bin/python benchmarks/bench_encode.py [--frames 288] [--size 512] [--presets veryfast ...]
"""

from __future__ import annotations

import argparse
import io
import time

import av
import numpy as np
from PIL import Image

from latentwalk.export import ExportOptions


def frames(n: int, size: int) -> list[np.ndarray]:
    """A cross-fade between two upscaled 64-px noise images: smooth like an upscaled walk."""
    rng = np.random.default_rng(0)
    ends = [
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.LANCZOS
        )
        for _ in range(2)
    ]
    return [np.asarray(Image.blend(ends[0], ends[1], t / max(1, n - 1))) for t in range(n)]


def encode(clip: list[np.ndarray], preset: str, crf: int) -> tuple[float, int]:
    """CPU seconds (this process) and bytes of an H.264 encode on one thread."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width = stream.height = clip[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, "threads": "1"}
        t0 = time.process_time()
        for f in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        cpu = time.process_time() - t0
    return cpu, len(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=288)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--presets", nargs="+", default=["veryfast", "superfast", "ultrafast", "faster"])
    args = ap.parse_args()
    crf = ExportOptions().crf
    clip = frames(args.frames, args.size)
    n = len(clip)
    print(f"{n} frames of {args.size}x{args.size}, crf {crf} (the export's), one thread, CPU time")
    for preset in args.presets:
        cpu, size = encode(clip, preset, crf)
        note = "  <- the export's preset" if preset == "veryfast" else ""
        print(f"x264 {preset:10s} {1000 * cpu / n:6.2f} ms/frame  {size / 1e6:6.2f} MB{note}")
    t0 = time.process_time()
    for f in clip:
        av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
    yuv = 1000 * (time.process_time() - t0) / n
    print(f"RGB -> YUV 4:2:0 only   {yuv:6.2f} ms/frame (part of x264's figure)")
    small = Image.fromarray(clip[0]).resize((64, 64))
    t0 = time.process_time()
    for _ in range(n):
        small.resize((args.size, args.size), Image.Resampling.LANCZOS)
    print(f"Lanczos 64 -> {args.size}      {1000 * (time.process_time() - t0) / n:6.2f} ms/frame")


if __name__ == "__main__":
    main()
