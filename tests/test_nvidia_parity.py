"""Acceptance test: latentwalk's clean-room StyleGAN2/3 loaders render like NVIDIA's gen_images.py.

For each configuration, ``nvidia_side.py`` (run in a subprocess against an NVIDIA checkout kept
outside this repository) builds a small random generator with NVIDIA's own classes (StyleGAN2, and
StyleGAN3 configs T and R), pickles it like NVIDIA's training loop and renders it with NVIDIA's
``gen_images.py``. Then ``latentwalk generate`` renders the same pickle with the same seeds,
truncation, class, noise mode, translation and rotation, and every PNG must match within 3 grey
levels anywhere and 0.5 on average.

Enable with ``LATENTWALK_NVIDIA_SRC=/path/to/stylegan3`` (NVIDIA's stylegan3 repository) and
optionally ``LATENTWALK_NVIDIA_ADA_SRC=/path/to/stylegan2-ada-pytorch`` for pickles built with that
repository's ``training/networks.py``. NVIDIA's StyleGAN3 classes design their filters with scipy:
if this Python lacks it, ``LATENTWALK_NVIDIA_DEPS`` adds a folder to the NVIDIA side's path (e.g.
one filled by ``pip install --target DIR scipy``). Run ``pytest -s`` to see the table of differences.

The pickles embed NVIDIA's source code: they are only ever written under pytest's tmp_path.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NVIDIA_SRC = os.environ.get("LATENTWALK_NVIDIA_SRC")
NVIDIA_ADA_SRC = os.environ.get("LATENTWALK_NVIDIA_ADA_SRC")
NVIDIA_DEPS = os.environ.get("LATENTWALK_NVIDIA_DEPS")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NVIDIA_SIDE = HERE / "nvidia_side.py"

MAX_ABS_DIFF = 3  # grey levels, anywhere in any image
MAX_MEAN_DIFF = 0.5  # grey levels, averaged over one image
MIN_PIXEL_STD = 15.0  # grey levels: guards against passing on blank or flat images
MIN_SEED_DIFF = 20  # grey levels: different seeds must give visibly different images

pytestmark = [
    pytest.mark.nvidia,
    pytest.mark.skipif(
        not NVIDIA_SRC,
        reason="set LATENTWALK_NVIDIA_SRC to a checkout of NVIDIA's stylegan3 repository (kept outside "
        "this repo) to run the NVIDIA parity test",
    ),
]


@dataclass(frozen=True)
class Job:
    seeds: tuple[int, ...]
    trunc: float
    noise_mode: str
    class_idx: int | None = None
    cutoff: int | None = None
    translate: str | None = None  # "x,y", StyleGAN3 only
    rotate: float | None = None  # degrees, StyleGAN3 only
    fused_modconv: bool | None = None  # NVIDIA's modulated-conv implementation (None: its default)

    @property
    def id(self) -> str:
        parts = [f"psi{self.trunc:g}", self.noise_mode]
        if self.class_idx is not None:
            parts.append(f"class{self.class_idx}")
        if self.cutoff is not None:
            parts.append(f"cutoff{self.cutoff}")
        if self.translate is not None:
            parts.append(f"t{self.translate}")
        if self.rotate is not None:
            parts.append(f"r{self.rotate:g}")
        if self.fused_modconv is not None:
            parts.append("fused" if self.fused_modconv else "unfused")
        return "-".join(parts)

    @property
    def comparable(self) -> bool:
        return self.noise_mode != "random"  # random noise differs run to run: only shapes are checked


@dataclass(frozen=True)
class Config:
    name: str
    family: str  # "stylegan3": stylegan3's networks_stylegan2; "ada": stylegan2-ada-pytorch's networks;
    # "sg3": stylegan3's networks_stylegan3 (StyleGAN3 configs T and R); "tf": a TensorFlow StyleGAN2
    # pickle from tests/tfpickle_writer.py (g_kwargs are its stylegan2() arguments), converted by
    # stylegan2-ada-pytorch's legacy.py for NVIDIA's side and read directly by latentwalk
    g_kwargs: dict = field(hash=False)  # Generator kwargs besides c_dim / img_resolution / img_channels
    jobs: tuple[Job, ...]
    c_dim: int = 0
    resolution: int = 32
    seed: int = 0


def _sg3(**kwargs) -> dict:
    # Same kwargs (and order) as stylegan3's train.py --cfg=stylegan2, minus the dataset-derived ones.
    return dict(kwargs, fused_modconv_default="inference_only")


CONFIGS = [
    Config(
        "sg3-uncond-map2",
        "stylegan3",
        _sg3(z_dim=64, w_dim=96, mapping_kwargs=dict(num_layers=2), channel_base=1024, channel_max=64),
        (
            Job((0, 1, 2), 1.0, "const"),
            Job((3, 4), 0.7, "none"),
            Job((5, 6), 0.5, "const"),
            Job((7,), 1.0, "random"),
        ),
        seed=1,
    ),
    Config(
        "sg3-64px-512d-fp16-clamp256",
        "stylegan3",
        _sg3(
            z_dim=512,
            w_dim=512,
            mapping_kwargs=dict(num_layers=8),
            channel_base=2048,
            channel_max=64,
            num_fp16_res=2,
            conv_clamp=256,
        ),
        (Job((0, 1), 1.0, "const"), Job((2,), 0.7, "none"), Job((3,), 0.5, "const")),
        resolution=64,
        seed=2,
    ),
    Config(
        "sg3-cond-c3",
        "stylegan3",
        _sg3(z_dim=32, w_dim=64, mapping_kwargs=dict(num_layers=4), channel_base=1024, channel_max=64),
        (
            Job((0, 1, 2), 1.0, "const", class_idx=1),
            Job((3, 4), 0.7, "none", class_idx=1),
            Job((5,), 0.5, "const", class_idx=0),
            Job((6,), 0.5, "const", class_idx=2),
        ),
        c_dim=3,
        seed=3,
    ),
    Config(
        "sg3-mapping-options",
        "stylegan3",
        _sg3(
            z_dim=40,
            w_dim=72,
            mapping_kwargs=dict(num_layers=5, layer_features=48, embed_features=20, lr_multiplier=0.05),
            channel_base=512,
            channel_max=32,
        ),
        (Job((0, 1), 1.0, "const", class_idx=3), Job((2, 3), 0.7, "none", class_idx=1)),
        c_dim=4,
        seed=4,
    ),
    Config(
        "sg3-resnet",
        "stylegan3",
        _sg3(
            z_dim=64,
            w_dim=64,
            mapping_kwargs=dict(num_layers=2),
            channel_base=1024,
            channel_max=64,
            num_fp16_res=2,
            conv_clamp=256,
            architecture="resnet",
        ),
        (Job((0, 1), 1.0, "const"), Job((2, 3), 0.5, "none")),
        seed=5,
    ),
    Config(
        "sg3-orig",
        "stylegan3",
        _sg3(
            z_dim=64,
            w_dim=64,
            mapping_kwargs=dict(num_layers=3),
            channel_base=1024,
            channel_max=64,
            architecture="orig",
        ),
        (Job((0, 1), 1.0, "const"), Job((2, 3), 0.7, "none")),
        seed=6,
    ),
    Config(
        "sg3-trunc-cutoff",
        "stylegan3",
        _sg3(z_dim=64, w_dim=64, mapping_kwargs=dict(num_layers=3), channel_base=1024, channel_max=64),
        (
            Job((0, 1), 0.5, "const"),
            Job((0, 1), 0.5, "const", cutoff=4),
            Job((2, 3), 0.7, "none", cutoff=2),
        ),
        seed=7,
    ),
    Config(
        # conv_clamp small enough that the clamp really bites (256 almost never does).
        "sg3-clamp-active",
        "stylegan3",
        _sg3(
            z_dim=64,
            w_dim=64,
            mapping_kwargs=dict(num_layers=2),
            channel_base=1024,
            channel_max=64,
            num_fp16_res=0,
            conv_clamp=1,
        ),
        (Job((0, 1), 1.0, "const"), Job((2, 3), 0.7, "none")),
        seed=8,
    ),
    # stylegan2-ada-pytorch's SynthesisBlock does not force fp32 on CPU (stylegan3's does): NVIDIA's
    # reference runs the num_fp16_res blocks in real float16 here, which moves pixels by up to 1 level.
    Config(
        "ada-uncond-fp16-clamp256",
        "ada",
        dict(
            z_dim=64,
            w_dim=96,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=1024, channel_max=64, num_fp16_res=2, conv_clamp=256),
        ),
        (Job((0, 1, 2), 1.0, "const"), Job((3, 4), 0.7, "none"), Job((5,), 0.5, "const")),
        seed=9,
    ),
    Config(
        "ada-cond-resnet-mapping-options",
        "ada",
        dict(
            z_dim=48,
            w_dim=64,
            mapping_kwargs=dict(num_layers=3, layer_features=40, lr_multiplier=0.02),
            synthesis_kwargs=dict(
                channel_base=1024, channel_max=64, num_fp16_res=2, conv_clamp=256, architecture="resnet"
            ),
        ),
        (Job((0, 1), 0.7, "const", class_idx=1), Job((2, 3), 1.0, "none", class_idx=0)),
        c_dim=2,
        seed=10,
    ),
    Config(
        "ada-orig-cutoff",
        "ada",
        dict(
            z_dim=64,
            w_dim=64,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=1024, channel_max=64, architecture="orig"),
        ),
        (Job((0, 1), 1.0, "const"), Job((2, 3), 0.5, "const", cutoff=3)),
        seed=11,
    ),
]


def _sg3t(**kwargs) -> dict:
    # stylegan3's train.py --cfg=stylegan3-t, minus the dataset-derived kwargs; smaller and fewer layers.
    return dict(dict(mapping_kwargs=dict(num_layers=2), magnitude_ema_beta=0.5 ** (32 / 20000)), **kwargs)


def _sg3r(**kwargs) -> dict:
    # --cfg=stylegan3-r: 1x1 convolutions and radial down filters.
    return _sg3t(conv_kernel=1, use_radial_filters=True, **kwargs)


CONFIGS += [
    Config(
        "stylegan3t-32px-6layers",
        "sg3",
        _sg3t(z_dim=32, w_dim=32, channel_base=512, channel_max=16, num_layers=6),
        (
            Job((0, 1, 2), 1.0, "const"),
            Job((3, 4), 0.7, "const", translate="0.25,-0.4"),
            Job((5, 6), 0.5, "const", rotate=30.0),
            Job((7, 8), 1.0, "const", translate="-0.3,0.15", rotate=-45.0),
            Job((9, 10), 0.6, "const", cutoff=3, translate="0.1,0.2", rotate=10.0),
        ),
        seed=21,
    ),
    Config(
        "stylegan3t-16px-14layers-cond",
        "sg3",
        _sg3t(z_dim=24, w_dim=40, channel_base=256, channel_max=12),
        (
            Job((0, 1, 2), 1.0, "const", class_idx=1),
            Job((3, 4), 0.7, "const", class_idx=2, rotate=90.0),
            Job((5,), 0.5, "const", class_idx=0, translate="1.5,-0.75"),
        ),
        c_dim=3,
        resolution=16,
        seed=22,
    ),
    Config(
        # conv_clamp small enough that the clamp bites, output_scale and mapping depth changed.
        "stylegan3t-64px-clamp-map4",
        "sg3",
        _sg3t(
            z_dim=64,
            w_dim=48,
            channel_base=1024,
            channel_max=16,
            num_layers=8,
            conv_clamp=2,
            output_scale=0.5,
            mapping_kwargs=dict(num_layers=4, lr_multiplier=0.05),
        ),
        (Job((0, 1), 1.0, "const"), Job((2, 3), 0.7, "const", translate="0.2,0.2", rotate=15.0)),
        resolution=64,
        seed=33,
    ),
    Config(
        "stylegan3r-32px-6layers",
        "sg3",
        _sg3r(z_dim=32, w_dim=32, channel_base=1024, channel_max=24, num_layers=6),
        (
            Job((0, 1, 2), 1.0, "const"),
            Job((9, 10), 0.7, "const", rotate=45.0),
            Job((5, 6), 0.5, "const", translate="-0.5,0.25", rotate=-20.0),
            Job((7, 8), 0.6, "const", cutoff=2),
        ),
        seed=24,
    ),
    Config(
        "stylegan3r-16px-cond",
        "sg3",
        _sg3r(z_dim=16, w_dim=24, channel_base=512, channel_max=16, num_layers=8),
        (
            Job((0, 1), 1.0, "const", class_idx=3),
            Job((2, 3), 0.7, "const", class_idx=0, translate="0.3,0.3", rotate=180.0),
        ),
        c_dim=4,
        resolution=16,
        seed=25,
    ),
]

# TensorFlow StyleGAN2 pickles: psi, cutoff, const and no noise, skip and resnet, fused and unfused
# modulated convolutions on NVIDIA's side (the TF variable values are random, ToRGB scaled down).
_TF_JOBS = (
    Job((0, 1, 2), 1.0, "const"),
    Job((3, 4), 0.7, "none"),
    Job((5, 6), 0.5, "const", cutoff=3),
    Job((7, 8), 0.7, "const", fused_modconv=False),
    Job((7, 8), 0.7, "const", fused_modconv=True),
    Job((9,), 1.0, "random"),
)
CONFIGS += [
    Config(
        "tf-stylegan2-skip-32px",
        "tf",
        dict(z_dim=32, w_dim=48, mapping_layers=3, fmap_base=256, fmap_max=64, rgb_scale=0.3),
        _TF_JOBS,
        seed=31,
    ),
    Config(
        "tf-ada-resnet-cond-32px",
        "tf",
        dict(
            ada=True,
            architecture="resnet",
            z_dim=24,
            w_dim=32,
            mapping_layers=2,
            fmap_base=256,
            fmap_max=32,
            rgb_scale=1.0,
        ),  # fmt: skip
        tuple(
            Job(j.seeds, j.trunc, j.noise_mode, 1, j.cutoff, fused_modconv=j.fused_modconv) for j in _TF_JOBS
        ),
        c_dim=3,
        seed=32,
    ),
    Config(
        "tf-stylegan2-skip-64px-nonoise",
        "tf",
        dict(
            z_dim=16, w_dim=16, mapping_layers=4, fmap_base=512, fmap_max=32, use_noise=False, rgb_scale=0.2
        ),
        (Job((0, 1), 0.6, "const"), Job((2, 3), 1.0, "const", fused_modconv=False)),
        resolution=64,
        seed=33,
    ),
]

CASES = [pytest.param(cfg, job, id=f"{cfg.name}/{job.id}") for cfg in CONFIGS for job in cfg.jobs]
ROWS: list[tuple[str, str, str, str]] = []


def _nvidia_env(src: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = src + (os.pathsep + NVIDIA_DEPS if NVIDIA_DEPS else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the checkout exactly as it is
    env["CUDA_VISIBLE_DEVICES"] = ""  # the reference is NVIDIA's CPU path (fp32 for stylegan3's classes)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n"
            f"{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module")
def nvidia_renders(tmp_path_factory):
    """Builds each configuration's pickle and NVIDIA's PNGs once: name -> (pickle, {job: outdir})."""
    cache: dict[str, tuple[Path, dict[Job, Path]]] = {}

    def get(cfg: Config) -> tuple[Path, dict[Job, Path]]:
        if cfg.name in cache:
            return cache[cfg.name]
        build_src = NVIDIA_SRC if cfg.family in ("stylegan3", "sg3") else NVIDIA_ADA_SRC
        assert NVIDIA_SRC and build_src
        root = tmp_path_factory.mktemp(cfg.name)
        pkl = root / "network-snapshot.pkl"
        if cfg.family == "tf":
            _write_tf_pickle(cfg, root / "network-snapshot-tf.pkl")
            convert = [
                sys.executable,
                str(NVIDIA_SIDE),
                "convert",
                "--tf-pkl",
                str(root / "network-snapshot-tf.pkl"),
            ]
            _run([*convert, "--pkl", str(pkl)], _nvidia_env(build_src), root)
        build = [
            sys.executable,
            str(NVIDIA_SIDE),
            "build",
            "--family",
            cfg.family,
            "--g-kwargs",
            json.dumps(cfg.g_kwargs),
            "--c-dim",
            str(cfg.c_dim),
            "--resolution",
            str(cfg.resolution),
            "--seed",
            str(cfg.seed),
            "--pkl",
            str(pkl),
        ]
        if cfg.family != "tf":
            _run(build, _nvidia_env(build_src), root)
        outdirs = {job: root / f"nvidia-{i}-{job.id}" for i, job in enumerate(cfg.jobs)}
        jobs = [
            dict(
                seeds=list(job.seeds),
                trunc=job.trunc,
                noise_mode=job.noise_mode,
                cutoff=job.cutoff,
                translate=job.translate,
                rotate=job.rotate,
                fused_modconv=job.fused_modconv,
                outdir=str(outdirs[job]),
                **{"class": job.class_idx},
            )
            for job in cfg.jobs
        ]
        render = [sys.executable, str(NVIDIA_SIDE), "render", "--pkl", str(pkl), "--jobs", json.dumps(jobs)]
        _run(render, _nvidia_env(NVIDIA_SRC), root)
        cache[cfg.name] = (pkl, outdirs)
        return cache[cfg.name]

    yield get
    if ROWS:
        header = ("configuration/job", "seeds", "max|diff|", "mean|diff|")
        widths = [max(len(r[i]) for r in [header, *ROWS]) for i in range(4)]
        print(f"\n\nNVIDIA parity (grey levels; limits: max <= {MAX_ABS_DIFF}, mean <= {MAX_MEAN_DIFF})")
        for row in [header, *ROWS]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def _write_tf_pickle(cfg: Config, path: Path) -> None:
    """The TensorFlow pickle of a "tf" configuration, from our own writer (no NVIDIA code)."""
    import tfpickle_writer  # tests/ is on sys.path under pytest

    nets = tfpickle_writer.stylegan2(cfg.seed, resolution=cfg.resolution, c_dim=cfg.c_dim, **cfg.g_kwargs)
    path.write_bytes(tfpickle_writer.dumps(nets, protocol=3))


def _latentwalk_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src")  # never NVIDIA's checkout
    return env


@functools.cache
def _generate_help() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "latentwalk", "generate", "--help"],
        env=_latentwalk_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout + proc.stderr


def _load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB", f"{path}: mode {im.mode}"
        return np.asarray(im).astype(np.int16)


@pytest.mark.parametrize(("cfg", "job"), CASES)
def test_generate_matches_nvidia(cfg: Config, job: Job, nvidia_renders, tmp_path):
    if cfg.family in ("ada", "tf") and not NVIDIA_ADA_SRC:
        pytest.skip("set LATENTWALK_NVIDIA_ADA_SRC to a checkout of stylegan2-ada-pytorch for ada pickles")
    if job.cutoff is not None and "--trunc-cutoff" not in _generate_help():
        pytest.skip("latentwalk generate has no --trunc-cutoff option")
    if (job.translate or job.rotate) and "--rotate" not in _generate_help():
        pytest.skip("latentwalk generate has no --translate/--rotate options")

    pkl, outdirs = nvidia_renders(cfg)
    if cfg.family == "tf":  # NVIDIA renders its conversion; latentwalk reads the TensorFlow pickle itself
        pkl = pkl.with_name("network-snapshot-tf.pkl")
    theirs_dir = outdirs[job]
    ours_dir = tmp_path / "ours"
    cmd = [
        sys.executable,
        "-m",
        "latentwalk",
        "generate",
        "--network",
        str(pkl),
        "--seeds",
        ",".join(str(s) for s in job.seeds),
        "--trunc",
        f"{job.trunc:g}",
        "--noise-mode",
        job.noise_mode,
        "--outdir",
        str(ours_dir),
    ]
    if job.class_idx is not None:
        cmd += ["--class", str(job.class_idx)]
    if job.cutoff is not None:
        cmd += ["--trunc-cutoff", str(job.cutoff)]
    if job.translate is not None:
        cmd += [f"--translate={job.translate}"]
    if job.rotate is not None:
        cmd += ["--rotate", f"{job.rotate:g}"]
    _run(cmd, _latentwalk_env(), tmp_path)

    names = [f"seed{seed:04d}.png" for seed in job.seeds]
    theirs = [_load(theirs_dir / n) for n in names]
    ours = [_load(ours_dir / n) for n in names]  # raises if latentwalk did not write the file
    for name, a, b in zip(names, theirs, ours, strict=True):
        assert a.shape == (cfg.resolution, cfg.resolution, 3), f"NVIDIA {name}: {a.shape}"
        assert b.shape == a.shape, f"{name}: latentwalk {b.shape} vs NVIDIA {a.shape}"
        assert a.std() > MIN_PIXEL_STD, f"NVIDIA {name} is nearly flat (std {a.std():.1f})"
        assert b.std() > MIN_PIXEL_STD, f"latentwalk {name} is nearly flat (std {b.std():.1f})"
    for i in range(len(theirs)):
        for j in range(i + 1, len(theirs)):
            spread = int(np.abs(theirs[i] - theirs[j]).max())
            assert spread > MIN_SEED_DIFF, f"NVIDIA seeds {names[i]} and {names[j]} look alike"

    label = f"{cfg.name}/{job.id}"
    seeds = ",".join(str(s) for s in job.seeds)
    if not job.comparable:
        ROWS.append((label, seeds, "n/a", "n/a (random noise: shape only)"))
        print(f"\n{label}: seeds {seeds}: random noise, shapes and contrast checked only")
        return
    diffs = [np.abs(a - b) for a, b in zip(theirs, ours, strict=True)]
    max_diff = max(int(d.max()) for d in diffs)
    worst_mean = max(float(d.mean()) for d in diffs)
    ROWS.append((label, seeds, str(max_diff), f"{worst_mean:.4f}"))
    print(f"\n{label}: seeds {seeds}: max |diff| {max_diff}, worst per-image mean |diff| {worst_mean:.4f}")
    for name, d in zip(names, diffs, strict=True):
        assert d.max() <= MAX_ABS_DIFF and d.mean() <= MAX_MEAN_DIFF, (
            f"{label} {name}: max |diff| {int(d.max())} (limit {MAX_ABS_DIFF}), mean |diff| "
            f"{d.mean():.3f} (limit {MAX_MEAN_DIFF}); {int((d > MAX_ABS_DIFF).sum())} of {d.size} values "
            f"over the limit"
        )
