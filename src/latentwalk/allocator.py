"""glibc's malloc tuned for a long-running server: large freed buffers go back to the system at once.

glibc serves a request above its mmap threshold (128 KiB at start) with a fresh mapping that `free`
unmaps. But freeing such a block raises the threshold to the largest size freed so far (up to
32 MiB), so after the first frames the renderer's tensors, pixel arrays and encoder buffers (hundreds
of KiB to tens of MiB each, made and freed by several threads) come from the per-thread heaps instead.
A heap gives memory back only from its top, so small long-lived blocks left among those big freed
ones keep their pages resident: under load the server's RSS ratcheted up with the free space in the
heaps (benchmarks/bench_load.py: free heap memory 55 -> 283 MiB in 150 s while the memory in use
stayed near 120 MiB). Fixing the threshold keeps large buffers in mappings of their own.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt() parameter number, from glibc's malloc.h
MMAP_THRESHOLD = 256 * 1024  # bytes: a 256x256 float32 RGB frame (768 KiB) is above, a uint8 one below


def is_glibc() -> bool:
    try:
        return sys.platform == "linux" and os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):
        return False


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD, environ: Mapping[str, str] | None = None) -> bool:
    """Serve allocations of `threshold` bytes or more with their own mappings, for the rest of the
    process's life (no dynamic raise). True when set; False on another C library, or when the user
    already chose (`MALLOC_MMAP_THRESHOLD_`, or `glibc.malloc.mmap_threshold` in `GLIBC_TUNABLES`)."""
    env = os.environ if environ is None else environ
    if "MALLOC_MMAP_THRESHOLD_" in env or "glibc.malloc.mmap_threshold" in env.get("GLIBC_TUNABLES", ""):
        return False
    if not is_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, int(threshold)))
    log.debug("malloc mmap threshold fixed at %d bytes: %s", threshold, done)
    return done
