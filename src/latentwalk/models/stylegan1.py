"""A clean-room StyleGAN (v1) generator: mapping with pixel norm, AdaIN styles, noise, blur.

Written from the paper ("A Style-Based Generator Architecture for GANs", Karras et al. 2019) and the
behaviour of NVIDIA's TensorFlow release as loaded from its pickles (see backends/tf_stylegan1.py):

* mapping: z (and a label embedding, concatenated) -> pixel norm -> `mapping_layers` dense layers
  with equalised learning rate (gain sqrt 2, lr multiplier 0.01) and leaky ReLU -> w;
* synthesis: a learned 4x4 constant, then per resolution an upsampling 3x3 convolution followed by
  a [1, 2, 1] blur and a 3x3 convolution; after every convolution ("epilogue"): per-channel scaled
  noise, bias, leaky ReLU, instance norm, and the style modulation x * (1 + ys) + yb from w;
* upsampling is nearest-neighbour then conv below `fused_from` pixels and a fused transposed
  convolution (the 3x3 kernel summed into a 4x4 one) from there up, as NVIDIA's `fused_scale='auto'`;
* truncation toward `w_avg` on the first `truncation_cutoff` (8) layers by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentwalk.models.base import MappedGenerator
from latentwalk.types import NoiseMode

LRELU_SLOPE = 0.2


@dataclass(frozen=True)
class StyleGAN1Config:
    """Everything that shapes a StyleGAN v1 generator; the weights fill in the rest."""

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    channels: dict[int, int]  # feature maps at each resolution 4..N
    mapping_layers: int = 8
    mapping_fmaps: int = 512
    mapping_lrmul: float = 0.01
    mapping_activation: str = "lrelu"  # 'lrelu' or 'relu'
    activation: str = "lrelu"
    normalize_latents: bool = True
    use_noise: bool = True
    use_pixel_norm: bool = False
    use_instance_norm: bool = True
    use_wscale: bool = True
    fused_from: int = 128  # resolutions >= this use the fused transposed upsampling convolution
    blur_filter: tuple[float, ...] | None = (1, 2, 1)
    truncation_cutoff: int = 8  # default number of layers truncated (None in the file = all)

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    @property
    def num_ws(self) -> int:
        return 2 * len(self.block_resolutions)


def _act(x: torch.Tensor, kind: str) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE) if kind == "lrelu" else F.relu(x)


def _pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


class MappingNetwork(torch.nn.Module):
    """z (and label c) -> w, broadcast to num_ws copies, truncated toward w_avg."""

    def __init__(self, cfg: StyleGAN1Config) -> None:
        super().__init__()
        self.cfg, self.num_ws = cfg, cfg.num_ws
        if cfg.c_dim > 0:  # TF 'LabelConcat': a plain (not equalised) [c_dim, z_dim] matrix
            self.label_weight = torch.nn.Parameter(torch.zeros([cfg.c_dim, cfg.z_dim]))
        widths = [cfg.z_dim * (2 if cfg.c_dim else 1)]
        widths += [cfg.mapping_fmaps] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.zeros([widths[i + 1], widths[i]])) for i in range(cfg.mapping_layers)
        )
        self.biases = torch.nn.ParameterList(
            torch.nn.Parameter(torch.zeros([widths[i + 1]])) for i in range(cfg.mapping_layers)
        )
        self.register_buffer("w_avg", torch.zeros([cfg.w_dim]))

    def forward(
        self,
        z: torch.Tensor,  # [N, z_dim]
        c: torch.Tensor | None = None,  # [N, c_dim]
        psi: float = 1.0,
        cutoff: int | None = None,
    ) -> torch.Tensor:  # [N, num_ws, w_dim]
        cfg = self.cfg
        x = z.to(torch.float32)
        if cfg.c_dim > 0:
            assert c is not None and c.shape[1] == cfg.c_dim
            x = torch.cat([x, c.to(torch.float32) @ self.label_weight], dim=1)
        if cfg.normalize_latents:
            x = _pixel_norm(x)
        lr = cfg.mapping_lrmul
        for weight, bias in zip(self.weights, self.biases, strict=True):
            gain = math.sqrt(2) / math.sqrt(weight.shape[1]) * lr if cfg.use_wscale else lr
            x = _act(F.linear(x, weight * gain, bias * lr), cfg.mapping_activation)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if psi != 1:
            end = cfg.truncation_cutoff if cutoff is None else cutoff
            ws[:, :end] = self.w_avg.lerp(ws[:, :end], psi)
        return ws


class Epilogue(torch.nn.Module):
    """What follows every convolution: noise, bias, activation, norms, then AdaIN style modulation."""

    def __init__(self, cfg: StyleGAN1Config, channels: int, resolution: int) -> None:
        super().__init__()
        self.cfg, self.resolution = cfg, resolution
        if cfg.use_noise:
            self.noise_weight = torch.nn.Parameter(torch.zeros([channels]))
            self.register_buffer("noise_const", torch.zeros([resolution, resolution]))
        self.bias = torch.nn.Parameter(torch.zeros([channels]))
        self.style_weight = torch.nn.Parameter(torch.zeros([2 * channels, cfg.w_dim]))
        self.style_bias = torch.nn.Parameter(torch.zeros([2 * channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode) -> torch.Tensor:
        cfg = self.cfg
        if cfg.use_noise and noise_mode != "none":
            if noise_mode == "const":
                noise = self.noise_const.reshape(1, 1, self.resolution, self.resolution)
            else:
                noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            x = x + noise * self.noise_weight.reshape(1, -1, 1, 1)
        x = _act(x + self.bias.reshape(1, -1, 1, 1), cfg.activation)
        if cfg.use_pixel_norm:
            x = _pixel_norm(x)
        if cfg.use_instance_norm:
            x = x - x.mean(dim=(2, 3), keepdim=True)
            x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + 1e-8)
        gain = 1 / math.sqrt(cfg.w_dim) if cfg.use_wscale else 1.0
        style = F.linear(w, self.style_weight * gain, self.style_bias)  # [N, 2C]
        scale, shift = style.reshape(x.shape[0], 2, -1, 1, 1).unbind(dim=1)
        return x * (scale + 1) + shift


class SynthesisBlock(torch.nn.Module):
    """One resolution: (constant or upsampling conv + blur) and a 3x3 conv, each with its epilogue."""

    def __init__(self, cfg: StyleGAN1Config, resolution: int) -> None:
        super().__init__()
        self.cfg, self.resolution = cfg, resolution
        out_ch = cfg.channels[resolution]
        if resolution == 4:
            self.const = torch.nn.Parameter(torch.zeros([1, out_ch, 4, 4]))
        else:
            in_ch = cfg.channels[resolution // 2]
            self.conv0_weight = torch.nn.Parameter(torch.zeros([out_ch, in_ch, 3, 3]))
            self.fused = resolution >= cfg.fused_from
        self.epilogue0 = Epilogue(cfg, out_ch, resolution)
        self.conv1_weight = torch.nn.Parameter(torch.zeros([out_ch, out_ch, 3, 3]))
        self.epilogue1 = Epilogue(cfg, out_ch, resolution)
        if cfg.blur_filter:
            taps = torch.tensor(cfg.blur_filter, dtype=torch.float32)
            kernel = taps[:, None] * taps[None, :]
            self.register_buffer("blur_kernel", kernel / kernel.sum(), persistent=False)

    def _gain(self, weight: torch.Tensor) -> float:
        return math.sqrt(2) / math.sqrt(weight[0].numel()) if self.cfg.use_wscale else 1.0

    def _up_conv(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv0_weight * self._gain(self.conv0_weight)  # [out, in, 3, 3]
        if not self.fused:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            return F.conv2d(x, w, padding=1)
        # Fused: sum the kernel at four one-pixel shifts into a 4x4 kernel, transposed conv stride 2.
        p = F.pad(w, [1, 1, 1, 1])
        w4 = p[:, :, 1:, 1:] + p[:, :, :-1, 1:] + p[:, :, 1:, :-1] + p[:, :, :-1, :-1]
        return F.conv_transpose2d(x, w4.transpose(0, 1), stride=2, padding=1)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        if not self.cfg.blur_filter:
            return x
        k = self.blur_kernel.shape[-1]
        kernel = self.blur_kernel.expand(x.shape[1], 1, k, k)
        return F.conv2d(x, kernel, padding=k // 2, groups=x.shape[1])

    def forward(
        self, x: torch.Tensor | None, ws: torch.Tensor, noise_mode: NoiseMode
    ) -> torch.Tensor:  # ws [N, 2, w_dim]
        if self.resolution == 4:
            x = self.const.expand(ws.shape[0], -1, -1, -1)
        else:
            assert x is not None
            x = self._blur(self._up_conv(x))
        x = self.epilogue0(x, ws[:, 0], noise_mode)
        x = F.conv2d(x, self.conv1_weight * self._gain(self.conv1_weight), padding=1)
        return self.epilogue1(x, ws[:, 1], noise_mode)


class SynthesisNetwork(torch.nn.Module):
    """ws -> image: blocks from 4x4 to the output resolution, then the full-resolution ToRGB."""

    def __init__(self, cfg: StyleGAN1Config) -> None:
        super().__init__()
        self.cfg, self.num_ws = cfg, cfg.num_ws
        self.blocks = torch.nn.ModuleList(SynthesisBlock(cfg, r) for r in cfg.block_resolutions)
        top = cfg.channels[cfg.img_resolution]
        self.torgb_weight = torch.nn.Parameter(torch.zeros([cfg.img_channels, top, 1, 1]))
        self.torgb_bias = torch.nn.Parameter(torch.zeros([cfg.img_channels]))

    def forward(self, ws: torch.Tensor, noise_mode: NoiseMode = "const") -> torch.Tensor:
        ws = ws.to(torch.float32)
        x = None
        for i, block in enumerate(self.blocks):
            x = block(x, ws[:, 2 * i : 2 * i + 2], noise_mode)
        assert x is not None
        gain = 1 / math.sqrt(self.torgb_weight.shape[1]) if self.cfg.use_wscale else 1.0
        return F.conv2d(x, self.torgb_weight * gain, self.torgb_bias)


class StyleGAN1Generator(MappedGenerator, torch.nn.Module):
    """The StyleGAN v1 generator: `mapping` (z, c -> ws) then `synthesis` (ws -> image)."""

    family = "stylegan1"
    capabilities = ("w", "noise")

    def __init__(self, cfg: StyleGAN1Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg)
