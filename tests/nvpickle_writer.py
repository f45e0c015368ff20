"""Test-only writer of synthetic NVIDIA-format StyleGAN2 and StyleGAN3 network pickles.

The files it produces follow NVIDIA's on-disk layout (see shared/FORMATS.md, section A) without any NVIDIA
code: every network object is a call of ``torch_utils.persistence._reconstruct_persistent_obj`` with one
meta dict, every tensor a ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` call whose storage is
``torch.storage._load_from_bytes(blob)`` of a legacy (non-zip) ``torch.save`` stream, numpy scalars go
through ``numpy.core.multiarray.scalar``, nested kwargs are ``dnnlib.util.EasyDict`` objects.

The pickling itself is done by CPython's own pure-Python pickler (``pickle._Pickler``), so the opcodes,
memo use, framing and per-protocol details (e.g. ``builtins.set`` for an empty set and ``_codecs.encode``
for bytes under protocol 2) are exactly what ``pickle.dump`` writes.  Only the globals are substituted:
the names NVIDIA's files refer to (``torch_utils...``, ``dnnlib...``) are not importable here, so the
writer uses inert stand-in objects (:class:`Global`) and emits their names directly.

What the builders reproduce (checked once, at development time, against NVIDIA's stylegan3 and
stylegan2-ada-pytorch code: NVIDIA's ``legacy.load_network_pkl`` loads these files, its ``G_ema``
state dict equals ours key-for-key and bit-for-bit, every module's ``__dict__`` -- plain attributes,
``_init_args``/``_init_kwargs``, container order -- equals that of a generator NVIDIA constructs from the
recorded init arguments, and NVIDIA's own ``pickle.dumps`` of such a generator gives the same opcode stream
as ours once memo indices and storage keys are normalised):

* per-class attributes of each repository (stylegan2-ada-pytorch stores fewer: no ``in_features`` /
  ``in_channels`` / ``out_channels`` / ``w_dim`` on layers, no ``num_fp16_res`` on the synthesis network,
  no ``fused_modconv_default`` on blocks);
* ``_init_args`` is NOT always empty: sub-modules built with positional arguments record them (e.g. a
  ``SynthesisLayer`` has ``(in_channels, out_channels)``, an affine ``FullyConnectedLayer`` ``(w_dim, in)``);
* the resnet skip ``Conv2dLayer`` has ``bias=False``: ``bias`` is then a plain ``None`` attribute in the
  state, not a ``_parameters`` entry;
* the lrelu ``act_gain`` is one shared numpy float64 object (memoised once per file);
* storage blobs say ``type_sizes['long'] == 4`` (torch uses ``struct.Struct('=l').size``, always 4).

``build_stylegan3`` (``networks_stylegan3``, configs T and R) was checked the same way: with NVIDIA's
source as ``module_src``, ``legacy.load_network_pkl`` loads its files, every module's ``__dict__`` (names,
order, values and types of the attributes, ``_init_args``/``_init_kwargs``) equals that of a generator
NVIDIA builds from the recorded init arguments, the state dict has the same keys in the same order, and
NVIDIA's ``G_ema`` renders the same images as latentwalk (within 2e-7).

Nothing in this module imports torch, latentwalk or NVIDIA code.
"""

from __future__ import annotations

import collections
import copy
import copyreg
import io
import math
import pathlib
import pickle
import shlex
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "MAGIC_NUMBER",
    "PROTOCOL_VERSION",
    "ALLOWED_GLOBALS",
    "HOSTILE_REQUIRES",
    "Call",
    "EasyDict",
    "Global",
    "PersistentObject",
    "Raw",
    "Tensor",
    "broken_pickles",
    "build_stylegan2",
    "build_stylegan3",
    "dumps_network_pickle",
    "glob",
    "hostile_pickles",
    "iter_blobs",
    "pickle_globals",
    "placeholder_source",
    "snapshot_dict",
    "split_blob",
    "storage_blob",
    "tensorflow_pickle",
]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
PERSISTENCE_VERSION = 6
_RESAMPLE_KERNEL = (1, 3, 3, 1)
# NVIDIA's layers store ``bias_act.activation_funcs[act].def_gain``: for lrelu one shared numpy float64
# object (so the pickle memo writes it once and refers back to it), for linear the int 1.
_LRELU_DEF_GAIN = np.sqrt(2)

# Globals a faithful StyleGAN2 snapshot written by this module may name (outer pickle and storage blobs).
# ``numpy.core`` may also be spelled ``numpy._core``.  Protocol 2/3 add ``builtins.set`` (``__builtin__``
# under protocol 2) and protocol 2 adds ``_codecs.encode``: that is what CPython's pickler emits for an
# empty set / for bytes at those protocols.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"),
        ("dnnlib.util", "EasyDict"),
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch.storage", "_load_from_bytes"),
        ("torch", "FloatStorage"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("builtins", "set"),
        ("__builtin__", "set"),
        ("_codecs", "encode"),
    }
)

# ---------------------------------------------------------------------------------------------------------
# Writer-side object model
# ---------------------------------------------------------------------------------------------------------


class Global:
    """Inert stand-in for ``module.name``; pickled as that global, never imported or called."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # pickle requires reduce callables to be callable
        raise RuntimeError(f"stand-in for {self.module}.{self.name} must not be called")

    def __deepcopy__(self, memo: dict[int, Any]) -> Global:
        return self

    def __repr__(self) -> str:
        return f"Global({self.module!r}, {self.name!r})"


_GLOBAL_CACHE: dict[tuple[str, str], Global] = {}


def glob(module: str, name: str) -> Global:
    """The one shared :class:`Global` for ``module.name`` (shared so that the pickle memo reuses it)."""
    key = (module, name)
    g = _GLOBAL_CACHE.get(key)
    if g is None:
        g = _GLOBAL_CACHE[key] = Global(module, name)
    return g


class EasyDict(dict):  # type: ignore[type-arg]
    """Writer-side stand-in for ``dnnlib.util.EasyDict`` (pickled as NEWOBJ of that class + SETITEMS)."""


class _TFNetwork:
    """Writer-side stand-in for ``dnnlib.tflib.network.Network`` (NEWOBJ with no args + BUILD state)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.tf_state = state


# Classes whose *class object* is pickled under a foreign name.
_CLASS_GLOBALS: dict[type, tuple[str, str]] = {
    EasyDict: ("dnnlib.util", "EasyDict"),
    _TFNetwork: ("dnnlib.tflib.network", "Network"),
}


class Call:
    """``func(*args)`` as a REDUCE; ``func`` is a :class:`Global` or another :class:`Call`."""

    def __init__(self, func: Global | Call, args: tuple[Any, ...], state: Any = None) -> None:
        self.func = func
        self.args = args
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Call nodes are inert")


class Raw:
    """Raw opcode bytes spliced into the stream; must leave exactly one object on the stack."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class Tensor:
    """A float32 tensor (parameter or buffer).

    ``data`` holds the logical values.  ``channels_last`` lays a 4-D tensor out NHWC in its storage (the
    pickle then carries non-contiguous strides, as NVIDIA's fp16 channels-last layers do).  ``blob``
    replaces the storage's legacy ``torch.save`` stream verbatim; ``storage_numel`` / ``size`` override
    what the pickle claims (for broken-file tests).
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        parameter: bool,
        channels_last: bool = False,
        blob: bytes | None = None,
        size: tuple[int, ...] | None = None,
    ) -> None:
        self.data = np.asarray(data, dtype=np.float32)
        self.parameter = parameter
        self.channels_last = channels_last and self.data.ndim == 4
        self.blob = blob
        self.size_override = size

    @property
    def size(self) -> tuple[int, ...]:
        if self.size_override is not None:
            return tuple(self.size_override)
        return tuple(int(s) for s in self.data.shape)

    @property
    def stride(self) -> tuple[int, ...]:
        shape = self.data.shape
        if self.channels_last:
            n, c, h, w = shape
            return (h * w * c, 1, w * c, c)
        stride = []
        acc = 1
        for s in reversed(shape):
            stride.append(acc)
            acc *= int(s)
        return tuple(reversed(stride))

    def storage_values(self) -> np.ndarray:
        """The flat storage contents in memory order."""
        if self.channels_last:
            return np.ascontiguousarray(self.data.transpose(0, 2, 3, 1)).reshape(-1)
        return np.ascontiguousarray(self.data).reshape(-1)


class PersistentObject:
    """One NVIDIA persistent network object: ``class_name``, ``module_src`` and the ``state`` dict."""

    def __init__(self, class_name: str, module_src: str, state: dict[str, Any]) -> None:
        self.class_name = class_name
        self.module_src = module_src
        self.state = state
        self.meta_overrides: dict[str, Any] = {}
        self.family: str | None = None
        self.discriminator_src: str | None = None

    # -- convenience accessors (writer side) --
    @property
    def parameters(self) -> dict[str, Any]:
        return self.state["_parameters"]

    @property
    def buffers(self) -> dict[str, Any]:
        return self.state["_buffers"]

    @property
    def modules(self) -> dict[str, Any]:
        return self.state["_modules"]

    def get(self, path: str) -> PersistentObject:
        obj = self
        for part in filter(None, path.split(".")):
            obj = obj.modules[part]
        return obj

    def meta(self) -> dict[str, Any]:
        meta = {
            "type": "class",
            "version": PERSISTENCE_VERSION,
            "module_src": self.module_src,
            "class_name": self.class_name,
            "state": self.state,
        }
        meta.update(self.meta_overrides)
        return meta

    def named_tensors(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Parameters then buffers, depth-first over ``_modules`` (torch ``state_dict`` order)."""
        for container in ("_parameters", "_buffers"):
            for name, value in self.state.get(container, {}).items():
                if value is not None:
                    yield prefix + name, value
        for name, child in self.state.get("_modules", {}).items():
            if isinstance(child, PersistentObject):
                yield from child.named_tensors(prefix + name + ".")

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: t.data.copy() for name, t in self.named_tensors()}

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name!r})"


# ---------------------------------------------------------------------------------------------------------
# Pickler
# ---------------------------------------------------------------------------------------------------------


class _Opaque:
    """A fresh object standing for an intermediate value (tensor data, storage) during pickling."""

    __slots__ = ("kind", "payload")

    def __init__(self, kind: str, payload: Any) -> None:
        self.kind = kind
        self.payload = payload


class _StorageRecordMarker:
    """The storage object inside a legacy ``torch.save`` stream; pickled as a persistent id."""

    def __init__(self, pid: tuple[Any, ...]) -> None:
        self.pid = pid


_PLAIN_TYPES = frozenset(
    {str, int, float, bool, type(None), bytes, tuple, list, dict, set, collections.OrderedDict}
)


class _Writer(pickle._Pickler):  # type: ignore[name-defined,misc]
    """CPython's pure-Python pickler with foreign globals and NVIDIA-style reductions."""

    def __init__(
        self, file: io.BytesIO, protocol: int, *, numpy_core: str, key_source: Iterator[str]
    ) -> None:
        super().__init__(file, protocol=protocol)
        self._numpy_core = numpy_core
        self._key_source = key_source

    # Raw opcode splices.
    def save(self, obj: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(obj, Raw):
            self.framer.commit_frame()
            self.write(obj.data)
            return
        super().save(obj, *args, **kwargs)

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRecordMarker):
            return obj.pid
        return None

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if isinstance(obj, Global):
            module, gname = obj.module, obj.name
        elif isinstance(obj, type) and obj in _CLASS_GLOBALS:
            module, gname = _CLASS_GLOBALS[obj]
        else:
            super().save_global(obj, name)
            return
        if self.proto >= 4:
            self.save(module)
            self.save(gname)
            self.write(pickle.STACK_GLOBAL)
        else:
            if self.proto < 3 and self.fix_imports:
                import _compat_pickle

                if (module, gname) in _compat_pickle.REVERSE_NAME_MAPPING:
                    module, gname = _compat_pickle.REVERSE_NAME_MAPPING[(module, gname)]
                elif module in _compat_pickle.REVERSE_IMPORT_MAPPING:
                    module = _compat_pickle.REVERSE_IMPORT_MAPPING[module]
            self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + gname.encode("utf-8") + b"\n")
        self.memoize(obj)

    def reducer_override(self, obj: Any) -> Any:  # noqa: C901 - a flat type switch
        if type(obj) in _PLAIN_TYPES:
            return NotImplemented
        if isinstance(obj, Global):
            return obj.name  # "save as global" -> save_global above
        if isinstance(obj, type) and obj in _CLASS_GLOBALS:
            return _CLASS_GLOBALS[obj][1]
        if isinstance(obj, PersistentObject):
            return (glob("torch_utils.persistence", "_reconstruct_persistent_obj"), (obj.meta(),), None)
        if isinstance(obj, Tensor):
            if obj.parameter:
                inner = _Opaque("tensor", obj)
                return (glob("torch._utils", "_rebuild_parameter"), (inner, False, collections.OrderedDict()))
            return self._tensor_reduce(obj)
        if isinstance(obj, _Opaque):
            if obj.kind == "tensor":
                return self._tensor_reduce(obj.payload)
            if obj.kind == "storage":
                return (glob("torch.storage", "_load_from_bytes"), (obj.payload,))
            raise AssertionError(obj.kind)
        if isinstance(obj, EasyDict):
            return (copyreg.__newobj__, (EasyDict,), None, None, iter(obj.items()))
        if isinstance(obj, _TFNetwork):
            return (copyreg.__newobj__, (_TFNetwork,), obj.tf_state)
        if isinstance(obj, Call):
            return (obj.func, obj.args, obj.state)
        if isinstance(obj, np.dtype):
            _, args, state = obj.__reduce__()
            return (glob("numpy", "dtype"), args, state)
        if isinstance(obj, np.generic):
            return (glob(self._numpy_core + ".multiarray", "scalar"), (obj.dtype, obj.tobytes()))
        if isinstance(obj, np.ndarray):
            arr = np.ascontiguousarray(obj)
            state = (1, tuple(int(s) for s in arr.shape), arr.dtype, False, arr.tobytes())
            return (
                glob(self._numpy_core + ".multiarray", "_reconstruct"),
                (glob("numpy", "ndarray"), (0,), b"b"),
                state,
            )
        return NotImplemented

    def _tensor_reduce(self, t: Tensor) -> tuple[Any, ...]:
        blob = t.blob if t.blob is not None else storage_blob(t.storage_values(), key=next(self._key_source))
        storage = _Opaque("storage", blob)
        args = (storage, 0, t.size, t.stride, False, collections.OrderedDict())
        return (glob("torch._utils", "_rebuild_tensor_v2"), args)


def _key_iter(start: int = 94_305_711_284_224) -> Iterator[str]:
    """Storage keys: decimal strings that look like the C pointers torch uses."""
    addr = start
    while True:
        yield str(addr)
        addr += 0x1C40


def _dumps(obj: Any, protocol: int, *, numpy_core: str = "numpy.core", key_start: int | None = None) -> bytes:
    if protocol not in (2, 3, 4, 5):
        raise ValueError(f"unsupported pickle protocol {protocol}")
    if numpy_core not in ("numpy.core", "numpy._core"):
        raise ValueError(f"numpy_core_spelling must be 'numpy.core' or 'numpy._core', not {numpy_core!r}")
    buf = io.BytesIO()
    keys = _key_iter() if key_start is None else _key_iter(key_start)
    _Writer(buf, protocol, numpy_core=numpy_core, key_source=keys).dump(obj)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Storage blobs (legacy torch.save stream of one storage)
# ---------------------------------------------------------------------------------------------------------


def _dumps_plain(obj: Any) -> bytes:
    """Protocol-2 pickle as torch writes it (``pickle.dump``); our writer only for inert stand-ins."""
    if isinstance(obj, (Call, Global, Raw)):
        return _dumps(obj, 2)
    return pickle.dumps(obj, protocol=2)


def storage_blob(
    values: np.ndarray,
    *,
    key: str = "94305711284224",
    storage_type: str = "FloatStorage",
    location: Any = "cpu",
    numel: int | None = None,
    count: int | None = None,
    magic: Any = MAGIC_NUMBER,
    protocol_version: Any = PROTOCOL_VERSION,
    sys_info: Any = None,
    long_size: int = 4,
    keys: Any = None,
) -> bytes:
    """The legacy ``torch.save`` stream of one float32 storage holding ``values`` (flat, memory order).

    Every piece can be overridden (for broken and hostile files); ``magic``/``sys_info``/``keys`` and
    ``location`` may be :class:`Call` nodes, which are pickled as calls.
    """
    flat = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    n = int(flat.size)
    if sys_info is None:
        sys_info = {
            "protocol_version": PROTOCOL_VERSION,
            "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": long_size},
        }
    record = _StorageRecordMarker(
        ("storage", glob("torch", storage_type), key, location, n if numel is None else numel, None)
    )
    parts = [
        _dumps_plain(magic),
        _dumps_plain(protocol_version),
        _dumps_plain(sys_info),
        _dumps(record, 2),
        _dumps_plain([key] if keys is None else keys),
        struct.pack("<q", n if count is None else count),
        flat.tobytes(),
    ]
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Building StyleGAN2 generators
# ---------------------------------------------------------------------------------------------------------

_SOURCE_PATHS = {
    "stylegan3": "stylegan3 repository, training/networks_stylegan2.py",
    "ada": "stylegan2-ada-pytorch repository, training/networks.py",
    "stylegan3-sg3": "stylegan3 repository, training/networks_stylegan3.py",
    "augment": "training/augment.py",
}


def placeholder_source(which: str) -> str:
    """Harmless stand-in for the module source text NVIDIA stores (about 30 kB of comments)."""
    head = [
        "# latentwalk test fixture: stand-in for the Python source text that NVIDIA's persistence",
        f"# module stores in network pickles ({_SOURCE_PATHS[which]}).",
        "# It is deliberately NOT NVIDIA's code. Executing it does nothing. A safe loader never executes it.",
    ]
    filler = [f"# {i:05d} " + "." * 60 for i in range(420)]
    return "\n".join(head + filler) + "\n"


def _module_state(torch_style: str) -> dict[str, Any]:
    """The bookkeeping part of a torch ``Module.__dict__`` (eval mode), in construction order."""
    od = collections.OrderedDict
    if torch_style == "2":
        return {
            "training": False,
            "_parameters": {},
            "_buffers": {},
            "_non_persistent_buffers_set": set(),
            "_backward_pre_hooks": od(),
            "_backward_hooks": od(),
            "_is_full_backward_hook": None,
            "_forward_hooks": od(),
            "_forward_hooks_with_kwargs": od(),
            "_forward_hooks_always_called": od(),
            "_forward_pre_hooks": od(),
            "_forward_pre_hooks_with_kwargs": od(),
            "_state_dict_hooks": od(),
            "_state_dict_pre_hooks": od(),
            "_load_state_dict_pre_hooks": od(),
            "_load_state_dict_post_hooks": od(),
            "_modules": {},
        }
    if torch_style == "1":  # torch 1.8/1.9 layout
        return {
            "training": False,
            "_parameters": od(),
            "_buffers": od(),
            "_non_persistent_buffers_set": set(),
            "_backward_hooks": od(),
            "_is_full_backward_hook": None,
            "_forward_hooks": od(),
            "_forward_pre_hooks": od(),
            "_state_dict_hooks": od(),
            "_load_state_dict_pre_hooks": od(),
            "_modules": od(),
        }
    raise ValueError(f"torch_style must be '1' or '2', not {torch_style!r}")


class _Builder:
    """Creates NVIDIA-shaped module objects with seeded random contents."""

    def __init__(
        self,
        *,
        family: str,
        module_src: str,
        torch_style: str,
        rng: np.random.RandomState,
        perturb: bool,
        value_scale: float,
    ) -> None:
        if family not in ("stylegan3", "ada"):
            raise ValueError(f"family must be 'stylegan3' or 'ada', not {family!r}")
        self.family = family
        self.src = module_src
        self.torch_style = torch_style
        self.rng = rng
        self.perturb = perturb
        self.value_scale = value_scale

    @property
    def sg3(self) -> bool:
        return self.family == "stylegan3"

    def new(self, class_name: str) -> PersistentObject:
        return PersistentObject(class_name, self.src, _module_state(self.torch_style))

    @staticmethod
    def finish(obj: PersistentObject, args: tuple[Any, ...], kwargs: dict[str, Any]) -> PersistentObject:
        obj.state["_init_args"] = copy.deepcopy(args)
        obj.state["_init_kwargs"] = copy.deepcopy(kwargs)
        return obj

    # Random values --------------------------------------------------------------------------------------
    def randn(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape).astype(np.float32)

    def init_value(
        self, shape: tuple[int, ...], nvidia_init: float, scale: float, *, offset: float = 0.0
    ) -> np.ndarray:
        """NVIDIA initialises these to a constant; with ``perturb`` they get random values around it."""
        if not self.perturb:
            return np.full(shape, nvidia_init, dtype=np.float32)
        return (offset + scale * self.rng.standard_normal(shape)).astype(np.float32)

    @staticmethod
    def resample_filter() -> np.ndarray:
        k = np.asarray(_RESAMPLE_KERNEL, dtype=np.float32)
        f = np.outer(k, k)
        return (f / f.sum()).astype(np.float32)

    # Layers ---------------------------------------------------------------------------------------------
    def fc(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: str = "linear",
        lr_multiplier: float | int = 1,
        bias_init: float | int = 0,
        args_kwargs: tuple[tuple[Any, ...], dict[str, Any]],
        bias_scale: float = 0.3,
    ) -> PersistentObject:
        m = self.new("FullyConnectedLayer")
        st = m.state
        if self.sg3:
            st["in_features"] = in_features
            st["out_features"] = out_features
        st["activation"] = activation
        m.parameters["weight"] = Tensor(
            self.randn(out_features, in_features) / np.float32(lr_multiplier), parameter=True
        )
        if self.perturb:
            bias = (bias_init + bias_scale * self.rng.standard_normal(out_features) / lr_multiplier).astype(
                np.float32
            )
        else:
            bias = np.full([out_features], np.float32(bias_init), dtype=np.float32)
        m.parameters["bias"] = Tensor(bias, parameter=True)
        st["weight_gain"] = lr_multiplier / np.sqrt(in_features)  # numpy float64
        st["bias_gain"] = lr_multiplier
        return self.finish(m, *args_kwargs)

    def synthesis_layer(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        resolution: int,
        up: int,
        conv_clamp: int | None,
        channels_last: bool,
    ) -> PersistentObject:
        m = self.new("SynthesisLayer")
        st = m.state
        if self.sg3:
            st["in_channels"] = in_channels
            st["out_channels"] = out_channels
            st["w_dim"] = w_dim
        st["resolution"] = resolution
        st["up"] = up
        st["use_noise"] = True
        st["activation"] = "lrelu"
        st["conv_clamp"] = conv_clamp
        m.buffers["resample_filter"] = Tensor(self.resample_filter(), parameter=False)
        st["padding"] = 3 // 2
        st["act_gain"] = _LRELU_DEF_GAIN
        m.modules["affine"] = self.fc(
            w_dim, in_channels, bias_init=1, args_kwargs=((w_dim, in_channels), {"bias_init": 1})
        )
        m.parameters["weight"] = Tensor(
            self.randn(out_channels, in_channels, 3, 3), parameter=True, channels_last=channels_last
        )
        m.buffers["noise_const"] = Tensor(self.randn(resolution, resolution), parameter=False)
        m.parameters["noise_strength"] = Tensor(self.init_value((), 0.0, 0.3), parameter=True)
        m.parameters["bias"] = Tensor(
            self.init_value((out_channels,), 0.0, 0.2 * self.value_scale), parameter=True
        )
        if up == 2:
            kwargs: dict[str, Any] = {
                "w_dim": w_dim,
                "resolution": resolution,
                "up": 2,
                "resample_filter": list(_RESAMPLE_KERNEL),
                "conv_clamp": conv_clamp,
                "channels_last": channels_last,
            }
        else:
            kwargs = {
                "w_dim": w_dim,
                "resolution": resolution,
                "conv_clamp": conv_clamp,
                "channels_last": channels_last,
            }
        return self.finish(m, (in_channels, out_channels), kwargs)

    def torgb(
        self, in_channels: int, out_channels: int, *, w_dim: int, conv_clamp: int | None, channels_last: bool
    ) -> PersistentObject:
        m = self.new("ToRGBLayer")
        st = m.state
        if self.sg3:
            st["in_channels"] = in_channels
            st["out_channels"] = out_channels
            st["w_dim"] = w_dim
        st["conv_clamp"] = conv_clamp
        m.modules["affine"] = self.fc(
            w_dim, in_channels, bias_init=1, args_kwargs=((w_dim, in_channels), {"bias_init": 1})
        )
        m.parameters["weight"] = Tensor(
            self.randn(out_channels, in_channels, 1, 1), parameter=True, channels_last=channels_last
        )
        m.parameters["bias"] = Tensor(
            self.init_value((out_channels,), 0.0, 0.2 * self.value_scale), parameter=True
        )
        st["weight_gain"] = 1 / np.sqrt(in_channels * (1**2))
        kwargs = {"w_dim": w_dim, "conv_clamp": conv_clamp, "channels_last": channels_last}
        return self.finish(m, (in_channels, out_channels), kwargs)

    def conv2d_layer(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        conv_clamp: int | None = None,
        channels_last: bool = False,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> PersistentObject:
        m = self.new("Conv2dLayer")
        st = m.state
        if self.sg3:
            st["in_channels"] = in_channels
            st["out_channels"] = out_channels
        st["activation"] = activation
        st["up"] = up
        st["down"] = down
        st["conv_clamp"] = conv_clamp
        m.buffers["resample_filter"] = Tensor(self.resample_filter(), parameter=False)
        st["padding"] = kernel_size // 2
        st["weight_gain"] = 1 / np.sqrt(in_channels * (kernel_size**2))
        st["act_gain"] = _LRELU_DEF_GAIN if activation == "lrelu" else 1
        m.parameters["weight"] = Tensor(
            self.randn(out_channels, in_channels, kernel_size, kernel_size),
            parameter=True,
            channels_last=channels_last,
        )
        if bias:
            m.parameters["bias"] = Tensor(self.init_value((out_channels,), 0.0, 0.2), parameter=True)
        else:
            st["bias"] = None  # ``self.bias = None`` on a Module lands in __dict__, not in _parameters
        return self.finish(m, args, kwargs)

    def synthesis_block(
        self,
        in_channels: int,
        out_channels: int,
        *,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        use_fp16: bool,
        block_kwargs: dict[str, Any],
    ) -> PersistentObject:
        architecture = block_kwargs.get("architecture", "skip")
        conv_clamp = block_kwargs.get("conv_clamp", 256 if self.sg3 else None)
        fp16_channels_last = block_kwargs.get("fp16_channels_last", False)
        m = self.new("SynthesisBlock")
        st = m.state
        st["in_channels"] = in_channels
        st["w_dim"] = w_dim
        st["resolution"] = resolution
        st["img_channels"] = img_channels
        st["is_last"] = is_last
        st["architecture"] = architecture
        st["use_fp16"] = use_fp16
        channels_last = use_fp16 and fp16_channels_last
        st["channels_last"] = channels_last
        if self.sg3:
            st["fused_modconv_default"] = block_kwargs.get("fused_modconv_default", True)
        m.buffers["resample_filter"] = Tensor(self.resample_filter(), parameter=False)
        st["num_conv"] = 0
        st["num_torgb"] = 0
        if in_channels == 0:
            m.parameters["const"] = Tensor(self.randn(out_channels, resolution, resolution), parameter=True)
        if in_channels != 0:
            m.modules["conv0"] = self.synthesis_layer(
                in_channels,
                out_channels,
                w_dim=w_dim,
                resolution=resolution,
                up=2,
                conv_clamp=conv_clamp,
                channels_last=channels_last,
            )
            st["num_conv"] += 1
        m.modules["conv1"] = self.synthesis_layer(
            out_channels,
            out_channels,
            w_dim=w_dim,
            resolution=resolution,
            up=1,
            conv_clamp=conv_clamp,
            channels_last=channels_last,
        )
        st["num_conv"] += 1
        if is_last or architecture == "skip":
            m.modules["torgb"] = self.torgb(
                out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp, channels_last=channels_last
            )
            st["num_torgb"] += 1
        if in_channels != 0 and architecture == "resnet":
            kwargs = {
                "kernel_size": 1,
                "bias": False,
                "up": 2,
                "resample_filter": list(_RESAMPLE_KERNEL),
                "channels_last": channels_last,
            }
            m.modules["skip"] = self.conv2d_layer(
                in_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                up=2,
                channels_last=channels_last,
                args=(in_channels, out_channels),
                kwargs=kwargs,
            )
        kwargs = {
            "w_dim": w_dim,
            "resolution": resolution,
            "img_channels": img_channels,
            "is_last": is_last,
            "use_fp16": use_fp16,
            **block_kwargs,
        }
        return self.finish(m, (in_channels, out_channels), kwargs)

    def synthesis_network(
        self, *, w_dim: int, img_resolution: int, img_channels: int, synthesis_kwargs: dict[str, Any]
    ) -> PersistentObject:
        channel_base = synthesis_kwargs.get("channel_base", 32768)
        channel_max = synthesis_kwargs.get("channel_max", 512)
        num_fp16_res = synthesis_kwargs.get("num_fp16_res", 4 if self.sg3 else 0)
        block_kwargs = {
            k: v
            for k, v in synthesis_kwargs.items()
            if k not in ("channel_base", "channel_max", "num_fp16_res")
        }
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError("img_resolution must be a power of two >= 4")
        m = self.new("SynthesisNetwork")
        st = m.state
        st["w_dim"] = w_dim
        st["img_resolution"] = img_resolution
        log2 = int(np.log2(img_resolution))
        st["img_resolution_log2"] = log2
        st["img_channels"] = img_channels
        if self.sg3:
            st["num_fp16_res"] = num_fp16_res
        block_resolutions = [2**i for i in range(2, log2 + 1)]
        st["block_resolutions"] = block_resolutions
        channels = {res: min(channel_base // res, channel_max) for res in block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        st["num_ws"] = 0
        for res in block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            is_last = res == img_resolution
            block = self.synthesis_block(
                in_channels,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=is_last,
                use_fp16=res >= fp16_resolution,
                block_kwargs=block_kwargs,
            )
            st["num_ws"] += block.state["num_conv"]
            if is_last:
                st["num_ws"] += block.state["num_torgb"]
            m.modules[f"b{res}"] = block
        kwargs = {
            "w_dim": w_dim,
            "img_resolution": img_resolution,
            "img_channels": img_channels,
            **synthesis_kwargs,
        }
        return self.finish(m, (), kwargs)

    def mapping_network(
        self,
        *,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        mapping_kwargs: dict[str, Any],
        w_avg_beta_default: float | None = None,
    ) -> PersistentObject:
        num_layers = mapping_kwargs.get("num_layers", 8)
        embed_features = mapping_kwargs.get("embed_features")
        layer_features = mapping_kwargs.get("layer_features")
        activation = mapping_kwargs.get("activation", "lrelu")
        lr_multiplier = mapping_kwargs.get("lr_multiplier", 0.01)
        default_beta = (0.998 if self.sg3 else 0.995) if w_avg_beta_default is None else w_avg_beta_default
        w_avg_beta = mapping_kwargs.get("w_avg_beta", default_beta)
        m = self.new("MappingNetwork")
        st = m.state
        st["z_dim"] = z_dim
        st["c_dim"] = c_dim
        st["w_dim"] = w_dim
        st["num_ws"] = num_ws
        st["num_layers"] = num_layers
        st["w_avg_beta"] = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            m.modules["embed"] = self.fc(c_dim, embed_features, args_kwargs=((c_dim, embed_features), {}))
        for idx in range(num_layers):
            fin, fout = features[idx], features[idx + 1]
            m.modules[f"fc{idx}"] = self.fc(
                fin,
                fout,
                activation=activation,
                lr_multiplier=lr_multiplier,
                args_kwargs=((fin, fout), {"activation": activation, "lr_multiplier": lr_multiplier}),
            )
        if num_ws is not None and w_avg_beta is not None:
            m.buffers["w_avg"] = Tensor(self.init_value((w_dim,), 0.0, 0.5), parameter=False)
        kwargs = {"z_dim": z_dim, "c_dim": c_dim, "w_dim": w_dim, "num_ws": num_ws, **mapping_kwargs}
        return self.finish(m, (), kwargs)


def build_stylegan2(
    *,
    family: str = "stylegan3",
    z_dim: int = 8,
    c_dim: int = 0,
    w_dim: int = 16,
    img_resolution: int = 16,
    img_channels: int = 3,
    channel_base: int = 256,
    channel_max: int = 32,
    num_fp16_res: int = 0,
    conv_clamp: int | None = None,
    mapping_layers: int = 2,
    architecture: str = "skip",
    layer_features: int | None = None,
    embed_features: int | None = None,
    lr_multiplier: float = 0.01,
    seed: int = 0,
    perturb: bool = True,
    fp16_channels_last: bool = False,
    fused_modconv_default: bool | str = "inference_only",
    value_scale: float = 1.0,
    torch_style: str = "2",
    module_src: str | None = None,
) -> tuple[PersistentObject, dict[str, np.ndarray]]:
    """A StyleGAN2 ``G_ema`` tree as NVIDIA's classes would build it, plus its NVIDIA-named state dict.

    ``family``: ``"stylegan3"`` = the stylegan3 repository's ``networks_stylegan2`` classes (blocks store
    ``fused_modconv_default``; sub-layers store in/out channel counts), ``"ada"`` = stylegan2-ada-pytorch's
    ``training/networks.py`` (nested ``synthesis_kwargs``, fewer attributes).  ``_init_kwargs`` record the
    keyword arguments the respective ``train.py`` passes.  ``perturb`` gives every tensor NVIDIA initialises
    to a constant (biases, noise strengths, ``w_avg``, affine biases around 1) random values.
    ``value_scale`` multiplies the synthesis/ToRGB bias spread (large values drive layers into the
    clamp).  ``fp16_channels_last`` stores the weights of fp16 blocks channels-last (non-contiguous
    strides).  ``torch_style`` ``"1"`` writes torch-1.x module bookkeeping (OrderedDict containers).
    ``module_src`` replaces the placeholder source text (e.g. with NVIDIA's file for cross-checks).
    """
    if architecture not in ("orig", "skip", "resnet"):
        raise ValueError(f"architecture must be 'orig', 'skip' or 'resnet', not {architecture!r}")
    src = module_src if module_src is not None else placeholder_source(family)
    b = _Builder(
        family=family,
        module_src=src,
        torch_style=torch_style,
        rng=np.random.RandomState(seed),
        perturb=perturb,
        value_scale=value_scale,
    )

    mapping_kwargs = EasyDict(num_layers=mapping_layers)
    if embed_features is not None:
        mapping_kwargs["embed_features"] = embed_features
    if layer_features is not None:
        mapping_kwargs["layer_features"] = layer_features
    if lr_multiplier != 0.01:
        mapping_kwargs["lr_multiplier"] = lr_multiplier
    synth: dict[str, Any] = {"channel_base": channel_base, "channel_max": channel_max}
    if b.sg3:
        synth["fused_modconv_default"] = fused_modconv_default
    synth["num_fp16_res"] = num_fp16_res
    synth["conv_clamp"] = conv_clamp
    if architecture != "skip":
        synth["architecture"] = architecture
    if fp16_channels_last:
        synth["fp16_channels_last"] = True

    g_kwargs: dict[str, Any] = {"z_dim": z_dim, "w_dim": w_dim, "mapping_kwargs": mapping_kwargs}
    if b.sg3:
        g_kwargs.update(synth)
    else:
        g_kwargs["synthesis_kwargs"] = EasyDict(synth)
    g_kwargs.update(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels)

    g = b.new("Generator")
    st = g.state
    st["z_dim"] = z_dim
    st["c_dim"] = c_dim
    st["w_dim"] = w_dim
    st["img_resolution"] = img_resolution
    st["img_channels"] = img_channels
    synthesis = b.synthesis_network(
        w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels, synthesis_kwargs=synth
    )
    g.modules["synthesis"] = synthesis
    st["num_ws"] = synthesis.state["num_ws"]
    g.modules["mapping"] = b.mapping_network(
        z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=st["num_ws"], mapping_kwargs=mapping_kwargs
    )
    b.finish(g, (), g_kwargs)
    g.family = family
    return g, g.state_dict()


# ---------------------------------------------------------------------------------------------------------
# Other snapshot members
# ---------------------------------------------------------------------------------------------------------


def _build_discriminator(G: PersistentObject, rng: np.random.RandomState) -> PersistentObject:
    """A small resnet Discriminator shaped like NVIDIA's (loaders only have to skip it)."""
    family = G.family or "stylegan3"
    torch_style = "1" if isinstance(G.state["_modules"], collections.OrderedDict) else "2"
    b = _Builder(
        family=family,
        module_src=getattr(G, "discriminator_src", None) or G.module_src,
        torch_style=torch_style,
        rng=rng,
        perturb=True,
        value_scale=1.0,
    )
    c_dim = G.state["c_dim"]
    res = G.state["img_resolution"]
    img_channels = G.state["img_channels"]
    channel_base, channel_max = 256, 32
    log2 = int(np.log2(res))
    block_resolutions = [2**i for i in range(log2, 2, -1)]
    channels = {r: min(channel_base // r, channel_max) for r in [*block_resolutions, 4]}
    d = b.new("Discriminator")
    st = d.state
    st["c_dim"] = c_dim
    st["img_resolution"] = res
    st["img_resolution_log2"] = log2
    st["img_channels"] = img_channels
    st["block_resolutions"] = block_resolutions
    common = {"img_channels": img_channels, "architecture": "resnet", "conv_clamp": None}
    # What the repositories' train.py put into D_kwargs (fp32 run: num_fp16_res 0, conv_clamp None).
    block_kwargs = EasyDict(freeze_layers=0) if family == "stylegan3" else EasyDict()
    epilogue_kwargs = EasyDict(mbstd_group_size=4)
    layer_idx = 0
    for r in block_resolutions:
        tmp = channels[r]
        blk = b.new("DiscriminatorBlock")
        bst = blk.state
        in_channels = channels[r] if r < res else 0
        bst["in_channels"] = in_channels
        bst["resolution"] = r
        bst["img_channels"] = img_channels
        bst["first_layer_idx"] = layer_idx
        bst["architecture"] = "resnet"
        bst["use_fp16"] = False
        bst["channels_last"] = False
        blk.buffers["resample_filter"] = Tensor(b.resample_filter(), parameter=False)
        bst["num_layers"] = 0
        if in_channels == 0:
            kw = {
                "kernel_size": 1,
                "activation": "lrelu",
                "trainable": True,
                "conv_clamp": None,
                "channels_last": False,
            }
            blk.modules["fromrgb"] = b.conv2d_layer(
                img_channels, tmp, kernel_size=1, activation="lrelu", args=(img_channels, tmp), kwargs=kw
            )
            bst["num_layers"] += 1
        kw = {
            "kernel_size": 3,
            "activation": "lrelu",
            "trainable": True,
            "conv_clamp": None,
            "channels_last": False,
        }
        blk.modules["conv0"] = b.conv2d_layer(
            tmp, tmp, kernel_size=3, activation="lrelu", args=(tmp, tmp), kwargs=kw
        )
        kw = {
            "kernel_size": 3,
            "activation": "lrelu",
            "down": 2,
            "trainable": True,
            "resample_filter": list(_RESAMPLE_KERNEL),
            "conv_clamp": None,
            "channels_last": False,
        }
        out = channels[r // 2]
        blk.modules["conv1"] = b.conv2d_layer(
            tmp, out, kernel_size=3, activation="lrelu", down=2, args=(tmp, out), kwargs=kw
        )
        kw = {
            "kernel_size": 1,
            "bias": False,
            "down": 2,
            "trainable": True,
            "resample_filter": list(_RESAMPLE_KERNEL),
            "channels_last": False,
        }
        blk.modules["skip"] = b.conv2d_layer(
            tmp, out, kernel_size=1, bias=False, down=2, args=(tmp, out), kwargs=kw
        )
        bst["num_layers"] += 3
        layer_idx += bst["num_layers"]
        b.finish(
            blk,
            (in_channels, tmp, out),
            {
                "resolution": r,
                "first_layer_idx": blk.state["first_layer_idx"],
                "use_fp16": False,
                **block_kwargs,
                **common,
            },
        )
        d.modules[f"b{r}"] = blk
    cmap_dim = channels[4] if c_dim > 0 else 0
    if c_dim > 0:
        d.modules["mapping"] = b.mapping_network(
            z_dim=0,
            c_dim=c_dim,
            w_dim=cmap_dim,
            num_ws=None,
            mapping_kwargs={"w_avg_beta": None},
            w_avg_beta_default=None,
        )
    ep = b.new("DiscriminatorEpilogue")
    est = ep.state
    c4 = channels[4]
    est["in_channels"] = c4
    est["cmap_dim"] = cmap_dim
    est["resolution"] = 4
    est["img_channels"] = img_channels
    est["architecture"] = "resnet"
    mb = b.new("MinibatchStdLayer")
    mb.state["group_size"] = 4
    mb.state["num_channels"] = 1
    ep.modules["mbstd"] = b.finish(mb, (), {"group_size": 4, "num_channels": 1})
    kw = {"kernel_size": 3, "activation": "lrelu", "conv_clamp": None}
    ep.modules["conv"] = b.conv2d_layer(
        c4 + 1, c4, kernel_size=3, activation="lrelu", args=(c4 + 1, c4), kwargs=kw
    )
    ep.modules["fc"] = b.fc(
        c4 * 16, c4, activation="lrelu", args_kwargs=((c4 * 16, c4), {"activation": "lrelu"})
    )
    ep.modules["out"] = b.fc(
        c4, 1 if cmap_dim == 0 else cmap_dim, args_kwargs=((c4, 1 if cmap_dim == 0 else cmap_dim), {})
    )
    b.finish(ep, (c4,), {"cmap_dim": cmap_dim, "resolution": 4, **epilogue_kwargs, **common})
    d.modules["b4"] = ep
    kwargs: dict[str, Any] = {
        "block_kwargs": block_kwargs,
        "mapping_kwargs": EasyDict(),
        "epilogue_kwargs": epilogue_kwargs,
        "channel_base": channel_base,
        "channel_max": channel_max,
        "num_fp16_res": 0,
        "conv_clamp": None,
        "c_dim": c_dim,
        "img_resolution": res,
        "img_channels": img_channels,
    }
    b.finish(d, (), kwargs)
    return d


def _build_augment_pipe(module_src: str, torch_style: str) -> PersistentObject:
    """A small AugmentPipe-like persistent object (buffers ``p``, ``Hz_geom``)."""
    a = PersistentObject("AugmentPipe", module_src, _module_state(torch_style))
    a.buffers["p"] = Tensor(np.asarray(0.125, dtype=np.float32), parameter=False)
    for name in ("xflip", "rotate90", "xint"):
        a.state[name] = 1.0
    a.state["xint_max"] = 0.125
    a.state["imgfilter_bands"] = [1.0, 1.0, 1.0, 1.0]
    taps = np.asarray([0.015, -0.02, -0.13, 0.52, 0.52, -0.13, -0.02, 0.015], dtype=np.float32)
    a.buffers["Hz_geom"] = Tensor(taps, parameter=False)
    a.state["_init_args"] = ()
    a.state["_init_kwargs"] = {"xflip": 1, "rotate90": 1, "xint": 1}
    return a


def _copy_with_new_values(tree: PersistentObject, seed: int) -> PersistentObject:
    """A deep copy whose tensors differ slightly (the training-time ``G`` next to ``G_ema``)."""
    rng = np.random.RandomState(seed)
    dup = copy.deepcopy(tree)
    dup.family = tree.family
    for name, t in dup.named_tensors():
        if isinstance(t, Tensor) and not name.endswith("resample_filter"):
            t.data = (
                t.data + 0.25 * rng.standard_normal(t.data.shape) * (np.abs(t.data).mean() + 0.1)
            ).astype(np.float32)
    return dup


def default_training_set_kwargs(G: PersistentObject) -> dict[str, Any]:
    return {
        "class_name": "training.dataset.ImageFolderDataset",
        "path": "/data/synthetic.zip",
        "use_labels": G.state["c_dim"] > 0,
        "max_size": 1000,
        "xflip": False,
        "resolution": G.state["img_resolution"],
        "random_seed": 0,
    }


_UNSET: Any = object()


def snapshot_dict(
    G_ema: Any,
    *,
    include_D: bool = True,
    family: str | None = None,
    include_G: bool = True,
    G_same_as_G_ema: bool = False,
    augment_pipe: bool = True,
    augment_module_src: str | None = None,
    training_set_kwargs: Any = _UNSET,
    layout: str | None = None,
) -> dict[str, Any]:
    """The top-level dict of a snapshot, keys in the order the given family writes them."""
    fam = family or getattr(G_ema, "family", None) or "stylegan3"
    if isinstance(G_ema, PersistentObject):
        G = G_ema if G_same_as_G_ema else _copy_with_new_values(G_ema, 12345)
        D = _build_discriminator(G_ema, np.random.RandomState(777)) if include_D else None
        torch_style = "1" if isinstance(G_ema.state["_modules"], collections.OrderedDict) else "2"
        aug = (
            _build_augment_pipe(augment_module_src or placeholder_source("augment"), torch_style)
            if augment_pipe
            else None
        )
        tsk = default_training_set_kwargs(G_ema) if training_set_kwargs is _UNSET else training_set_kwargs
    else:  # an arbitrary object (hostile/broken files)
        G, D, aug = G_ema, None, None
        tsk = {} if training_set_kwargs is _UNSET else training_set_kwargs
    items: list[tuple[str, Any]]
    if layout == "legacy":
        items = [("G", G), ("D", D), ("G_ema", G_ema), ("training_set_kwargs", None), ("augment_pipe", None)]
    elif fam == "ada":
        items = [("training_set_kwargs", tsk), ("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", aug)]
    elif fam == "stylegan3":
        items = [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", aug), ("training_set_kwargs", tsk)]
    else:
        raise ValueError(f"unknown family {fam!r}")
    return {k: v for k, v in items if (k != "G" or include_G) and (k != "D" or include_D)}


def dumps_network_pickle(
    G_ema: Any,
    *,
    protocol: int = 4,
    include_D: bool = True,
    family: str | None = None,
    numpy_core_spelling: str = "numpy.core",
    include_G: bool = True,
    G_same_as_G_ema: bool = False,
    augment_pipe: bool = True,
    augment_module_src: str | None = None,
    training_set_kwargs: Any = _UNSET,
    layout: str | None = None,
) -> bytes:
    """Bytes of a network snapshot pickle holding ``G_ema`` (plus G, D, augment_pipe, training_set_kwargs).

    ``family`` (default: the one ``G_ema`` was built with) picks the key order: stylegan3 writes
    ``G, D, G_ema, augment_pipe, training_set_kwargs``; ada writes ``training_set_kwargs, G, D, G_ema,
    augment_pipe``; ``layout="legacy"`` gives legacy.py's ``G, D, G_ema, training_set_kwargs=None,
    augment_pipe=None``.  ``G`` is a copy of ``G_ema`` with different values unless ``G_same_as_G_ema``
    (then the pickle memo makes ``G_ema`` a back-reference to ``G``).  ``include_D=False`` leaves the ``D``
    key out.  ``numpy_core_spelling`` is ``"numpy.core"`` (numpy 1 writers) or ``"numpy._core"`` (numpy 2).
    """
    data = snapshot_dict(
        G_ema,
        include_D=include_D,
        family=family,
        include_G=include_G,
        G_same_as_G_ema=G_same_as_G_ema,
        augment_pipe=augment_pipe,
        augment_module_src=augment_module_src,
        training_set_kwargs=training_set_kwargs,
        layout=layout,
    )
    return _dumps(data, protocol, numpy_core=numpy_core_spelling)


# ---------------------------------------------------------------------------------------------------------
# Hostile files
# ---------------------------------------------------------------------------------------------------------

# Hostile entries whose payload only fires where more than the standard library is importable:
# "torch" = needs torch importable; "nvidia" = needs NVIDIA's dnnlib on the path.
HOSTILE_REQUIRES: dict[str, str] = {
    "torch_load_partial": "torch",
    "dotted_name_in_torch_utils": "torch",
    "dnnlib_get_obj_by_name": "nvidia",
}


def _hostile_calls(sentinel: pathlib.Path) -> dict[str, Any]:
    path = str(sentinel)
    sh = "touch " + shlex.quote(path)
    py = f"open({path!r}, 'w').close()"
    payload_pickle = _dumps(Call(glob("posix", "system"), (sh,)), 2)
    return {
        "os_system": Call(glob("os", "system"), (sh,)),
        "posix_system": Call(glob("posix", "system"), (sh,)),
        "builtins_exec": Call(glob("builtins", "exec"), (py,)),
        "builtins_eval": Call(glob("builtins", "eval"), (f"__import__('os').system({sh!r})",)),
        "subprocess_call": Call(glob("subprocess", "call"), (["touch", path],)),
        "subprocess_check_output": Call(glob("subprocess", "check_output"), (["touch", path],)),
        "importlib_getattr_chain": Call(
            Call(glob("builtins", "getattr"), (Call(glob("importlib", "import_module"), ("os",)), "system")),
            (sh,),
        ),
        "pickle_loads": Call(glob("pickle", "loads"), (payload_pickle,)),
        "torch_load_partial": Call(
            Call(
                glob("functools", "partial"),
                (glob("torch", "load"),),
                (glob("torch", "load"), (), {"weights_only": False}, None),
            ),
            (Call(glob("_io", "BytesIO"), (payload_pickle,)),),
        ),
        "dotted_name_in_torch_utils": Call(glob("torch._utils", "os.system"), (sh,)),
        "dnnlib_get_obj_by_name": Call(Call(glob("dnnlib.util", "get_obj_by_name"), ("os.system",)), (sh,)),
        "inst_opcode": Raw(
            pickle.MARK
            + pickle.BINUNICODE
            + struct.pack("<I", len(sh.encode()))
            + sh.encode()
            + b"ios\nsystem\n"
        ),
        "obj_opcode": Raw(
            pickle.MARK
            + pickle.GLOBAL
            + b"posix\nsystem\n"
            + pickle.BINUNICODE
            + struct.pack("<I", len(sh.encode()))
            + sh.encode()
            + pickle.OBJ
        ),
    }


def hostile_pickles(sentinel: pathlib.Path, *, module_src: str | None = None) -> dict[str, bytes]:
    """Network pickles that create ``sentinel`` if a naive (executing) loader reads them.

    Each is an otherwise plausible stylegan3-layout snapshot with a real ``G_ema`` tree; the payload sits
    in a different place each time (top-level value, deep inside a persistent object's state, in
    ``_init_kwargs``, inside a storage blob, in ``module_src``...).  ``HOSTILE_REQUIRES`` names the entries
    whose payload needs torch or NVIDIA's ``dnnlib`` importable to fire; all others fire under a plain
    ``pickle.Unpickler`` that merely stubs NVIDIA's own names.  Every entry also fired (created the
    sentinel) under NVIDIA's real ``legacy.load_network_pkl``.  ``module_src`` as in :func:`build_stylegan2`.
    """
    sentinel = pathlib.Path(sentinel)
    calls = _hostile_calls(sentinel)
    out: dict[str, bytes] = {}

    def fresh() -> PersistentObject:
        g, _ = build_stylegan2(seed=3, module_src=module_src, img_resolution=8)
        return g

    # 1. Payloads as a top-level value (replacing training_set_kwargs, which comes last in stylegan3 files,
    #    or augment_pipe) -- one variant per payload kind.
    for name, call in calls.items():
        g = fresh()
        data = snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True)
        data["augment_pipe"] = call
        out[name] = _dumps(data, 4)

    sh = "touch " + shlex.quote(str(sentinel))
    system = Call(glob("posix", "system"), (sh,))

    # 2. Deep inside a persistent object's state (a plain attribute of b8.conv1).
    g = fresh()
    g.get("synthesis.b8.conv1").state["conv_clamp"] = system
    out["deep_in_layer_state"] = _dumps(snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True), 4)

    # 3. Inside a nested EasyDict of _init_kwargs.
    g = fresh()
    g.state["_init_kwargs"]["mapping_kwargs"]["num_layers"] = Call(
        glob("builtins", "exec"), (f"open({str(sentinel)!r}, 'w').close()",)
    )
    out["in_init_kwargs_easydict"] = _dumps(snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True), 4)

    # 4. In place of a Parameter (G_ema's mapping w_avg buffer replaced by a call).
    g = fresh()
    g.get("mapping").buffers["w_avg"] = system
    out["in_buffers"] = _dumps(snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True), 4)

    # 5. Inside storage blobs (legacy torch.save streams run by torch.storage._load_from_bytes).
    vals = np.zeros(16, dtype=np.float32)
    blob_variants = {
        "blob_magic_payload": storage_blob(vals, magic=system),
        "blob_sysinfo_payload": storage_blob(vals, sys_info=system),
        "blob_record_payload": storage_blob(vals, location=system),
        "blob_keys_payload": storage_blob(vals, keys=system),
    }
    for name, blob in blob_variants.items():
        g = fresh()
        g.get("mapping").buffers["w_avg"] = Tensor(vals, parameter=False, blob=blob)
        out[name] = _dumps(snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True), 4)

    # 6. Executable module_src (NVIDIA's own loader exec()s this text).
    g = fresh()
    evil_src = placeholder_source("stylegan3") + "\nimport os\nos.system(" + repr(sh) + ")\n"
    g.get("synthesis.b4").module_src = evil_src
    out["module_src_exec"] = _dumps(snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True), 4)

    # 7. Payload as the very first value (``G``) at protocol 3, G_ema intact.
    g = fresh()
    data = snapshot_dict(g, augment_pipe=False, G_same_as_G_ema=True)
    data["G"] = system
    out["G_is_payload_protocol3"] = _dumps(data, 3)
    return out


# ---------------------------------------------------------------------------------------------------------
# Broken / unsupported files
# ---------------------------------------------------------------------------------------------------------


def _sg3_geometry(
    *,
    img_resolution: int,
    img_channels: int,
    channel_base: int,
    channel_max: int,
    num_layers: int,
    num_critical: int,
    margin_size: int,
    num_fp16_res: int,
    conv_kernel: int,
    radial: bool,
) -> list[dict[str, Any]]:
    """Per-layer geometry in the way the StyleGAN3 paper describes it (appendix F), written for this writer.

    Cutoff f_c and minimum stopband f_t grow geometrically from (2, 2**2.1) at layer 0 to
    (res/2, res/2 * 2**0.3) at layer ``num_layers - num_critical``, then stay; the sampling rate is the
    smallest power of two >= 2 f_t (at most res); half-width f_h = max(f_t, rate/2) - f_c; layers work on
    rate + 2 * margin pixels, the last two on exactly res; channels = min(channel_base / 2 / f_c, max).
    Entry i describes layer i (entry 0 also the input).  Upsampled rate = 2 * max(in, out) (ToRGB: 1x).
    """
    res = img_resolution
    k = num_layers - num_critical
    out: list[dict[str, Any]] = []
    for i in range(num_layers + 1):
        e = min(i / k, 1.0)
        cutoff = 2.0 * (res / 2 / 2.0) ** e
        stopband = 2**2.1 * (res / 2 * 2**0.3 / 2**2.1) ** e
        rate = int(2 ** math.ceil(math.log2(min(2 * stopband, res))))
        size = res if i >= num_layers - 1 else rate + 2 * margin_size
        channels = (
            img_channels if i == num_layers else int(round(min(channel_base / 2 / cutoff, channel_max)))
        )
        out.append(
            {
                "cutoff": np.float64(cutoff),
                "half_width": np.float64(max(stopband, rate / 2) - cutoff),
                "rate": rate,
                "size": size,
                "channels": channels,
                "fp16": np.bool_(rate * 2**num_fp16_res > res),
            }
        )
    for i, g in enumerate(out):
        prev = out[max(i - 1, 0)]
        torgb = i == num_layers
        g["is_torgb"] = torgb
        g["critical"] = i >= num_layers - num_critical
        g["kernel"] = 1 if torgb else conv_kernel
        g["tmp_rate"] = max(prev["rate"], g["rate"]) * (1 if torgb else 2)
        g["up"] = g["tmp_rate"] // prev["rate"]
        g["down"] = g["tmp_rate"] // g["rate"]
        g["up_taps"] = 6 * g["up"] if g["up"] > 1 and not torgb else 1
        g["down_taps"] = 6 * g["down"] if g["down"] > 1 and not torgb else 1
        g["radial"] = radial and not g["critical"]
        # Output pixel centres sit on the input pixel grid, scaled ("symmetric interpretation"): the
        # upsampled image is padded so that (out - 1) * down + 1 samples remain after both filters.
        total = (g["size"] - 1) * g["down"] + 1 - (prev["size"] + g["kernel"] - 1) * g["up"]
        total += g["up_taps"] + g["down_taps"] - 2
        lo = (total + g["up"]) // 2
        g["padding"] = [int(lo), int(total - lo), int(lo), int(total - lo)]
    return out


def _lowpass(
    taps: int, cutoff: float, rate: float, rng: np.random.RandomState, asymmetry: float
) -> np.ndarray:
    """A windowed-sinc low-pass with unit sum; ``asymmetry`` > 0 adds random taps (no mirror symmetry)."""
    n = np.arange(taps) - (taps - 1) / 2
    f = np.sinc(2 * cutoff / rate * n) * np.kaiser(taps, 6.0)
    f = f / f.sum() + asymmetry * rng.standard_normal(taps) / taps
    return (f / f.sum()).astype(np.float32)


def build_stylegan3(
    *,
    config: str = "T",
    z_dim: int = 8,
    c_dim: int = 0,
    w_dim: int = 16,
    img_resolution: int = 16,
    img_channels: int = 3,
    channel_base: int = 128,
    channel_max: int = 8,
    num_layers: int = 4,
    num_critical: int = 2,
    margin_size: int = 10,
    output_scale: float = 0.25,
    num_fp16_res: int = 4,
    conv_clamp: int | None = 256,
    mapping_layers: int = 2,
    lr_multiplier: float = 0.01,
    magnitude_ema_beta: float = 0.999,
    seed: int = 0,
    perturb: bool = True,
    asymmetric_filters: bool = True,
    torch_style: str = "2",
    module_src: str | None = None,
) -> tuple[PersistentObject, dict[str, np.ndarray]]:
    """A StyleGAN3 ``G_ema`` tree (stylegan3's ``networks_stylegan3``, configs T and R) and its state dict.

    Attributes and tensors per FORMATS.md (section A, StyleGAN3): ``SynthesisInput`` with ``size`` as an
    int64 array, numpy float64 rates/cutoffs, every ``SynthesisLayer`` with its factors, taps, padding and
    stored filters (``up_filter`` None on the ToRGB layer; ``down_filter`` 2-D on config R's layers that are
    not critically sampled).  ``_init_kwargs`` are what stylegan3's train.py passes.  ``perturb`` gives every
    tensor NVIDIA initialises to a constant (biases, ``magnitude_ema``, ``w_avg``, the affine biases, the
    input affine's zero weight) random values; ``asymmetric_filters`` makes the filters lose their mirror
    symmetry, so that a flipped filter shows.
    """
    if config not in ("T", "R"):
        raise ValueError("config must be 'T' or 'R'")
    src = module_src if module_src is not None else placeholder_source("stylegan3-sg3")
    rng = np.random.RandomState(seed)
    b = _Builder(
        family="stylegan3", module_src=src, torch_style=torch_style, rng=rng, perturb=perturb, value_scale=1
    )
    conv_kernel = 3 if config == "T" else 1
    geo = _sg3_geometry(
        img_resolution=img_resolution,
        img_channels=img_channels,
        channel_base=channel_base,
        channel_max=channel_max,
        num_layers=num_layers,
        num_critical=num_critical,
        margin_size=margin_size,
        num_fp16_res=num_fp16_res,
        conv_kernel=conv_kernel,
        radial=config == "R",
    )
    asym = 0.3 if asymmetric_filters else 0.0

    def fc(
        fin: int,
        fout: int,
        *,
        act: str,
        lr: float,
        bias_init: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ):
        m = b.new("FullyConnectedLayer")
        m.state["in_features"] = fin
        m.state["out_features"] = fout
        m.state["activation"] = act
        weight_init = kwargs.get("weight_init", 1)
        w = b.randn(fout, fin) * np.float32(weight_init / lr)
        if perturb and weight_init == 0:
            w = 0.3 * b.randn(fout, fin)
        m.parameters["weight"] = Tensor(w, parameter=True)
        bias = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [fout]) / np.float32(lr)
        if perturb:
            bias = bias + (0.3 * rng.standard_normal(fout) / lr).astype(np.float32)
        m.parameters["bias"] = Tensor(bias, parameter=True)
        m.state["weight_gain"] = lr / np.sqrt(fin)
        m.state["bias_gain"] = lr
        return b.finish(m, args, kwargs)

    g = b.new("Generator")
    st = g.state
    st.update(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels)

    syn = b.new("SynthesisNetwork")
    sst = syn.state
    sst.update(
        w_dim=w_dim,
        num_ws=num_layers + 2,
        img_resolution=img_resolution,
        img_channels=img_channels,
        num_layers=num_layers,
        num_critical=num_critical,
        margin_size=margin_size,
        output_scale=output_scale,
        num_fp16_res=num_fp16_res,
    )
    g0 = geo[0]
    inp = b.new("SynthesisInput")
    ch0 = g0["channels"]
    ist = inp.state
    ist.update(
        w_dim=w_dim,
        channels=ch0,
        size=np.broadcast_to(np.asarray(g0["size"], dtype=np.int64), [2]).copy(),
        sampling_rate=np.float64(g0["rate"]),
        bandwidth=g0["cutoff"],
    )
    freqs = rng.standard_normal((ch0, 2))
    radii = np.sqrt((freqs**2).sum(axis=1, keepdims=True))
    freqs = freqs / (radii * np.exp(radii**2) ** 0.25) * float(g0["cutoff"])
    inp.parameters["weight"] = Tensor(b.randn(ch0, ch0), parameter=True)
    inp.modules["affine"] = fc(
        w_dim,
        4,
        act="linear",
        lr=1,
        bias_init=[1, 0, 0, 0],
        args=(w_dim, 4),
        kwargs={"weight_init": 0, "bias_init": [1, 0, 0, 0]},
    )
    inp.buffers["transform"] = Tensor(np.eye(3, dtype=np.float32), parameter=False)
    inp.buffers["freqs"] = Tensor(freqs.astype(np.float32), parameter=False)
    inp.buffers["phases"] = Tensor((rng.uniform(size=ch0) - 0.5).astype(np.float32), parameter=False)
    b.finish(
        inp,
        (),
        {
            "w_dim": w_dim,
            "channels": ch0,
            "size": g0["size"],
            "sampling_rate": np.float64(g0["rate"]),
            "bandwidth": g0["cutoff"],
        },
    )
    syn.modules["input"] = inp
    sst["layer_names"] = []
    layer_kwargs: dict[str, Any] = {"magnitude_ema_beta": magnitude_ema_beta}
    if config == "R":
        layer_kwargs.update(conv_kernel=1, use_radial_filters=True)
    if conv_clamp != 256:
        layer_kwargs["conv_clamp"] = conv_clamp
    for idx, gi in enumerate(geo):
        prev = geo[max(idx - 1, 0)]
        layer = b.new("SynthesisLayer")
        lst = layer.state
        cin, cout = prev["channels"], gi["channels"]
        kk = gi["kernel"]
        lst.update(
            w_dim=w_dim,
            is_torgb=gi["is_torgb"],
            is_critically_sampled=gi["critical"],
            use_fp16=gi["fp16"],
            in_channels=cin,
            out_channels=cout,
            in_size=np.broadcast_to(np.asarray(prev["size"], dtype=np.int64), [2]).copy(),
            out_size=np.broadcast_to(np.asarray(gi["size"], dtype=np.int64), [2]).copy(),
            in_sampling_rate=prev["rate"],
            out_sampling_rate=gi["rate"],
            tmp_sampling_rate=gi["tmp_rate"],
            in_cutoff=prev["cutoff"],
            out_cutoff=gi["cutoff"],
            in_half_width=prev["half_width"],
            out_half_width=gi["half_width"],
            conv_kernel=kk,
            conv_clamp=conv_clamp,
            magnitude_ema_beta=magnitude_ema_beta,
        )
        layer.modules["affine"] = fc(
            w_dim, cin, act="linear", lr=1, bias_init=1, args=(w_dim, cin), kwargs={"bias_init": 1}
        )
        layer.parameters["weight"] = Tensor(b.randn(cout, cin, kk, kk), parameter=True)
        layer.parameters["bias"] = Tensor(b.init_value((cout,), 0.0, 0.2), parameter=True)
        ema = np.exp(0.6 * rng.standard_normal()) if perturb else 1.0
        layer.buffers["magnitude_ema"] = Tensor(np.asarray(ema, dtype=np.float32), parameter=False)
        lst["up_factor"] = gi["up"]
        lst["up_taps"] = gi["up_taps"]
        up = None
        if gi["up_taps"] > 1:
            up = Tensor(
                _lowpass(gi["up_taps"], float(prev["cutoff"]), gi["tmp_rate"], rng, asym), parameter=False
            )
        layer.buffers["up_filter"] = up
        lst["down_factor"] = gi["down"]
        lst["down_taps"] = gi["down_taps"]
        lst["down_radial"] = gi["radial"]
        down = None
        if gi["down_taps"] > 1:
            f = _lowpass(gi["down_taps"], float(gi["cutoff"]), gi["tmp_rate"], rng, asym)
            if gi["radial"]:  # not separable: a separable low-pass plus a random 2-D part
                f2 = np.outer(f, f) + asym * 0.02 * rng.standard_normal((len(f), len(f)))
                if not asym:
                    f2 = np.outer(f, f) * (
                        1 + 0.1 * np.cos(np.add.outer(np.arange(len(f)), np.arange(len(f))))
                    )
                    f2 = (f2 + f2[::-1, ::-1] + f2.T + f2[::-1, ::-1].T) / 4
                f = (f2 / f2.sum()).astype(np.float32)
            down = Tensor(f, parameter=False)
        layer.buffers["down_filter"] = down
        lst["padding"] = gi["padding"]
        kwargs = {
            "w_dim": w_dim,
            "is_torgb": gi["is_torgb"],
            "is_critically_sampled": gi["critical"],
            "use_fp16": gi["fp16"],
            "in_channels": cin,
            "out_channels": cout,
            "in_size": prev["size"],
            "out_size": gi["size"],
            "in_sampling_rate": prev["rate"],
            "out_sampling_rate": gi["rate"],
            "in_cutoff": prev["cutoff"],
            "out_cutoff": gi["cutoff"],
            "in_half_width": prev["half_width"],
            "out_half_width": gi["half_width"],
            **layer_kwargs,
        }
        b.finish(layer, (), kwargs)
        name = f"L{idx}_{gi['size']}_{cout}"
        syn.modules[name] = layer
        sst["layer_names"].append(name)
    synth_kwargs: dict[str, Any] = {"channel_base": channel_base, "channel_max": channel_max}
    if num_layers != 14:
        synth_kwargs["num_layers"] = num_layers
    if output_scale != 0.25:
        synth_kwargs["output_scale"] = output_scale
    synth_kwargs.update(layer_kwargs)
    b.finish(
        syn,
        (),
        {"w_dim": w_dim, "img_resolution": img_resolution, "img_channels": img_channels, **synth_kwargs},
    )
    g.modules["synthesis"] = syn
    st["num_ws"] = num_layers + 2

    mp = b.new("MappingNetwork")
    mst = mp.state
    mst.update(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        num_ws=num_layers + 2,
        num_layers=mapping_layers,
        w_avg_beta=0.998,
    )
    if c_dim > 0:
        mp.modules["embed"] = fc(
            c_dim, w_dim, act="linear", lr=1, bias_init=0, args=(c_dim, w_dim), kwargs={}
        )
    else:
        mst["embed"] = None  # ``self.embed = None`` lands in __dict__
    features = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * mapping_layers
    for idx in range(mapping_layers):
        fin = features[idx]
        mp.modules[f"fc{idx}"] = fc(
            fin,
            w_dim,
            act="lrelu",
            lr=lr_multiplier,
            bias_init=0,
            args=(fin, w_dim),
            kwargs={"activation": "lrelu", "lr_multiplier": lr_multiplier},
        )
    mp.buffers["w_avg"] = Tensor(b.init_value((w_dim,), 0.0, 0.5), parameter=False)
    mapping_kwargs = EasyDict(num_layers=mapping_layers)
    if lr_multiplier != 0.01:
        mapping_kwargs["lr_multiplier"] = lr_multiplier
    b.finish(
        mp, (), {"z_dim": z_dim, "c_dim": c_dim, "w_dim": w_dim, "num_ws": num_layers + 2, **mapping_kwargs}
    )
    g.modules["mapping"] = mp
    b.finish(
        g,
        (),
        {
            "z_dim": z_dim,
            "w_dim": w_dim,
            "mapping_kwargs": mapping_kwargs,
            **synth_kwargs,
            "c_dim": c_dim,
            "img_resolution": img_resolution,
            "img_channels": img_channels,
        },
    )
    g.family = "stylegan3"
    g.discriminator_src = placeholder_source("stylegan3")  # train.py pairs it with networks_stylegan2's D
    return g, g.state_dict()


def _sg3_generator(module_src: str | None = None) -> PersistentObject:
    """A tiny config-T StyleGAN3 ``G_ema`` (for the broken-file variants)."""
    g, _ = build_stylegan3(seed=5, module_src=module_src)
    return g


def _tf_network(
    name: str,
    build_func_name: str,
    static_kwargs: dict[str, Any],
    variables: list[tuple[str, Any]],
    components: dict[str, Any] | None = None,
) -> _TFNetwork:
    return _TFNetwork(
        {
            "version": 4,
            "name": name,
            "static_kwargs": dict(static_kwargs),
            "components": dict(components or {}),
            "build_module_src": "# stand-in for the TensorFlow build module source (not NVIDIA code)\n",
            "build_func_name": build_func_name,
            "variables": list(variables),
        }
    )


def tensorflow_pickle(seed: int = 0) -> tuple[_TFNetwork, _TFNetwork, _TFNetwork]:
    """A small (G, D, Gs) tuple in NVlabs/stylegan2's TensorFlow pickle layout (8x8, z 8, w 16).

    Complete enough for NVIDIA's legacy converter (fmap_base 32 -> 16 channels at 4x4, 8 at 8x8).
    """
    rng = np.random.RandomState(seed)

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    kwargs = {
        "num_channels": 3,
        "resolution": 8,
        "label_size": 0,
        "latent_size": 8,
        "dlatent_size": 16,
        "fmap_base": 32,
        "fmap_max": 16,
        "mapping_layers": 2,
    }

    def modulated(scope: str, kh: int, cin: int, cout: int, noise: float | None) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [
            (f"{scope}/weight", r(kh, kh, cin, cout)),
            (f"{scope}/mod_weight", r(16, cin)),
            (f"{scope}/mod_bias", r(cin)),
        ]
        if noise is not None:
            out.append((f"{scope}/noise_strength", np.float32(noise)))
        out.append((f"{scope}/bias", r(cout)))
        return out

    def gen(name: str) -> _TFNetwork:
        mapping_vars = [
            ("Dense0/weight", r(8, 16)),
            ("Dense0/bias", r(16)),
            ("Dense1/weight", r(16, 16)),
            ("Dense1/bias", r(16)),
        ]
        mapping = _tf_network("G_mapping", "G_mapping", {**kwargs, "dlatent_broadcast": 4}, mapping_vars)
        syn_vars: list[tuple[str, Any]] = [("4x4/Const/const", r(1, 16, 4, 4))]
        syn_vars += modulated("4x4/Conv", 3, 16, 16, 0.1) + modulated("4x4/ToRGB", 1, 16, 3, None)
        syn_vars += modulated("8x8/Conv0_up", 3, 16, 8, 0.2) + modulated("8x8/Conv1", 3, 8, 8, -0.1)
        syn_vars += modulated("8x8/ToRGB", 1, 8, 3, None)
        syn_vars += [("noise0", r(1, 1, 4, 4)), ("noise1", r(1, 1, 8, 8)), ("noise2", r(1, 1, 8, 8))]
        synthesis = _tf_network("G_synthesis", "G_synthesis_stylegan2", kwargs, syn_vars)
        return _tf_network(
            name,
            "G_main",
            kwargs,
            [("lod", np.float32(0.0)), ("dlatent_avg", r(16))],
            {"synthesis": synthesis, "mapping": mapping},
        )

    d_vars: list[tuple[str, Any]] = [
        ("8x8/FromRGB/weight", r(1, 1, 3, 8)),
        ("8x8/FromRGB/bias", r(8)),
        ("8x8/Conv0/weight", r(3, 3, 8, 8)),
        ("8x8/Conv0/bias", r(8)),
        ("8x8/Conv1_down/weight", r(3, 3, 8, 16)),
        ("8x8/Conv1_down/bias", r(16)),
        ("8x8/Skip/weight", r(1, 1, 8, 16)),
        ("4x4/Conv/weight", r(3, 3, 17, 16)),
        ("4x4/Conv/bias", r(16)),
        ("4x4/Dense0/weight", r(256, 16)),
        ("4x4/Dense0/bias", r(16)),
        ("Output/weight", r(16, 1)),
        ("Output/bias", r(1)),
    ]
    d_kwargs = {"num_channels": 3, "resolution": 8, "label_size": 0, "fmap_base": 32, "fmap_max": 16}
    d = _tf_network("D", "D_stylegan2", d_kwargs, d_vars)
    return gen("G"), d, gen("Gs")


def broken_pickles(*, module_src: str | None = None) -> dict[str, bytes]:
    """Files a loader must refuse with a clear error.

    Keys: ``truncated`` (cut in the middle), ``empty_file``, ``not_a_pickle_png``, ``storage_numel_1e12``
    (blob record and count claim 10**12 float32 elements, data is short), ``storage_count_1e12`` (only
    the 8-byte count lies), ``tensor_size_exceeds_storage`` (``mapping.w_avg`` claims 4x its storage; torch
    itself silently grows the storage here), ``storage_bad_magic``, ``storage_truncated_data``,
    ``missing_mapping`` (G_ema without ``mapping``), ``sg3_missing_up_filter`` (a ``networks_stylegan3``
    G_ema whose layer ``L1_36_8`` lost its up filter), ``sg3_magnitude_ema_shape`` (``L2_36_8``'s
    ``magnitude_ema`` is [4], not a scalar), ``tensorflow_pickle`` (a (G, D, Gs) tuple of
    ``dnnlib.tflib.network.Network`` objects; NVIDIA's converter accepts it), ``no_G_ema``,
    ``top_level_list``, ``persistence_version_5``.  ``module_src`` as in :func:`build_stylegan2`.
    """
    out: dict[str, bytes] = {}
    g, _ = build_stylegan2(seed=4, img_resolution=8, module_src=module_src)
    good = dumps_network_pickle(g, augment_pipe=False, G_same_as_G_ema=True)
    out["truncated"] = good[: len(good) // 2]
    out["empty_file"] = b""
    out["not_a_pickle_png"] = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
        + b"\x00" * 64
    )

    w_avg = g.get("mapping").buffers["w_avg"]
    n = w_avg.data.size

    def with_w_avg(tensor: Tensor) -> bytes:
        h, _ = build_stylegan2(seed=4, img_resolution=8, module_src=module_src)
        h.get("mapping").buffers["w_avg"] = tensor
        return dumps_network_pickle(h, augment_pipe=False, G_same_as_G_ema=True)

    out["storage_numel_1e12"] = with_w_avg(
        Tensor(w_avg.data, parameter=False, blob=storage_blob(w_avg.data, numel=10**12, count=10**12))
    )
    out["storage_count_1e12"] = with_w_avg(
        Tensor(w_avg.data, parameter=False, blob=storage_blob(w_avg.data, count=10**12))
    )
    out["tensor_size_exceeds_storage"] = with_w_avg(Tensor(w_avg.data, parameter=False, size=(n * 4,)))
    out["storage_bad_magic"] = with_w_avg(
        Tensor(w_avg.data, parameter=False, blob=storage_blob(w_avg.data, magic=0x1950A86A20F9469CFC6D))
    )
    out["storage_truncated_data"] = with_w_avg(
        Tensor(w_avg.data, parameter=False, blob=storage_blob(w_avg.data)[:-7])
    )

    h, _ = build_stylegan2(seed=4, img_resolution=8, module_src=module_src)
    del h.modules["mapping"]
    out["missing_mapping"] = dumps_network_pickle(h, augment_pipe=False, G_same_as_G_ema=True)

    sg3 = _sg3_generator(module_src=None)
    sg3.get("synthesis.L1_36_8").buffers["up_filter"] = None
    out["sg3_missing_up_filter"] = _dumps(
        snapshot_dict(sg3, family="stylegan3", include_D=False, augment_pipe=False, G_same_as_G_ema=True), 4
    )
    sg3 = _sg3_generator(module_src=None)
    sg3.get("synthesis.L2_36_8").buffers["magnitude_ema"] = Tensor(np.ones([4], np.float32), parameter=False)
    out["sg3_magnitude_ema_shape"] = _dumps(
        snapshot_dict(sg3, family="stylegan3", include_D=False, augment_pipe=False, G_same_as_G_ema=True), 4
    )
    out["tensorflow_pickle"] = _dumps(tensorflow_pickle(), 4)

    h, _ = build_stylegan2(seed=4, img_resolution=8, module_src=module_src)
    data = snapshot_dict(h, augment_pipe=False, G_same_as_G_ema=True)
    del data["G_ema"]
    out["no_G_ema"] = _dumps(data, 4)
    h, _ = build_stylegan2(seed=4, img_resolution=8, module_src=module_src)
    out["top_level_list"] = _dumps([snapshot_dict(h, augment_pipe=False, G_same_as_G_ema=True)], 4)

    h, _ = build_stylegan2(seed=4, img_resolution=8, module_src=module_src)
    h.meta_overrides["version"] = 5
    out["persistence_version_5"] = dumps_network_pickle(h, augment_pipe=False, G_same_as_G_ema=True)
    return out


def pickle_globals(data: bytes) -> list[tuple[str, str]]:
    """(module, name) of every GLOBAL / STACK_GLOBAL / INST opcode in ``data`` (blobs are not entered).

    STACK_GLOBAL operands are recovered through the memo, as the unpickler would see them.
    """
    import pickletools

    found: list[tuple[str, str]] = []
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    for op, arg, _pos in pickletools.genops(data):
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, gname = str(arg).split(" ", 1)
            found.append((module, gname))
            stack.append(None)
        elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            stack.append(arg)
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            stack.append(memo.get(int(arg)))
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = stack[-1] if stack else None
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1] if stack else None
        elif name == "STACK_GLOBAL":
            gname, module = stack.pop(), stack.pop()
            found.append((str(module), str(gname)))
            stack.append(None)
        elif name not in ("FRAME", "PROTO", "STOP"):
            stack.append(None)  # only string operands matter; everything else is a placeholder
    return found


def iter_blobs(data: bytes) -> Iterator[bytes]:
    """The storage blobs (bytes arguments that start a protocol-2 pickle), in stream order, via pickletools.

    Only finds them at protocol >= 3 (protocol 2 spells bytes as ``_codecs.encode`` of a str).
    """
    import pickletools

    for op, arg, _pos in pickletools.genops(data):
        is_bytes = op.name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8")
        if is_bytes and arg[:2] == b"\x80\x02" and len(arg) > 16:
            yield arg


def split_blob(blob: bytes) -> dict[str, Any]:
    """Parse a storage blob with pickletools only (no unpickling): returns its pieces for checks."""
    import pickletools

    pos = 0
    pieces: list[list[tuple[str, Any]]] = []
    for _ in range(5):
        ops: list[tuple[str, Any]] = []
        end = pos
        for op, arg, p in pickletools.genops(blob[pos:]):
            ops.append((op.name, arg))
            end = pos + p + 1
            if op.name == "STOP":
                break
        pieces.append(ops)
        pos = end
    (count,) = struct.unpack("<q", blob[pos : pos + 8])
    return {"pickles": pieces, "count": count, "data": blob[pos + 8 :]}
