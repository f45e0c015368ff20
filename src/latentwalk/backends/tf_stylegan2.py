"""StyleGAN2 TensorFlow pickles (NVlabs/stylegan2, stylegan2-ada TF) -> our StyleGAN2 module.

The TF variables map one to one onto NVIDIA's PyTorch state-dict names, which our
`StyleGAN2Generator` uses (FORMATS.md section B): kernels [kh, kw, in, out] -> [out, in, kh, kw],
dense matrices transposed, the upsampling and skip kernels rotated by 180 degrees (TF's transposed
convolution against PyTorch's), `mod_bias + 1` (TF adds the 1 at run time), noise variables
[1, 1, r, r] -> `noise_const` [r, r], `dlatent_avg` -> `w_avg`. The architecture is read from the
variables (a `Skip` kernel means resnet, a single ToRGB means orig) and the static kwargs.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.stylegan_pkl import load_weights
from latentwalk.backends.tf_pickle import (
    TFNetwork,
    VariableReader,
    kwarg_value,
    resolution_of,
)
from latentwalk.errors import UnsupportedFormat
from latentwalk.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator

SYNTHESIS_FUNCS = ("G_synthesis_stylegan2", "G_synthesis")  # stylegan2, stylegan2-ada TF
# Static kwargs that do not change what the generator computes at inference.
HARMLESS_KWARGS = {
    "latent_size", "label_size", "dlatent_size", "resolution", "num_channels", "fmap_base",
    "fmap_decay", "fmap_min", "fmap_max", "fmap_const", "num_fp16_res", "conv_clamp", "architecture",
    "resample_kernel", "use_noise", "nonlinearity", "mapping_layers", "label_fmaps", "mapping_fmaps",
    "mapping_nonlinearity", "mapping_lrmul", "w_avg_beta", "dlatent_avg_beta", "truncation_psi",
    "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val", "style_mixing_prob",
    "structure", "fused_modconv", "randomize_noise", "dtype", "is_template_graph", "components",
    "conditioning", "num_layers", "dlatent_broadcast", "is_training", "is_validation",
    "return_dlatents", "normalize_latents", "force_clean_graph", "synthesis_func", "mapping_func",
}  # fmt: skip


def load_stylegan2_tf(gs: TFNetwork, name: str) -> LoadedModel:
    """Our StyleGAN2 generator filled from a TF `Gs` built by `G_main`."""
    synthesis, mapping = gs.components.get("synthesis"), gs.components.get("mapping")
    if synthesis is None or mapping is None:
        raise UnsupportedFormat(f"{name}: a G_main network without 'synthesis' and 'mapping' components")
    if synthesis.build_func_name not in SYNTHESIS_FUNCS:
        raise UnsupportedFormat(
            f"{name}: StyleGAN2 synthesis network built by {synthesis.build_func_name!r}; latentwalk reads "
            f"{' and '.join(SYNTHESIS_FUNCS)} (configs E and F). Configs A-D "
            "('G_synthesis_stylegan_revised') are not supported."
        )
    if mapping.build_func_name != "G_mapping":
        raise UnsupportedFormat(f"{name}: mapping built by {mapping.build_func_name!r}, not G_mapping")
    kwargs = {**mapping.static_kwargs, **synthesis.static_kwargs, **gs.static_kwargs}
    _check_kwargs(kwargs, name)
    v = VariableReader(gs.flat_variables(), name, "StyleGAN2")
    if any(k.startswith("mapping/LabelConcat/") for k in v.variables):
        raise UnsupportedFormat(
            f"{name}: a conditional StyleGAN2 with a 'LabelConcat' label input (NVlabs/stylegan2); "
            "latentwalk reads conditional networks of stylegan2-ada ('LabelEmbed')"
        )
    cfg = _config(v, kwargs, name)
    model = StyleGAN2Generator(cfg)
    state = _state_dict(v, cfg)
    # TF does not store the resample filters: they follow from resample_kernel, as built.
    state.update({k: t for k, t in model.state_dict().items() if k.endswith("resample_filter")})
    load_weights(model, state, name, "StyleGAN2")
    unused = [k for k in v.unused(ignore=("lod",)) if not re.fullmatch(r"synthesis/ToRGB_lod[1-9]\d*/.*", k)]
    if unused:
        raise UnsupportedFormat(
            f"{name}: the StyleGAN2 network has variables latentwalk does not know: {unused[:6]}"
        )
    info = {
        "format": "NVIDIA TensorFlow pickle (StyleGAN2)",
        "family": "stylegan2",
        "class": f"{gs.build_func_name} / {synthesis.build_func_name} / {mapping.build_func_name}",
        "architecture": cfg.architecture,
        "mapping_layers": cfg.mapping_layers,
        "conv_clamp": cfg.conv_clamp,
        "channels": {str(k): val for k, val in cfg.channels.items()},
        "stored_truncation_psi": gs.static_kwargs.get("truncation_psi"),
    }
    return LoadedModel(generator=model, info=info)


def _check_kwargs(kwargs: dict[str, Any], name: str) -> None:
    for key, want in (("nonlinearity", "lrelu"), ("mapping_nonlinearity", "lrelu")):
        if kwarg_value(kwargs, key, want) != want:
            raise UnsupportedFormat(f"{name}: {key}={kwargs[key]!r}; latentwalk implements {want!r} only")
    if not kwarg_value(kwargs, "normalize_latents", True):
        raise UnsupportedFormat(f"{name}: normalize_latents=False is not supported")
    unknown = sorted(set(kwargs) - HARMLESS_KWARGS)
    if unknown:
        raise UnsupportedFormat(
            f"{name}: static kwargs latentwalk does not know (they may change the network): {unknown}"
        )


def _config(v: VariableReader, kwargs: dict[str, Any], name: str) -> StyleGAN2Config:
    res = resolution_of(v.variables, name, prefix="synthesis/")
    resolutions = [2**i for i in range(2, int(math.log2(res)) + 1)]
    channels = {r: int(v.get(f"synthesis/{_conv1(r)}/weight").shape[3]) for r in resolutions}
    w_dim = int(v.get("dlatent_avg").shape[0])
    num_layers = 0
    while v.has(f"mapping/Dense{num_layers}/weight"):
        num_layers += 1
    if num_layers == 0:
        raise UnsupportedFormat(f"{name}: the mapping network has no Dense0 layer")
    embed = v.variables.get("mapping/LabelEmbed/weight")
    c_dim = int(embed.shape[0]) if embed is not None else 0
    embed_features = int(embed.shape[1]) if embed is not None else None
    d0 = v.get("mapping/Dense0/weight")
    z_dim = int(d0.shape[0]) - (embed_features or 0)
    skip = any(re.fullmatch(r"synthesis/\d+x\d+/Skip/weight", k) for k in v.variables)
    rgb = [r for r in resolutions if v.has(f"synthesis/{r}x{r}/ToRGB/weight")]
    lod_rgb = any(re.fullmatch(r"synthesis/ToRGB_lod\d+/weight", k) for k in v.variables)
    if skip:
        architecture = "resnet"
    elif lod_rgb or rgb == [res]:
        architecture = "orig"
    else:
        architecture = "skip"
    stated = kwargs.get("architecture")
    if stated is not None and stated != architecture:
        raise UnsupportedFormat(
            f"{name}: static kwargs say architecture {stated!r} but the variables describe {architecture!r}"
        )
    clamp = kwargs.get("conv_clamp")
    return StyleGAN2Config(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=res,
        img_channels=int(_torgb(v, res, lod_rgb, "bias").shape[0]),
        channels=channels,
        mapping_layers=num_layers,
        layer_features=int(d0.shape[1]) if num_layers > 1 else None,
        embed_features=embed_features,
        mapping_lr_multiplier=float(kwarg_value(kwargs, "mapping_lrmul", 0.01)),
        architecture=architecture,
        conv_clamp=float(clamp) if clamp is not None else None,
        use_noise=v.has("synthesis/4x4/Conv/noise_strength"),
        resample_filter=tuple(float(t) for t in kwarg_value(kwargs, "resample_kernel", [1, 3, 3, 1])),
    )


def _conv1(r: int) -> str:
    return "4x4/Conv" if r == 4 else f"{r}x{r}/Conv1"


def _torgb(v: VariableReader, r: int, lod_names: bool, leaf: str) -> np.ndarray:
    if lod_names:  # 'orig' generators may name the scope by level of detail (0 = full resolution)
        return v.get(f"synthesis/ToRGB_lod0/{leaf}")
    return v.get(f"synthesis/{r}x{r}/ToRGB/{leaf}")


def _state_dict(v: VariableReader, cfg: StyleGAN2Config) -> dict[str, torch.Tensor]:
    sd: dict[str, torch.Tensor] = {}
    w = cfg.w_dim
    sd["mapping.w_avg"] = v.tensor("dlatent_avg", (w,))
    for i in range(cfg.mapping_layers):
        sd[f"mapping.fc{i}.weight"] = v.conv(f"mapping/Dense{i}/weight", None, (1, 0))
        sd[f"mapping.fc{i}.bias"] = v.tensor(f"mapping/Dense{i}/bias")
    if cfg.c_dim:
        sd["mapping.embed.weight"] = v.conv("mapping/LabelEmbed/weight", None, (1, 0))
        sd["mapping.embed.bias"] = v.tensor("mapping/LabelEmbed/bias")
    lod_names = cfg.architecture == "orig" and v.has("synthesis/ToRGB_lod0/weight")
    noise_idx = 0
    for r in cfg.block_resolutions:
        out_ch, in_ch = cfg.channels[r], cfg.channels.get(r // 2, 0)
        b = f"synthesis.b{r}"
        layers = [("conv1", "4x4/Conv", out_ch, False)]
        if r == 4:
            c = v.get("synthesis/4x4/Const/const", (1, out_ch, 4, 4))
            sd[f"{b}.const"] = torch.from_numpy(c[0].copy())
        else:
            layers = [("conv0", f"{r}x{r}/Conv0_up", in_ch, True), ("conv1", f"{r}x{r}/Conv1", out_ch, False)]
        for layer, scope, cin, flip in layers:
            s, p = f"synthesis/{scope}", f"{b}.{layer}"
            kernel = v.get(f"{s}/weight", (3, 3, cin, out_ch))
            if flip:
                kernel = kernel[::-1, ::-1]
            sd[f"{p}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            sd[f"{p}.bias"] = v.tensor(f"{s}/bias", (out_ch,))
            sd[f"{p}.affine.weight"] = v.conv(f"{s}/mod_weight", (w, cin), (1, 0))
            sd[f"{p}.affine.bias"] = v.tensor(f"{s}/mod_bias", (cin,)) + 1
            if cfg.use_noise:
                sd[f"{p}.noise_strength"] = v.tensor(f"{s}/noise_strength", ())
                sd[f"{p}.noise_const"] = v.tensor(f"synthesis/noise{noise_idx}", (1, 1, r, r))[0, 0]
            noise_idx += 1
        if r == cfg.img_resolution or cfg.architecture == "skip":
            rgb = cfg.img_channels
            t, p = f"synthesis/{r}x{r}/ToRGB", f"{b}.torgb"
            if lod_names:
                t = "synthesis/ToRGB_lod0"
            sd[f"{p}.weight"] = v.conv(f"{t}/weight", (1, 1, out_ch, rgb), (3, 2, 0, 1))
            sd[f"{p}.bias"] = v.tensor(f"{t}/bias", (rgb,))
            sd[f"{p}.affine.weight"] = v.conv(f"{t}/mod_weight", (w, out_ch), (1, 0))
            sd[f"{p}.affine.bias"] = v.tensor(f"{t}/mod_bias", (out_ch,)) + 1
        if r > 4 and cfg.architecture == "resnet":
            kernel = v.get(f"synthesis/{r}x{r}/Skip/weight", (1, 1, in_ch, out_ch))[::-1, ::-1]
            sd[f"{b}.skip.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    return sd
