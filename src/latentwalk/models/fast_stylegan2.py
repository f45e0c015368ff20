"""A faster StyleGAN2 synthesis: the same math as models/stylegan2.py, in fewer passes over memory.

The reference modules stay the definition; this path reads their weights and differs only by float
rounding (tests/test_fast_stylegan2.py holds it within 3 grey levels of the reference). What it does
differently, each chosen by measurement on a 2-core AVX-512 CPU (see docs/speed.md):

- demodulation: the per-layer sum of squared weights is computed once, not once per image;
- one sample: styles, demodulation and the activation gain fold into the (small) weight in one
  multiply; the bias rides in the convolution (or in the FIR after an up-sampling convolution);
  noise, leaky ReLU and clamp then work in place, so each layer writes its activations once or twice
  instead of six times (lrelu(g * y) = g * lrelu(y) for g > 0, so the gain may come first);
- several samples (the GPU path): the activations are scaled by the styles and one shared-weight
  convolution serves the whole batch, which keeps the GEMMs large;
- the FIR after the stride-2 transposed convolution uses the convolution's own symmetric padding
  (no padded copy), and the image skip's 2x upsampling is one depthwise transposed convolution
  (polyphase: no zero-inserted image);
- channels-last activations (oneDNN's fast layout for these convolutions on CPU, tensor cores on GPU);
- `dtype`: bfloat16 (CPU preview, AMX/AVX512-BF16) or float16 (GPU, in the high-resolution blocks
  only and with `conv_clamp`, as NVIDIA does) for the convolutions; styles, demodulation and the
  image accumulate in float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from latentwalk.models.base import MappedGenerator
from latentwalk.models.ops import LRELU_ALPHA, bias_act, normalize_2nd_moment
from latentwalk.models.stylegan2 import (
    FullyConnected,
    MappingNetwork,
    StyleGAN2Generator,
    SynthesisBlock,
    SynthesisLayer,
    SynthesisNetwork,
    ToRGB,
)
from latentwalk.types import NoiseMode

Activation = Callable[[torch.Tensor], torch.Tensor]


def _fir_conv_padding(f: torch.Tensor, up: int, k: int, padding: int) -> tuple[int, int, int, int]:
    """Padding (x0, x1, y0, y1) of the FIR that follows a stride-`up` transposed k x k convolution."""
    fh, fw = f.shape
    return (
        padding + (fw + up - 1) // 2 - (k - 1),
        padding + (fw - up) // 2 - (k - up),
        padding + (fh + up - 1) // 2 - (k - 1),
        padding + (fh - up) // 2 - (k - up),
    )


def depthwise_fir(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int, int, int], bias=None):
    """Depthwise correlation of `x` [N, C, H, W] with `kernel` [C, 1, kh, kw] after padding `pad`
    (x0, x1, y0, y1; non-negative). Symmetric padding goes to the convolution itself (no copy)."""
    px0, px1, py0, py1 = pad
    if px0 == px1 and py0 == py1:
        return F.conv2d(x, kernel, bias, padding=(py0, px0), groups=x.shape[1])
    return F.conv2d(F.pad(x, [px0, px1, py0, py1]), kernel, bias, groups=x.shape[1])


def upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """ops.upsample2d(x, f, up=2) for an even-sized filter as one depthwise transposed convolution.

    `kernel` is [C, 1, fh, fw] = f * 4 (not flipped): out[m] = sum_i x[i] f[m + p - 2i] with
    p = (fw - 2) // 2 is exactly the zero-insert-pad-convolve of the reference, without the zeros.
    """
    fh, fw = kernel.shape[2:]
    return F.conv_transpose2d(x, kernel, stride=2, padding=((fh - 2) // 2, (fw - 2) // 2), groups=x.shape[1])


class FastDense:
    """A FullyConnected layer with its equalised-learning-rate gains applied once."""

    def __init__(self, fc: FullyConnected) -> None:
        self.weight_t = (fc.weight.detach() * fc.weight_gain).t().contiguous()  # [in, out]
        self.bias = fc.bias.detach() * fc.bias_gain
        self.activation = fc.activation

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [N, in] -> [N, out]
        if self.activation == "linear":
            return torch.addmm(self.bias.unsqueeze(0), x, self.weight_t)
        return bias_act(x.matmul(self.weight_t), self.bias, act=self.activation)


class FastMapping:
    """MappingNetwork.forward with precomputed layer weights (conditional models keep the reference)."""

    def __init__(self, mapping: MappingNetwork) -> None:
        self.reference = mapping
        self.w_avg = mapping.w_avg
        self.layers = [FastDense(getattr(mapping, f"fc{i}")) for i in range(mapping.num_layers)]

    def __call__(
        self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0, cutoff: int | None = None
    ) -> torch.Tensor:  # [N, num_ws, w_dim]
        m = self.reference
        if m.c_dim > 0 or m.z_dim == 0:
            return m(z, c, psi=psi, cutoff=cutoff)
        x = normalize_2nd_moment(z.to(torch.float32))
        for layer in self.layers:
            x = layer(x)
        ws = x.unsqueeze(1).repeat([1, m.num_ws, 1])
        if psi != 1:
            end = m.num_ws if cutoff is None else cutoff
            ws[:, :end] = self.w_avg.lerp(ws[:, :end], psi)
        return ws


class FastLayer:
    """One SynthesisLayer with its constant parts precomputed."""

    def __init__(self, layer: SynthesisLayer, dtype: torch.dtype, memory_format: torch.memory_format) -> None:
        self.layer, self.dtype, self.memory_format = layer, dtype, memory_format
        self.up = layer.up
        self.affine = FastDense(layer.affine)
        w = layer.weight.detach().to(torch.float32)
        self.normalise = dtype == torch.float16
        if self.normalise:
            # float16 (as NVIDIA does): scale each output channel's weight to at most 1/sqrt(fan-in),
            # and each sample's styles to at most 1, so x * styles and the convolution's sums stay
            # far from float16's limit. The demodulation divides both scales out again.
            fan_in = w[0].numel()
            w = w / (math.sqrt(fan_in) * w.abs().amax(dim=[1, 2, 3], keepdim=True).clamp_min(1e-30))
        self.weight_lp = w.to(dtype)  # cast once
        self.wsq = w.square().sum(dim=[2, 3])  # [O, I], for the demodulation
        # Scaling the weight costs O*I*k*k; scaling activations costs I*H_in*W_in + O*H*W. Small
        # feature maps (the low resolutions) take the second, shared-weight form even for one image.
        res_in = layer.resolution // self.up
        out_ch, in_ch, kh, kw = w.shape
        self.fold_weight = out_ch * in_ch * kh * kw < in_ch * res_in**2 + out_ch * layer.resolution**2
        self.bias = layer.bias.detach().to(torch.float32)
        self.noise_const = (
            layer.noise_const.detach() * layer.noise_strength.detach() if layer.use_noise else None
        )
        f = layer.resample_filter.detach().to(torch.float32)
        if self.up == 2:
            self.fir_pad = _fir_conv_padding(f, 2, w.shape[-1], padding=1)
            assert min(self.fir_pad) >= 0, "filter too short for this fast path"
            out_ch = w.shape[0]
            # Correlation kernel = flipped convolution kernel, with the up-sampling gain up**2.
            self.fir = (f * 4).flip([0, 1])[None, None].repeat(out_ch, 1, 1, 1).to(dtype)

    def __call__(self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode, gain: float) -> torch.Tensor:
        layer = self.layer
        n = x.shape[0]
        styles = self.affine(w.to(torch.float32))  # [N, I]
        if self.normalise:
            styles = styles / styles.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
        dcoefs = (styles.square() @ self.wsq.t() + 1e-8).rsqrt()  # [N, O]
        g = math.sqrt(2.0) * gain  # lrelu gain; folded before the activation (g > 0)
        bias = (self.bias * g).to(self.dtype)
        if n == 1 and self.fold_weight:
            scale = (dcoefs.t() * styles * g).to(self.dtype)  # [O, I]: demodulation x styles x gain
            x = self._conv(x, self.weight_lp * scale[:, :, None, None], bias)
        else:
            x = x * styles.to(self.dtype)[:, :, None, None]
            x = self._conv(x, self.weight_lp, None)
            x = torch.addcmul(bias[None, :, None, None], x, (dcoefs * g).to(self.dtype)[:, :, None, None])
        if layer.use_noise and noise_mode == "const":
            assert self.noise_const is not None
            x.add_((self.noise_const * g).to(self.dtype))
        elif layer.use_noise and noise_mode == "random":
            noise = torch.randn([n, 1, layer.resolution, layer.resolution], device=x.device)
            x.add_((noise * (layer.noise_strength * g)).to(self.dtype))
        F.leaky_relu_(x, LRELU_ALPHA) if layer.activation == "lrelu" else F.relu_(x)
        if layer.conv_clamp is not None:
            x.clamp_(-layer.conv_clamp * gain, layer.conv_clamp * gain)
        return x

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.up == 1:
            return F.conv2d(x, weight, bias, padding=1)
        y = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        return depthwise_fir(y, self.fir, self.fir_pad, bias)


class FastToRGB:
    def __init__(self, torgb: ToRGB, dtype: torch.dtype) -> None:
        self.torgb, self.dtype = torgb, dtype
        self.affine = FastDense(torgb.affine)
        self.weight = torgb.weight.detach().to(torch.float32)  # [C, I, 1, 1]
        self.bias = torgb.bias.detach().to(torch.float32)

    def __call__(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w.to(torch.float32)) * self.torgb.weight_gain  # [N, I]
        if x.shape[0] == 1:
            y = F.conv2d(
                x, (self.weight * styles[0][None, :, None, None]).to(self.dtype), self.bias.to(self.dtype)
            )
        else:
            y = F.conv2d(x * styles.to(self.dtype)[:, :, None, None], self.weight.to(self.dtype))
            y = y + self.bias.to(self.dtype)[None, :, None, None]
        y = y.to(torch.float32)
        if self.torgb.conv_clamp is not None:
            y.clamp_(-self.torgb.conv_clamp, self.torgb.conv_clamp)
        return y


class FastBlock:
    def __init__(self, block: SynthesisBlock, dtype: torch.dtype, memory_format: torch.memory_format) -> None:
        self.block, self.dtype, self.memory_format = block, dtype, memory_format
        self.conv0 = FastLayer(block.conv0, dtype, memory_format) if block.in_channels else None
        self.conv1 = FastLayer(block.conv1, dtype, memory_format)
        self.torgb = FastToRGB(block.torgb, dtype) if block.has_torgb else None
        f = block.resample_filter.detach().to(torch.float32)
        self.img_up = (f * 4)[None, None]  # [1, 1, fh, fw], repeated per image channel on use
        if block.in_channels and block.architecture == "resnet":
            skip = block.skip
            self.skip_weight = (skip.weight.detach() * skip.weight_gain).to(dtype)
            self.skip_up = (f * 4)[None, None].repeat(self.skip_weight.shape[0], 1, 1, 1).to(dtype)

    def __call__(self, x, img, ws: torch.Tensor, noise_mode: NoiseMode):
        b = self.block
        w_iter = iter(ws.unbind(dim=1))
        if b.in_channels == 0:
            x = b.const.to(self.dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = x.contiguous(memory_format=self.memory_format)
            x = self.conv1(x, next(w_iter), noise_mode, 1.0)
        else:
            assert x is not None and self.conv0 is not None
            x = x.to(self.dtype)
            if b.architecture == "resnet":
                y = upsample2x(F.conv2d(x, self.skip_weight), self.skip_up) * math.sqrt(0.5)
                x = self.conv0(x, next(w_iter), noise_mode, 1.0)
                x = self.conv1(x, next(w_iter), noise_mode, math.sqrt(0.5))
                x = y.add_(x)
            else:
                x = self.conv0(x, next(w_iter), noise_mode, 1.0)
                x = self.conv1(x, next(w_iter), noise_mode, 1.0)
        if img is not None:
            img = upsample2x(img, self.img_up.expand(img.shape[1], 1, -1, -1))
        if self.torgb is not None:
            y = self.torgb(x, next(w_iter))
            img = img.add_(y) if img is not None else y
        return x, img


class FastSynthesis:
    """Callable like SynthesisNetwork.forward: ws [N, num_ws, w_dim] -> images [N, C, H, W] float32.

    Args:
        synthesis: the reference network (its weights are read, not copied, where dtypes agree).
        dtype: float32, bfloat16 or float16 for the convolutions.
        low_precision_from: only blocks at this resolution and above use `dtype` (the others float32);
            None means every block.
        channels_last: keep activations channels-last.
    """

    def __init__(
        self,
        synthesis: SynthesisNetwork,
        dtype: torch.dtype = torch.float32,
        low_precision_from: int | None = None,
        channels_last: bool = True,
    ) -> None:
        self.synthesis = synthesis
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.blocks = []
        for res in synthesis.block_resolutions:
            block_dtype = dtype if low_precision_from is None or res >= low_precision_from else torch.float32
            self.blocks.append(FastBlock(getattr(synthesis, f"b{res}"), block_dtype, fmt))
        self.num_ws = synthesis.num_ws

    def __call__(self, ws: torch.Tensor, noise_mode: NoiseMode = "const") -> torch.Tensor:
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for fb in self.blocks:
            block = fb.block
            x, img = fb(x, img, ws.narrow(1, w_idx, block.num_conv + block.num_torgb), noise_mode)
            w_idx += block.num_conv
        assert img is not None
        return img.contiguous()


class FastStyleGAN2(MappedGenerator):
    """A StyleGAN2Generator with the fast synthesis: meets the same protocol (mapping, synthesis,
    render, z_dim, ...) and shares the reference's weights and mapping network."""

    family = "stylegan2"
    capabilities = ("w", "noise")

    def __init__(self, g: StyleGAN2Generator, synthesis: FastSynthesis) -> None:
        self.reference = g
        self.z_dim, self.c_dim, self.w_dim = g.z_dim, g.c_dim, g.w_dim
        self.img_resolution, self.img_channels, self.num_ws = g.img_resolution, g.img_channels, g.num_ws
        self.mapping = FastMapping(g.mapping)
        self.synthesis = synthesis

    __call__ = MappedGenerator.render
