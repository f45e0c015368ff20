"""The Ray actor of the render farm: one per GPU (or CPU group), holding its own inference worker
with the model loaded once, rendering shards with the same code as a single-machine export.

A model file reaches the actor as bytes (through Ray's object store, so nodes need no shared
disk), is checked against the driver's sha256 and loaded through the same safe loaders as any
file: nothing in it is executed. Built-in models are loaded by name from the node's cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from latentwalk.animation.frames import FramePlan, render_frames
from latentwalk.catalog import ModelRef
from latentwalk.cluster.join import encode_shard
from latentwalk.errors import ModelLoadError
from latentwalk.export import ExportOptions, _resized

REPORT_FRAMES = 4  # an actor reports its progress within a shard every this many frames


@dataclasses.dataclass(frozen=True)
class ModelPayload:
    """Which model an actor loads: a built-in name, or a file (its bytes come beside) and sha256."""

    name: str
    zoo: str | None = None
    sha256: str | None = None
    suffix: str = ""


class ShardRenderer:
    """Renders shards of animations for one model on one device (wrapped by `ray.remote` in job.py)."""

    def __init__(
        self, payload: ModelPayload, data: bytes | None, cache_dir: str, device: str, threads: int
    ) -> None:
        # `data`: the model file's bytes (Ray resolves the object ref given as a top-level argument)
        self.payload, self.data, self.cache_dir = payload, data, cache_dir
        self.device, self.threads = device, threads
        self.worker: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._scorer: tuple[Any, Any] | None = None  # (spec, scorer function), kept between chunks
        self.shards_rendered = 0

    def load(self) -> dict[str, Any]:
        """Load the model (once); a bad model raises here, with the loader's message."""
        if self.worker is not None:
            return self.ping()
        import torch

        from latentwalk.render.worker import InferenceWorker

        if self.device == "cpu" and self.threads > 0:
            torch.set_num_threads(self.threads)
        payload = self.payload
        if payload.zoo is not None:
            self.ref = ModelRef(name=payload.name, zoo=payload.zoo)
        else:
            data = self.data if isinstance(self.data, bytes) else bytes(self.data or b"")
            self.data = None  # the file on disk is enough now
            if hashlib.sha256(data).hexdigest() != payload.sha256:
                raise ModelLoadError(f"the model {payload.name} arrived damaged (its sha256 differs)")
            path = Path(self._tmpdir()) / f"model{payload.suffix}"  # never a name from elsewhere
            path.write_bytes(data)
            self.ref = ModelRef(name=payload.name, path=path)
        worker = InferenceWorker(Path(self.cache_dir), device=self.device, max_batch=8).start()
        try:
            self.info = worker.info(self.ref)
        except BaseException:
            worker.stop()
            raise
        self.worker = worker
        return self.ping()

    def ping(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "device": str(self.worker.device), "shards": self.shards_rendered}

    def render_shard(
        self, plan: FramePlan, start: int, end: int, options: ExportOptions
    ) -> Iterator[tuple[str, Any]]:
        """Render and encode frames `start..end-1` (a Ray streaming generator).

        Yields ("frames", n) every REPORT_FRAMES frames (n frames of the shard done), then
        ("shard", (files, meta)): the shard's files and its meta (frame hashes, seconds)."""
        t0 = time.perf_counter()
        self.load()
        local = dataclasses.replace(plan, model=self.ref)
        reports: queue.Queue[int | None] = queue.Queue()

        def frames() -> Iterator[tuple[int, Any]]:
            for n, (i, frame) in enumerate(render_frames(self.worker, local, start, end), start=1):
                yield i, _resized(frame, options.size, options.upscale)
                if n % REPORT_FRAMES == 0 and start + n < end:
                    reports.put(n)  # the encoder has taken n frames

        box: dict[str, Any] = {}

        def encode() -> None:
            try:
                box["out"] = encode_shard(frames(), options)
            except BaseException as exc:  # handed to the caller below
                box["error"] = exc
            finally:
                reports.put(None)

        thread = threading.Thread(target=encode, name="latentwalk-shard", daemon=True)
        thread.start()
        while (done := reports.get()) is not None:
            yield "frames", done
        thread.join()
        if "error" in box:
            raise box["error"]
        files, hashes = box["out"]
        self.shards_rendered += 1
        meta = {"sha256": hashes, "seconds": time.perf_counter() - t0, "pid": os.getpid()}
        yield "shard", (files, meta)

    def render_shard_whole(
        self, plan: FramePlan, start: int, end: int, options: ExportOptions
    ) -> tuple[str, Any]:
        """render_shard as one result, for Ray Client connections (they cannot stream)."""
        return list(self.render_shard(plan, start, end, options))[-1]

    def score_samples(self, samples: Any, scorer: Any, classifier: bytes | None) -> dict[str, Any]:
        """Render sampled latents (a directions.sampling.Samples) and score them with a ScorerSpec
        (cluster/samples.py); `classifier`: the classifier file's bytes, if the spec names one."""
        from latentwalk.directions import sampling

        self.load()
        if self._scorer is None or self._scorer[0] != scorer:
            self._scorer = (scorer, scorer.build(classifier, Path(self._tmpdir())))
        return self._scorer[1](sampling.render(self.worker, self.ref, samples))

    def _tmpdir(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="latentwalk-actor-")
        return self._tmp.name

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
