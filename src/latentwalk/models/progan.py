"""A clean-room Progressive GAN generator (`G_paper`), evaluated at full resolution (lod 0).

Written from the paper ("Progressive Growing of GANs for Improved Quality, Stability, and
Variation", Karras et al. 2018) and the behaviour of NVIDIA's TensorFlow release as loaded from its
pickles (see backends/tf_progan.py): z (and a label, concatenated) -> pixel norm -> a dense layer to
a 4x4 map -> per resolution a 2x upsampling 3x3 convolution (fused transposed convolution, or
nearest-neighbour then convolution) and a 3x3 convolution, each followed by bias, leaky ReLU and
pixel norm -> a 1x1 ToRGB at the last resolution. Weights are stored unscaled (equalised learning
rate); each layer multiplies by its He gain at run time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentwalk.models.base import ZSpaceGenerator


@dataclass(frozen=True)
class ProGANConfig:
    """Everything that shapes a `G_paper` generator; the weights fill in the rest."""

    z_dim: int
    c_dim: int
    img_resolution: int
    img_channels: int
    channels: dict[int, int]  # feature maps at each resolution 4..N
    fused_scale: bool = True
    normalize_latents: bool = True
    use_wscale: bool = True
    use_pixelnorm: bool = True
    pixelnorm_epsilon: float = 1e-8
    use_leakyrelu: bool = True

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]


class ProGANGenerator(ZSpaceGenerator):
    """Progressive GAN's generator at lod 0; no w space, psi scales z (see `ZSpaceGenerator`)."""

    family = "progan"
    capabilities = ()

    def __init__(self, cfg: ProGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim = cfg.z_dim, cfg.c_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        c4 = cfg.channels[4]
        self.dense_weight = torch.nn.Parameter(torch.zeros([c4 * 16, cfg.z_dim + cfg.c_dim]))
        self.dense_bias = torch.nn.Parameter(torch.zeros([c4]))
        self.conv_weights = torch.nn.ParameterList()
        self.conv_biases = torch.nn.ParameterList()
        for res in cfg.block_resolutions:
            out_ch = cfg.channels[res]
            pairs = [(c4, c4)] if res == 4 else [(cfg.channels[res // 2], out_ch), (out_ch, out_ch)]
            for in_ch, oc in pairs:
                self.conv_weights.append(torch.nn.Parameter(torch.zeros([oc, in_ch, 3, 3])))
                self.conv_biases.append(torch.nn.Parameter(torch.zeros([oc])))
        top = cfg.channels[cfg.img_resolution]
        self.torgb_weight = torch.nn.Parameter(torch.zeros([cfg.img_channels, top, 1, 1]))
        self.torgb_bias = torch.nn.Parameter(torch.zeros([cfg.img_channels]))

    def _gain(self, gain: float, fan_in: int) -> float:
        return gain / math.sqrt(fan_in) if self.cfg.use_wscale else 1.0

    def _post(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + bias.reshape(1, -1, 1, 1)
        x = F.leaky_relu(x, 0.2) if self.cfg.use_leakyrelu else F.relu(x)
        if self.cfg.use_pixelnorm:
            x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.cfg.pixelnorm_epsilon)
        return x

    def _up_conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        w = weight * self._gain(math.sqrt(2), weight[0].numel())  # [out, in, 3, 3]
        if not self.cfg.fused_scale:
            return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
        p = F.pad(w, [1, 1, 1, 1])
        w4 = p[:, :, 1:, 1:] + p[:, :, :-1, 1:] + p[:, :, 1:, :-1] + p[:, :, :-1, :-1]
        return F.conv_transpose2d(x, w4.transpose(0, 1), stride=2, padding=1)

    def synthesize(
        self, z: torch.Tensor, c: torch.Tensor | None = None
    ) -> torch.Tensor:  # [N, z_dim], [N, c_dim] -> [N, C, H, W]
        cfg = self.cfg
        x = z.to(torch.float32)
        if cfg.c_dim > 0:
            assert c is not None and c.shape[1] == cfg.c_dim
            x = torch.cat([x, c.to(torch.float32)], dim=1)
        if cfg.normalize_latents:
            x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + cfg.pixelnorm_epsilon)
        w = self.dense_weight * self._gain(math.sqrt(2) / 4, self.dense_weight.shape[1])
        x = self._post(F.linear(x, w).reshape(x.shape[0], cfg.channels[4], 4, 4), self.dense_bias)
        layers = iter(zip(self.conv_weights, self.conv_biases, strict=True))
        for res in cfg.block_resolutions:
            if res > 4:
                weight, bias = next(layers)
                x = self._post(self._up_conv(x, weight), bias)
            weight, bias = next(layers)
            w = weight * self._gain(math.sqrt(2), weight[0].numel())
            x = self._post(F.conv2d(x, w, padding=1), bias)
        w = self.torgb_weight * self._gain(1.0, self.torgb_weight.shape[1])
        return F.conv2d(x, w, self.torgb_bias)

    def render(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: str = "const",
    ) -> torch.Tensor:
        del cutoff, noise_mode  # no mapping network, no noise inputs
        return self.synthesize(z.to(torch.float32) * float(psi), c if self.c_dim else None)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesize(z)
