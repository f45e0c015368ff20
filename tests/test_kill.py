"""kill -9 of a real `latentwalk serve` in the middle of saves and exports, at random points, many times.

Each round starts the server on an isolated data folder, fires a burst of writing actions from a few
threads (ACTIONS: a list, so new writers such as a direction fit join by adding one), kills the
process with SIGKILL at a random moment, then checks the disk: every animation folder holds one
complete version that some request wrote, untouched animations are intact, and no export has a
half-written file under its final name. The next round's start checks that the server comes up and
lists every animation on disk.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from browser_support import _wait_for_health, free_port, subprocess_env
from conftest import write_tiny_dcgan

KILLS = 10
SLOW_KILLS = 60
Z = 8
STEPS = 24  # frames of every exported animation: 2 keyframes, 24 steps
EXPORT_SIZE = 192  # upscaled, so that encoding takes long enough to be killed in the middle


@dataclass
class Run:
    """The client side of one test: what was written, by whom, so the disk can be checked."""

    base: str = ""
    written: set[bytes] = field(default_factory=set)  # every latents array ever sent in a save/overwrite
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    errors: list[str] = field(default_factory=list)
    directions: set[str] = field(default_factory=set)  # names of directions a finished job reported

    def latents(self) -> list[list[float]]:
        with self.lock:
            self.counter += 1
            n = self.counter
        rng = np.random.default_rng(n)
        z = rng.standard_normal((2, Z)).astype(np.float32)
        with self.lock:
            self.written.add(z.tobytes())
        return z.tolist()


def call(run: Run, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(run.base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        body_text = exc.read().decode(errors="replace")
        if exc.code >= 500:
            run.errors.append(f"{method} {path}: {exc.code} {body_text}")
        return None


def settings() -> dict[str, Any]:
    return {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [STEPS]}


# ---------------------------------------------------------------------------- the actions


def save_new(run: Run, rng: random.Random) -> None:
    call(run, "POST", "/api/animations", {"name": f"new {rng.randrange(8)}", "settings": settings(),
                                          "latents": run.latents(), "on_clash": "rename"})  # fmt: skip


def overwrite(run: Run, rng: random.Random) -> None:
    call(
        run,
        "PUT",
        f"/api/animations/churn%20{rng.randrange(3)}",
        {"settings": settings(), "latents": run.latents()},
    )


def rename_and_back(run: Run, rng: random.Random) -> None:
    call(run, "POST", "/api/animations/moving/rename", {"new_name": "moved"})
    call(run, "POST", "/api/animations/moved/rename", {"new_name": "moving"})


def duplicate_and_delete(run: Run, rng: random.Random) -> None:
    call(run, "POST", "/api/animations/churn%200/duplicate", {"new_name": "copy"})
    call(run, "DELETE", "/api/animations/copy")


def export(run: Run, rng: random.Random) -> None:
    fmt = rng.choice(["mp4", "gif", "png", "webp"])
    body = {"name": f"clip-{fmt}", "settings": settings(), "latents": run.latents(), "format": fmt,
            "size": EXPORT_SIZE, "upscale": "nearest"}  # fmt: skip
    job = call(run, "POST", "/api/exports", body)
    while job is not None and job.get("state") == "running":
        time.sleep(0.05)
        job = call(run, "GET", f"/api/exports/{job['id']}")


def fit_direction(run: Run, rng: random.Random) -> None:
    """A direction job (an attribute fit or a PCA) to its end: it writes the model's directions file."""
    if rng.random() < 0.5:
        body = {"kind": "fit", "samples": rng.choice([40, 80]), "seed": rng.randrange(1000),
                "features": [rng.choice(["brightness", "warmth", "contrast"])]}  # fmt: skip
    else:
        body = {"kind": "pca", "samples": 200, "components": 4, "seed": rng.randrange(1000)}
    job = call(run, "POST", "/api/directions/jobs", body)
    while job is not None and job.get("state") == "running":
        time.sleep(0.05)
        job = call(run, "GET", f"/api/directions/jobs/{job['id']}")
    if job is not None and job.get("state") == "done":
        with run.lock:
            run.directions.update(job["names"])


Action = Callable[[Run, random.Random], None]
ACTIONS: list[Action] = [save_new, overwrite, rename_and_back, duplicate_and_delete, export, fit_direction]


# ---------------------------------------------------------------------------- the server


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "latentwalk",
        "--cache-dir", str(workdir / "cache"), "--data-dir", str(workdir / "data"),
        "serve", "--model", "tiny", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    log = open(workdir / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
                            env=subprocess_env(workdir))  # fmt: skip
    log.close()
    base = f"http://127.0.0.1:{port}"
    _wait_for_health(base, proc, workdir / "server.log")
    return proc, base


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# ---------------------------------------------------------------------------- the checks


def check_library(run: Run, data: Path, kept: dict[str, bytes]) -> list[str]:
    """Every animation folder on disk is one complete version some request wrote; returns their names."""
    from latentwalk.animation.store import AnimationStore

    root = data / "animations"
    names = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        anim = json.loads((folder / "animation.json").read_text())  # complete JSON
        latents = np.load(folder / "latents.npy")
        assert latents.shape == (2, Z) and latents.dtype == np.float32, folder
        assert latents.tobytes() in run.written or latents.tobytes() in kept.values(), (
            f"{folder}: unknown latents"
        )
        Image.open(folder / "thumb.jpg").load()  # a whole JPEG
        names.append(anim["name"])
    for name, data_bytes in kept.items():  # animations no action touches are intact
        latents = AnimationStore(root).load(name)[1]
        assert latents.tobytes() == data_bytes, name
    return names


def interrupted(data: Path) -> int:
    """Temporaries on disk right after a kill: writes the kill cut off in the middle."""
    temps = [p for p in (data / "animations").iterdir() if p.name.startswith(".") and "~" in p.name]
    if (data / "exports").is_dir():
        temps += list((data / "exports").glob("*/.*partial*"))
    return len(temps)


def check_exports(data: Path) -> int:
    """No half-written export under its final name; returns how many finished files were checked."""
    import av

    checked = 0
    root = data / "exports"
    for final in sorted(root.glob("*/*")) if root.is_dir() else []:
        if final.name.startswith("."):
            continue  # a temporary: fine until the next start sweeps it
        if final.suffix == ".json":
            json.loads(final.read_text())
        elif final.suffix == ".mp4":
            with av.open(str(final)) as container:
                frames = sum(1 for _ in container.decode(video=0))
            assert frames == STEPS + 1 or frames == STEPS, (final, frames)
        elif final.suffix in (".gif", ".webp"):
            with Image.open(final) as img:
                assert img.n_frames in (STEPS, STEPS + 1), (final, img.n_frames)
        elif final.suffix == ".zip":
            with zipfile.ZipFile(final) as zf:
                assert zf.testzip() is None and len(zf.namelist()) in (STEPS, STEPS + 1), final
        elif final.is_dir():
            pngs = sorted(final.iterdir())
            assert len(pngs) in (STEPS, STEPS + 1), final
            for png in pngs:
                Image.open(png).load()
        else:
            pytest.fail(f"unexpected export file {final}")
        checked += 1
    return checked


def check_directions(data: Path) -> tuple[int, int]:
    """Each model's directions file is whole and names a whole vectors file of as many rows.

    Returns how many index files were checked and how many strays (a vectors file no index names, a
    temporary) a write cut off by the kill left; the next write sweeps those.
    """
    checked = strays = 0
    root = data / "directions"
    for index in sorted(root.glob("*/directions.json")) if root.is_dir() else []:
        doc = json.loads(index.read_text())
        vectors = np.load(index.parent / doc["vectors"], allow_pickle=False)
        assert vectors.shape[0] == len(doc["directions"]), index
        assert np.all(np.isfinite(vectors)), index
        checked += 1
        strays += sum(1 for p in index.parent.iterdir() if p.name.endswith(".tmp"))
        strays += sum(1 for p in index.parent.glob("vectors-*.npy") if p.name != doc["vectors"])
    return checked, strays


def burst(run: Run, stop: threading.Event, seed: int) -> None:
    """Random actions until `stop` or until the server dies under us (expected)."""
    r = random.Random(seed)
    while not stop.is_set():
        try:
            r.choice(ACTIONS)(run, r)
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
            return


def kill_rounds(tmp_path: Path, rounds: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    workdir = tmp_path
    write_tiny_dcgan(workdir / "models" / "tiny.pt", z_dim=Z)
    data = workdir / "data"
    run = Run()
    proc, run.base = start_server(workdir)
    kept: dict[str, bytes] = {}
    for name in ("keep 1", "keep 2", "churn 0", "churn 1", "churn 2", "moving"):
        z = run.latents()
        assert (
            call(run, "POST", "/api/animations", {"name": name, "settings": settings(), "latents": z})
            is not None
        )
        if name.startswith("keep"):
            kept[name] = np.asarray(z, dtype=np.float32).tobytes()
    stats = {
        "kills": 0,
        "interrupted": 0,
        "exports_checked": 0,
        "animations_seen": 0,
        "direction_files_checked": 0,
        "direction_writes_cut": 0,
    }
    try:
        for _ in range(rounds):
            stop = threading.Event()

            threads = [
                threading.Thread(target=burst, args=(run, stop, rng.randrange(1 << 30))) for _ in range(3)
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, 1.5))
            kill(proc)
            stop.set()
            for t in threads:
                t.join(60)
            stats["kills"] += 1
            stats["interrupted"] += interrupted(data)
            on_disk = check_library(run, data, kept)
            stats["exports_checked"] += check_exports(data)
            checked, strays = check_directions(data)
            stats["direction_files_checked"] += checked
            stats["direction_writes_cut"] += strays
            proc, run.base = start_server(workdir)  # starts cleanly after the kill
            listed = [a["name"] for a in call(run, "GET", "/api/animations")["animations"]]
            # The listing holds every complete animation (a half-done overwrite is finished on start).
            assert set(on_disk) <= set(listed) | {"moved", "moving"}, (on_disk, listed)
            assert {"keep 1", "keep 2"} <= set(listed) and ({"moving", "moved"} & set(listed)), listed
            for name in listed:
                assert call(run, "GET", f"/api/animations/{urllib.request.quote(name)}") is not None, name
            stats["animations_seen"] += len(listed)
            # Every direction a finished job reported survived the kill, and the listing is not damaged.
            listing = call(run, "GET", "/api/directions")
            assert listing is not None, "the directions listing failed after a kill"
            names = {d["name"] for d in listing["directions"]}
            assert run.directions <= names, (sorted(run.directions - names), sorted(names))
            leftovers = (
                [p for p in (data / "exports").glob("*/.*partial*")] if (data / "exports").is_dir() else []
            )
            assert not leftovers, f"temporaries of killed exports were not swept: {leftovers}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    assert not run.errors, run.errors[:5]
    stats["directions_fitted"] = len(run.directions)
    return stats


def test_kill_9_during_saves_and_exports(tmp_path: Path) -> None:
    stats = kill_rounds(tmp_path, KILLS, seed=1)
    print(f"kill -9 rounds: {stats}")
    assert stats["kills"] == KILLS and stats["interrupted"] > 0, stats  # some kills did land mid-write


@pytest.mark.slow
def test_kill_9_many_times(tmp_path: Path) -> None:
    stats = kill_rounds(tmp_path, SLOW_KILLS, seed=2)
    print(f"kill -9 rounds: {stats}")
    assert stats["kills"] == SLOW_KILLS
    assert stats["directions_fitted"] > 0 and stats["direction_files_checked"] > 0, stats  # fits did finish
