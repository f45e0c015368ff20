"""A restricted unpickler for NVIDIA network pickles: builds inert data, never runs code from the file.

Every global a pickle may name is looked up in `_HANDLERS`, which maps it to a function or class
of ours. Nothing from the file is imported and the embedded Python source is never executed:
NVIDIA's persistent classes become `PersistentObject` records (class name + state), tensor storages
are parsed from their legacy `torch.save` byte layout by our own code, and numpy objects are rebuilt
from raw bytes. Any other global raises `UnsafeModelFile` naming what the file asked for.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from latentwalk.errors import CorruptModelFile, UnsafeModelFile, UnsupportedFormat

# Legacy torch.save magic number and protocol version (FORMATS.md, "Tensors and storages").
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001
# Version of NVIDIA's torch_utils.persistence format (both repositories write 6).
PERSISTENCE_VERSION = 6
# A single tensor larger than this is refused before any allocation (8 GiB of float32).
MAX_TENSOR_ELEMENTS = 2 * 1024**3

_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


@dataclass
class PersistentObject:
    """An NVIDIA `@persistent_class` instance, kept as data: its class name and attribute dict."""

    class_name: str
    state: dict[str, Any]
    module_src_digest: str = ""

    def module(self, name: str) -> PersistentObject | None:
        """The sub-module `name` from `_modules`, or None."""
        mod = (self.state.get("_modules") or {}).get(name)
        return mod if isinstance(mod, PersistentObject) else None

    def tensors(self) -> dict[str, torch.Tensor]:
        """This object's own parameters and buffers (None entries skipped), in stored order."""
        out: dict[str, torch.Tensor] = {}
        for container in ("_parameters", "_buffers"):
            for key, value in (self.state.get(container) or {}).items():
                if value is not None:
                    out[key] = value
        return out

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """The torch-style state dict: own tensors then each sub-module's, depth-first."""
        out = {prefix + k: v for k, v in self.tensors().items()}
        for name, sub in (self.state.get("_modules") or {}).items():
            if isinstance(sub, PersistentObject):
                out.update(sub.state_dict(prefix + name + "."))
        return out

    def init_kwargs(self) -> dict[str, Any]:
        """The constructor keyword arguments NVIDIA recorded (nested EasyDicts as plain dicts)."""
        kwargs = self.state.get("_init_kwargs") or {}
        return _plain(kwargs)


class EasyDictStub(dict):
    """Stands in for `dnnlib.util.EasyDict`: a plain dict that ignores any BUILD state."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


class TFNetworkStub:
    """Stands in for `dnnlib.tflib.network.Network`: keeps only the `__setstate__` dict (tf_pickle.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"_raw": state}


class ProGANNetworkStub(TFNetworkStub):
    """Stands in for Progressive GAN's `tfutil.Network` (same kind of state, older layout)."""


@dataclass
class _ArrayStub:
    """A numpy array under construction (`_reconstruct` followed by BUILD)."""

    array: np.ndarray | None = field(default=None)

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5):
            raise CorruptModelFile("a numpy array in the file has a malformed state")
        _version, shape, dtype, is_fortran, raw = state
        dtype = _checked_dtype(dtype)
        if not isinstance(raw, bytes | bytearray):
            raise UnsafeModelFile("a numpy array in the file carries objects instead of raw bytes")
        shape = tuple(int(s) for s in shape)
        count = int(np.prod(shape)) if shape else 1
        if count * dtype.itemsize != len(raw):
            raise CorruptModelFile(f"a numpy array claims shape {shape} but holds {len(raw)} bytes")
        order = "F" if is_fortran else "C"
        self.array = np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order=order).copy()


def _checked_dtype(dtype: Any) -> np.dtype:
    if not isinstance(dtype, np.dtype):
        raise CorruptModelFile(f"expected a numpy dtype in the file, found {type(dtype).__name__}")
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufc":
        raise UnsafeModelFile(f"the file holds numpy data of dtype {dtype!s}, which may carry objects")
    return dtype


# --------------------------------------------------------------------------------------------------
# Handlers for the allowed globals. Each is ours; none is the real function the file names.


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise CorruptModelFile("a persistent object in the file has no class metadata")
    if meta.get("version") != PERSISTENCE_VERSION:
        raise UnsupportedFormat(
            f"persistent object {meta.get('class_name')!r} uses persistence version {meta.get('version')!r}; "
            f"latentwalk reads version {PERSISTENCE_VERSION} (stylegan2-ada-pytorch and stylegan3)"
        )
    state = meta.get("state")
    if not isinstance(state, dict):
        raise CorruptModelFile(f"persistent object {meta.get('class_name')!r} has no state dict")
    src = meta.get("module_src") or ""
    digest = _digest(src) if isinstance(src, str) else ""
    return PersistentObject(class_name=str(meta.get("class_name")), state=state, module_src_digest=digest)


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any) -> torch.Tensor:
    if not isinstance(storage, torch.Tensor) or storage.ndim != 1:
        raise CorruptModelFile("a tensor in the file does not refer to a storage")
    try:
        size = tuple(int(s) for s in size)
        stride = tuple(int(s) for s in stride)
        offset = int(offset)
    except (TypeError, ValueError) as exc:
        raise CorruptModelFile(f"a tensor in the file has a malformed shape: {exc}") from None
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise CorruptModelFile(f"a tensor in the file has an invalid layout (size {size}, stride {stride})")
    # The last element addressed must lie inside the storage.
    last = offset + sum((n - 1) * st for n, st in zip(size, stride, strict=True)) if all(size) else offset - 1
    if last >= storage.numel():
        raise CorruptModelFile(
            f"a tensor of size {size} reaches past the end of its storage ({storage.numel()} elements)"
        )
    return storage.as_strided(size, stride, offset).clone()


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None, *_: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise CorruptModelFile("a parameter in the file does not hold a tensor")
    return data


def _numpy_scalar(dtype: Any, raw: Any = None) -> Any:
    dtype = _checked_dtype(dtype)
    if not isinstance(raw, bytes | bytearray) or len(raw) != dtype.itemsize:
        raise CorruptModelFile("a numpy scalar in the file is malformed")
    return np.frombuffer(bytes(raw), dtype=dtype)[0]


def _numpy_dtype(name: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if not isinstance(name, str) or len(name) > 8:
        raise UnsafeModelFile(f"the file asks for an unexpected numpy dtype {name!r}")
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise CorruptModelFile(f"the file names an unknown numpy dtype {name!r}") from None
    return _checked_dtype(dtype)


def _numpy_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> _ArrayStub:
    if cls is not _NDARRAY_TOKEN:
        raise UnsafeModelFile("the file rebuilds a numpy array of an unexpected class")
    return _ArrayStub()


class _NdarrayToken:
    """Stands for the class `numpy.ndarray`, which pickles pass to `_reconstruct`."""


_NDARRAY_TOKEN = _NdarrayToken()


def _load_from_bytes(blob: Any) -> torch.Tensor:
    """Parse one legacy (non-zip) `torch.save` stream of a single storage into a 1-D tensor."""
    if not isinstance(blob, bytes | bytearray):
        raise CorruptModelFile("a tensor storage in the file is not a byte string")
    return parse_legacy_storage(bytes(blob))


def parse_legacy_storage(blob: bytes) -> torch.Tensor:
    """Read the storage blob layout of FORMATS.md: magic, version, sys info, storage, keys, data."""
    f = io.BytesIO(blob)
    try:
        magic = _StorageUnpickler(f).load()
        if magic != _TORCH_MAGIC:
            raise CorruptModelFile("a tensor storage in the file has the wrong magic number")
        version = _StorageUnpickler(f).load()
        if version != _TORCH_PROTOCOL:
            raise CorruptModelFile(f"a tensor storage uses serialisation protocol {version!r}, expected 1001")
        sys_info = _StorageUnpickler(f).load()
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
            raise CorruptModelFile("a tensor storage in the file is not little-endian")
        unpickler = _StorageUnpickler(f)
        placeholder = unpickler.load()
        keys = _StorageUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, struct.error, IndexError) as exc:
        raise CorruptModelFile(f"a tensor storage in the file is malformed ({exc})") from None
    if not isinstance(placeholder, _StorageRecord) or not isinstance(keys, list) or len(keys) != 1:
        raise CorruptModelFile("a tensor storage in the file does not hold exactly one storage")
    if keys[0] != placeholder.key:
        raise CorruptModelFile("a tensor storage's key list does not match its storage")
    head = f.read(8)
    if len(head) != 8:
        raise CorruptModelFile("a tensor storage in the file is truncated")
    (count,) = struct.unpack("<q", head)
    itemsize = torch.empty((), dtype=placeholder.dtype).element_size()
    if count < 0 or count > MAX_TENSOR_ELEMENTS or count != placeholder.numel:
        raise CorruptModelFile(f"a tensor storage claims {count} elements (declared {placeholder.numel})")
    data = f.read(count * itemsize)
    if len(data) != count * itemsize:
        raise CorruptModelFile(
            f"a tensor storage is truncated: {len(data)} of {count * itemsize} bytes present"
        )
    if placeholder.dtype == torch.bfloat16:
        raw = torch.frombuffer(bytearray(data), dtype=torch.int16)
        return raw.view(torch.bfloat16).clone()
    if count == 0:
        return torch.empty(0, dtype=placeholder.dtype)
    return torch.frombuffer(bytearray(data), dtype=placeholder.dtype).clone()


@dataclass
class _StorageRecord:
    key: str
    dtype: torch.dtype
    numel: int


@dataclass(frozen=True)
class _StorageTypeToken:
    name: str


class _StorageUnpickler(pickle.Unpickler):
    """Reads the small pickles inside a storage blob; only `torch.*Storage` names are allowed."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageTypeToken(name)
        raise UnsafeModelFile(
            f"the file asks for '{module}.{name}' inside a tensor storage; only torch storage types "
            "are allowed. Nothing was run. Do not use this file unless you trust where it came from."
        )

    def persistent_load(self, pid: Any) -> _StorageRecord:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CorruptModelFile("a tensor storage has an unexpected persistent id")
        storage_type, key, _location, numel = pid[1], pid[2], pid[3], pid[4]
        if not isinstance(storage_type, _StorageTypeToken) or not isinstance(numel, int):
            raise CorruptModelFile("a tensor storage has a malformed persistent id")
        if numel < 0 or numel > MAX_TENSOR_ELEMENTS:
            raise CorruptModelFile(f"a tensor storage claims {numel} elements, over the limit")
        return _StorageRecord(key=str(key), dtype=_STORAGE_DTYPES[storage_type.name], numel=numel)


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Protocol-2 pickles spell bytes as `_codecs.encode(str, 'latin1')`; only that is allowed."""
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafeModelFile("the file calls '_codecs.encode' in a way byte strings never need")
    return text.encode("latin1")


def _plain_set(items: Any = ()) -> set[Any]:
    """Protocol-2/3 pickles spell sets (`_non_persistent_buffers_set`) as `builtins.set(list)`."""
    if not isinstance(items, list | tuple) or not all(isinstance(i, str | int) for i in items):
        raise UnsafeModelFile("the file builds a set of unexpected objects")
    return set(items)


_HANDLERS: dict[tuple[str, str], Any] = {
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "set"): _plain_set,
    ("__builtin__", "set"): _plain_set,  # protocol 2 spells builtins the Python 2 way
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDictStub,
    ("dnnlib", "EasyDict"): EasyDictStub,
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
    ("tfutil", "Network"): ProGANNetworkStub,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy", "ndarray"): _NDARRAY_TOKEN,
}
for _np_core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _HANDLERS[(_np_core, "scalar")] = _numpy_scalar
    _HANDLERS[(_np_core, "_reconstruct")] = _numpy_reconstruct


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles NVIDIA network containers with every global mapped to an inert handler of ours."""

    def find_class(self, module: str, name: str) -> Any:
        handler = _HANDLERS.get((module, name))
        if handler is None:
            raise UnsafeModelFile(
                f"the file asks for '{module}.{name}', which a network pickle has no need of "
                "(it could run code). Nothing was run. latentwalk loads only the StyleGAN container "
                "formats; do not use this file unless you trust where it came from."
            )
        return handler

    def persistent_load(self, pid: Any) -> Any:
        raise CorruptModelFile("the file uses persistent ids, which network pickles do not")


def load_restricted(data: bytes) -> Any:
    """Unpickle `data` safely and replace array stubs by numpy arrays.

    Raises:
        UnsafeModelFile: the pickle names a global outside the allowlist.
        CorruptModelFile: the pickle is truncated or malformed.
    """
    try:
        obj = RestrictedUnpickler(io.BytesIO(data)).load()
    except (UnsafeModelFile, CorruptModelFile, UnsupportedFormat):
        raise
    except (pickle.UnpicklingError, EOFError) as exc:
        raise CorruptModelFile(f"the file is not a complete pickle ({exc or 'ended early'})") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error) as exc:
        raise CorruptModelFile(f"the pickle is malformed ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise CorruptModelFile("the pickle nests too deeply to be a network") from None
    return _resolve(obj, set())


def _resolve(obj: Any, seen: set[int]) -> Any:
    """Replace `_ArrayStub`s by their arrays throughout containers and persistent objects."""
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise CorruptModelFile("a numpy array in the file was never filled in")
        return obj.array
    if id(obj) in seen:
        return obj
    if isinstance(obj, PersistentObject):
        seen.add(id(obj))
        _resolve(obj.state, seen)
    elif isinstance(obj, TFNetworkStub):
        seen.add(id(obj))
        _resolve(obj.state, seen)
    elif isinstance(obj, dict):
        seen.add(id(obj))
        for key, value in list(obj.items()):
            obj[key] = _resolve(value, seen)
    elif isinstance(obj, list):
        seen.add(id(obj))
        for i, value in enumerate(obj):
            obj[i] = _resolve(value, seen)
    elif isinstance(obj, tuple):
        return tuple(_resolve(v, seen) for v in obj)
    return obj


def _plain(obj: Any) -> Any:
    """Deep-convert EasyDict stubs and OrderedDicts into plain dicts (for kwargs)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj
