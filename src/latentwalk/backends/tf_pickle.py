"""TensorFlow 1.x network pickles (StyleGAN2, StyleGAN, Progressive GAN) read without TensorFlow.

`safe_pickle` maps the container classes (`dnnlib.tflib.network.Network` of NVIDIA's stylegan and
stylegan2 repositories, `tfutil.Network` of progressive_growing_of_gans) to stubs that only keep
their `__setstate__` dict. Here that dict becomes a `TFNetwork` record: name, static kwargs, the
build function's name, sub-networks and variables as float32 numpy arrays. The embedded
`build_module_src` is TensorFlow Python source: it is never executed, only its length is kept. The
architecture is chosen from the build function names and checked against the variable names; the
family modules (`tf_stylegan2`, `tf_stylegan1`, `tf_progan`) then build our own PyTorch modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.safe_pickle import ProGANNetworkStub, TFNetworkStub
from latentwalk.errors import CorruptModelFile, UnsupportedFormat

# Container versions written by NVIDIA's code: tfutil (ProGAN) 2, stylegan 3, stylegan2 4, -ada 5.
KNOWN_VERSIONS = (2, 3, 4, 5)
MAX_RESOLUTION = 8192


@dataclass
class TFNetwork:
    """One TensorFlow `Network` as data."""

    container: str  # "dnnlib.tflib.network.Network" or "tfutil.Network"
    version: int
    name: str
    build_func_name: str
    static_kwargs: dict[str, Any]
    variables: dict[str, np.ndarray]  # own variables by local TF name, float32
    components: dict[str, TFNetwork] = field(default_factory=dict)
    build_module_src_chars: int = 0

    def flat_variables(self) -> dict[str, np.ndarray]:
        """Own variables, then each component's prefixed by its key and a slash (NVIDIA's flattening)."""
        out = dict(self.variables)
        for key, comp in self.components.items():
            out.update({f"{key}/{k}": v for k, v in comp.flat_variables().items()})
        return out


def is_tf_pickle(top: Any) -> bool:
    """True for what a TensorFlow network pickle unpickles to: Networks, alone or in a tuple."""
    if isinstance(top, TFNetworkStub):
        return True
    return isinstance(top, tuple) and bool(top) and all(isinstance(t, TFNetworkStub) for t in top)


def load_tf_pickle(top: Any, name: str) -> LoadedModel:
    """Build our generator from the moving-average generator `Gs` of a (G, D, Gs) tuple.

    Raises:
        UnsupportedFormat: an architecture (build function) latentwalk does not implement.
        CorruptModelFile: malformed state, missing or misshapen variables, non-finite values.
    """
    if isinstance(top, tuple):
        if len(top) != 3:
            raise UnsupportedFormat(
                f"{name}: a TensorFlow pickle of {len(top)} networks; expected NVIDIA's (G, D, Gs) triple"
            )
        stub = top[2]
    else:
        stub = top  # a pickle of a single generator network
    gs = _network(stub, name, depth=0)
    func = gs.build_func_name
    if func == "G_paper":
        from latentwalk.backends.tf_progan import load_progan

        loaded = load_progan(gs, name)
    elif gs.container != "dnnlib.tflib.network.Network":
        raise UnsupportedFormat(
            f"{name}: a tfutil.Network built by {func!r}; latentwalk reads Progressive GAN's G_paper only"
        )
    elif func == "G_main":
        from latentwalk.backends.tf_stylegan2 import load_stylegan2_tf

        loaded = load_stylegan2_tf(gs, name)
    elif func == "G_style":
        from latentwalk.backends.tf_stylegan1 import load_stylegan1_tf

        loaded = load_stylegan1_tf(gs, name)
    else:
        raise UnsupportedFormat(
            f"{name}: the TensorFlow generator {gs.name!r} is built by a function named {func!r}; "
            "latentwalk reads NVIDIA's G_main (StyleGAN2), G_style (StyleGAN) and G_paper "
            "(Progressive GAN). A custom architecture has to be converted to one of those first."
        )
    loaded.info.setdefault("container", f"{gs.container} version {gs.version}")
    loaded.info.setdefault("build_functions", build_functions(gs))
    loaded.generator.eval().requires_grad_(False)
    return loaded


def build_functions(net: TFNetwork) -> dict[str, str]:
    """{network name: build function name} for the network and its components (for `info`)."""
    out = {net.name: net.build_func_name}
    for comp in net.components.values():
        out.update(build_functions(comp))
    return out


def _network(stub: Any, name: str, depth: int) -> TFNetwork:
    if depth > 4:
        raise CorruptModelFile(f"{name}: TensorFlow networks nest deeper than NVIDIA's ever do")
    if not isinstance(stub, TFNetworkStub):
        raise CorruptModelFile(f"{name}: expected a TensorFlow Network, found {type(stub).__name__}")
    container = "tfutil.Network" if isinstance(stub, ProGANNetworkStub) else "dnnlib.tflib.network.Network"
    state = getattr(stub, "state", None)
    if not isinstance(state, dict):
        raise CorruptModelFile(f"{name}: a TensorFlow Network in the file has no state dict")
    version = state.get("version")
    if version not in KNOWN_VERSIONS:
        raise UnsupportedFormat(
            f"{name}: TensorFlow Network container version {version!r}; latentwalk reads versions "
            f"{', '.join(map(str, KNOWN_VERSIONS))} (Progressive GAN, StyleGAN, StyleGAN2, StyleGAN2-ADA)"
        )
    net_name, func = state.get("name"), state.get("build_func_name")
    kwargs = state.get("static_kwargs", {})
    src = state.get("build_module_src", "")
    if not isinstance(net_name, str) or not isinstance(func, str) or not isinstance(kwargs, dict):
        raise CorruptModelFile(f"{name}: a TensorFlow Network lacks its name, build function or kwargs")
    variables = _variables(state.get("variables"), f"{name}: network {net_name!r}")
    components = state.get("components") or {}
    if not isinstance(components, dict):
        raise CorruptModelFile(f"{name}: network {net_name!r} has malformed components")
    return TFNetwork(
        container=container,
        version=int(version),
        name=net_name,
        build_func_name=func,
        static_kwargs=dict(kwargs),
        variables=variables,
        components={str(k): _network(v, name, depth + 1) for k, v in components.items()},
        build_module_src_chars=len(src) if isinstance(src, str) else 0,
    )


def _variables(pairs: Any, where: str) -> dict[str, np.ndarray]:
    if not isinstance(pairs, list | tuple):
        raise CorruptModelFile(f"{where} has no variable list")
    out: dict[str, np.ndarray] = {}
    for pair in pairs:
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise CorruptModelFile(f"{where} has a malformed variable entry")
        key, value = pair
        if isinstance(value, np.generic | int | float) and not isinstance(value, bool):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            raise CorruptModelFile(f"{where}: variable {key!r} is not a numeric array")
        arr = value.astype(np.float32)
        if not np.isfinite(arr).all():
            raise CorruptModelFile(f"{where}: variable {key!r} holds NaN or infinite values")
        out[key] = arr
    return out


class VariableReader:
    """Takes named TF variables with shape checks and remembers which were used."""

    def __init__(self, variables: dict[str, np.ndarray], name: str, family: str) -> None:
        self.variables, self.name, self.family = variables, name, family
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.variables

    def get(self, key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if key not in self.variables:
            raise CorruptModelFile(f"{self.name}: the {self.family} network has no variable {key!r}")
        value = self.variables[key]
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise CorruptModelFile(
                f"{self.name}: variable {key!r} has shape {tuple(value.shape)}, expected {tuple(shape)}"
            )
        self.used.add(key)
        return value

    def conv(self, key: str, shape: tuple[int, ...] | None, order: tuple[int, ...]) -> torch.Tensor:
        """A TF kernel or matrix reordered to PyTorch's layout (`order` as for numpy.transpose)."""
        return torch.from_numpy(np.ascontiguousarray(self.get(key, shape).transpose(order)))

    def tensor(self, key: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        return torch.from_numpy(np.array(self.get(key, shape), dtype=np.float32, order="C"))

    def unused(self, ignore: tuple[str, ...] = ()) -> list[str]:
        return sorted(k for k in self.variables if k not in self.used and not k.endswith(ignore))


def resolution_of(variables: dict[str, np.ndarray], name: str, prefix: str = "") -> int:
    """The largest `{R}x{R}/` scope among the variable names (the output resolution)."""
    found = []
    for key in variables:
        head = key[len(prefix) :].split("/", 1)[0] if key.startswith(prefix) else ""
        a, _, b = head.partition("x")
        if a.isdigit() and a == b:
            found.append(int(a))
    if not found:
        raise CorruptModelFile(f"{name}: no '<R>x<R>/' layers among the network's variables")
    res = max(found)
    if not (4 <= res <= MAX_RESOLUTION and res & (res - 1) == 0):
        raise CorruptModelFile(f"{name}: resolution {res} is not a power of two in 4..{MAX_RESOLUTION}")
    return res


def kwarg_value(kwargs: dict[str, Any], key: str, default: Any) -> Any:
    """A static kwarg, with None meaning the default (as NVIDIA's converter reads them)."""
    value = kwargs.get(key, default)
    return default if value is None else value
