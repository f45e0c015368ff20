"""Image distances for projection that need no downloaded network: multi-scale pixel loss, SSIM, PSNR."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _gaussian_window(size: int, sigma: float, channels: int, device: torch.device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()  # [C, 1, k, k]


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image, of images [N, C, H, W] in [-1, 1].

    Gaussian window, constants K1 = 0.01 and K2 = 0.03 on the data range [0, 1]; the window
    shrinks for images smaller than it. Returns [N], 1 for identical images."""
    a = (a + 1) / 2
    b = (b + 1) / 2
    size = min(window, a.shape[-1], a.shape[-2])
    size -= 1 - size % 2  # odd
    w = _gaussian_window(size, sigma * size / window, a.shape[1], a.device).to(a.dtype)
    c1, c2 = 0.01**2, 0.03**2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, groups=a.shape[1])

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean(dim=(1, 2, 3))


def pyramid(x: torch.Tensor, min_size: int = 8, levels: int = 4) -> list[torch.Tensor]:
    """The image and its 2x box-downsampled versions, down to `min_size` pixels a side."""
    out = [x]
    while len(out) < levels and min(out[-1].shape[-2:]) >= 2 * min_size:
        out.append(F.avg_pool2d(out[-1], 2))
    return out


class ProjectionLoss:
    """Distance to one target image [1, C, H, W] in [-1, 1], per candidate image of a batch.

    Mean squared error summed over a pyramid of scales (coarse scales pull the layout in early,
    fine ones the detail), plus `ssim_weight` * (1 - SSIM) averaged over the same scales, plus an
    optional perceptual term from a local feature network."""

    def __init__(
        self,
        target: torch.Tensor,
        ssim_weight: float = 0.5,
        features: torch.nn.Module | None = None,
        feature_weight: float = 1.0,
    ) -> None:
        self.targets = pyramid(target)
        self.ssim_weight = ssim_weight
        self.features = features
        self.feature_weight = feature_weight
        self.target_features = features(target).detach() if features is not None else None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:  # [K, C, H, W] -> [K]
        loss = torch.zeros(images.shape[0], device=images.device)
        for img, tgt in zip(pyramid(images), self.targets, strict=True):
            loss = loss + (img - tgt).square().mean(dim=(1, 2, 3))
            if self.ssim_weight:
                loss = loss + self.ssim_weight * (1 - ssim(img, tgt.expand_as(img))) / len(self.targets)
        if self.features is not None and self.target_features is not None:
            feats = self.features(images)
            loss = loss + self.feature_weight * (feats - self.target_features).square().flatten(1).mean(1)
        return loss


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images of the same shape."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two [H, W, C] uint8 images (the same measure as the loss, on their pixels)."""

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]

    with torch.no_grad():
        return float(ssim(t(a), t(b))[0])
