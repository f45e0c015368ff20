"""Image-to-image generators of the pix2pix/CycleGAN family: the ResNet and the U-Net generator.

Both are written from the papers (Zhu et al. 2017, Isola et al. 2017; the ResNet generator after
Johnson et al. 2016) with their modules laid out so that state dicts saved by the common PyTorch
implementations load by name: `model.<i>` for the ResNet generator's flat sequence (blocks at
`model.<i>.block.<j>`), and `model.model.<i>...` for the U-Net's nested skip blocks. Which
variant a state dict holds (ResNet or U-Net, depth, width, norm) is read from its keys and shapes
by `translator_from_state_dict`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from latentwalk.errors import UnsupportedFormat

Norm = Literal["instance", "instance-affine", "batch"]


def _norm(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=kind == "instance-affine")


class ResidualBlock(nn.Module):
    """x + (pad, conv3x3, norm, relu, pad, conv3x3, norm)(x)."""

    def __init__(self, channels: int, norm: Norm, bias: bool) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            _norm(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetTranslator(nn.Module):
    """7x7 stem, two stride-2 downsamplings, residual blocks, two upsamplings, 7x7 head, tanh.

    Input and output are [N, C, H, W] in [-1, 1]; H and W should be multiples of 4."""

    kind = "resnet"

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        width: int = 64,
        blocks: int = 9,
        norm: Norm = "instance",
    ) -> None:
        super().__init__()
        bias = norm != "batch"  # a batch norm's shift makes a conv bias redundant
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=bias),
            _norm(norm, width),
            nn.ReLU(True),
        ]
        ch = width
        for _ in range(2):
            layers += [
                nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias),
                _norm(norm, ch * 2),
                nn.ReLU(True),
            ]
            ch *= 2
        layers += [ResidualBlock(ch, norm, bias) for _ in range(blocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                _norm(norm, ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.in_channels, self.out_channels, self.multiple = in_channels, out_channels, 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UnetSkipBlock(nn.Module):
    """One level of the U-Net: down (4x4 stride 2), the inner levels, up (4x4 stride 2); its input is
    concatenated to its output except at the outermost level."""

    def __init__(
        self,
        outer: int,
        inner: int,
        sub: nn.Module | None,
        norm: Norm,
        outermost: bool = False,
        in_ch: int = 0,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = norm != "batch"
        in_ch = in_ch or outer
        down = nn.Conv2d(in_ch, inner, 4, stride=2, padding=1, bias=bias)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1)
            assert sub is not None
            layers: list[nn.Module] = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif sub is None:  # innermost
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, _norm(norm, outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1, bias=bias)
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                _norm(norm, inner),
                sub,
                nn.ReLU(True),
                up,
                _norm(norm, outer),
            ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        # The in-place LeakyReLU at the head of the block must not overwrite the skip input.
        return torch.cat([x, self.model(x.clone())], 1)


class UnetTranslator(nn.Module):
    """The pix2pix U-Net: `levels` stride-2 levels (8 for 256x256), widths 64, 128, 256, 512, 512..."""

    kind = "unet"

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        width: int = 64,
        levels: int = 8,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        if levels < 5:
            raise ValueError("a U-Net generator has at least 5 levels")
        block = UnetSkipBlock(width * 8, width * 8, None, norm)
        for _ in range(levels - 5):
            block = UnetSkipBlock(width * 8, width * 8, block, norm)
        block = UnetSkipBlock(width * 4, width * 8, block, norm)
        block = UnetSkipBlock(width * 2, width * 4, block, norm)
        block = UnetSkipBlock(width, width * 2, block, norm)
        self.model = UnetSkipBlock(out_channels, width, block, norm, outermost=True, in_ch=in_channels)
        self.in_channels, self.out_channels, self.multiple = in_channels, out_channels, 2**levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@dataclass(frozen=True)
class TranslatorSpec:
    """What a state dict's keys say about the network that saved it."""

    kind: Literal["resnet", "unet"]
    in_channels: int
    out_channels: int
    width: int
    depth: int  # residual blocks (ResNet) or levels (U-Net)
    norm: Norm

    def build(self) -> nn.Module:
        cls = ResnetTranslator if self.kind == "resnet" else UnetTranslator
        return cls(self.in_channels, self.out_channels, self.width, self.depth, self.norm)


def detect(sd: dict[str, torch.Tensor], name: str = "the file") -> TranslatorSpec:
    """Read the architecture from the keys and shapes of a state dict (prefix `module.` allowed)."""
    if "model.1.weight" in sd and "model.0.weight" not in sd:
        blocks = {int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.block\.", k))}
        stem = sd["model.1.weight"]
        if stem.ndim != 4 or stem.shape[-1] != 7 or not blocks:
            raise UnsupportedFormat(
                f"{name}: looks like a ResNet generator but its stem is not a 7x7 convolution"
            )
        last = max(int(k.split(".")[1]) for k in sd if re.match(r"model\.\d+\.weight$", k))
        if "model.2.running_mean" in sd:
            norm: Norm = "batch"
        else:
            norm = "instance-affine" if "model.2.weight" in sd else "instance"
        return TranslatorSpec(
            "resnet",
            int(stem.shape[1]),
            int(sd[f"model.{last}.weight"].shape[0]),
            int(stem.shape[0]),
            len(blocks),
            norm,
        )
    if "model.model.0.weight" in sd:
        down = sd["model.model.0.weight"]
        depth = max(k.split(".").count("model") for k in sd) - 1  # one more "model" per inner level
        out_channels = int(sd["model.model.3.weight"].shape[1])
        norm = "batch" if any(k.endswith("running_mean") for k in sd) else "instance"
        if norm == "instance" and any(re.search(r"model\.2\.weight$", k) for k in sd):
            norm = "instance-affine"
        return TranslatorSpec("unet", int(down.shape[1]), out_channels, int(down.shape[0]), depth, norm)
    raise UnsupportedFormat(
        f"{name}: not a state dict of a ResNet or U-Net image-to-image generator (pix2pix/CycleGAN layout)"
    )


def translator_from_state_dict(sd: dict[str, torch.Tensor], name: str = "the file") -> nn.Module:
    """Build the generator a state dict describes and load it strictly (every key, every shape)."""
    sd = {k.removeprefix("module."): v for k, v in sd.items() if torch.is_tensor(v)}
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    spec = detect(sd, name)
    net = spec.build()
    own = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(own) - set(sd))
    extra = sorted(set(sd) - set(own))
    if missing or extra:
        raise UnsupportedFormat(
            f"{name}: keys do not match a {spec.kind} generator ({spec.depth} deep, width {spec.width}): "
            f"missing {missing[:3]}, unexpected {extra[:3]}"
        )
    for key, value in sd.items():
        if own[key].shape != value.shape:
            raise UnsupportedFormat(
                f"{name}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
            )
    net.load_state_dict(sd, strict=False)  # strict in effect: the key sets were compared above
    return net.eval().requires_grad_(False)
