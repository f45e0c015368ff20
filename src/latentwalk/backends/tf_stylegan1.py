"""StyleGAN (v1) TensorFlow pickles (NVlabs/stylegan, `G_style`) -> our StyleGAN1 module.

Variable layout of `Gs` (names local to each network, flattened with the component key):
`dlatent_avg` [W]; `mapping/Dense{i}/{weight [in, out], bias}`, `mapping/LabelConcat/weight`
[c, z]; `synthesis/noise{i}` [1, 1, r, r]; per layer scope (`4x4/Const`, `4x4/Conv`,
`{R}x{R}/Conv0_up`, `{R}x{R}/Conv1`) a `weight` [3, 3, in, out] (not for Const, which has `const`
[1, C, 4, 4]), `Noise/weight` [C], `bias` [C], `StyleMod/weight` [W, 2C] and `StyleMod/bias` [2C];
`ToRGB_lod{n}/{weight [1, 1, C, 3], bias}` per level of detail, of which lod 0 (full resolution)
is used. Options that the variables do not show come from the static kwargs, with NVIDIA's defaults.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.stylegan_pkl import load_weights
from latentwalk.backends.tf_pickle import TFNetwork, VariableReader, kwarg_value, resolution_of
from latentwalk.errors import UnsupportedFormat
from latentwalk.models.stylegan1 import StyleGAN1Config, StyleGAN1Generator

KNOWN_KWARGS = {
    "latent_size", "label_size", "dlatent_size", "dlatent_broadcast", "resolution", "num_channels",
    "fmap_base", "fmap_decay", "fmap_max", "mapping_layers", "mapping_fmaps", "mapping_lrmul",
    "mapping_nonlinearity", "nonlinearity", "use_wscale", "normalize_latents", "use_styles",
    "const_input_layer", "use_noise", "randomize_noise", "use_pixel_norm", "use_instance_norm",
    "dtype", "fused_scale", "blur_filter", "structure", "is_template_graph", "force_clean_graph",
    "truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val",
    "dlatent_avg_beta", "style_mixing_prob", "is_training", "is_validation", "components",
}  # fmt: skip


def load_stylegan1_tf(gs: TFNetwork, name: str) -> LoadedModel:
    """Our StyleGAN v1 generator filled from a TF `Gs` built by `G_style`."""
    synthesis, mapping = gs.components.get("synthesis"), gs.components.get("mapping")
    if synthesis is None or mapping is None:
        raise UnsupportedFormat(f"{name}: a G_style network without 'synthesis' and 'mapping' components")
    for comp, want in ((synthesis, "G_synthesis"), (mapping, "G_mapping")):
        if comp.build_func_name != want:
            raise UnsupportedFormat(
                f"{name}: StyleGAN component {comp.name!r} is built by {comp.build_func_name!r}; "
                f"latentwalk reads NVIDIA's {want}"
            )
    kwargs = {**mapping.static_kwargs, **synthesis.static_kwargs, **gs.static_kwargs}
    unknown = sorted(set(kwargs) - KNOWN_KWARGS)
    if unknown:
        raise UnsupportedFormat(f"{name}: static kwargs latentwalk does not know: {unknown}")
    v = VariableReader(gs.flat_variables(), name, "StyleGAN")
    cfg = _config(v, kwargs, name)
    model = StyleGAN1Generator(cfg)
    load_weights(model, _state_dict(v, cfg), name, "StyleGAN")
    unused = [k for k in v.unused(ignore=("lod",)) if not k.startswith("synthesis/ToRGB_lod")]
    if unused:
        raise UnsupportedFormat(
            f"{name}: the StyleGAN network has variables latentwalk does not know: {unused[:6]}"
        )
    lod = float(v.variables["lod"]) if "lod" in v.variables else 0.0
    info = {
        "format": "NVIDIA TensorFlow pickle (StyleGAN)",
        "family": "stylegan1",
        "class": "G_style / G_synthesis / G_mapping",
        "architecture": "style-based, AdaIN, "
        + ("fused" if cfg.fused_from <= cfg.img_resolution else "separate")
        + f" upscale from {cfg.fused_from}px",
        "mapping_layers": cfg.mapping_layers,
        "channels": {str(k): val for k, val in cfg.channels.items()},
        "truncation_cutoff_default": cfg.truncation_cutoff,
        # What NVIDIA's Gs.run applies when given no psi (G_style's default); latentwalk uses the psi asked.
        "truncation_psi_nvidia_default": kwarg_value(kwargs, "truncation_psi", 0.7),
        "stored_lod": lod,
        "rendered_lod": 0.0,
    }
    return LoadedModel(generator=model, info=info)


def _config(v: VariableReader, kwargs: dict[str, Any], name: str) -> StyleGAN1Config:
    if not kwarg_value(kwargs, "use_styles", True):
        raise UnsupportedFormat(
            f"{name}: a StyleGAN without style inputs (use_styles=False) is not supported"
        )
    if v.has("synthesis/4x4/Dense/weight") or not kwarg_value(kwargs, "const_input_layer", True):
        raise UnsupportedFormat(f"{name}: a StyleGAN whose first layer is dense (const_input_layer=False)")
    for key in ("nonlinearity", "mapping_nonlinearity"):
        if kwarg_value(kwargs, key, "lrelu") not in ("lrelu", "relu"):
            raise UnsupportedFormat(f"{name}: {key}={kwargs[key]!r}; latentwalk implements lrelu and relu")
    res = resolution_of(v.variables, name, prefix="synthesis/")
    resolutions = [2**i for i in range(2, int(math.log2(res)) + 1)]
    channels = {
        r: int(v.get(f"synthesis/{r}x{r}/Conv{'' if r == 4 else '1'}/weight").shape[3]) for r in resolutions
    }
    layers = 0
    while v.has(f"mapping/Dense{layers}/weight"):
        layers += 1
    if layers == 0:
        raise UnsupportedFormat(f"{name}: the mapping network has no Dense0 layer")
    d0 = v.get("mapping/Dense0/weight")
    label = v.variables.get("mapping/LabelConcat/weight")
    c_dim = int(label.shape[0]) if label is not None else 0
    z_dim = int(label.shape[1]) if label is not None else int(d0.shape[0])
    fused = kwarg_value(kwargs, "fused_scale", "auto")
    fused_from = {"auto": 128, True: 8, False: 2 * res}.get(fused)
    if fused_from is None:
        raise UnsupportedFormat(f"{name}: fused_scale={fused!r}")
    blur = kwargs.get("blur_filter", [1, 2, 1])
    cutoff = kwargs.get("truncation_cutoff", 8)
    num_ws = 2 * len(resolutions)
    return StyleGAN1Config(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=int(v.get("dlatent_avg").shape[0]),
        img_resolution=res,
        img_channels=int(v.get("synthesis/ToRGB_lod0/bias").shape[0]),
        channels=channels,
        mapping_layers=layers,
        mapping_fmaps=int(d0.shape[1]),
        mapping_lrmul=float(kwarg_value(kwargs, "mapping_lrmul", 0.01)),
        mapping_activation=str(kwarg_value(kwargs, "mapping_nonlinearity", "lrelu")),
        activation=str(kwarg_value(kwargs, "nonlinearity", "lrelu")),
        normalize_latents=bool(kwarg_value(kwargs, "normalize_latents", True)),
        use_noise=v.has("synthesis/noise0"),
        use_pixel_norm=bool(kwarg_value(kwargs, "use_pixel_norm", False)),
        use_instance_norm=bool(kwarg_value(kwargs, "use_instance_norm", True)),
        use_wscale=bool(kwarg_value(kwargs, "use_wscale", True)),
        fused_from=fused_from,
        blur_filter=tuple(float(t) for t in blur) if blur else None,
        truncation_cutoff=num_ws if cutoff is None else min(int(cutoff), num_ws),
    )


def _state_dict(v: VariableReader, cfg: StyleGAN1Config) -> dict[str, torch.Tensor]:
    sd: dict[str, torch.Tensor] = {"mapping.w_avg": v.tensor("dlatent_avg", (cfg.w_dim,))}
    if cfg.c_dim:
        sd["mapping.label_weight"] = v.tensor("mapping/LabelConcat/weight", (cfg.c_dim, cfg.z_dim))
    for i in range(cfg.mapping_layers):
        sd[f"mapping.weights.{i}"] = v.conv(f"mapping/Dense{i}/weight", None, (1, 0))
        sd[f"mapping.biases.{i}"] = v.tensor(f"mapping/Dense{i}/bias")
    layer = 0
    for k, r in enumerate(cfg.block_resolutions):
        out_ch, b = cfg.channels[r], f"synthesis.blocks.{k}"
        if r == 4:
            sd[f"{b}.const"] = v.tensor("synthesis/4x4/Const/const", (1, out_ch, 4, 4))
            scopes = ["4x4/Const", "4x4/Conv"]
            sd[f"{b}.conv1_weight"] = v.conv(
                "synthesis/4x4/Conv/weight", (3, 3, out_ch, out_ch), (3, 2, 0, 1)
            )
        else:
            in_ch = cfg.channels[r // 2]
            scopes = [f"{r}x{r}/Conv0_up", f"{r}x{r}/Conv1"]
            sd[f"{b}.conv0_weight"] = v.conv(
                f"synthesis/{scopes[0]}/weight", (3, 3, in_ch, out_ch), (3, 2, 0, 1)
            )
            sd[f"{b}.conv1_weight"] = v.conv(
                f"synthesis/{scopes[1]}/weight", (3, 3, out_ch, out_ch), (3, 2, 0, 1)
            )
        for j, scope in enumerate(scopes):
            s, e = f"synthesis/{scope}", f"{b}.epilogue{j}"
            if cfg.use_noise:
                sd[f"{e}.noise_weight"] = v.tensor(f"{s}/Noise/weight", (out_ch,))
                sd[f"{e}.noise_const"] = v.tensor(f"synthesis/noise{layer}", (1, 1, r, r))[0, 0]
            sd[f"{e}.bias"] = v.tensor(f"{s}/bias", (out_ch,))
            sd[f"{e}.style_weight"] = v.conv(f"{s}/StyleMod/weight", (cfg.w_dim, 2 * out_ch), (1, 0))
            sd[f"{e}.style_bias"] = v.tensor(f"{s}/StyleMod/bias", (2 * out_ch,))
            layer += 1
    top = cfg.channels[cfg.img_resolution]
    sd["synthesis.torgb_weight"] = v.conv(
        "synthesis/ToRGB_lod0/weight", (1, 1, top, cfg.img_channels), (3, 2, 0, 1)
    )
    sd["synthesis.torgb_bias"] = v.tensor("synthesis/ToRGB_lod0/bias", (cfg.img_channels,))
    return sd
