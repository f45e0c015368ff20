"""Connecting to Ray (the only import of it, done on first use) and the errors that mean a lost actor."""

from __future__ import annotations

import logging
import os
from typing import Any

from latentwalk.errors import ClusterUnavailable

CLUSTER_INSTALL = "pip install 'latentwalk[cluster]'"


def import_ray() -> Any:
    """The ray module, or ClusterUnavailable naming the install command."""
    try:
        import ray
    except ImportError:
        raise ClusterUnavailable(
            f"rendering on a cluster needs Ray, which is not installed: {CLUSTER_INSTALL}"
        ) from None
    return ray


def connect(address: str = "auto") -> Any:
    """Connect to Ray once per process. `auto`: $RAY_ADDRESS if set, else a local Ray started here;
    otherwise an address such as `ray://HOST:10001` (Ray Client) or `HOST:6379`."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        if address == "auto" and not os.environ.get("RAY_ADDRESS"):
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            target = None if address == "auto" else address
            ray.init(address=target, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError... by case
        where = os.environ.get("RAY_ADDRESS") if address == "auto" else address
        raise ClusterUnavailable(
            f"cannot start or reach the Ray cluster at {where or 'local'}: {exc}"
        ) from None
    return ray


def lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Errors that mean an actor, its worker process or its node is gone (the shard is retried)."""
    names = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError")
    return tuple(getattr(ray.exceptions, n) for n in names if hasattr(ray.exceptions, n))
