"""An optional perceptual term for projection: VGG-16 features read from a local weights file.

The file is a state dict in the key layout of the common VGG-16 classifier (`features.N.weight`,
`features.N.bias` for its 13 convolutions; the classifier's keys are ignored), read with
`torch.load(weights_only=True)`: no code from it runs, and nothing is ever downloaded. The channel
counts are read from the weights, so a narrower network of the same layout loads too (the tests
use one). The distance is LPIPS-like: features after the last ReLU of each of the first four
blocks, normalised to unit length per position, compared by squared difference.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from latentwalk.errors import ModelLoadError

# Positions of the 13 convolutions in the classifier's `features` sequence (ReLUs and pools between).
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
BLOCKS = ((0, 1), (2, 3), (4, 5, 6), (7, 8, 9))  # convs of the four blocks whose output is compared
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(torch.nn.Module):
    """Images [N, 3, H, W] in [-1, 1] -> normalised features of four blocks, flattened [N, D]."""

    def __init__(self, weights: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for w, b in weights:
            conv = torch.nn.Conv2d(w.shape[1], w.shape[0], kernel_size=w.shape[2:], padding=w.shape[2] // 2)
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(b)
            self.convs.append(conv)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False).eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = ((images + 1) / 2 - self.mean) / self.std
        out = []
        for i, block in enumerate(BLOCKS):
            if i:
                x = F.max_pool2d(x, 2)
            for c in block:
                x = F.relu(self.convs[c](x))
            unit = x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            out.append(unit.flatten(1) / unit[0, 0].numel() ** 0.5)  # each block weighs the same
        return torch.cat(out, dim=1)


def load_vgg_features(path: Path, device: torch.device | str = "cpu") -> VGGFeatures:
    """The perceptual feature network from a local VGG-16 state dict; a clear error otherwise."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a file, not a weights-only state dict, damaged
        raise ModelLoadError(
            f"cannot read the perceptual weights {path}: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path} holds a {type(state).__name__}, not a state dict of VGG-16 weights")
    weights = []
    for n, idx in enumerate(CONV_INDICES[:10]):  # the four compared blocks use the first ten convs
        w, b = state.get(f"features.{idx}.weight"), state.get(f"features.{idx}.bias")
        if not isinstance(w, torch.Tensor) or not isinstance(b, torch.Tensor):
            raise ModelLoadError(f"{path} is not a VGG-16 state dict: features.{idx}.weight/bias are missing")
        expected_in = 3 if n == 0 else weights[-1][0].shape[0]
        if w.ndim != 4 or w.shape[1] != expected_in or w.shape[2] != w.shape[3] or b.shape != (w.shape[0],):
            raise ModelLoadError(f"{path}: features.{idx} has shape {tuple(w.shape)}, which does not chain")
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise ModelLoadError(f"{path}: features.{idx} holds NaN or infinite weights")
        weights.append((w.float(), b.float()))
    return VGGFeatures(weights).to(device)
