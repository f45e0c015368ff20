"""latentwalk: explore the latent space of image generators and turn walks into animations."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
