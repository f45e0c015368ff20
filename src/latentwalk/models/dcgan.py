"""The DCGAN generator (Radford et al. 2016) of the default face model: z -> 64x64 RGB."""

from __future__ import annotations

import torch

from latentwalk.models.base import ZSpaceGenerator


class DCGANGenerator(ZSpaceGenerator):
    """Transposed convolutions 1 -> 4 -> 8 -> ... -> resolution, batch norm (eval) + ReLU, tanh.

    Layer indices inside `main` follow the common PyTorch DCGAN layout (conv, bn, relu triples)
    so that state dicts in that layout load by name. Batch norm uses its running statistics, so
    an image never depends on what else is in the batch.
    """

    family = "dcgan"

    def __init__(
        self, z_dim: int = 100, base_channels: int = 64, img_channels: int = 3, resolution: int = 64
    ):
        super().__init__()
        self.z_dim, self.img_channels, self.img_resolution = z_dim, img_channels, resolution
        num_up = (resolution // 4).bit_length() - 1  # stride-2 layers after the first 4x4
        if 4 * 2**num_up != resolution:
            raise ValueError(f"DCGAN resolution must be 4 * 2^k, got {resolution}")
        widths = [base_channels * 2 ** (num_up - 1 - i) for i in range(num_up)]  # e.g. 512, 256, 128, 64
        layers: list[torch.nn.Module] = [
            torch.nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False),
            torch.nn.BatchNorm2d(widths[0]),
            torch.nn.ReLU(True),
        ]
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [
                torch.nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False),
                torch.nn.BatchNorm2d(b),
                torch.nn.ReLU(True),
            ]
        layers += [torch.nn.ConvTranspose2d(widths[-1], img_channels, 4, 2, 1, bias=False), torch.nn.Tanh()]
        self.main = torch.nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # [N, z_dim] -> [N, C, R, R]
        return self.main(z.reshape(z.shape[0], self.z_dim, 1, 1))
