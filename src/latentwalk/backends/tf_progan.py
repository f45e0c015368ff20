"""Progressive GAN TensorFlow pickles (tkarras/progressive_growing_of_gans, `G_paper`) -> our ProGAN module.

Variable layout of `Gs` (a `tfutil.Network`, or a `dnnlib` one from the stylegan repository's
`networks_progan`): `lod`; `4x4/Dense/{weight [z + c, 16 C], bias [C]}`; `4x4/Conv/{weight
[3, 3, C, C], bias}`; per resolution R >= 8 either `{R}x{R}/Conv0_up/weight` [3, 3, out, in] (fused
transposed convolution; note the swapped axes) or `{R}x{R}/Conv0/weight` [3, 3, in, out]
(nearest-neighbour upscale first), then `{R}x{R}/Conv1`; `ToRGB_lod{n}/{weight [1, 1, C, 3],
bias}` per level of detail. The generator is evaluated at lod 0 (full resolution) whatever `lod` says.
"""

from __future__ import annotations

import math

import torch

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.stylegan_pkl import load_weights
from latentwalk.backends.tf_pickle import TFNetwork, VariableReader, kwarg_value, resolution_of
from latentwalk.errors import UnsupportedFormat
from latentwalk.models.progan import ProGANConfig, ProGANGenerator

KNOWN_KWARGS = {
    "num_channels", "resolution", "label_size", "fmap_base", "fmap_decay", "fmap_max", "latent_size",
    "normalize_latents", "use_wscale", "use_pixelnorm", "pixelnorm_epsilon", "use_leakyrelu", "dtype",
    "fused_scale", "structure", "is_template_graph", "mbstd_group_size",
}  # fmt: skip


def load_progan(gs: TFNetwork, name: str) -> LoadedModel:
    """Our Progressive GAN generator filled from a TF `Gs` built by `G_paper`."""
    kwargs = gs.static_kwargs
    unknown = sorted(set(kwargs) - KNOWN_KWARGS)
    if unknown:
        raise UnsupportedFormat(f"{name}: Progressive GAN static kwargs latentwalk does not know: {unknown}")
    v = VariableReader(gs.variables, name, "Progressive GAN")
    res = resolution_of(v.variables, name)
    resolutions = [2**i for i in range(2, int(math.log2(res)) + 1)]
    fused = [r for r in resolutions[1:] if v.has(f"{r}x{r}/Conv0_up/weight")]
    if fused and len(fused) != len(resolutions) - 1:
        raise UnsupportedFormat(f"{name}: a Progressive GAN that mixes fused and separate upscaling")
    channels = {r: int(v.get(f"{r}x{r}/Conv{'' if r == 4 else '1'}/weight").shape[3]) for r in resolutions}
    dense = v.get("4x4/Dense/weight")
    c_dim = int(kwarg_value(kwargs, "label_size", 0))
    if dense.shape[0] <= c_dim:
        raise UnsupportedFormat(f"{name}: the first dense layer is too small for label_size {c_dim}")
    cfg = ProGANConfig(
        z_dim=int(dense.shape[0]) - c_dim,
        c_dim=c_dim,
        img_resolution=res,
        img_channels=int(v.get("ToRGB_lod0/bias").shape[0]),
        channels=channels,
        fused_scale=bool(fused) or res == 4,
        normalize_latents=bool(kwarg_value(kwargs, "normalize_latents", True)),
        use_wscale=bool(kwarg_value(kwargs, "use_wscale", True)),
        use_pixelnorm=bool(kwarg_value(kwargs, "use_pixelnorm", True)),
        pixelnorm_epsilon=float(kwarg_value(kwargs, "pixelnorm_epsilon", 1e-8)),
        use_leakyrelu=bool(kwarg_value(kwargs, "use_leakyrelu", True)),
    )
    model = ProGANGenerator(cfg)
    c4 = channels[4]
    sd: dict[str, torch.Tensor] = {
        "dense_weight": v.conv("4x4/Dense/weight", (cfg.z_dim + c_dim, 16 * c4), (1, 0)),
        "dense_bias": v.tensor("4x4/Dense/bias", (c4,)),
    }
    convs: list[tuple[str, tuple[int, int, int, int], tuple[int, ...]]] = [
        ("4x4/Conv", (3, 3, c4, c4), (3, 2, 0, 1))
    ]
    for r in resolutions[1:]:
        cin, cout = channels[r // 2], channels[r]
        if cfg.fused_scale:  # stored [3, 3, out, in]
            convs.append((f"{r}x{r}/Conv0_up", (3, 3, cout, cin), (2, 3, 0, 1)))
        else:
            convs.append((f"{r}x{r}/Conv0", (3, 3, cin, cout), (3, 2, 0, 1)))
        convs.append((f"{r}x{r}/Conv1", (3, 3, cout, cout), (3, 2, 0, 1)))
    for i, (scope, shape, order) in enumerate(convs):
        sd[f"conv_weights.{i}"] = v.conv(f"{scope}/weight", shape, order)
        sd[f"conv_biases.{i}"] = v.tensor(f"{scope}/bias", (shape[3] if order[0] == 3 else shape[2],))
    top = channels[res]
    sd["torgb_weight"] = v.conv("ToRGB_lod0/weight", (1, 1, top, cfg.img_channels), (3, 2, 0, 1))
    sd["torgb_bias"] = v.tensor("ToRGB_lod0/bias", (cfg.img_channels,))
    load_weights(model, sd, name, "Progressive GAN")
    unused = [k for k in v.unused(ignore=("lod",)) if not k.startswith("ToRGB_lod")]
    if unused:
        raise UnsupportedFormat(
            f"{name}: the Progressive GAN has variables latentwalk does not know: {unused[:6]}"
        )
    lod = float(v.variables["lod"]) if "lod" in v.variables else 0.0
    info = {
        "format": f"NVIDIA TensorFlow pickle (Progressive GAN, {gs.container})",
        "family": "progan",
        "class": "G_paper",
        "architecture": "progressive, pixel norm, "
        + ("fused" if cfg.fused_scale else "nearest")
        + " upscale",
        "channels": {str(k): val for k, val in channels.items()},
        "stored_lod": lod,
        "truncation_note": "z is pixel-normalised first, so scaling z by psi leaves images unchanged"
        if cfg.normalize_latents
        else "psi scales z toward 0",
        "rendered_lod": 0.0,
    }
    return LoadedModel(generator=model, info=info)
