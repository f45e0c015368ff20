"""A clean-room StyleGAN2 generator (configs E/F: skip, resnet and orig architectures).

Written from the paper ("Analyzing and Improving the Image Quality of StyleGAN", Karras et al.
2020) and the facts in FORMATS.md. Parameter and buffer names follow NVIDIA's state dict
(`synthesis.b8.conv0.affine.weight`, `mapping.fc0.bias`, ...) so that weights load by name with
shape checks; the math is in `models/ops.py`. Stored weights are the raw equalised-learning-rate
values: each layer multiplies by its runtime gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from latentwalk.models.base import MappedGenerator
from latentwalk.models.ops import (
    bias_act,
    modulated_conv2d,
    normalize_2nd_moment,
    setup_filter,
    upsample2d,
)
from latentwalk.types import NoiseMode


@dataclass(frozen=True)
class StyleGAN2Config:
    """Everything that shapes a StyleGAN2 generator; the weights fill in the rest."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    channels: dict[int, int]  # output channels of the block at each resolution 4..N
    mapping_layers: int = 8
    layer_features: int | None = None  # hidden width of the mapping fc layers (None = w_dim)
    embed_features: int | None = None  # label embedding width (None = w_dim)
    mapping_lr_multiplier: float = 0.01
    mapping_activation: str = "lrelu"
    activation: str = "lrelu"
    architecture: str = "skip"  # 'orig', 'skip' or 'resnet'
    conv_clamp: float | None = None
    use_noise: bool = True
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)
    fp16_resolutions: tuple[int, ...] = field(default=())  # informational: NVIDIA's fp16 blocks

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    @property
    def num_ws(self) -> int:
        n = 0
        for res in self.block_resolutions:
            n += 1 if res == 4 else 2  # conv layers
        return n + 1  # the last ToRGB gets its own w; the others share the next block's first


class FullyConnected(torch.nn.Module):
    """Dense layer with equalised learning rate: effective weight = weight * lr / sqrt(in)."""

    def __init__(
        self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.zeros([out_features, in_features]))
        self.bias = torch.nn.Parameter(torch.zeros([out_features]))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, in] -> [N, out]
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(torch.nn.Module):
    """z (and label c) -> w, broadcast to num_ws copies, with truncation toward w_avg."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        layer_features: int | None = None,  # hidden width (None = w_dim)
        embed_features: int | None = None,  # label embedding width (None = w_dim)
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        embed = (embed_features or w_dim) if c_dim > 0 else 0
        hidden = layer_features or w_dim
        widths = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnected(c_dim, embed)
        self.num_layers = num_layers
        for i in range(num_layers):
            setattr(
                self,
                f"fc{i}",
                FullyConnected(widths[i], widths[i + 1], activation, lr_multiplier=lr_multiplier),
            )
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,  # [N, z_dim]
        c: torch.Tensor | None = None,  # [N, c_dim]
        psi: float = 1.0,
        cutoff: int | None = None,
    ) -> torch.Tensor:  # [N, num_ws, w_dim]
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            assert c is not None and c.shape[1] == self.c_dim
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if psi != 1:
            end = self.num_ws if cutoff is None else cutoff
            ws[:, :end] = self.w_avg.lerp(ws[:, :end], psi)
        return ws


class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 convolution (optionally 2x upsampling), noise, bias, lrelu, clamp."""

    def __init__(
        self, cfg: StyleGAN2Config, in_channels: int, out_channels: int, resolution: int, up: int
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.activation = resolution, up, cfg.activation
        self.conv_clamp, self.use_noise = cfg.conv_clamp, cfg.use_noise
        # Registration order gives NVIDIA's state-dict order: weight, noise_strength, bias, then
        # the buffers resample_filter, noise_const, then the affine sub-module.
        self.register_buffer("resample_filter", setup_filter(list(cfg.resample_filter)))
        self.affine = FullyConnected(cfg.w_dim, in_channels)
        self.weight = torch.nn.Parameter(torch.zeros([out_channels, in_channels, 3, 3]))
        if cfg.use_noise:
            self.register_buffer("noise_const", torch.zeros([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode = "const", gain: float = 1.0
    ) -> torch.Tensor:
        styles = self.affine(w)  # [N, I]
        noise = None
        if self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif self.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            noise = torch.randn(shape, device=x.device) * self.noise_strength
        x = modulated_conv2d(
            x, self.weight, styles, noise=noise, up=self.up, padding=1, resample_filter=self.resample_filter
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=math.sqrt(2.0) * gain, clamp=clamp)


class ToRGB(torch.nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation."""

    def __init__(self, cfg: StyleGAN2Config, in_channels: int) -> None:
        super().__init__()
        self.conv_clamp = cfg.conv_clamp
        self.affine = FullyConnected(cfg.w_dim, in_channels)
        self.weight = torch.nn.Parameter(torch.zeros([cfg.img_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([cfg.img_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SkipConv(torch.nn.Module):
    """The resnet architecture's shortcut: 1x1 convolution (no bias) then 2x FIR upsampling."""

    def __init__(self, cfg: StyleGAN2Config, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros([out_channels, in_channels, 1, 1]))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.register_buffer("resample_filter", setup_filter(list(cfg.resample_filter)))

    def forward(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        x = torch.nn.functional.conv2d(x, self.weight * self.weight_gain)
        return upsample2d(x, self.resample_filter) * gain


class SynthesisBlock(torch.nn.Module):
    """One resolution: (const or 2x-up conv0), conv1, and ToRGB where the architecture has one."""

    def __init__(self, cfg: StyleGAN2Config, resolution: int) -> None:
        super().__init__()
        out_ch = cfg.channels[resolution]
        in_ch = cfg.channels[resolution // 2] if resolution > 4 else 0
        self.resolution, self.architecture, self.in_channels = resolution, cfg.architecture, in_ch
        self.is_last = resolution == cfg.img_resolution
        self.register_buffer("resample_filter", setup_filter(list(cfg.resample_filter)))
        if in_ch == 0:
            self.const = torch.nn.Parameter(torch.zeros([out_ch, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(cfg, in_ch, out_ch, resolution, up=2)
        self.conv1 = SynthesisLayer(cfg, out_ch, out_ch, resolution, up=1)
        self.has_torgb = self.is_last or cfg.architecture == "skip"
        if self.has_torgb:
            self.torgb = ToRGB(cfg, out_ch)
        if in_ch != 0 and cfg.architecture == "resnet":
            self.skip = SkipConv(cfg, in_ch, out_ch)
        self.num_conv = 1 if in_ch == 0 else 2
        self.num_torgb = 1 if self.has_torgb else 0

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,  # [N, num_conv + num_torgb, w_dim]
        noise_mode: NoiseMode,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), noise_mode)
        elif self.architecture == "resnet":
            assert x is not None
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode, gain=math.sqrt(0.5))
            x = y + x
        else:
            assert x is not None
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.has_torgb:
            y = self.torgb(x, next(w_iter))
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(torch.nn.Module):
    """ws -> image: the blocks from 4x4 to the output resolution."""

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.block_resolutions = cfg.block_resolutions
        self.num_ws = cfg.num_ws
        for res in self.block_resolutions:
            setattr(self, f"b{res}", SynthesisBlock(cfg, res))

    def forward(self, ws: torch.Tensor, noise_mode: NoiseMode = "const") -> torch.Tensor:
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            # Each block reads num_conv + num_torgb ws; the index advances by num_conv only, so a
            # ToRGB shares its w with the next block's first convolution.
            x, img = block(x, img, ws.narrow(1, w_idx, block.num_conv + block.num_torgb), noise_mode)
            w_idx += block.num_conv
        assert img is not None
        return img


class StyleGAN2Generator(MappedGenerator, torch.nn.Module):
    """The StyleGAN2 generator: `mapping` (z, c -> ws) then `synthesis` (ws -> image)."""

    family = "stylegan2"
    capabilities = ("w", "noise")

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        # Construction order matters for the state-dict key order: synthesis first, like NVIDIA's.
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(
            cfg.z_dim,
            cfg.c_dim,
            cfg.w_dim,
            cfg.num_ws,
            cfg.mapping_layers,
            cfg.layer_features,
            cfg.embed_features,
            cfg.mapping_activation,
            cfg.mapping_lr_multiplier,
        )
