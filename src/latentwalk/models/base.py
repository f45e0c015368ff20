"""Shared behaviour of generators that have no w space (DCGAN, the procedural CPPN)."""

from __future__ import annotations

import torch

from latentwalk.types import NoiseMode


class ZSpaceGenerator(torch.nn.Module):
    """Base for generators that map z straight to an image.

    Subclasses set `z_dim`, `img_resolution`, `img_channels` and implement `forward(z)`.
    Truncation for these models is z-space truncation: z is scaled toward 0 by psi (the mean of
    the Gaussian prior), which is what `psi` means when there is no mapping network. Noise modes
    do not apply. They are unconditional (`c_dim` 0).
    """

    z_dim: int
    img_resolution: int
    img_channels: int = 3
    c_dim: int = 0

    def render(
        self,
        z: torch.Tensor,  # [N, z_dim]
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: NoiseMode = "const",
    ) -> torch.Tensor:  # [N, C, H, W]
        del c, cutoff, noise_mode  # no labels, no per-layer truncation, no noise inputs
        return self(z.to(torch.float32) * float(psi))
