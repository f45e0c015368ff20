"""Shared behaviour of generators: z straight to an image (DCGAN, CPPN, ProGAN), or z -> w -> image."""

from __future__ import annotations

from typing import Any

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


class MappedGenerator:
    """Mixin for generators made of `mapping` (z, c -> ws, truncation included) then `synthesis`
    (ws -> image): StyleGAN v1, 2 and 3 and the fast StyleGAN2. Subclasses set both attributes."""

    mapping: Any
    synthesis: Any

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg  # type: ignore[no-any-return]

    def render(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: NoiseMode = "const",
    ) -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, psi=psi, cutoff=cutoff), noise_mode=noise_mode)  # type: ignore[no-any-return]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
        return self.render(z, c, psi)
