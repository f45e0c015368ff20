"""What a backend returns: a generator module plus a description of what was read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class LoadedModel:
    """A generator ready for the engine, and facts about the file it came from (for `info`)."""

    generator: torch.nn.Module
    info: dict[str, Any] = field(default_factory=dict)
