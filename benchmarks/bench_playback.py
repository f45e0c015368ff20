"""Live playback: achieved frame rate, presentation jitter and drift of the player on the real worker.

Plays a walk long enough that no frame repeats (every frame is generated live, none comes from the
cache) for N seconds at F fps, with one MJPEG-like client encoding the newest frame, and reports:
frames presented and dropped, achieved fps, how late frames were presented against their tick
(p50/p99), the error of the intervals between presented frames against 1/fps (p50/p99), and the
drift of the frame index from the wall clock (frames shown vs due at the end, and the worst
mismatch of any presented frame).

Run: .venv/bin/python benchmarks/bench_playback.py [--seconds 60] [--fps 24] [--model dcgan-faces]
     [--late drop|hold] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from latentwalk.animation.schema import Animation, ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef
from latentwalk.latents import seeds_to_z
from latentwalk.playback import commands as c
from latentwalk.playback.frame import PresentedFrame
from latentwalk.playback.outputs import FrameHub
from latentwalk.playback.player import PlaybackListener, Player, PlayerOptions
from latentwalk.render.worker import InferenceWorker

REPO = Path(__file__).resolve().parent.parent


class Log(PlaybackListener):
    def __init__(self) -> None:
        self.frames: list[PresentedFrame] = []

    def presented(self, frame: PresentedFrame) -> None:
        self.frames.append(frame)


def encoder_client(hub: FrameHub, stop: threading.Event) -> int:
    """Encode the newest frame as JPEG whenever there is a new one (what an MJPEG client costs)."""
    seen, sent = -1, 0
    while not stop.is_set():
        if hub.frame is not None and hub.frame_seq != seen:
            seen = hub.frame_seq
            hub.frame.frame.jpeg()
            sent += 1
        else:
            time.sleep(0.002)
    return sent


def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=24.0)
    ap.add_argument("--model", default="dcgan-faces")
    ap.add_argument("--late", choices=["drop", "hold"], default="drop")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cache-dir", type=Path, default=REPO / ".latentwalk-test" / "cache")
    args = ap.parse_args()
    ref = ModelRef(name=args.model, zoo=args.model)
    frames = int(args.seconds * args.fps) + 48
    keyframes = max(2, frames // 96 + 2)
    steps = math.ceil(frames / (keyframes - 1)) + 1
    with InferenceWorker(args.cache_dir, device=args.device) as worker, tempfile.TemporaryDirectory() as tmp:
        info = worker.info(ref)
        store = AnimationStore(Path(tmp) / "animations")
        seeds = list(range(1, keyframes + 1))
        anim = Animation(
            name="bench",
            model=ModelIdentity(name=args.model),
            keyframes=[{"seed": s} for s in seeds],
            steps=[steps] * (keyframes - 1),
        )
        store.save(anim, seeds_to_z(seeds, info.z_dim).astype(np.float32))
        options = PlayerOptions(fps=args.fps, loop=False, late=args.late)  # type: ignore[arg-type]
        player = Player(worker, store, lambda _: ref, lambda: ref, options)
        log, hub = Log(), FrameHub()
        player.add_listener(log)
        player.add_listener(hub)
        stop = threading.Event()
        encoded: list[int] = []
        client = threading.Thread(target=lambda: encoded.append(encoder_client(hub, stop)), daemon=True)
        client.start()
        status = player.apply(c.Play(("bench",))).result(timeout=120)
        t0 = player.clock.tick_time(0)
        time.sleep(max(0.0, t0 + args.seconds - time.monotonic()))
        t_end = time.monotonic()
        due_end = player.clock.frame(t_end)
        end_status = player.status()
        stop.set()
        client.join(5)
        player.close()
    assert status["state"] == "playing"
    shown = [f for f in log.frames if f.shown <= t_end]
    fresh = [f for f in shown if not f.repeated]
    late = np.array([f.shown - f.due for f in fresh])
    ticks = np.array([f.tick for f in shown])
    times = np.array([f.shown for f in shown])
    consecutive = np.diff(ticks) == 1
    interval_error = np.abs(np.diff(times)[consecutive] - 1 / args.fps)
    wall_frames = np.floor((times - t0) * args.fps + 1e-9)
    mismatch = np.abs(np.array([f.index for f in shown]) - wall_frames)
    expected_end = math.floor((t_end - t0) * args.fps + 1e-9)
    ms = 1000.0
    head = f"{args.model} ({info.resolution}x{info.resolution}) on {args.device}"
    print(f"{head}, {args.seconds:g} s at {args.fps:g} fps, late policy {args.late}")
    print(f"one MJPEG-like client encoded {encoded[0] if encoded else 0} JPEGs")
    print(
        f"frames presented  {len(fresh):6d} new + {len(shown) - len(fresh)} repeated;  "
        f"due {expected_end + 1};  dropped {end_status['counters']['dropped']}"
    )
    print(f"achieved fps      {len(fresh) / args.seconds:8.2f}  (target {args.fps:g})")
    print(f"generation        {end_status['frame_ms']:8.2f} ms a frame (worker time, moving average)")
    print(
        f"lateness          p50 {pct(late, 50) * ms:6.2f} ms   p99 {pct(late, 99) * ms:6.2f} ms   "
        f"max {late.max(initial=0) * ms:6.2f} ms  (presented after its tick)"
    )
    print(
        f"interval error    p50 {pct(interval_error, 50) * ms:6.2f} ms   "
        f"p99 {pct(interval_error, 99) * ms:6.2f} ms  (|interval - 1/fps|, consecutive ticks)"
    )
    print(
        f"drift             clock frame {due_end} vs wall clock {expected_end}: "
        f"{due_end - expected_end:+d} frames; worst presented frame "
        f"{int(mismatch.max(initial=0))} frame(s) from the wall clock"
    )


if __name__ == "__main__":
    main()
