"""Images per second through the engine: the default model, the procedural model, a random
StyleGAN2 config-f at 256x256 (channel_base 32768, channel_max 512), and random StyleGAN3 configs T
(channel_base 32768, channel_max 512) and R (65536, 1024, as stylegan3's train.py doubles them) at
256x256 with designed filters, at batch 1 and 8.

Run: .venv/bin/python benchmarks/bench_generate.py [--device cpu|cuda] [--repeats 3]
Prints a table; never fails on time. Needs only PyTorch and numpy besides latentwalk
(from source: PYTHONPATH=src python benchmarks/bench_generate.py).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from latentwalk.backends import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.latents import seeds_to_z
from latentwalk.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from latentwalk.models.stylegan3_design import design_stylegan3, random_stylegan3
from latentwalk.render.worker import InferenceWorker, RenderRequest


def random_stylegan2(res: int = 256) -> StyleGAN2Generator:
    resolutions = [2**i for i in range(2, res.bit_length())]
    cfg = StyleGAN2Config(
        z_dim=512,
        c_dim=0,
        w_dim=512,
        img_resolution=res,
        img_channels=3,
        channels={r: min(32768 // r, 512) for r in resolutions},
        mapping_layers=8,
        conv_clamp=256,
    )
    g = StyleGAN2Generator(cfg).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return g


def time_engine(worker: InferenceWorker, ref: ModelRef, z_dim: int, batch: int, repeats: int) -> list[float]:
    """Seconds per image for `repeats` requests of `batch` images each (after one warm-up)."""
    worker.render(RenderRequest(ref, seeds_to_z(list(range(batch)), z_dim), psi=0.7))
    out = []
    for r in range(repeats):
        z = seeds_to_z(list(range(r * batch, (r + 1) * batch)), z_dim)
        t0 = time.perf_counter()
        worker.render(RenderRequest(ref, z, psi=0.7))
        out.append((time.perf_counter() - t0) / batch)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "latentwalk-bench-cache")
    args = ap.parse_args()

    worker = InferenceWorker(args.cache_dir, device=args.device, max_batch=64).start()
    # The random StyleGAN2 is registered with the worker directly: no pickle on disk needed.
    sg2_ref = ModelRef(name="random-stylegan2-f-256", zoo="random-stylegan2-f-256")
    worker.register(sg2_ref, LoadedModel(random_stylegan2(256), {"family": "stylegan2"}))
    refs = {sg2_ref.name: sg2_ref}
    for config, base, cmax in (("t", 32768, 512), ("r", 65536, 1024)):
        cfg = design_stylegan3(config=config.upper(), img_resolution=256, channel_base=base, channel_max=cmax)
        ref = ModelRef(name=f"random-stylegan3-{config}-256", zoo=f"random-stylegan3-{config}-256")
        worker.register(ref, LoadedModel(random_stylegan3(cfg), {"family": "stylegan3"}))
        refs[ref.name] = ref

    print(
        f"device: {worker.device} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), torch {torch.__version__}"
    )
    print(f"{'model':28s} {'batch':>5s} {'img/s':>8s} {'s/img p50':>10s} {'s/img min':>10s}")
    cases = [("dcgan-faces", 100), ("procedural", 512), *((name, 512) for name in refs)]
    for name, z_dim in cases:
        ref = refs.get(name) or ModelRef(name=name, zoo=name)
        for batch in (1, 8):
            reps = (
                args.repeats if not (name.startswith("random") and batch == 8) else max(1, args.repeats // 2)
            )
            t = time_engine(worker, ref, z_dim, batch, reps)
            p50 = statistics.median(t)
            print(f"{name:28s} {batch:5d} {1 / p50:8.2f} {p50:10.4f} {min(t):10.4f}")
    worker.stop()


if __name__ == "__main__":
    main()
