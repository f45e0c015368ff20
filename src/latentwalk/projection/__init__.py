"""Projection of real images into a generator's latent space: options, the optimiser, the job."""

from latentwalk.projection.job import ProjectionCancelled, project
from latentwalk.projection.losses import psnr, ssim, ssim_uint8
from latentwalk.projection.projector import (
    SPACES,
    ProjectionOptions,
    ProjectionResult,
    ProjectionStep,
    Projector,
)

__all__ = [
    "SPACES",
    "ProjectionCancelled",
    "ProjectionOptions",
    "ProjectionResult",
    "ProjectionStep",
    "Projector",
    "project",
    "psnr",
    "ssim",
    "ssim_uint8",
]
