"""NVIDIA side of the StyleGAN2/StyleGAN3 parity test (see test_nvidia_parity.py).

Run this script in a subprocess with PYTHONPATH pointing at a checkout of NVIDIA's stylegan3 (or
stylegan2-ada-pytorch) repository. It never imports latentwalk and nothing NVIDIA wrote is copied
into this repository: the script only drives NVIDIA's own classes and tools from the checkout.

Three sub-commands:

``build``
    Constructs a small random Generator and Discriminator with NVIDIA's classes (stylegan3's
    ``training.networks_stylegan2``, stylegan2-ada-pytorch's ``training.networks``, or, for family
    ``sg3``, stylegan3's ``training.networks_stylegan3`` generator with the StyleGAN2 discriminator as
    stylegan3's train.py pairs them; this needs scipy for NVIDIA's filter design), replaces every
    tensor that NVIDIA initialises to all-zeros or all-ones with random values (so that a loader
    that drops a bias, a gain, ``w_avg`` or ``magnitude_ema`` cannot match by accident; for StyleGAN3
    also the input affine's [1, 0, 0, 0] bias), scales the ToRGB layers so that most pixels are not
    clipped, and writes a training snapshot pickle the way NVIDIA's training loop does. The pickle
    embeds NVIDIA's source: it must stay in a temporary directory and must never be committed.

``convert``
    Converts a TensorFlow pickle (written by latentwalk's tests/tfpickle_writer.py, not by NVIDIA)
    with the checkout's own ``legacy.load_network_pkl`` and saves the result as a PyTorch snapshot.

``render``
    Renders images from a pickle with stylegan3's ``gen_images.py`` (needs PYTHONPATH = the
    stylegan3 checkout; it renders stylegan2-ada-pytorch pickles too, since pickles carry their own
    source). ``gen_images.py`` has no truncation-cutoff option, so jobs with a cutoff call ``G_ema``
    directly with exactly the inputs and quantisation ``gen_images.py`` uses. Jobs may carry
    ``translate`` ("x,y") and ``rotate`` (degrees), passed to ``gen_images.py`` as they are, and
    ``fused_modconv`` (true/false), passed to ``G_ema`` like the cutoff.

Environment shims, applied in this process only (the checkout is never modified):
  * ``requests`` (imported by ``dnnlib.util`` for URL downloads) and ``pkg_resources`` (imported
    by ``torch_utils.ops.conv2d_gradfix`` for ``parse_version``) are replaced by minimal stand-ins
    when they are not installed;
  * ``gen_images.py`` hard-codes ``torch.device('cuda')``; it is given a view of ``torch`` whose
    ``device('cuda')`` is the CPU when CUDA is unavailable. NVIDIA's custom CUDA ops fall back to
    their reference implementations for CPU tensors by themselves.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import re
import sys
import types
import warnings


def install_shims() -> None:
    try:
        import requests  # noqa: F401
    except ImportError:
        sys.modules["requests"] = types.ModuleType("requests")
    try:
        with warnings.catch_warnings():  # setuptools deprecates pkg_resources
            warnings.simplefilter("ignore")
            import pkg_resources  # noqa: F401
    except ImportError:
        mod = types.ModuleType("pkg_resources")

        def parse_version(text: str) -> tuple[int, ...]:
            return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])

        mod.parse_version = parse_version  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = mod


install_shims()

import numpy as np  # noqa: E402
import torch  # noqa: E402

# --------------------------------------------------------------------------------------------------
# build


def _easydicts(value):
    """Nested kwargs are dnnlib.EasyDict instances in NVIDIA's training configs (and so in the pickles)."""
    import dnnlib

    if isinstance(value, dict):
        return dnnlib.EasyDict({k: _easydicts(v) for k, v in value.items()})
    return value


def perturb_trivial_tensors(module: torch.nn.Module, gen: torch.Generator) -> list[str]:
    """Give random values to every floating tensor whose values are all 0 or all 1.

    Scales are chosen in "effective" units: a FullyConnectedLayer bias is multiplied by its
    ``bias_gain`` at run time, so the stored value is divided by it.
    """
    changed = []
    for mod_name, mod in module.named_modules():
        tensors = list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False))
        for name, tensor in tensors:
            if tensor is None or not tensor.is_floating_point() or tensor.numel() == 0:
                continue
            data = tensor.detach()
            if bool(torch.all(data == 0)):
                base = 0.0
            elif bool(torch.all(data == 1)):
                base = 1.0
            else:
                continue
            shape = data.shape
            if name == "noise_strength":
                mag = 0.1 + 0.4 * torch.rand(shape, generator=gen)
                sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
                new = mag * sign
            elif name == "magnitude_ema":  # a mean square: positive, and far enough from 1 to matter
                new = torch.exp(0.6 * torch.randn(shape, generator=gen))
            elif name == "w_avg":
                new = torch.randn(shape, generator=gen)
            elif base == 1.0:
                new = 1.0 + 0.25 * torch.randn(shape, generator=gen)
            else:
                new = 0.2 * torch.randn(shape, generator=gen)
            if name == "bias" and hasattr(mod, "bias_gain"):
                new = new / float(mod.bias_gain)
            with torch.no_grad():
                tensor.copy_(new.to(tensor.dtype))
            changed.append(f"{mod_name}.{name}" if mod_name else name)
    # StyleGAN3's input affine starts at bias [1, 0, 0, 0] (identity rotation, no shift): perturb it too.
    if hasattr(module, "synthesis") and hasattr(module.synthesis, "input"):
        affine = module.synthesis.input.affine
        with torch.no_grad():
            affine.bias.add_(0.3 * torch.randn(affine.bias.shape, generator=gen) / float(affine.bias_gain))
        changed.append("synthesis.input.affine.bias")
    return changed


@torch.no_grad()
def calibrate_torgb(G: torch.nn.Module, gen: torch.Generator, target_std: float = 0.45) -> float:
    """Scale every ToRGB weight and bias so the image std is about ``target_std`` (few clipped pixels).

    The image is linear in the ToRGB weights and biases for all three architectures.
    """
    z = torch.randn([8, G.z_dim], generator=gen)
    c = torch.zeros([8, G.c_dim])
    if G.c_dim:
        c[torch.arange(8), torch.arange(8) % G.c_dim] = 1
    img = G(z, c, noise_mode="const")
    scale = target_std / float(img.std())
    last = G.synthesis.layer_names[-1] if hasattr(G.synthesis, "layer_names") else None  # StyleGAN3 ToRGB
    for mod_name, mod in G.named_modules():
        if mod_name.endswith("torgb") or (last is not None and mod_name == f"synthesis.{last}"):
            mod.weight.mul_(scale)
            mod.bias.mul_(scale)
    return scale


def build(args: argparse.Namespace) -> None:
    import dnnlib

    if args.family == "stylegan3":
        from training import networks_stylegan2 as networks
    elif args.family == "sg3":
        from training import networks_stylegan2 as networks  # the discriminator train.py uses
        from training import networks_stylegan3
    else:
        from training import networks as networks  # stylegan2-ada-pytorch

    torch.manual_seed(args.seed)  # NVIDIA's constructors draw from the global generator
    gen = torch.Generator().manual_seed(args.seed + 1)
    g_kwargs = _easydicts(json.loads(args.g_kwargs))
    common = dict(c_dim=args.c_dim, img_resolution=args.resolution, img_channels=3)

    # Discriminator: a real one of the same repository, sized like the generator.
    syn = g_kwargs.get("synthesis_kwargs", g_kwargs)
    d_kwargs = dnnlib.EasyDict(
        block_kwargs=dnnlib.EasyDict(),
        mapping_kwargs=dnnlib.EasyDict(),
        epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=4),
        channel_base=syn.get("channel_base", 32768),
        channel_max=syn.get("channel_max", 512),
        num_fp16_res=syn.get("num_fp16_res", 0),
        conv_clamp=syn.get("conv_clamp", None),
    )

    generator_class = networks_stylegan3.Generator if args.family == "sg3" else networks.Generator
    G = generator_class(**g_kwargs, **common).train().requires_grad_(False)
    D = networks.Discriminator(**d_kwargs, **common).train().requires_grad_(False)
    changed = perturb_trivial_tensors(G, gen)
    perturb_trivial_tensors(D, gen)
    scale = calibrate_torgb(G.eval(), gen)
    G.train()
    G_ema = copy.deepcopy(G).eval()
    # The training copy G must differ from G_ema: images are made with G_ema.
    with torch.no_grad():
        for tensor in list(G.parameters()) + [b for b in G.buffers() if b.is_floating_point()]:
            tensor.mul_((1 + 0.5 * torch.randn(tensor.shape, generator=gen)).abs())

    training_set_kwargs = dict(
        class_name="training.dataset.ImageFolderDataset",
        path="/data/latentwalk-parity.zip",
        use_labels=bool(args.c_dim),
        max_size=1000,
        xflip=False,
        resolution=args.resolution,
        random_seed=0,
    )
    # Snapshot exactly as the respective training/training_loop.py builds it.
    augment_pipe = None  # training.augment needs scipy; NVIDIA writes None when augmentation is off
    if args.family in ("stylegan3", "sg3"):
        snapshot_data = dict(
            G=G, D=D, G_ema=G_ema, augment_pipe=augment_pipe, training_set_kwargs=dict(training_set_kwargs)
        )
        for key, value in snapshot_data.items():
            if isinstance(value, torch.nn.Module):
                value = copy.deepcopy(value).eval().requires_grad_(False)
                snapshot_data[key] = value.cpu()
            del value
    else:
        snapshot_data = dict(training_set_kwargs=dict(training_set_kwargs))
        for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment_pipe)]:
            if module is not None:
                module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
            snapshot_data[name] = module
            del module
    with open(args.pkl, "wb") as f:
        pickle.dump(snapshot_data, f)
    info = dict(pkl=args.pkl, family=args.family, num_ws=G_ema.num_ws, perturbed=len(changed), scale=scale)
    print(json.dumps(info))


def convert(args: argparse.Namespace) -> None:
    """A TensorFlow pickle -> NVIDIA's own legacy.py conversion -> a PyTorch snapshot pickle."""
    import legacy

    with open(args.tf_pkl, "rb") as f:
        data = legacy.load_network_pkl(f)
    snapshot = {key: data[key] for key in ("G", "D", "G_ema", "training_set_kwargs", "augment_pipe")}
    with open(args.pkl, "wb") as f:
        pickle.dump(snapshot, f)
    print(json.dumps(dict(pkl=args.pkl, num_ws=data["G_ema"].num_ws)))


# --------------------------------------------------------------------------------------------------
# render


class _CpuTorch(types.ModuleType):
    """``torch`` as gen_images.py sees it: ``torch.device('cuda')`` means the CPU without CUDA."""

    def __init__(self) -> None:
        super().__init__("torch")

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def device(*args, **kwargs):
        if args and str(args[0]).startswith("cuda") and not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device(*args, **kwargs)


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def render_direct(pkl: str, job: dict) -> None:
    """gen_images.py's loop, with ``truncation_cutoff`` (and ``fused_modconv``) passed to G (gen_images.py
    lacks those options)."""
    import dnnlib
    import gen_images
    import legacy
    import PIL.Image

    device = _device()
    with dnnlib.util.open_url(pkl) as f:
        G = legacy.load_network_pkl(f)["G_ema"].to(device)
    os.makedirs(job["outdir"], exist_ok=True)
    label = torch.zeros([1, G.c_dim], device=device)
    if G.c_dim != 0:
        label[:, job["class"]] = 1
    for seed in job["seeds"]:
        z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).to(device)
        if hasattr(G.synthesis, "input"):  # as gen_images.py: the inverse transform, identity by default
            tx, ty = (float(v) for v in str(job.get("translate") or "0,0").split(","))
            m = np.linalg.inv(gen_images.make_transform((tx, ty), float(job.get("rotate") or 0)))
            G.synthesis.input.transform.copy_(torch.from_numpy(m))
        extra = {} if job.get("fused_modconv") is None else {"fused_modconv": bool(job["fused_modconv"])}
        img = G(
            z,
            label,
            truncation_psi=job["trunc"],
            truncation_cutoff=job["cutoff"],
            noise_mode=job["noise_mode"],
            **extra,
        )
        img = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
        PIL.Image.fromarray(img[0].cpu().numpy(), "RGB").save(f"{job['outdir']}/seed{seed:04d}.png")


def render(args: argparse.Namespace) -> None:
    import gen_images

    gen_images.torch = _CpuTorch()
    for job in json.loads(args.jobs):
        if job.get("cutoff") is not None or job.get("fused_modconv") is not None:
            render_direct(args.pkl, job)
            continue
        argv = [
            f"--network={args.pkl}",
            "--seeds=" + ",".join(str(s) for s in job["seeds"]),
            f"--trunc={job['trunc']}",
            f"--noise-mode={job['noise_mode']}",
            f"--outdir={job['outdir']}",
        ]
        if job.get("class") is not None:
            argv.append(f"--class={job['class']}")
        if job.get("translate") is not None:
            argv.append(f"--translate={job['translate']}")
        if job.get("rotate") is not None:
            argv.append(f"--rotate={job['rotate']}")
        gen_images.generate_images.main(args=argv, standalone_mode=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="make a random NVIDIA StyleGAN2/3 training snapshot pickle")
    b.add_argument("--family", choices=["stylegan3", "ada", "sg3"], required=True)
    b.add_argument("--g-kwargs", required=True, help="JSON: Generator kwargs besides c_dim/resolution")
    b.add_argument("--c-dim", type=int, default=0)
    b.add_argument("--resolution", type=int, default=32)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--pkl", required=True)
    r = sub.add_parser("render", help="render a pickle with stylegan3's gen_images.py")
    r.add_argument("--pkl", required=True)
    r.add_argument(
        "--jobs",
        required=True,
        help='JSON list of {"seeds", "trunc", "noise_mode", "class", "cutoff", "translate", "rotate", '
        '"outdir"}',
    )
    c = sub.add_parser("convert", help="convert a TensorFlow pickle with NVIDIA's legacy.py")
    c.add_argument("--tf-pkl", required=True)
    c.add_argument("--pkl", required=True)
    args = parser.parse_args()
    with torch.no_grad():
        {"build": build, "render": render, "convert": convert}[args.cmd](args)


if __name__ == "__main__":
    main()
