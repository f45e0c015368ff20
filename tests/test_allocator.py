"""The server's malloc tuning: large buffers stay in mappings of their own, so freeing them returns
the memory (the load's RSS stayed flat only with it; benchmarks/bench_load.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from browser_support import subprocess_env
from latentwalk.allocator import fix_mmap_threshold, is_glibc

# In a fresh process: free a 4 MiB array (glibc then raises its mmap threshold to 4 MiB unless it was
# fixed), make another, and print how many bytes of mapped blocks that second array added.
PROBE = """
import ctypes, sys
import numpy as np
if sys.argv[1] == "fixed":
    from latentwalk.allocator import fix_mmap_threshold
    assert fix_mmap_threshold()

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
first = np.ones(4 << 20, np.uint8)
del first
before = libc.mallinfo2().hblkhd
second = np.ones(4 << 20, np.uint8)
print(libc.mallinfo2().hblkhd - before)
"""

glibc_only = pytest.mark.skipif(not is_glibc(), reason="mallopt and mallinfo2 are glibc's")


def mapped_growth(mode: str) -> int:
    env = {k: v for k, v in subprocess_env().items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return int(out.stdout.split()[-1])


@glibc_only
def test_a_large_buffer_freed_once_is_mapped_again_only_with_the_fixed_threshold() -> None:
    # Unfixed, glibc takes the second array from its heap: the behaviour behind the load's growth.
    assert mapped_growth("dynamic") < 4 << 20
    assert mapped_growth("fixed") >= 4 << 20


def test_the_users_own_malloc_settings_are_left_alone() -> None:
    assert fix_mmap_threshold(environ={"MALLOC_MMAP_THRESHOLD_": "65536"}) is False
    assert fix_mmap_threshold(environ={"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}) is False
