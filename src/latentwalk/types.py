"""The protocols every generator meets, and the optional capabilities some have."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import torch

NoiseMode = Literal["const", "random", "none"]
NOISE_MODES: tuple[NoiseMode, ...] = ("const", "random", "none")


@runtime_checkable
class Generator(Protocol):
    """Anything that turns latents z (and labels c) into images.

    Images are float32 NCHW tensors whose useful range is [-1, 1]; quantisation to uint8 happens
    once, in `latentwalk.render.images`, the same way everywhere.
    """

    z_dim: int
    c_dim: int
    img_resolution: int
    img_channels: int

    def render(
        self,
        z: torch.Tensor,  # [N, z_dim] float32
        c: torch.Tensor,  # [N, c_dim] float32 (width 0 when unconditional)
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: NoiseMode = "const",
    ) -> torch.Tensor:  # [N, img_channels, H, W]
        ...


@runtime_checkable
class WSpaceGenerator(Generator, Protocol):
    """A generator with an intermediate latent space w (StyleGAN): mapping, then synthesis."""

    w_dim: int
    num_ws: int

    def mapping(
        self, z: torch.Tensor, c: torch.Tensor, psi: float = 1.0, cutoff: int | None = None
    ) -> torch.Tensor:  # [N, num_ws, w_dim]
        ...

    def synthesis(self, ws: torch.Tensor, noise_mode: NoiseMode = "const") -> torch.Tensor: ...


def has_w_space(g: object) -> bool:
    """True where the generator has a mapping network and a w space (StyleGAN families)."""
    return isinstance(g, WSpaceGenerator)
