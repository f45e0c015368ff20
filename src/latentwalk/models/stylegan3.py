"""A clean-room StyleGAN3 generator (configs T and R) that renders from stored weights and filters.

Written from the paper ("Alias-Free Generative Adversarial Networks", Karras et al. 2021) and the
facts in FORMATS.md. Tensor names follow NVIDIA's state dict (`synthesis.input.freqs`,
`synthesis.L3_52_512.down_filter`, `mapping.fc1.weight`, ...) so weights load by name with shape
checks. Nothing is designed here: the layer geometry (sizes, sampling rates, padding) and the
resampling filters come from the file (`design_stylegan3` builds fresh ones for benchmarks).

Synthesis: Fourier features (`SynthesisInput`, optionally moved by a user transform), then layers
that each modulate a convolution (3x3 for T, 1x1 for R) and apply the filtered leaky ReLU
(`models/filtered_lrelu.py`), the last one being the ToRGB layer; the image is scaled by
`output_scale`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from latentwalk.models import filtered_lrelu as flrelu
from latentwalk.models.base import MappedGenerator
from latentwalk.models.stylegan2 import FullyConnected, MappingNetwork
from latentwalk.types import NoiseMode

Transform = tuple[float, float, float]  # (translate x, translate y, rotate degrees), as gen_images.py


@dataclass(frozen=True)
class InputSpec:
    """The Fourier-feature input: channels, size (width, height), sampling rate and bandwidth."""

    channels: int
    size: tuple[int, int]
    sampling_rate: float
    bandwidth: float


@dataclass(frozen=True)
class LayerSpec:
    """One synthesis layer as stored: sizes are (width, height), padding is [x0, x1, y0, y1]."""

    name: str
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    in_sampling_rate: float
    out_sampling_rate: float
    in_cutoff: float
    out_cutoff: float
    conv_kernel: int
    up_factor: int
    up_taps: int
    down_factor: int
    down_taps: int
    down_radial: bool
    padding: tuple[int, int, int, int]
    is_torgb: bool = False
    is_critically_sampled: bool = False
    use_fp16: bool = False  # informational: NVIDIA's fp16 layers run in float32 on the CPU
    conv_clamp: float | None = 256.0


@dataclass(frozen=True)
class StyleGAN3Config:
    """Everything that shapes a StyleGAN3 generator; the weights and filters fill in the rest."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    input: InputSpec
    layers: tuple[LayerSpec, ...]  # the last one is the ToRGB layer
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    output_scale: float = 0.25
    extra: dict[str, list[float]] = field(default_factory=dict, hash=False, compare=False)  # design notes

    @property
    def num_ws(self) -> int:
        return len(self.layers) + 1  # one w for the input, one per layer

    @property
    def kind(self) -> str:
        """'T' (translation equivariant, 3x3 convolutions) or 'R' (rotation equivariant, 1x1)."""
        return "R" if all(spec.conv_kernel == 1 for spec in self.layers) else "T"


def transform_matrix(transform: Transform) -> np.ndarray:
    """The inverse of gen_images.py's translate/rotate matrix (float64 [3, 3]), which is what the
    input layer's `transform` buffer holds: it maps image coordinates back into the input's frame."""
    tx, ty, degrees = (float(v) for v in transform)
    angle = degrees / 360.0 * math.pi * 2
    s, c = math.sin(angle), math.cos(angle)
    m = np.array([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)


class SynthesisInput(torch.nn.Module):
    """Fourier features: sinusoids of stored frequencies and phases, turned and shifted per sample by
    a rotation and translation predicted from w, and by the user transform."""

    def __init__(self, w_dim: int, spec: InputSpec) -> None:
        super().__init__()
        self.spec = spec
        c = spec.channels
        self.weight = torch.nn.Parameter(torch.zeros([c, c]))
        self.affine = FullyConnected(w_dim, 4)
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", torch.zeros([c, 2]))
        self.register_buffer("phases", torch.zeros([c]))

    def forward(self, w: torch.Tensor, user: torch.Tensor | None = None) -> torch.Tensor:  # -> [N, C, H, W]
        n = w.shape[0]
        user = self.transform if user is None else user.to(self.transform)
        # t = (cos, sin, tx, ty) of the learned rotation and translation; the rotation part has unit norm.
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rot = torch.eye(3, device=w.device).repeat([n, 1, 1])  # inverse rotation of the image
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        shift = torch.eye(3, device=w.device).repeat([n, 1, 1])  # inverse translation of the image
        shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = rot @ shift @ user.unsqueeze(0)  # [N, 3, 3]

        freqs = self.freqs.unsqueeze(0)  # [1, C, 2]
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = freqs @ m[:, :2, :2]  # [N, C, 2]
        # Frequencies pushed out of band by the user transform fade out instead of aliasing.
        sr, bw = self.spec.sampling_rate, self.spec.bandwidth
        amplitudes = (1 - (freqs.norm(dim=2) - bw) / (sr / 2 - bw)).clamp(0, 1)  # [N, C]

        # Pixel centres in the input's coordinates: (j + 0.5 - size/2) / sampling_rate.
        width, height = self.spec.size
        gx = (torch.arange(width, device=w.device, dtype=torch.float32) + 0.5 - width / 2) / sr
        gy = (torch.arange(height, device=w.device, dtype=torch.float32) + 0.5 - height / 2) / sr
        x = (
            gx.view(1, 1, width, 1) * freqs[:, None, None, :, 0]
            + gy.view(1, height, 1, 1) * freqs[:, None, None, :, 1]
        )
        x = torch.sin((x + phases[:, None, None, :]) * (math.pi * 2))  # [N, H, W, C]
        x = x * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.spec.channels)).t()
        return x.permute(0, 3, 1, 2).contiguous()


def modulated_conv2d(
    x: torch.Tensor,  # [N, I, H, W]
    weight: torch.Tensor,  # [O, I, k, k]
    styles: torch.Tensor,  # [N, I]
    demodulate: bool,
    padding: int,
    input_gain: torch.Tensor,  # [] or [I]
    bias: torch.Tensor | None = None,  # [O], added to the output (fused into the convolution)
) -> torch.Tensor:  # [N, O, H + 2*padding - k + 1, ...]
    """StyleGAN3's modulated convolution: per-sample weights, one convolution group per sample.

    With demodulation, weight and styles are first normalised to unit mean square (per output
    channel; per sample rather than per batch, so a row never depends on its company: this changes
    nothing but the weight of the 1e-8 in the demodulation). The input gain (1/sqrt(magnitude_ema))
    multiplies the input channels after demodulation.
    """
    n, in_channels = x.shape[:2]
    out_channels, _, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    w = w * input_gain.reshape(1, 1, -1, 1, 1)
    if kh == kw == 1 and padding == 0:  # a 1x1 convolution is a matrix product (BLAS beats conv here)
        h, width = x.shape[2:]
        w2 = w.reshape(n, out_channels, in_channels).to(x.dtype)
        x2 = x.reshape(n, in_channels, h * width)
        y2 = torch.bmm(w2, x2) if bias is None else torch.baddbmm(bias.to(x.dtype).view(1, -1, 1), w2, x2)
        return y2.reshape(n, out_channels, h, width)
    w = w.reshape(n * out_channels, in_channels, kh, kw).to(x.dtype)
    b = None if bias is None else bias.to(x.dtype).repeat(n)
    y = F.conv2d(x.reshape(1, n * in_channels, *x.shape[2:]), w, b, padding=padding, groups=n)
    return y.reshape(n, out_channels, *y.shape[2:])


class SynthesisLayer(torch.nn.Module):
    """Modulated convolution, then bias + filtered leaky ReLU (upsample, activate, downsample)."""

    def __init__(self, w_dim: int, spec: LayerSpec) -> None:
        super().__init__()
        self.spec = spec
        k = spec.conv_kernel
        self.affine = FullyConnected(w_dim, spec.in_channels)
        self.weight = torch.nn.Parameter(torch.zeros([spec.out_channels, spec.in_channels, k, k]))
        self.bias = torch.nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", torch.zeros([spec.up_taps]) if spec.up_taps > 1 else None)
        down_shape = [spec.down_taps, spec.down_taps] if spec.down_radial else [spec.down_taps]
        self.register_buffer("down_filter", torch.zeros(down_shape) if spec.down_taps > 1 else None)
        self.gain = 1.0 if spec.is_torgb else math.sqrt(2)
        self.slope = 1.0 if spec.is_torgb else 0.2
        self.impl = "fast"  # or "reference": models/filtered_lrelu.filtered_lrelu_reference
        self._plans: dict[tuple[object, ...], flrelu.Plan] = {}

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        styles = self.affine(w)
        if spec.is_torgb:
            styles = styles * (1 / math.sqrt(spec.in_channels * spec.conv_kernel**2))
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            demodulate=not spec.is_torgb,
            padding=spec.conv_kernel - 1,
            input_gain=self.magnitude_ema.rsqrt(),
            bias=self.bias,
        )
        args = (self.up_filter, self.down_filter, None, spec.up_factor, spec.down_factor, spec.padding)
        if self.impl == "reference":
            return flrelu.filtered_lrelu_reference(x, *args, self.gain, self.slope, spec.conv_clamp)
        return flrelu.filtered_lrelu(x, *args, self.gain, self.slope, spec.conv_clamp, plan=self._plan(x))

    def _plan(self, x: torch.Tensor) -> flrelu.Plan:
        """The fast activation's precomputed matrices, per input size and device.

        Plans are dropped when weights are loaded or the module moves (`load_state_dict`, `.to()`);
        code that writes into the filter buffers in place must call `forget_plans()`.
        """
        key = (x.shape[2], x.shape[3], x.device)
        plan = self._plans.get(key)
        if plan is None:
            with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable in any mode
                plan = flrelu.make_plan(
                    self.up_filter,
                    self.down_filter,
                    self.spec.up_factor,
                    self.spec.down_factor,
                    self.spec.padding,
                    self.gain,
                    (x.shape[2], x.shape[3]),
                    x.device,
                )
            self._plans[key] = plan
        return plan

    def forget_plans(self) -> None:
        self._plans = {}

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.forget_plans()
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        self.forget_plans()
        return super()._apply(fn, recurse)


class SynthesisNetwork(torch.nn.Module):
    """ws -> image: the Fourier-feature input, the layers (the last is ToRGB), the output scale."""

    def __init__(self, cfg: StyleGAN3Config) -> None:
        super().__init__()
        self.num_ws = cfg.num_ws
        self.output_scale = cfg.output_scale
        self.input = SynthesisInput(cfg.w_dim, cfg.input)
        self.layer_names = [spec.name for spec in cfg.layers]
        for spec in cfg.layers:
            setattr(self, spec.name, SynthesisLayer(cfg.w_dim, spec))

    def forward(
        self, ws: torch.Tensor, noise_mode: NoiseMode = "const", transform: Transform | None = None
    ) -> torch.Tensor:
        """Render [N, num_ws, w_dim] -> [N, C, H, W]. `noise_mode` is accepted for the common
        interface (StyleGAN3 has no noise inputs); `transform` moves and turns the picture."""
        del noise_mode
        user = None
        if transform is not None:
            user = torch.from_numpy(transform_matrix(transform)).to(torch.float32)
        ws_list = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws_list[0], user)
        for name, w in zip(self.layer_names, ws_list[1:], strict=True):
            x = getattr(self, name)(x, w)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x


class StyleGAN3Generator(MappedGenerator, torch.nn.Module):
    """The StyleGAN3 generator: `mapping` (z, c -> ws) then `synthesis` (ws -> image)."""

    family = "stylegan3"
    capabilities = ("w", "transform")

    def __init__(self, cfg: StyleGAN3Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        # Synthesis first, like NVIDIA's constructor: its tensors come first in the state dict.
        self.synthesis = SynthesisNetwork(cfg)
        # StyleGAN3's mapping is StyleGAN2's with every fc layer w_dim wide.
        self.mapping = MappingNetwork(
            cfg.z_dim,
            cfg.c_dim,
            cfg.w_dim,
            cfg.num_ws,
            cfg.mapping_layers,
            lr_multiplier=cfg.mapping_lr_multiplier,
        )

    def set_impl(self, impl: str) -> StyleGAN3Generator:
        """'fast' (default) or 'reference' filtered activations, for every layer."""
        if impl not in ("fast", "reference"):
            raise ValueError(f"impl must be 'fast' or 'reference', not {impl!r}")
        for module in self.modules():
            if isinstance(module, SynthesisLayer):
                module.impl = impl
        return self

    def render(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: NoiseMode = "const",
        transform: Transform | None = None,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, psi=psi, cutoff=cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, transform=transform)
