"""The render farm's driver: connects to Ray, keeps a pool of actors per model, hands out shards,
retries a shard whose actor or node died on a replacement, joins the shards, reports progress."""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentwalk.animation.frames import FramePlan
from latentwalk.catalog import ModelRef
from latentwalk.cluster.actor import ModelPayload, ShardRenderer
from latentwalk.cluster.connection import connect, lost_errors
from latentwalk.cluster.join import VIDEO, join_shards
from latentwalk.cluster.shards import Shard, ShardStore, job_key, shard_folder, split
from latentwalk.errors import (
    ClusterUnavailable,
    ExportCancelled,
    ExportError,
    JobCancelled,
    LatentwalkError,
    RenderError,
)
from latentwalk.export import ExportOptions, _remove, _write_sidecar, output_path, sidecar_path

log = logging.getLogger(__name__)
CPU_GROUP = 4  # CPUs per actor where a cluster has no GPU (torch uses them as threads)
MAX_ATTEMPTS = 3  # renders of one shard before the job gives up (actors lost each time)
DEFAULT_SHARD_FRAMES = 32
START_TIMEOUT = 600.0  # seconds for a pool's actors to be placed and load their model


@dataclass
class JobResult:
    """What a cluster render did: the output, shard counts and where the time went."""

    path: Path
    shards: int
    rendered: int  # shards rendered by this run
    reused: int  # shards found finished on disk (a resumed job)
    retries: int  # shards rendered again after their actor was lost
    actors_started: int
    seconds: dict[str, float] = field(default_factory=dict)  # actors, render, join
    frame_hashes: list[str] = field(default_factory=list)  # sha256 of each frame before encoding
    shard_seconds: list[float] = field(default_factory=list)  # render + encode time of each shard run


class Cluster:
    """A connection to Ray and the actors started on it: a pool for one model at a time, kept for
    the next job on the same model.

    Args:
        address: `auto` or a Ray address. workers: actors per model (default: one per GPU, or one
        per 4 CPUs). cache_dir: where actors find built-in model weights on their node.
        threads: torch threads of a CPU actor. Default: this process's own count, because torch's
        CPU results can differ in the last bit with the thread count, and a CPU farm should give
        the bytes a local render gives.
    """

    def __init__(
        self,
        address: str = "auto",
        workers: int | None = None,
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        import torch

        self.ray = connect(address)
        self.cache_dir = cache_dir or Path.home() / ".cache" / "latentwalk"
        self.workers = workers
        self.threads = threads or torch.get_num_threads()
        self.start_timeout = START_TIMEOUT
        self._pools: dict[str, list[Any]] = {}
        self._payloads: dict[str, tuple[ModelPayload, Any]] = {}  # model key -> (payload, bytes ref)
        self.actors_started = 0
        self.on_shard: Callable[[Shard, list[Any]], None] | None = None  # hook: (shard, busy actors)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop this cluster's actors (Ray itself stays up for the process)."""
        for pool in self._pools.values():
            for actor in pool:
                self._kill(actor)
        self._pools.clear()

    # ---------------------------------------------------------------- actors

    def _shape(self) -> tuple[int, str, float, float]:
        res = self.ray.cluster_resources()
        gpus, cpus = int(res.get("GPU", 0)), max(1, int(res.get("CPU", 1)))
        if gpus:
            n = self.workers or gpus
            return n, "cuda", 1.0, min(1.0, gpus / n)
        n = self.workers or max(1, cpus // CPU_GROUP)
        return n, "cpu", max(0.01, min(float(CPU_GROUP), cpus / n)), 0.0

    def _new_actor(self, key: str) -> Any:
        payload, data = self._payloads[key]
        _, device, cpus, gpus = self._shape()
        remote = self.ray.remote(ShardRenderer).options(num_cpus=cpus, num_gpus=gpus, max_restarts=0)
        self.actors_started += 1
        return remote.remote(payload, data, str(self.cache_dir), device, self.threads)

    def _pool(self, model: ModelRef) -> tuple[str, list[Any]]:
        key = self._payload(model)
        if key not in self._pools:
            self.close()  # one pool at a time: another model's actors hold the devices
            count = self._shape()[0]
            actors = [self._new_actor(key) for _ in range(count)]
            self._pools[key] = actors
            try:  # load the model everywhere now: a bad model fails here, once, with its message
                self.ray.get([a.load.remote() for a in actors], timeout=self.start_timeout)
            except self.ray.exceptions.GetTimeoutError:
                self.close()
                _, device, cpus, gpus = self._shape()
                raise ClusterUnavailable(
                    f"{count} render farm actors ({cpus:g} CPUs and {gpus:g} GPUs each) did not start within "
                    f"{self.start_timeout:g} s: the cluster is busy or too small; try fewer --workers"
                ) from None
            except Exception as exc:
                self.close()
                raise self._unwrap(exc) from None
        return key, self._pools[key]

    def _payload(self, ref: ModelRef) -> str:
        """The key of a model; its payload (and file bytes, put in the object store once)."""
        if ref.zoo is not None:
            key = f"zoo:{ref.zoo}"
            self._payloads.setdefault(key, (ModelPayload(name=ref.name, zoo=ref.zoo), None))
            return key
        assert ref.path is not None
        data = Path(ref.path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        key = f"file:{digest}"
        if key not in self._payloads:
            payload = ModelPayload(ref.name, sha256=digest, suffix=ref.path.suffix)
            self._payloads[key] = (payload, self.ray.put(data))
        return key

    def _replace(self, key: str, pool: list[Any], actor: Any) -> Any:
        """A new actor in the place of a lost one (it loads the model before its first task)."""
        self._kill(actor)
        replacement = self._new_actor(key)
        pool[pool.index(actor)] = replacement
        return replacement

    def _kill(self, actor: Any) -> None:
        try:
            self.ray.kill(actor)
        except Exception:  # already dead, or the cluster is gone: nothing left to stop
            pass

    def _unwrap(self, exc: BaseException) -> BaseException:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, LatentwalkError):
            return cause
        if isinstance(exc, LatentwalkError):
            return exc
        return RenderError(f"a render farm actor failed: {cause or exc}")

    # ---------------------------------------------------------------- tasks other than shards

    def map(
        self,
        model: ModelRef,
        method: str,
        items: list[tuple[Any, ...]],
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Any]:
        """Call `method(*item)` of this model's actors for every item, spread over the pool; the
        results in the order of `items`. An item whose actor was lost runs again on a replacement.

        Raises:
            JobCancelled: `cancel` was set. The LatentwalkError an actor raised, or RenderError.
        """
        ray = self.ray
        lost = lost_errors(ray)
        key, pool = self._pool(model)
        queue = collections.deque(range(len(items)))
        idle = list(pool)
        inflight: dict[Any, tuple[int, Any]] = {}
        attempts: collections.Counter[int] = collections.Counter()
        results: dict[int, Any] = {}
        while queue or inflight:
            if cancel is not None and cancel.is_set():
                self.close()
                raise JobCancelled("the job was cancelled")
            while queue and idle:
                actor, i = idle.pop(), queue.popleft()
                inflight[getattr(actor, method).remote(*items[i])] = (i, actor)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.25)
            for ref in ready:
                i, actor = inflight.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except lost as exc:
                    attempts[i] += 1
                    if attempts[i] >= MAX_ATTEMPTS:
                        self.close()
                        raise RenderError(
                            f"a task failed {MAX_ATTEMPTS} times (its actor was lost): {exc}"
                        ) from None
                    queue.appendleft(i)
                    idle.append(self._replace(key, pool, actor))
                    continue
                except Exception as exc:
                    self.close()
                    raise self._unwrap(exc) from None
                idle.append(actor)
                if progress is not None:
                    progress(len(results))
        return [results[i] for i in range(len(items))]

    # ---------------------------------------------------------------- a job

    def render(
        self,
        plan: FramePlan,
        out: Path,
        options: ExportOptions,
        shard_frames: int = DEFAULT_SHARD_FRAMES,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> JobResult:
        """Render `plan` in shards on the cluster and join them into `out` (as export_frames does).

        Shards already on disk from an interrupted run of the same job are kept, not redone.

        Raises:
            InvalidRequest, ExportError, ExportCancelled (finished shards stay on disk, so running
            the job again resumes), RenderError, ClusterUnavailable.
        """
        options.check(plan.info.resolution)
        final = output_path(Path(out), options.fmt)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot create the folder {final.parent}: {exc.strerror}") from None
        shards = split(plan.total, shard_frames)
        video = options.fmt in VIDEO
        shard_opts = {
            "shard_format": options.fmt if video else "png",
            "size": options.size,
            "upscale": options.upscale,
            **({"fps": options.fps, "crf": options.crf} if video else {}),
        }
        key = job_key(plan.cache_key("frames", 0), shard_opts, shards)
        store = ShardStore(shard_folder(final), key, shards)
        todo = store.todo()
        result = JobResult(final, len(shards), 0, len(shards) - len(todo), 0, 0)
        done = sum(s.frames for s in shards if s not in todo)
        if progress is not None:
            progress(done, plan.total)
        t0 = time.perf_counter()
        started = self.actors_started
        if todo:
            try:
                key, pool = self._pool(plan.model)
                result.seconds["actors"] = time.perf_counter() - t0
                t1 = time.perf_counter()
                self._run(key, pool, plan, options, store, todo, result, progress, cancel, done)
            except BaseException:
                if not any(store.done(s) for s in shards):
                    store.remove()  # nothing to resume from: leave nothing behind
                raise
            result.seconds["render"] = time.perf_counter() - t1
        result.actors_started = self.actors_started - started
        t2 = time.perf_counter()
        result.frame_hashes = [h for s in shards for h in store.meta(s).get("sha256", [])]
        temp = final.parent / f".{final.name}.partial-{os.getpid()}-{threading.get_ident()}{final.suffix}"
        try:
            join_shards(store, options, temp)
            if final.is_dir():
                shutil.rmtree(final)
            os.replace(temp, final)
            _write_sidecar(sidecar_path(final), plan, options, final)
        except BaseException as exc:
            _remove(temp)
            if isinstance(exc, OSError):
                raise ExportError(f"could not write {final.name}: {exc.strerror or exc}") from None
            raise
        store.remove()
        result.seconds["join"] = time.perf_counter() - t2
        return result

    def _run(
        self,
        key: str,
        pool: list[Any],
        plan: FramePlan,
        options: ExportOptions,
        store: ShardStore,
        todo: list[Shard],
        result: JobResult,
        progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
        done: int,
    ) -> None:
        ray = self.ray
        lost = lost_errors(ray)
        plan_ref = ray.put(plan)  # once per job, not once per shard
        # Ray Client (ray://) cannot stream results: its shards report only when they are done
        streaming = not ray.util.client.ray.is_connected()
        queue = collections.deque(todo)
        idle = list(pool)
        inflight: dict[Any, tuple[Shard, Any]] = {}  # streaming generator -> (shard, actor)
        partial: dict[int, int] = {}  # frames done so far of the shards in flight
        attempts: collections.Counter[int] = collections.Counter()
        while queue or inflight:
            if cancel is not None and cancel.is_set():
                self.close()  # stops the shards in flight; finished ones stay for a resume
                raise ExportCancelled("the export was cancelled")
            while queue and idle:
                actor, shard = idle.pop(), queue.popleft()
                if streaming:
                    call = actor.render_shard.options(num_returns="streaming")
                else:
                    call = actor.render_shard_whole
                inflight[call.remote(plan_ref, shard.start, shard.end, options)] = (shard, actor)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.25)
            for gen in ready:
                shard, actor = inflight[gen]
                try:
                    kind, value = ray.get(next(gen) if streaming else gen)
                except lost as exc:
                    del inflight[gen]
                    partial.pop(shard.index, None)
                    attempts[shard.index] += 1
                    log.warning("render farm: actor lost on %s (%s); retrying", shard.name, type(exc))
                    if attempts[shard.index] >= MAX_ATTEMPTS:
                        self.close()
                        raise RenderError(
                            f"shard {shard.name} failed {MAX_ATTEMPTS} times (its actor or node was lost "
                            f"each time): {exc}"
                        ) from None
                    result.retries += 1
                    queue.appendleft(shard)
                    idle.append(self._replace(key, pool, actor))
                    continue
                except Exception as exc:  # StopIteration included: a shard ended without its files
                    self.close()
                    raise self._unwrap(exc) from None
                if kind == "frames":
                    partial[shard.index] = int(value)
                    if progress is not None:
                        progress(done + sum(partial.values()), plan.total)
                    continue
                del inflight[gen]
                partial.pop(shard.index, None)
                files, meta = value
                store.put(shard, files, meta)
                result.rendered += 1
                result.shard_seconds.append(float(meta.get("seconds", 0.0)))
                done += shard.frames
                idle.append(actor)
                if progress is not None:
                    progress(done + sum(partial.values()), plan.total)
                if self.on_shard is not None:
                    self.on_shard(shard, [a for _, a in inflight.values()])
