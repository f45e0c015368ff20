"""NVIDIA PyTorch network pickles (stylegan2-ada-pytorch, stylegan3 repo) -> our StyleGAN2/3 modules.

The pickle is read by `safe_pickle` into inert `PersistentObject` records. From `G_ema` we read
the architecture (stored attributes and tensor shapes, never the embedded source), build our own
`StyleGAN2Generator` (or, for `networks_stylegan3` generators, `StyleGAN3Generator` through
`stylegan3_pkl`) and load the weights by name with shape checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.safe_pickle import PersistentObject, load_restricted
from latentwalk.backends.tf_pickle import is_tf_pickle, load_tf_pickle
from latentwalk.errors import CorruptModelFile, UnsupportedFormat
from latentwalk.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator

MAX_RESOLUTION = 8192


def looks_like_pickle(head: bytes) -> bool:
    """Pickles of protocol 2+ begin with PROTO (0x80) and the protocol number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def load_network_pickle(data: bytes, name: str) -> LoadedModel:
    """Load the generator (`G_ema`, or `Gs` of a TensorFlow pickle) of an NVIDIA network pickle.

    Raises:
        UnsafeModelFile: the pickle asks for a global outside the allowlist.
        UnsupportedFormat: an unknown architecture (TensorFlow pickles go to `tf_pickle`).
        CorruptModelFile: truncated, missing pieces, wrong shapes or non-finite weights.
    """
    top = load_restricted(data)
    if is_tf_pickle(top):
        return load_tf_pickle(top, name)
    if not isinstance(top, dict) or "G_ema" not in top:
        found = sorted(top)[:8] if isinstance(top, dict) else type(top).__name__
        raise UnsupportedFormat(
            f"{name} is a pickle but not an NVIDIA network snapshot (expected a dict with 'G_ema', "
            f"found {found})"
        )
    g = top["G_ema"]
    if not isinstance(g, PersistentObject) or g.class_name != "Generator":
        raise UnsupportedFormat(f"{name}: 'G_ema' is not a persistent Generator object")
    synthesis = g.module("synthesis")
    mapping = g.module("mapping")
    if synthesis is None or mapping is None:
        raise CorruptModelFile(f"{name}: the generator has no 'synthesis' or 'mapping' sub-network")
    if synthesis.module("input") is not None or "layer_names" in synthesis.state:
        from latentwalk.backends.stylegan3_pkl import load_stylegan3  # imports this module's helpers

        return load_stylegan3(g, synthesis, mapping, top, name)
    if "block_resolutions" not in synthesis.state:
        raise UnsupportedFormat(
            f"{name}: unknown generator architecture (synthesis class {synthesis.class_name!r} has no "
            "block_resolutions); latentwalk loads StyleGAN2 pickles"
        )
    cfg, repo = _stylegan2_config(g, synthesis, mapping, name)
    model = StyleGAN2Generator(cfg)
    load_weights(model, g.state_dict(), name)
    model.eval().requires_grad_(False)
    info = {
        "format": "NVIDIA PyTorch pickle",
        "family": "stylegan2",
        "class": f"{repo} Generator",
        "architecture": cfg.architecture,
        "mapping_layers": cfg.mapping_layers,
        "conv_clamp": cfg.conv_clamp,
        "channels": {str(k): v for k, v in cfg.channels.items()},
        "fp16_resolutions": list(cfg.fp16_resolutions),
        "training_set": training_set(top.get("training_set_kwargs")),
    }
    return LoadedModel(generator=model, info=info)


def attr_int(obj: PersistentObject, key: str, name: str) -> int:
    """An integer attribute of a persistent object (numpy integers accepted, bools refused)."""
    value = obj.state.get(key)
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CorruptModelFile(f"{name}: {obj.class_name}.{key} is missing or not an integer")
    return value


def _stylegan2_config(
    g: PersistentObject, synthesis: PersistentObject, mapping: PersistentObject, name: str
) -> tuple[StyleGAN2Config, str]:
    z_dim = attr_int(g, "z_dim", name)
    c_dim = attr_int(g, "c_dim", name)
    w_dim = attr_int(g, "w_dim", name)
    res = attr_int(g, "img_resolution", name)
    img_channels = attr_int(g, "img_channels", name)
    if not (4 <= res <= MAX_RESOLUTION and res & (res - 1) == 0):
        raise CorruptModelFile(f"{name}: img_resolution {res} is not a power of two in 4..{MAX_RESOLUTION}")
    if min(z_dim, w_dim, img_channels) <= 0 or c_dim < 0:
        raise CorruptModelFile(f"{name}: implausible dimensions z_dim={z_dim} w_dim={w_dim} c_dim={c_dim}")

    block_resolutions = [2**i for i in range(2, int(math.log2(res)) + 1)]
    channels: dict[int, int] = {}
    architectures, clamps, noise_flags, fp16 = set(), set(), set(), []
    filt = None
    repo = "stylegan2-ada-pytorch"
    for r in block_resolutions:
        block = synthesis.module(f"b{r}")
        if block is None:
            raise CorruptModelFile(f"{name}: the synthesis network has no block b{r}")
        conv1 = block.module("conv1")
        if conv1 is None or "weight" not in conv1.tensors():
            raise CorruptModelFile(f"{name}: block b{r} has no conv1 layer with weights")
        channels[r] = int(conv1.tensors()["weight"].shape[0])
        architectures.add(block.state.get("architecture", "skip"))
        clamps.add(conv1.state.get("conv_clamp"))
        noise_flags.add(bool(conv1.state.get("use_noise", True)))
        if bool(block.state.get("use_fp16", False)):
            fp16.append(r)
        if "fused_modconv_default" in block.state:
            repo = "stylegan3 (networks_stylegan2)"
        if "resample_filter" in block.tensors():
            filt = block.tensors()["resample_filter"]
        activation = conv1.state.get("activation", "lrelu")
        if activation != "lrelu":
            raise UnsupportedFormat(f"{name}: synthesis activation {activation!r} is not supported")
    if len(architectures) != 1 or len(clamps) != 1 or len(noise_flags) != 1:
        raise UnsupportedFormat(
            f"{name}: blocks differ in architecture/conv_clamp/noise ({architectures}, {clamps}); "
            "latentwalk expects one setting for the whole network"
        )
    architecture = architectures.pop()
    if architecture not in ("orig", "skip", "resnet"):
        raise UnsupportedFormat(f"{name}: synthesis architecture {architecture!r} is not supported")
    conv_clamp = clamps.pop()
    if conv_clamp is not None:
        conv_clamp = float(conv_clamp)

    num_layers = attr_int(mapping, "num_layers", name)
    fcs = [mapping.module(f"fc{i}") for i in range(num_layers)]
    if any(fc is None or "weight" not in fc.tensors() for fc in fcs) or num_layers < 1:
        raise CorruptModelFile(f"{name}: the mapping network lacks some of its {num_layers} fc layers")
    fc0 = fcs[0]
    assert fc0 is not None
    lr = float(np.asarray(fc0.state.get("bias_gain", 0.01)))
    activation = fc0.state.get("activation", "lrelu")
    layer_features = int(fc0.tensors()["weight"].shape[0]) if num_layers > 1 else None
    embed = mapping.module("embed")
    embed_features = int(embed.tensors()["weight"].shape[0]) if embed is not None else None
    taps = tuple(float(t) for t in filt.sum(dim=1)) if filt is not None and filt.ndim == 2 else (1, 3, 3, 1)

    cfg = StyleGAN2Config(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=res,
        img_channels=img_channels,
        channels=channels,
        mapping_layers=num_layers,
        layer_features=layer_features,
        embed_features=embed_features,
        mapping_lr_multiplier=lr,
        mapping_activation=str(activation),
        architecture=architecture,
        conv_clamp=conv_clamp,
        use_noise=noise_flags.pop(),
        resample_filter=taps,
        fp16_resolutions=tuple(fp16),
    )
    stored_num_ws = g.state.get("num_ws")
    if stored_num_ws is not None and int(stored_num_ws) != cfg.num_ws:
        raise CorruptModelFile(f"{name}: stored num_ws {stored_num_ws} but the blocks need {cfg.num_ws}")
    return cfg, repo


def load_weights(
    model: torch.nn.Module, stored: dict[str, torch.Tensor], name: str, family: str = "StyleGAN2"
) -> None:
    """Copy `stored` into `model` by name, refusing missing, unexpected, misshapen or non-finite tensors."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in stored]
    extra = [k for k in stored if k not in expected]
    if missing or extra:
        raise CorruptModelFile(
            f"{name}: the generator's tensors do not match a {family} of this shape "
            f"(missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
            f"unexpected {extra[:4]}{'...' if len(extra) > 4 else ''})"
        )
    for key, ref in expected.items():
        value = stored[key]
        if tuple(value.shape) != tuple(ref.shape):
            raise CorruptModelFile(
                f"{name}: tensor {key} has shape {tuple(value.shape)}, expected {tuple(ref.shape)}"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CorruptModelFile(f"{name}: tensor {key} holds NaN or infinite values")
    model.load_state_dict({k: stored[k].to(torch.float32) for k in expected})


def training_set(kwargs: Any) -> dict[str, Any] | None:
    if not isinstance(kwargs, dict):
        return None
    keep = ("path", "resolution", "use_labels", "max_size", "xflip")
    return {k: kwargs[k] for k in keep if k in kwargs and isinstance(kwargs[k], str | int | bool | float)}
