"""The fast path the worker renders with: per model, device and precision, built once and cached.

Precisions:
  - ``fp32``: full precision. For StyleGAN2 the fused path of models/fast_stylegan2.py (within float
    rounding of the reference); every other model runs as it is.
  - ``bf16``: the preview mode: convolutions in bfloat16 (fast on CPUs with AVX512-BF16/AMX and on
    GPUs). StyleGAN2 casts its convolutions explicitly; other models run under torch.autocast.
  - ``fp16``: float16 in the high-resolution blocks of a StyleGAN2 with ``conv_clamp``, as NVIDIA's
    generator does on a GPU (the four highest resolutions); other models run under autocast.
Reduced precision changes pixels by a few grey levels: benchmarks/bench_speed.py measures how many.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch

from latentwalk.errors import InvalidRequest
from latentwalk.models.fast_stylegan2 import FastStyleGAN2, FastSynthesis
from latentwalk.models.stylegan2 import StyleGAN2Generator

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
FP16_RESOLUTIONS = 4  # NVIDIA's num_fp16_res default: the four highest resolutions


def check_precision(precision: str) -> Precision:
    if precision not in PRECISIONS:
        raise InvalidRequest(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision  # type: ignore[return-value]


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX); False if unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


class AutocastGenerator:
    """Any generator, its calls run under torch.autocast; outputs come back as float32."""

    def __init__(self, g: Any, device_type: str, dtype: torch.dtype) -> None:
        self.reference, self._device_type, self._dtype = g, device_type, dtype
        for name in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "num_ws", "family"):
            if hasattr(g, name):
                setattr(self, name, getattr(g, name))
        self.capabilities = getattr(g, "capabilities", ())
        if hasattr(g, "mapping") and hasattr(g, "synthesis"):
            self.mapping = g.mapping  # the mapping network (and its truncation) stays in float32
            self.synthesis = self._wrap(g.synthesis)
            self.render = self._render_w
        else:
            self.render = self._wrap(g.render)

    def _render_w(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        **kw: Any,
    ) -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, psi=psi, cutoff=cutoff), **kw)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.reference.w_avg

    def _wrap(self, fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def run(*args: Any, **kwargs: Any) -> torch.Tensor:
            with torch.autocast(self._device_type, dtype=self._dtype):
                return fn(*args, **kwargs).to(torch.float32)

        return run


def accelerate(g: Any, device: torch.device, precision: Precision = "fp32", compile: bool = False) -> Any:
    """The fastest generator we have for `g` at `precision` on `device` (same protocol as `g`).

    compile: on a CUDA device, run StyleGAN2's synthesis through torch.compile in "reduce-overhead"
    mode (CUDA graphs): each batch size is compiled once on first use (slow: tens of seconds) and
    replayed after that, which removes the per-layer launch overhead. Ignored elsewhere.
    """
    if isinstance(g, StyleGAN2Generator):
        dtype = DTYPES[precision]
        low_from = None
        if precision == "fp16":
            if g.cfg.conv_clamp is None:
                dtype = torch.float32  # float16 without a clamp can overflow: NVIDIA stays in fp32 too
            res = g.cfg.block_resolutions
            low_from = res[max(0, len(res) - FP16_RESOLUTIONS)]
        fast = FastStyleGAN2(g, FastSynthesis(g.synthesis, dtype, low_from))
        if compile and device.type == "cuda":
            fast.synthesis = CudaGraphSynthesis(fast.synthesis)
        return fast
    if precision == "fp32":
        return g
    return AutocastGenerator(g, device.type, DTYPES[precision])


class CudaGraphSynthesis:
    """A synthesis callable under torch.compile(mode="reduce-overhead"): one CUDA graph per shape.

    Graph outputs live in memory the next replay overwrites, so each result is cloned."""

    def __init__(self, synthesis: Any) -> None:
        self.eager = synthesis
        self.blocks = synthesis.blocks
        self.num_ws = synthesis.num_ws
        self._compiled = torch.compile(synthesis, mode="reduce-overhead", dynamic=False)

    def __call__(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if noise_mode == "random":  # fresh noise each call: keep it out of the captured graph
            return self.eager(ws, noise_mode=noise_mode)
        return self._compiled(ws.contiguous(), noise_mode=noise_mode).clone()


class AcceleratedCache:
    """accelerate() results per (generator, precision); the worker forgets a generator it evicts."""

    def __init__(self, device: torch.device, compile: bool = False) -> None:
        self.device, self.compile = device, compile
        self._cache: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(generator) -> (generator, fast)

    def get(self, g: Any, precision: Precision) -> Any:
        per_model = self._cache.setdefault(id(g), (g, {}))[1]
        if precision not in per_model:
            per_model[precision] = accelerate(g, self.device, precision, compile=self.compile)
        return per_model[precision]

    def forget(self, g: Any) -> None:
        self._cache.pop(id(g), None)

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        self._cache.clear()
