"""Importing latentwalk has no side effects: no threads, no files, no device probing, with CUDA hidden."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = r"""
import importlib, pkgutil, threading, os, sys
before = set(os.listdir('.'))
import latentwalk
names = [m.name for m in pkgutil.walk_packages(latentwalk.__path__, 'latentwalk.')]
for name in names:
    importlib.import_module(name)
assert threading.active_count() == 1, [t.name for t in threading.enumerate()]
assert set(os.listdir('.')) == before, set(os.listdir('.')) ^ before
print(len(names))
"""


def test_every_module_imports_without_side_effects(tmp_path: Path) -> None:
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 15
    assert not list(tmp_path.iterdir())
