"""Test-only writer of synthetic TensorFlow-era NVIDIA network pickles, opcode by opcode.

Writes the containers that NVIDIA's TensorFlow code pickles, from their layout in words (FORMATS.md
section B; the ``__getstate__`` of ``dnnlib.tflib.network.Network`` and of Progressive GAN's
``tfutil.Network``), without TensorFlow, NVIDIA code or latentwalk:

* the file is a 3-tuple ``(G, D, Gs)``; each network is ``NEWOBJ`` of the container class (global
  ``dnnlib.tflib.network.Network`` or ``tfutil.Network``) with no arguments, then ``BUILD`` with
  the state dict: ``version`` (2 ProGAN, 3 StyleGAN, 4 StyleGAN2, 5 StyleGAN2-ADA), ``name``,
  ``static_kwargs``, ``components`` (not in version 2), ``build_module_src`` (a string),
  ``build_func_name`` and ``variables`` (a list of (name, value) pairs), plus the version-5 extras;
* variables are numpy float32 arrays (``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,),
  b'b')`` then ``BUILD`` with (1, shape, dtype, False, raw bytes)), 0-d ones numpy scalars
  (``numpy.core.multiarray.scalar(dtype, bytes)``); dtypes are ``numpy.dtype('f4', False, True)``
  with ``BUILD`` state;
* protocols 2, 3 and 4 are written as CPython would spell them (``GLOBAL`` below 4,
  ``STACK_GLOBAL`` at 4; bytes as ``_codecs.encode(str, 'latin1')`` at protocol 2).

The builders make random variables with the real TF names and shapes for small resolutions.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Network", "dumps", "progan", "stylegan1", "stylegan2"]

DNNLIB = ("dnnlib.tflib.network", "Network")
TFUTIL = ("tfutil", "Network")
SOURCE = "# stand-in for the TensorFlow source of the network's build module (never run)\n"


@dataclass
class Network:
    """One pickled TF network: its container class and its ``__getstate__`` dict."""

    container: tuple[str, str]
    state: dict[str, Any]

    def vars(self) -> dict[str, Any]:
        return dict(self.state["variables"])

    def component(self, key: str) -> Network:
        return self.state["components"][key]


@dataclass
class _Writer:
    protocol: int
    numpy_core: str = "numpy.core"
    out: io.BytesIO = field(default_factory=io.BytesIO)

    def op(self, code: bytes, payload: bytes = b"") -> None:
        self.out.write(code + payload)

    def global_(self, module: str, name: str) -> None:
        if self.protocol >= 4:
            self.text(module)
            self.text(name)
            self.op(pickle.STACK_GLOBAL)
        else:
            self.op(pickle.GLOBAL, f"{module}\n{name}\n".encode())

    def text(self, s: str) -> None:
        raw = s.encode("utf-8")
        if self.protocol >= 4 and len(raw) < 256:
            self.op(pickle.SHORT_BINUNICODE, bytes([len(raw)]) + raw)
        else:
            self.op(pickle.BINUNICODE, struct.pack("<I", len(raw)) + raw)

    def bytes_(self, b: bytes) -> None:
        if self.protocol >= 3:
            self.op(pickle.BINBYTES, struct.pack("<I", len(b)) + b)
        else:  # protocol 2 has no bytes opcode: CPython writes _codecs.encode(latin-1 text, 'latin1')
            self.global_("_codecs", "encode")
            self.text(b.decode("latin1"))
            self.text("latin1")
            self.op(pickle.TUPLE2)
            self.op(pickle.REDUCE)

    def value(self, obj: Any) -> None:  # noqa: C901 - one case per type
        if obj is None:
            self.op(pickle.NONE)
        elif obj is True or obj is False:
            self.op(pickle.NEWTRUE if obj else pickle.NEWFALSE)
        elif isinstance(obj, Network):
            self.global_(*obj.container)
            self.op(pickle.EMPTY_TUPLE)
            self.op(pickle.NEWOBJ)
            self.value(obj.state)
            self.op(pickle.BUILD)
        elif isinstance(obj, np.ndarray):
            self.global_(f"{self.numpy_core}.multiarray", "_reconstruct")
            self.global_("numpy", "ndarray")
            self.value((0,))
            self.bytes_(b"b")
            self.op(pickle.TUPLE3)
            self.op(pickle.REDUCE)
            arr = np.ascontiguousarray(obj)
            self.value((1, tuple(arr.shape), arr.dtype, False, arr.tobytes()))
            self.op(pickle.BUILD)
        elif isinstance(obj, np.generic):
            self.global_(f"{self.numpy_core}.multiarray", "scalar")
            self.value(obj.dtype)
            self.bytes_(obj.tobytes())
            self.op(pickle.TUPLE2)
            self.op(pickle.REDUCE)
        elif isinstance(obj, np.dtype):
            self.global_("numpy", "dtype")
            self.value((obj.str[1:], False, True))
            self.op(pickle.REDUCE)
            self.value((3, obj.str[0], None, None, None, -1, -1, 0))
            self.op(pickle.BUILD)
        elif isinstance(obj, bytes):
            self.bytes_(obj)
        elif isinstance(obj, int):
            self.op(pickle.BININT, struct.pack("<i", obj))
        elif isinstance(obj, float):
            self.op(pickle.BINFLOAT, struct.pack(">d", obj))
        elif isinstance(obj, str):
            self.text(obj)
        elif isinstance(obj, tuple):
            self.op(pickle.MARK)
            for item in obj:
                self.value(item)
            self.op(pickle.TUPLE)
        elif isinstance(obj, list):
            self.op(pickle.EMPTY_LIST)
            if obj:
                self.op(pickle.MARK)
                for item in obj:
                    self.value(item)
                self.op(pickle.APPENDS)
        elif isinstance(obj, dict):
            self.op(pickle.EMPTY_DICT)
            if obj:
                self.op(pickle.MARK)
                for key, item in obj.items():
                    self.value(key)
                    self.value(item)
                self.op(pickle.SETITEMS)
        else:
            raise TypeError(f"the TF pickle writer does not write {type(obj).__name__}")


def dumps(obj: Any, protocol: int = 3, numpy_core: str = "numpy.core") -> bytes:
    """The pickle of ``obj`` (usually a (G, D, Gs) tuple of :class:`Network`)."""
    w = _Writer(protocol, numpy_core)
    w.op(pickle.PROTO, bytes([protocol]))
    w.value(obj)
    w.op(pickle.STOP)
    return w.out.getvalue()


def _network(
    container: tuple[str, str],
    version: int,
    name: str,
    func: str,
    kwargs: dict[str, Any],
    variables: list[tuple[str, Any]],
    components: dict[str, Network] | None = None,
    source: str = SOURCE,
) -> Network:
    state: dict[str, Any] = {"version": version, "name": name, "static_kwargs": dict(kwargs)}
    if version >= 3:
        state["components"] = dict(components or {})
    state["build_module_src"] = source
    state["build_func_name"] = func
    state["variables"] = list(variables)
    if version >= 5:
        state.update(input_shapes=[], output_shapes=[], input_names=[], output_names=[])
    return Network(container, state)


class _Rand:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.RandomState(seed)

    def __call__(self, *shape: int, scale: float = 1.0) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)


def _log2(res: int) -> int:
    return int(math.log2(res))


def _discriminator(r: _Rand, container: tuple[str, str], version: int, func: str, res: int) -> Network:
    """A token discriminator: the loaders read only Gs, but the file carries a D like NVIDIA's."""
    variables = [(f"{res}x{res}/FromRGB/weight", r(1, 1, 3, 4)), (f"{res}x{res}/FromRGB/bias", r(4))]
    variables += [("Output/weight", r(4, 1)), ("Output/bias", r(1))]
    return _network(container, version, "D", func, {"resolution": res}, variables)


def stylegan2(
    seed: int = 0,
    *,
    resolution: int = 16,
    z_dim: int = 8,
    w_dim: int = 12,
    c_dim: int = 0,
    mapping_layers: int = 2,
    fmap_base: int = 32,
    fmap_max: int = 16,
    architecture: str = "skip",
    ada: bool = False,
    use_noise: bool = True,
    rgb_scale: float = 0.3,
    extra_kwargs: dict[str, Any] | None = None,
    source: str = SOURCE,
) -> tuple[Network, Network, Network]:
    """(G, D, Gs) of NVlabs/stylegan2 (version 4, ``G_synthesis_stylegan2``) or stylegan2-ada TF
    (version 5, ``G_synthesis``; labels through ``LabelEmbed``)."""
    r = _Rand(seed)
    version, syn_func = (5, "G_synthesis") if ada else (4, "G_synthesis_stylegan2")
    kwargs: dict[str, Any] = {"num_channels": 3, "resolution": resolution, "label_size": c_dim}
    kwargs.update(latent_size=z_dim, dlatent_size=w_dim, fmap_base=fmap_base, fmap_max=fmap_max)
    kwargs.update(mapping_layers=mapping_layers, architecture=architecture, **(extra_kwargs or {}))
    if not use_noise:
        kwargs["use_noise"] = False
    # TF initialises equalised-lr weights with std 1 / lrmul: a trained mapping's raw values are that large.
    lrmul = float(kwargs.get("mapping_lrmul", 0.01))

    def nf(res: int) -> int:
        return min(2 * fmap_base // res, fmap_max)

    def gen(name: str) -> Network:
        m: list[tuple[str, Any]] = []
        width = z_dim
        if c_dim:
            m += [("LabelEmbed/weight", r(c_dim, w_dim)), ("LabelEmbed/bias", r(w_dim, scale=0.1))]
            width += w_dim
        for i in range(mapping_layers):
            m += [
                (f"Dense{i}/weight", r(width, w_dim, scale=1 / lrmul)),
                (f"Dense{i}/bias", r(w_dim, scale=10.0)),
            ]
            width = w_dim
        mapping = _network(DNNLIB, version, "G_mapping", "G_mapping", kwargs, m, source=source)

        def mod(scope: str, k: int, cin: int, cout: int, noise: bool, scale: float = 1.0) -> list:
            out = [(f"{scope}/weight", r(k, k, cin, cout, scale=scale))]
            out += [(f"{scope}/mod_weight", r(w_dim, cin)), (f"{scope}/mod_bias", r(cin, scale=0.2))]
            if noise and use_noise:
                out.append((f"{scope}/noise_strength", np.float32(r.rng.uniform(0.2, 0.6))))
            return out + [(f"{scope}/bias", r(cout, scale=0.2))]

        s: list[tuple[str, Any]] = []
        if use_noise:
            for i in range(2 * _log2(resolution) - 3):
                rs = 2 ** ((i + 5) // 2)
                s.append((f"noise{i}", r(1, 1, rs, rs)))
        s.append(("4x4/Const/const", r(1, nf(4), 4, 4)))
        s += mod("4x4/Conv", 3, nf(4), nf(4), True)
        if architecture == "skip" or resolution == 4:
            s += mod("4x4/ToRGB", 1, nf(4), 3, False, rgb_scale)
        for k in range(3, _log2(resolution) + 1):
            res = 2**k
            sc = f"{res}x{res}"
            s += mod(f"{sc}/Conv0_up", 3, nf(res // 2), nf(res), True)
            s += mod(f"{sc}/Conv1", 3, nf(res), nf(res), True)
            if architecture == "resnet":
                s.append((f"{sc}/Skip/weight", r(1, 1, nf(res // 2), nf(res))))
            if architecture == "skip" or res == resolution:
                s += mod(f"{sc}/ToRGB", 1, nf(res), 3, False, rgb_scale)
        synthesis = _network(DNNLIB, version, "G_synthesis", syn_func, kwargs, s, source=source)
        own = [("lod", np.float32(0.0)), ("dlatent_avg", r(w_dim, scale=2.0))]
        comps = {"synthesis": synthesis, "mapping": mapping}
        return _network(DNNLIB, version, name, "G_main", kwargs, own, comps, source=source)

    d_vars: list[tuple[str, Any]] = []
    top = resolution
    d_vars += [
        (f"{top}x{top}/FromRGB/weight", r(1, 1, 3, nf(top))),
        (f"{top}x{top}/FromRGB/bias", r(nf(top))),
    ]
    for k in range(_log2(resolution), 2, -1):
        res = 2**k
        tmp, out = nf(res), nf(res // 2)
        d_vars += [(f"{res}x{res}/Conv0/weight", r(3, 3, tmp, tmp)), (f"{res}x{res}/Conv0/bias", r(tmp))]
        d_vars += [
            (f"{res}x{res}/Conv1_down/weight", r(3, 3, tmp, out)),
            (f"{res}x{res}/Conv1_down/bias", r(out)),
        ]
        d_vars += [(f"{res}x{res}/Skip/weight", r(1, 1, tmp, out))]
    c4 = nf(4)
    cmap = c4 if c_dim else 1  # a conditional D projects onto an embedded label of width nf(4)
    d_vars += [("4x4/Conv/weight", r(3, 3, c4 + 1, c4)), ("4x4/Conv/bias", r(c4))]
    d_vars += [("4x4/Dense0/weight", r(16 * c4, c4)), ("4x4/Dense0/bias", r(c4))]
    d_vars += [("Output/weight", r(c4, cmap)), ("Output/bias", r(cmap))]
    if c_dim:
        d_vars += [("LabelEmbed/weight", r(c_dim, cmap)), ("LabelEmbed/bias", r(cmap))]
    d_kwargs = {k: kwargs[k] for k in ("num_channels", "resolution", "label_size", "fmap_base", "fmap_max")}
    d = _network(DNNLIB, version, "D", "D_main" if ada else "D_stylegan2", d_kwargs, d_vars, source=source)
    return gen("G"), d, gen("Gs")


def stylegan1(
    seed: int = 0,
    *,
    resolution: int = 16,
    z_dim: int = 8,
    w_dim: int = 12,
    c_dim: int = 0,
    mapping_layers: int = 3,
    mapping_fmaps: int = 10,
    fmap_base: int = 64,
    fmap_max: int = 16,
    lod: float = 0.0,
    extra_kwargs: dict[str, Any] | None = None,
    source: str = SOURCE,
) -> tuple[Network, Network, Network]:
    """(G, D, Gs) of NVlabs/stylegan (version 3, ``G_style`` / ``G_synthesis`` / ``G_mapping``)."""
    r = _Rand(seed)
    kwargs: dict[str, Any] = {"num_channels": 3, "resolution": resolution, "label_size": c_dim}
    kwargs.update(latent_size=z_dim, dlatent_size=w_dim, mapping_layers=mapping_layers)
    kwargs.update(mapping_fmaps=mapping_fmaps, fmap_base=fmap_base, fmap_max=fmap_max, **(extra_kwargs or {}))
    lrmul = float(kwargs.get("mapping_lrmul", 0.01))  # raw mapping weights have std 1 / lrmul in TF

    def nf(res: int) -> int:  # nf(stage) at stage log2(res) - 1
        return min(int(fmap_base / 2 ** (_log2(res) - 1)), fmap_max)

    def gen(name: str) -> Network:
        m: list[tuple[str, Any]] = []
        width = z_dim
        if c_dim:
            m.append(("LabelConcat/weight", r(c_dim, z_dim)))
            width *= 2
        for i in range(mapping_layers):
            out = w_dim if i == mapping_layers - 1 else mapping_fmaps
            m += [
                (f"Dense{i}/weight", r(width, out, scale=1 / lrmul)),
                (f"Dense{i}/bias", r(out, scale=20.0)),
            ]
            width = out
        mapping = _network(DNNLIB, 3, "G_mapping", "G_mapping", kwargs, m, source=source)

        def epilogue(scope: str, ch: int) -> list:
            return [
                (f"{scope}/Noise/weight", r(ch, scale=0.5)),
                (f"{scope}/bias", r(ch, scale=0.3)),
                (f"{scope}/StyleMod/weight", r(w_dim, 2 * ch)),
                (f"{scope}/StyleMod/bias", r(2 * ch, scale=0.2)),
            ]

        s: list[tuple[str, Any]] = [("lod", np.float32(lod))]
        for i in range(2 * _log2(resolution) - 2):
            rs = 2 ** (i // 2 + 2)
            s.append((f"noise{i}", r(1, 1, rs, rs)))
        s.append(("4x4/Const/const", r(1, nf(4), 4, 4)))
        s += epilogue("4x4/Const", nf(4))
        s.append(("4x4/Conv/weight", r(3, 3, nf(4), nf(4))))
        s += epilogue("4x4/Conv", nf(4))
        for k in range(3, _log2(resolution) + 1):
            res = 2**k
            s.append((f"{res}x{res}/Conv0_up/weight", r(3, 3, nf(res // 2), nf(res))))
            s += epilogue(f"{res}x{res}/Conv0_up", nf(res))
            s.append((f"{res}x{res}/Conv1/weight", r(3, 3, nf(res), nf(res))))
            s += epilogue(f"{res}x{res}/Conv1", nf(res))
        for k in range(2, _log2(resolution) + 1):
            lodn = _log2(resolution) - k
            s += [(f"ToRGB_lod{lodn}/weight", r(1, 1, nf(2**k), 3, scale=0.5))]
            s += [(f"ToRGB_lod{lodn}/bias", r(3, scale=0.1))]
        synthesis = _network(DNNLIB, 3, "G_synthesis", "G_synthesis", kwargs, s, source=source)
        own = [("lod", np.float32(lod)), ("dlatent_avg", r(w_dim, scale=2.0))]
        comps = {"synthesis": synthesis, "mapping": mapping}
        return _network(DNNLIB, 3, name, "G_style", kwargs, own, comps, source=source)

    return gen("G"), _discriminator(r, DNNLIB, 3, "D_basic", resolution), gen("Gs")


def progan(
    seed: int = 0,
    *,
    resolution: int = 16,
    z_dim: int = 16,
    c_dim: int = 0,
    fmap_base: int = 64,
    fmap_max: int = 16,
    fused_scale: bool = True,
    lod: float = 0.0,
    extra_kwargs: dict[str, Any] | None = None,
    source: str = SOURCE,
) -> tuple[Network, Network, Network]:
    """(G, D, Gs) of tkarras/progressive_growing_of_gans (``tfutil.Network`` version 2, ``G_paper``)."""
    r = _Rand(seed)
    kwargs: dict[str, Any] = {"num_channels": 3, "resolution": resolution, "label_size": c_dim}
    kwargs.update(fmap_base=fmap_base, fmap_max=fmap_max, latent_size=z_dim, fused_scale=fused_scale)
    kwargs.update(extra_kwargs or {})

    def nf(res: int) -> int:
        return min(int(fmap_base / 2 ** (_log2(res) - 1)), fmap_max)

    def gen(name: str) -> Network:
        v: list[tuple[str, Any]] = [("lod", np.float32(lod))]
        v += [("4x4/Dense/weight", r(z_dim + c_dim, nf(4) * 16)), ("4x4/Dense/bias", r(nf(4), scale=0.2))]
        v += [("4x4/Conv/weight", r(3, 3, nf(4), nf(4))), ("4x4/Conv/bias", r(nf(4), scale=0.2))]
        for k in range(3, _log2(resolution) + 1):
            res = 2**k
            cin, cout = nf(res // 2), nf(res)
            if fused_scale:  # note the [k, k, out, in] layout of the fused kernel
                v += [(f"{res}x{res}/Conv0_up/weight", r(3, 3, cout, cin))]
                v += [(f"{res}x{res}/Conv0_up/bias", r(cout, scale=0.2))]
            else:
                v += [(f"{res}x{res}/Conv0/weight", r(3, 3, cin, cout))]
                v += [(f"{res}x{res}/Conv0/bias", r(cout, scale=0.2))]
            v += [(f"{res}x{res}/Conv1/weight", r(3, 3, cout, cout)), (f"{res}x{res}/Conv1/bias", r(cout))]
        for k in range(2, _log2(resolution) + 1):
            lodn = _log2(resolution) - k
            v += [(f"ToRGB_lod{lodn}/weight", r(1, 1, nf(2**k), 3, scale=0.4))]
            v += [(f"ToRGB_lod{lodn}/bias", r(3, scale=0.1))]
        return _network(TFUTIL, 2, name, "G_paper", kwargs, v, source=source)

    return gen("G"), _discriminator(r, TFUTIL, 2, "D_paper", resolution), gen("Gs")
