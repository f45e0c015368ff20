"""StyleGAN3 `G_ema` records (stylegan3 repo, `networks_stylegan3`) -> our StyleGAN3 module.

Everything the network needs is stored in the file: each layer's sizes, sampling rates, factors,
padding and filters. This module reads those attributes (never the embedded source), checks
that they fit together (channels and sizes chain from layer to layer, the padding yields the
stored output size, the filters have the stored tap counts), builds `StyleGAN3Generator` and
loads the weights by name with shape checks. Errors name the layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.safe_pickle import PersistentObject
from latentwalk.backends.stylegan_pkl import MAX_RESOLUTION, attr_int, load_weights, training_set
from latentwalk.errors import CorruptModelFile, UnsupportedFormat
from latentwalk.models.filtered_lrelu import output_size
from latentwalk.models.stylegan3 import InputSpec, LayerSpec, StyleGAN3Config, StyleGAN3Generator

MAX_LAYERS = 64
MAX_TAPS = 256
CONFIG_NAMES = {
    "T": "T (translation equivariant, 3x3 convolutions)",
    "R": "R (rotation equivariant, 1x1 convolutions, radial filters)",
}


def load_stylegan3(
    g: PersistentObject,
    synthesis: PersistentObject,
    mapping: PersistentObject,
    top: dict[str, Any],
    name: str,
) -> LoadedModel:
    """Build and fill our StyleGAN3 generator from the records of a stylegan3 `G_ema`."""
    cfg = _config(g, synthesis, mapping, name)
    model = StyleGAN3Generator(cfg)
    stored = g.state_dict()
    _check_layer_tensors(cfg, stored, name)
    load_weights(model, stored, name, "StyleGAN3")
    model.eval().requires_grad_(False)
    info = {
        "format": "NVIDIA PyTorch pickle",
        "family": "stylegan3",
        "class": "stylegan3 Generator (networks_stylegan3)",
        "config": CONFIG_NAMES[cfg.kind],
        "mapping_layers": cfg.mapping_layers,
        "conv_clamp": cfg.layers[0].conv_clamp,
        "output_scale": cfg.output_scale,
        "input": {
            "channels": cfg.input.channels,
            "size": list(cfg.input.size),
            "sampling_rate": cfg.input.sampling_rate,
            "bandwidth": round(cfg.input.bandwidth, 4),
        },
        "layers": [
            {
                "name": spec.name,
                "size": list(spec.out_size),
                "channels": spec.out_channels,
                "sampling_rate": spec.out_sampling_rate,
                "cutoff": round(spec.out_cutoff, 4),
                "up": spec.up_factor,
                "down": spec.down_factor,
                "critically_sampled": spec.is_critically_sampled,
                "radial": spec.down_radial,
            }
            for spec in cfg.layers
        ],
        "fp16_layers": [spec.name for spec in cfg.layers if spec.use_fp16],
        "training_set": training_set(top.get("training_set_kwargs")),
    }
    return LoadedModel(generator=model, info=info)


def _num(obj: PersistentObject, key: str, where: str) -> float:
    value = obj.state.get(key)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CorruptModelFile(f"{where}: {key} is missing or not a number")
    value = float(value)
    if not np.isfinite(value):
        raise CorruptModelFile(f"{where}: {key} is not finite")
    return value


def _pair(obj: PersistentObject, key: str, where: str) -> tuple[int, int]:
    """A stored (width, height): an int64 array of two, or a plain int."""
    value = obj.state.get(key)
    arr = np.asarray(value) if isinstance(value, np.ndarray | list | tuple | int | np.integer) else None
    if arr is None or arr.dtype.kind not in "iu" or arr.size not in (1, 2):
        raise CorruptModelFile(f"{where}: {key} is missing or not a size")
    w, h = (int(v) for v in np.broadcast_to(arr.reshape(-1), [2]))
    if not (1 <= w <= 4 * MAX_RESOLUTION and 1 <= h <= 4 * MAX_RESOLUTION):
        raise CorruptModelFile(f"{where}: {key} {w}x{h} is implausible")
    return w, h


def _flag(obj: PersistentObject, key: str, where: str) -> bool:
    value = obj.state.get(key)
    if not isinstance(value, bool | np.bool_):
        raise CorruptModelFile(f"{where}: {key} is missing or not a boolean")
    return bool(value)


def _config(
    g: PersistentObject, synthesis: PersistentObject, mapping: PersistentObject, name: str
) -> StyleGAN3Config:
    z_dim = attr_int(g, "z_dim", name)
    c_dim = attr_int(g, "c_dim", name)
    w_dim = attr_int(g, "w_dim", name)
    res = attr_int(g, "img_resolution", name)
    img_channels = attr_int(g, "img_channels", name)
    if not (4 <= res <= MAX_RESOLUTION) or min(z_dim, w_dim, img_channels) <= 0 or c_dim < 0:
        raise CorruptModelFile(
            f"{name}: implausible dimensions z_dim={z_dim} w_dim={w_dim} c_dim={c_dim} resolution={res}"
        )
    layer_names = synthesis.state.get("layer_names")
    if not isinstance(layer_names, list) or not all(isinstance(n, str) for n in layer_names):
        raise CorruptModelFile(f"{name}: the StyleGAN3 synthesis network has no list of layer names")
    if not 2 <= len(layer_names) <= MAX_LAYERS:
        raise CorruptModelFile(f"{name}: the synthesis network lists {len(layer_names)} layers")

    inp = synthesis.module("input")
    if inp is None or inp.class_name != "SynthesisInput":
        raise CorruptModelFile(f"{name}: the synthesis network has no SynthesisInput layer 'input'")
    where = f"{name}: synthesis.input"
    spec_in = InputSpec(
        channels=attr_int(inp, "channels", where),
        size=_pair(inp, "size", where),
        sampling_rate=_num(inp, "sampling_rate", where),
        bandwidth=_num(inp, "bandwidth", where),
    )
    if spec_in.sampling_rate / 2 <= spec_in.bandwidth or spec_in.channels <= 0:
        raise CorruptModelFile(f"{where}: bandwidth {spec_in.bandwidth} does not fit its sampling rate")

    layers = []
    prev_channels, prev_size = spec_in.channels, spec_in.size
    for i, layer_name in enumerate(layer_names):
        layer = synthesis.module(layer_name)
        where = f"{name}: layer {layer_name}"
        if layer is None:
            raise CorruptModelFile(f"{where} is listed but missing from the synthesis network")
        spec = _layer_spec(layer, layer_name, where)
        if spec.in_channels != prev_channels or spec.in_size != prev_size:
            raise CorruptModelFile(
                f"{where} takes {spec.in_channels} channels of {spec.in_size}, but the layer before it "
                f"makes {prev_channels} channels of {prev_size}"
            )
        if spec.is_torgb != (i == len(layer_names) - 1):
            raise CorruptModelFile(f"{where}: only the last layer may be (and must be) the ToRGB layer")
        layers.append(spec)
        prev_channels, prev_size = spec.out_channels, spec.out_size
    if prev_channels != img_channels or prev_size != (res, res):
        raise CorruptModelFile(
            f"{name}: the last layer makes {prev_channels} channels of {prev_size}, the generator "
            f"promises {img_channels} channels of {res}x{res}"
        )
    if len({spec.conv_kernel for spec in layers[:-1]}) != 1 or layers[0].conv_kernel not in (1, 3):
        raise UnsupportedFormat(
            f"{name}: mixed or unusual convolution kernels; latentwalk loads configs T and R"
        )

    num_ws = synthesis.state.get("num_ws", g.state.get("num_ws"))
    if num_ws is not None and int(num_ws) != len(layers) + 1:
        raise CorruptModelFile(
            f"{name}: stored num_ws {num_ws}, but {len(layers)} layers need {len(layers) + 1}"
        )
    num_layers = attr_int(mapping, "num_layers", name)
    fc0 = mapping.module("fc0")
    if num_layers < 1 or fc0 is None:
        raise CorruptModelFile(f"{name}: the mapping network has no fc layers")
    lr = float(np.asarray(fc0.state.get("bias_gain", 0.01)))
    activation = fc0.state.get("activation", "lrelu")
    if activation != "lrelu":
        raise UnsupportedFormat(f"{name}: mapping activation {activation!r} is not supported")
    output_scale = synthesis.state.get("output_scale", 0.25)
    if not isinstance(output_scale, int | float | np.floating) or not np.isfinite(output_scale):
        raise CorruptModelFile(f"{name}: synthesis output_scale is not a number")
    return StyleGAN3Config(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=res,
        img_channels=img_channels,
        input=spec_in,
        layers=tuple(layers),
        mapping_layers=num_layers,
        mapping_lr_multiplier=lr,
        output_scale=float(output_scale),
    )


def _layer_spec(layer: PersistentObject, layer_name: str, where: str) -> LayerSpec:
    if layer.class_name != "SynthesisLayer":
        raise CorruptModelFile(f"{where} is a {layer.class_name!r}, expected a SynthesisLayer")
    padding = layer.state.get("padding")
    if not (isinstance(padding, list | tuple) and len(padding) == 4):
        raise CorruptModelFile(f"{where}: padding is missing or not four numbers")
    try:
        pad = tuple(int(p) for p in padding)
    except (TypeError, ValueError):
        raise CorruptModelFile(f"{where}: padding {padding!r} is not four integers") from None
    clamp = layer.state.get("conv_clamp")
    spec = LayerSpec(
        name=layer_name,
        in_channels=attr_int(layer, "in_channels", where),
        out_channels=attr_int(layer, "out_channels", where),
        in_size=_pair(layer, "in_size", where),
        out_size=_pair(layer, "out_size", where),
        in_sampling_rate=_num(layer, "in_sampling_rate", where),
        out_sampling_rate=_num(layer, "out_sampling_rate", where),
        in_cutoff=_num(layer, "in_cutoff", where),
        out_cutoff=_num(layer, "out_cutoff", where),
        conv_kernel=attr_int(layer, "conv_kernel", where),
        up_factor=attr_int(layer, "up_factor", where),
        up_taps=attr_int(layer, "up_taps", where),
        down_factor=attr_int(layer, "down_factor", where),
        down_taps=attr_int(layer, "down_taps", where),
        down_radial=_flag(layer, "down_radial", where),
        padding=pad,  # type: ignore[arg-type]
        is_torgb=_flag(layer, "is_torgb", where),
        is_critically_sampled=_flag(layer, "is_critically_sampled", where),
        use_fp16=bool(layer.state.get("use_fp16", False)),
        conv_clamp=None if clamp is None else float(clamp),
    )
    if not (1 <= spec.up_factor <= 16 and 1 <= spec.down_factor <= 16 and spec.conv_kernel in (1, 3)):
        raise CorruptModelFile(
            f"{where}: implausible up {spec.up_factor}, down {spec.down_factor} or kernel {spec.conv_kernel}"
        )
    if not (1 <= spec.up_taps <= MAX_TAPS and 1 <= spec.down_taps <= MAX_TAPS):
        raise CorruptModelFile(f"{where}: implausible filter sizes ({spec.up_taps}, {spec.down_taps} taps)")
    if min(spec.in_channels, spec.out_channels) <= 0:
        raise CorruptModelFile(f"{where}: implausible channel counts")
    conv_out = (spec.in_size[1] + spec.conv_kernel - 1, spec.in_size[0] + spec.conv_kernel - 1)
    oh, ow = output_size(
        conv_out, spec.up_taps, spec.down_taps, spec.up_factor, spec.down_factor, spec.padding
    )
    if (ow, oh) != spec.out_size:
        raise CorruptModelFile(
            f"{where}: padding {list(spec.padding)} turns {spec.in_size} into {ow}x{oh}, but the layer "
            f"says {spec.out_size[0]}x{spec.out_size[1]}"
        )
    return spec


def _check_layer_tensors(cfg: StyleGAN3Config, stored: dict[str, Any], name: str) -> None:
    """Name the layer when a filter or magnitude_ema is missing or misshapen (before the generic check)."""
    for spec in cfg.layers:
        where = f"{name}: layer {spec.name}"
        prefix = f"synthesis.{spec.name}."
        ema = stored.get(prefix + "magnitude_ema")
        if ema is None:
            raise CorruptModelFile(f"{where} has no magnitude_ema buffer")
        if tuple(ema.shape) != ():
            raise CorruptModelFile(f"{where}: magnitude_ema has shape {tuple(ema.shape)}, expected a scalar")
        if not float(ema) > 0:
            raise CorruptModelFile(f"{where}: magnitude_ema is {float(ema)}, expected a positive number")
        expected = {
            "up_filter": (spec.up_taps,) if spec.up_taps > 1 else None,
            "down_filter": (
                None
                if spec.down_taps == 1
                else (spec.down_taps, spec.down_taps)
                if spec.down_radial
                else (spec.down_taps,)
            ),
        }
        for key, shape in expected.items():
            value = stored.get(prefix + key)
            if shape is None and value is not None:
                raise CorruptModelFile(f"{where} stores a {key} although its tap count is 1")
            if shape is not None and value is None:
                raise CorruptModelFile(f"{where} has no {key} (it needs {shape[0]} taps)")
            if shape is not None and tuple(value.shape) != shape:
                raise CorruptModelFile(f"{where}: {key} has shape {tuple(value.shape)}, expected {shape}")
