"""Generator speed, side by side with NVIDIA's: one table of images/s, latency, FLOPs and precision error.

Builds random-init networks of the real configurations itself (StyleGAN2 config-f and StyleGAN3-T/-R,
at 256 and 1024), so it needs nothing beyond PyTorch and numpy besides latentwalk from source:

    PYTHONPATH=src python benchmarks/bench_speed.py --device cpu                  # SG2-f 256, batch 1
    PYTHONPATH=src python benchmarks/bench_speed.py --device cuda --all           # the GPU table

Where LATENTWALK_NVIDIA_SRC points at a checkout of NVIDIA's stylegan3 repository (never committed;
LATENTWALK_NVIDIA_DEPS may add a folder with scipy for its StyleGAN3 filter design), NVIDIA's own
generator is built with the same hyper-parameters, given the same weights (our state dict loads into
it by name: what a pickle of that network holds), and timed interleaved with ours in the same process:
one call of each in turn, so that a noisy machine slows both alike. The ratio column is ours / NVIDIA
in images/s. The error columns compare each row's pixels with our fp32 reference path on the same
latents (max and mean grey levels, PSNR in dB); NVIDIA's row compares NVIDIA with our fp32.

FLOPs per image come from torch.utils.flop_counter (convolutions and matmuls) on one image of our
reference path; achieved GFLOP/s = FLOPs x images/s; "peak" is the device's dense peak for the
row's precision from a small table, or --peak-tflops. Never fails on time: it prints figures.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from latentwalk.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from latentwalk.models.stylegan3_design import design_stylegan3, random_stylegan3
from latentwalk.render.acceleration import accelerate, cpu_has_bf16

# Dense peak TFLOP/s per (device name fragment, precision). CPU: per core, from AVX-512 (2 FMA units,
# 16 fp32 lanes: 64 FLOP/cycle) and AMX for bf16 (1024 FLOP/cycle), at the clock read from the OS.
GPU_PEAKS = {
    "H100": {"fp32": 67.0, "tf32": 494.0, "bf16": 989.0, "fp16": 989.0},
    "H200": {"fp32": 67.0, "tf32": 494.0, "bf16": 989.0, "fp16": 989.0},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0},
    "4090": {"fp32": 82.6, "tf32": 82.6, "bf16": 165.0, "fp16": 165.0},
}


@dataclass(frozen=True)
class Case:
    name: str
    family: str  # "sg2" | "sg3-t" | "sg3-r"
    res: int


CASES = {
    c.name: c
    for c in (
        Case("sg2-f-256", "sg2", 256),
        Case("sg2-f-1024", "sg2", 1024),
        Case("sg3-t-256", "sg3-t", 256),
        Case("sg3-t-1024", "sg3-t", 1024),
        Case("sg3-r-256", "sg3-r", 256),
        Case("sg3-r-1024", "sg3-r", 1024),
    )
}


def build_ours(case: Case) -> torch.nn.Module:
    if case.family == "sg2":  # config-f as stylegan3's train.py --cfg=stylegan2 builds it
        resolutions = [2**i for i in range(2, case.res.bit_length())]
        cfg = StyleGAN2Config(
            z_dim=512,
            c_dim=0,
            w_dim=512,
            img_resolution=case.res,
            img_channels=3,
            channels={r: min(32768 // r, 512) for r in resolutions},
            mapping_layers=8,
            conv_clamp=256,
        )
        g = StyleGAN2Generator(cfg).eval().requires_grad_(False)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, p in g.named_parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * (0.1 if "torgb.weight" in name else 1.0))
            for name, b in g.named_buffers():
                if "noise_const" in name or "w_avg" in name:
                    b.copy_(torch.randn(b.shape, generator=gen))
        return g
    base, cmax = (32768, 512) if case.family == "sg3-t" else (65536, 1024)
    cfg = design_stylegan3(
        config=case.family[-1].upper(), img_resolution=case.res, channel_base=base, channel_max=cmax
    )
    return random_stylegan3(cfg)


def build_nvidia(case: Case, ours: torch.nn.Module, src: str) -> torch.nn.Module:
    """NVIDIA's generator with the same hyper-parameters, holding our weights (loaded by name)."""
    if src not in sys.path:
        sys.path.insert(0, src)
    deps = os.environ.get("LATENTWALK_NVIDIA_DEPS")
    if deps and deps not in sys.path:
        sys.path.append(deps)
    for mod in ("requests",):  # imported by dnnlib for downloads we never do
        sys.modules.setdefault(mod, types.ModuleType(mod))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        common: dict[str, Any] = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=case.res, img_channels=3)
        if case.family == "sg2":
            from training import networks_stylegan2 as nw  # type: ignore[import-not-found]

            g = nw.Generator(
                **common,
                mapping_kwargs=dict(num_layers=8),
                channel_base=32768,
                channel_max=512,
                num_fp16_res=4,
                conv_clamp=256,
            )
        else:
            from training import networks_stylegan3 as nw3  # type: ignore[import-not-found]

            r = case.family == "sg3-r"
            g = nw3.Generator(
                **common,
                mapping_kwargs=dict(num_layers=2),
                channel_base=65536 if r else 32768,
                channel_max=1024 if r else 512,
                conv_kernel=1 if r else 3,
                use_radial_filters=r,
                num_fp16_res=4,
                conv_clamp=256,
            )
    theirs = g.state_dict()
    mine = {k: v for k, v in ours.state_dict().items() if k in theirs and v.shape == theirs[k].shape}
    missing = [k for k, _ in g.named_parameters() if k not in mine]
    if missing:
        raise SystemExit(f"NVIDIA's {case.name} has parameters ours lacks: {missing[:5]}")
    g.load_state_dict(mine, strict=False)
    return g.eval().requires_grad_(False)


def count_flops(g: Any, z: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        g.render(z[:1], psi=0.7)
    return int(counter.get_total_flops())


def grey_error(img: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, float]:
    """(max, mean) absolute difference in grey levels after NVIDIA's quantisation, and PSNR in dB."""

    def q(t: torch.Tensor) -> np.ndarray:
        return (t.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy().astype(np.float64)

    d = q(img) - q(ref)
    mse = float((d**2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
    return float(np.abs(d).max()), float(np.abs(d).mean()), psnr


def peak_tflops(device: torch.device, precision: str, override: float | None) -> float | None:
    if override:
        return override
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, table in GPU_PEAKS.items():
            if key in name:
                return table.get(precision)
        return None
    ghz = _cpu_ghz()
    if ghz is None:
        return None
    per_cycle = 1024 if precision == "bf16" and cpu_has_bf16() else 64
    return torch.get_num_threads() * per_cycle * ghz / 1000


def _cpu_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        return max(mhz) / 1000 if mhz else None
    except OSError:
        return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    fns: dict[str, Callable[[], Any]], device: torch.device, repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per call of each function, calling them in turn (one of each per round)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync(device)
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            out[name].append(time.perf_counter() - t0)
    return out


def percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def run_case(case: Case, args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    ours = build_ours(case)
    nv_src = os.environ.get("LATENTWALK_NVIDIA_SRC")
    nvidia = build_nvidia(case, ours, nv_src).to(device) if nv_src and not args.no_nvidia else None
    ours.to(device)
    precisions = args.precision or (["fp32", "fp16"] if device.type == "cuda" else ["fp32", "bf16"])
    rows = []
    for batch in args.batch:
        z = torch.randn(batch, 512, generator=torch.Generator().manual_seed(batch)).to(device)
        gens = {p: accelerate(ours, device, p) for p in precisions}
        if args.reference:
            gens["reference"] = ours  # the plain modules of models/ (what the fast paths are tested against)
        if args.compile and device.type == "cuda":
            for p in precisions:
                gens[f"{p}+graphs"] = accelerate(ours, device, p, compile=True)
        if device.type == "cpu":  # the engine renders CPU batches row by row (batch independence)

            def call(g: Any, z: torch.Tensor = z) -> torch.Tensor:
                return torch.cat([g.render(z[i : i + 1], psi=0.7) for i in range(z.shape[0])])
        else:

            def call(g: Any, z: torch.Tensor = z) -> torch.Tensor:
                return g.render(z, psi=0.7)

        fns: dict[str, Callable[[], Any]] = {p: (lambda g=g: call(g)) for p, g in gens.items()}
        if nvidia is not None:
            fns["nvidia"] = lambda z=z: nvidia(z, None, truncation_psi=0.7, noise_mode="const")
        with torch.inference_mode():
            reference = ours.render(z, psi=0.7)
            errors = {}
            for name, fn in list(fns.items()):
                try:
                    errors[name] = grey_error(fn(), reference)
                except Exception as exc:  # e.g. NVIDIA's "x is too large" at batch 64: a finding
                    print(f"{case.name} {name} batch {batch}: failed: {type(exc).__name__}: {exc}"[:300])
                    del fns[name]
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
            times = time_interleaved(fns, device, args.repeats, args.warmup)
            flops = count_flops(ours, z)
        nv_ips = batch / statistics.median(times["nvidia"]) if "nvidia" in times else None
        for name, ts in times.items():
            p50 = statistics.median(ts)
            ips = batch / p50
            precision = (
                name.split("+")[0] if name != "nvidia" else ("fp16" if device.type == "cuda" else "fp32")
            )
            precision = "fp32" if precision == "reference" else precision
            peak = peak_tflops(device, precision, args.peak_tflops)
            rows.append(
                dict(
                    model=case.name,
                    impl="nvidia" if name == "nvidia" else "latentwalk",
                    precision=name if name != "nvidia" else f"{precision} (theirs)",
                    batch=batch,
                    ips=ips,
                    p50=p50 * 1e3,
                    p99=percentile(ts, 99) * 1e3,
                    gflop=flops / 1e9,
                    gflops=flops * ips / 1e9,
                    peak=(flops * ips / 1e12 / peak) if peak else None,
                    ratio=(ips / nv_ips) if nv_ips and name != "nvidia" else None,
                    err=errors[name],
                )
            )
            print_row(rows[-1])
    return rows


HEADER = (
    f"{'model':11s} {'impl':10s} {'precision':13s} {'batch':>5s} {'img/s':>8s} {'p50 ms':>8s} "
    f"{'p99 ms':>8s} {'GFLOP/img':>9s} {'GFLOP/s':>8s} {'%peak':>6s} {'vs NV':>6s} "
    f"{'err max':>7s} {'mean':>5s} {'PSNR':>5s}"
)


def print_row(r: dict[str, Any]) -> None:
    peak = f"{100 * r['peak']:5.1f}%" if r["peak"] is not None else "     -"
    ratio = f"{r['ratio']:5.2f}x" if r["ratio"] is not None else "     -"
    mx, mean, psnr = r["err"]
    print(
        f"{r['model']:11s} {r['impl']:10s} {r['precision']:13s} {r['batch']:5d} {r['ips']:8.2f} "
        f"{r['p50']:8.1f} {r['p99']:8.1f} {r['gflop']:9.1f} {r['gflops']:8.1f} {peak} {ratio} "
        f"{mx:7.0f} {mean:5.2f} {psnr:5.1f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--models", nargs="+", default=None, choices=sorted(CASES), help="default: sg2-f-256")
    ap.add_argument("--batch", nargs="+", type=int, default=None, help="default: 1 (CPU), 1 16 64 (GPU)")
    ap.add_argument("--precision", nargs="+", choices=["fp32", "bf16", "fp16"], default=None)
    ap.add_argument("--all", action="store_true", help="every model at 256 and 1024")
    ap.add_argument("--compile", action="store_true", help="also rows with torch.compile + CUDA graphs (GPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls per row (default 5 CPU, 30 GPU)")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--no-nvidia", action="store_true", help="skip NVIDIA's generator")
    ap.add_argument("--reference", action="store_true", help="also time our plain reference modules")
    ap.add_argument(
        "--peak-tflops", type=float, default=None, help="the device's peak, for the %%peak column"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    args = ap.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    args.models = list(CASES) if args.all else (args.models or ["sg2-f-256"])
    args.batch = args.batch or ([1, 16, 64] if gpu else [1])
    args.repeats = args.repeats or (30 if gpu else 5)
    args.warmup = args.warmup if args.warmup is not None else (3 if gpu else 1)
    if gpu:  # PyTorch's defaults otherwise (cuDNN may use TF32 for "fp32" convolutions, both sides)
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if gpu else (platform.processor() or platform.machine())
    print(
        f"device: {device} ({name}; {torch.get_num_threads()} threads, bf16 instructions: {cpu_has_bf16()}), "
        f"torch {torch.__version__}; NVIDIA side: {os.environ.get('LATENTWALK_NVIDIA_SRC') or 'none'}; "
        f"{args.repeats} timed calls per row, interleaved; latency = one call of `batch` images"
        + (f"; cuDNN TF32: {torch.backends.cudnn.allow_tf32}" if gpu else "")
    )
    print(HEADER)
    for model in args.models:
        try:
            run_case(CASES[model], args, device)
        except torch.OutOfMemoryError as exc:  # a row that does not fit is a figure too
            print(f"{model}: out of memory ({exc})")
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
