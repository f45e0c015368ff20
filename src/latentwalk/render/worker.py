"""The inference worker: the one thread that owns the device and the model cache.

Callers submit requests and get futures (block on them from the CLI, await them from asyncio).
The thread drains its queue, groups compatible render requests (same model, truncation, noise
mode) into one batch, runs it, and splits the result. Errors are delivered to the futures of the
failed requests; the thread itself never dies. Loading and switching models are queued like any
other request, so they need no restart and never race a render.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentwalk.backends import LoadedModel, load_model_file
from latentwalk.catalog import ModelRef
from latentwalk.errors import InvalidRequest, LatentwalkError, ModelNotFound, RenderError, WorkerStopped
from latentwalk.render.acceleration import AcceleratedCache, Precision, check_precision
from latentwalk.render.images import to_uint8
from latentwalk.types import NOISE_MODES, NoiseMode, has_w_space
from latentwalk.zoo import load_zoo_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderRequest:
    """Render images with one model and one set of knobs, from latents `z` (and labels `c`), or
    directly from intermediate latents `ws` for models with a w space."""

    model: ModelRef
    z: np.ndarray | None = None  # [N, z_dim]
    c: np.ndarray | None = None  # [N, c_dim]; None for unconditional models
    psi: float = 1.0
    cutoff: int | None = None
    noise_mode: NoiseMode = "const"
    ws: np.ndarray | None = None  # [N, num_ws, w_dim]; when given, z, c, psi and cutoff are unused
    transform: tuple[float, float, float] | None = None  # (translate x, translate y, rotate degrees)
    w_offset: np.ndarray | None = None  # [N, num_ws, w_dim] added to the mapped ws (directions in w)
    precision: Precision = "fp32"  # "bf16"/"fp16": faster, a few grey levels off (render/acceleration.py)

    @property
    def latents(self) -> np.ndarray:
        latents = self.ws if self.ws is not None else self.z
        assert latents is not None
        return latents

    @property
    def rows(self) -> int:
        return int(self.latents.shape[0])

    def batch_key(self) -> tuple[Any, ...]:
        return (
            self.model,
            self.psi,
            self.cutoff,
            self.noise_mode,
            self.c is None,
            self.ws is None,
            self.transform,
            self.w_offset is None,
            self.precision,
        )


@dataclass(frozen=True)
class ModelInfo:
    """What the UI and `info` need to know about a loaded model."""

    name: str
    family: str
    resolution: int
    img_channels: int
    z_dim: int
    c_dim: int
    w_dim: int | None
    num_ws: int | None
    num_params: int
    details: dict[str, Any] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()  # e.g. {"w", "noise", "transform"}
    w_avg: np.ndarray | None = field(default=None, compare=False, repr=False)  # [w_dim] float32

    @property
    def has_w(self) -> bool:
        return self.w_dim is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready description (the file's path left out: it is the user's business)."""
        return {
            "name": self.name,
            "family": self.family,
            "resolution": self.resolution,
            "img_channels": self.img_channels,
            "z_dim": self.z_dim,
            "c_dim": self.c_dim,
            "w_dim": self.w_dim,
            "num_ws": self.num_ws,
            "has_w": self.has_w,
            "num_params": self.num_params,
            "capabilities": sorted(self.capabilities),
            "truncation": "w space (toward w_avg)" if self.has_w else "z space (scales z toward 0)",
            **{k: v for k, v in self.details.items() if k != "path"},
        }


@dataclass
class _Job:
    kind: str  # "render" | "map" | "info" | "register" | "unload" | "call"
    future: concurrent.futures.Future[Any]
    request: RenderRequest | None = None
    model: ModelRef | None = None
    loaded: LoadedModel | None = None
    fn: Callable[[LoadedModel | None, torch.device], Any] | None = None
    grad: bool = True  # "call": autograd on (projection) or inference mode (activations)


def pick_device(spec: str = "auto") -> torch.device:
    """'auto' takes CUDA when present, else the CPU; anything else is passed to torch."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise InvalidRequest(f"unknown device {spec!r}: use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidRequest("--device cuda was asked for, but this PyTorch sees no CUDA device")
    return device


class ContentHashes:
    """sha256 of model files, recomputed only when a file's size or mtime changes."""

    def __init__(self) -> None:
        self._memo: dict[Path, tuple[int, int, str]] = {}

    def of(self, path: Path) -> str:
        try:
            st = path.stat()
        except OSError as exc:
            raise ModelNotFound(f"model file {path} is gone or unreadable ({exc.strerror})") from None
        memo = self._memo.get(path)
        if memo and memo[0] == st.st_mtime_ns and memo[1] == st.st_size:
            return memo[2]
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        self._memo[path] = (st.st_mtime_ns, st.st_size, digest)
        return digest


class InferenceWorker:
    """One thread per device: a FIFO of jobs, batched rendering, a bounded LRU model cache."""

    def __init__(
        self,
        cache_dir: Path,
        device: str = "auto",
        max_batch: int = 16,
        cache_size: int = 2,
        cuda_graphs: bool = False,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.device = pick_device(device)
        self.max_batch = max(1, max_batch)
        self.cache_size = max(1, cache_size)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._models: collections.OrderedDict[tuple[str, str], tuple[LoadedModel, ModelInfo]] = (
            collections.OrderedDict()
        )
        self._pinned: dict[ModelRef, tuple[LoadedModel, ModelInfo]] = {}
        self._hashes = ContentHashes()
        self._fast = AcceleratedCache(self.device, compile=cuda_graphs)
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.batches_run = 0  # counters for tests and status
        self.images_rendered = 0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> InferenceWorker:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"latentwalk-worker-{self.device}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the queued jobs, then stop the thread. Later submissions raise WorkerStopped."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> InferenceWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- submitting

    def _submit(self, job: _Job) -> concurrent.futures.Future[Any]:
        if self._stopped:
            raise WorkerStopped("the inference worker has been stopped")
        self.start()
        self._queue.put(job)
        return job.future

    def submit(self, request: RenderRequest) -> concurrent.futures.Future[np.ndarray]:
        """Queue a render; the future yields uint8 images [N, H, W, C]."""
        if request.noise_mode not in NOISE_MODES:
            raise InvalidRequest(f"noise mode {request.noise_mode!r} is not one of {', '.join(NOISE_MODES)}")
        if (request.z is None) == (request.ws is None):
            raise InvalidRequest("give either latents z or intermediate latents ws")
        if request.z is not None and (request.z.ndim != 2 or not np.isfinite(request.z).all()):
            raise InvalidRequest("latents must be a finite [N, z_dim] array")
        if request.ws is not None and (request.ws.ndim != 3 or not np.isfinite(request.ws).all()):
            raise InvalidRequest("intermediate latents must be a finite [N, num_ws, w_dim] array")
        if request.w_offset is not None and (
            request.z is None
            or request.w_offset.ndim != 3
            or len(request.w_offset) != len(request.z)
            or not np.isfinite(request.w_offset).all()
        ):
            raise InvalidRequest("a w offset must be a finite [N, num_ws, w_dim] array beside latents z")
        check_precision(request.precision)
        if request.transform is not None and not all(np.isfinite(v) for v in request.transform):
            raise InvalidRequest("translation and rotation must be finite numbers")
        return self._submit(_Job("render", concurrent.futures.Future(), request=request))

    def render(self, request: RenderRequest) -> np.ndarray:
        """Blocking render (for the CLI)."""
        return self.submit(request).result()

    async def render_async(self, request: RenderRequest) -> np.ndarray:
        return await asyncio.wrap_future(self.submit(request))

    def map(
        self,
        model: ModelRef,
        z: np.ndarray,
        c: np.ndarray | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
    ) -> np.ndarray:  # [N, num_ws, w_dim] float32
        """Run the mapping network of a w-space model (with truncation). Blocking."""
        return self.submit_map(model, z, c, psi, cutoff).result()

    def submit_map(
        self,
        model: ModelRef,
        z: np.ndarray,
        c: np.ndarray | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
    ) -> concurrent.futures.Future[np.ndarray]:
        if z.ndim != 2 or not np.isfinite(z).all():
            raise InvalidRequest("latents must be a finite [N, z_dim] array")
        req = RenderRequest(model, z=z, c=c, psi=psi, cutoff=cutoff)
        return self._submit(_Job("map", concurrent.futures.Future(), request=req))

    def info(self, model: ModelRef) -> ModelInfo:
        """Load the model (if needed) and describe it. Blocking."""
        return self._submit(_Job("info", concurrent.futures.Future(), model=model)).result()

    async def info_async(self, model: ModelRef) -> ModelInfo:
        return await asyncio.wrap_future(self._submit(_Job("info", concurrent.futures.Future(), model=model)))

    def submit_task(
        self, model: ModelRef, task: Callable[[Any, torch.device], Any]
    ) -> concurrent.futures.Future[Any]:
        """Run `task(generator, device)` on the worker thread, under inference mode, with the model
        loaded: for work on a model's insides (layer activations) that is not a render."""
        job = _Job("call", concurrent.futures.Future(), model=model, grad=False)
        job.fn = lambda loaded, device: task(loaded.generator, device)
        return self._submit(job)

    def register(self, ref: ModelRef, loaded: LoadedModel) -> ModelInfo:
        """Put an already built generator in the cache under `ref` (benchmarks, tests, plugins).

        Registered models stay until `unload()`; they are not evicted by loads of other models."""
        job = _Job("register", concurrent.futures.Future(), model=ref)
        job.loaded = loaded
        return self._submit(job).result()

    def call(
        self, fn: Callable[[LoadedModel | None, torch.device], Any], model: ModelRef | None = None
    ) -> concurrent.futures.Future[Any]:
        """Queue `fn(loaded_model_or_None, device)` to run on the worker thread, with autograd on.

        For work that is not a plain render (projection steps, image translation): it keeps the
        device's one owner, and a long job split into short calls lets renders run in between."""
        return self._submit(_Job("call", concurrent.futures.Future(), model=model, fn=fn))

    def unload(self) -> None:
        """Drop every cached model (queued, so it never races a render)."""
        self._submit(_Job("unload", concurrent.futures.Future())).result()

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                first = self._queue.get()
                if first is None:
                    return
                jobs = [first]
                first = None
                stop_after = False
                while True:  # drain what has arrived meanwhile, to batch it
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop_after = True
                        break
                    jobs.append(nxt)
                nxt = None
                self._process(jobs)
                if stop_after:
                    return

    def _process(self, jobs: list[_Job]) -> None:
        """Run the drained jobs, emptying `jobs`. A job is claimed (marked running) only when its
        batch starts, so one cancelled meanwhile (its client gone, its render superseded) is skipped,
        and a batch is let go as soon as it has run: under load the queue holds a render for each
        client, and keeping every result until the last is done held hundreds of MiB of pixels."""
        groups: dict[tuple[Any, ...], collections.deque[_Job]] = {}
        for job in jobs:
            if job.kind != "render":
                if job.future.set_running_or_notify_cancel():
                    self._run_group([job])
                continue
            assert job.request is not None
            groups.setdefault(job.request.batch_key(), collections.deque()).append(job)
        jobs.clear()
        while groups:
            group = groups.pop(next(iter(groups)))
            while group:  # batches of at most max_batch rows
                batch: list[_Job] = []
                rows = 0
                while group:
                    n = group[0].request.rows if group[0].request is not None else 0
                    if batch and rows + n > self.max_batch:
                        break
                    job = group.popleft()
                    if job.future.set_running_or_notify_cancel():  # else cancelled while queued
                        batch.append(job)
                        rows += n
                if batch:
                    self._run_group(batch)

    def _run_group(self, jobs: list[_Job]) -> None:
        try:
            kind = jobs[0].kind
            if kind == "unload":
                self._models.clear()
                self._pinned.clear()
                self._fast.clear()
                result: Any = None
            elif kind == "register":
                job = jobs[0]
                assert job.model is not None and job.loaded is not None
                job.loaded.generator.to(self.device).eval().requires_grad_(False)
                result = describe(job.model.name, job.loaded)
                self._pinned[job.model] = (job.loaded, result)
            elif kind == "info":
                assert jobs[0].model is not None
                result = self._get(jobs[0].model)[1]
            elif kind == "map":
                result = self._map(jobs[0].request)
            elif kind == "call":
                job = jobs[0]
                assert job.fn is not None
                loaded = self._get(job.model)[0] if job.model is not None else None
                if job.grad:
                    with torch.inference_mode(False), torch.enable_grad():
                        result = job.fn(loaded, self.device)
                else:
                    result = job.fn(loaded, self.device)
            else:
                self._render_batch(jobs)
                return
            for job in jobs:
                job.future.set_result(result)
        except LatentwalkError as exc:
            for job in jobs:
                job.future.set_exception(exc)
        except Exception as exc:  # a model failing must not kill the worker
            if len(jobs) > 1 and jobs[0].kind == "render":
                # A batch failed (out of memory, or one bad request): retry each request alone, so
                # only the one that fails by itself gets the error.
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                for job in jobs:
                    self._run_group([job])
                return
            log.exception("inference failed")
            err = RenderError(f"rendering failed: {type(exc).__name__}: {exc}")
            for job in jobs:
                job.future.set_exception(err)

    def _check(self, r: RenderRequest, info: ModelInfo) -> None:
        if r.z is not None and r.z.shape[1] != info.z_dim:
            raise InvalidRequest(f"latents have {r.z.shape[1]} values, {info.name} needs z_dim {info.z_dim}")
        if r.ws is not None:
            if not info.has_w:
                raise InvalidRequest(f"{info.name} has no w space: send latents z instead of ws")
            if r.ws.shape[1:] != (info.num_ws, info.w_dim):
                raise InvalidRequest(
                    f"intermediate latents have shape {tuple(r.ws.shape[1:])}, {info.name} needs "
                    f"({info.num_ws}, {info.w_dim})"
                )
        elif info.c_dim and (r.c is None or r.c.shape != (r.rows, info.c_dim)):
            raise InvalidRequest(f"{info.name} is conditional: a label of {info.c_dim} values is needed")
        if r.cutoff is not None and not info.num_ws:
            raise InvalidRequest(
                f"{info.name} has no mapping network: a truncation cutoff (the number of ws truncated) "
                "applies only to StyleGAN models; leave it out"
            )
        if r.cutoff is not None and not (info.num_ws and 0 <= r.cutoff <= info.num_ws):
            raise InvalidRequest(f"truncation cutoff {r.cutoff} is outside 0..{info.num_ws or 0}")
        if r.w_offset is not None and (not info.has_w or r.w_offset.shape[1:] != (info.num_ws, info.w_dim)):
            raise InvalidRequest(
                f"a w offset of shape {tuple(r.w_offset.shape[1:])} does not fit {info.name} "
                f"(w space: {(info.num_ws, info.w_dim) if info.has_w else 'none'})"
            )
        if r.transform is not None and any(r.transform) and "transform" not in info.capabilities:
            raise InvalidRequest(f"{info.name} cannot be translated or rotated (StyleGAN3 models can)")

    def _tensor(self, arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.concatenate(arrays).astype(np.float32)).to(self.device)

    def _labels(self, reqs: list[RenderRequest], info: ModelInfo, rows: int) -> torch.Tensor:
        if info.c_dim:
            return self._tensor([r.c for r in reqs if r.c is not None])
        return torch.zeros([rows, 0], device=self.device)

    def _map(self, r: RenderRequest | None) -> np.ndarray:
        assert r is not None and r.z is not None
        loaded, info = self._get(r.model)
        if not info.has_w:
            raise InvalidRequest(f"{info.name} has no mapping network (no w space)")
        self._check(r, info)
        z = self._tensor([r.z])
        ws = loaded.generator.mapping(z, self._labels([r], info, r.rows), psi=r.psi, cutoff=r.cutoff)
        return ws.cpu().numpy()

    def _render_batch(self, jobs: list[_Job]) -> None:
        reqs = [j.request for j in jobs if j.request is not None]
        first = reqs[0]
        loaded, info = self._get(first.model)
        g = self._fast.get(loaded.generator, first.precision)
        for r in reqs:
            self._check(r, info)
        extra: dict[str, Any] = {}
        if first.transform is not None and "transform" in info.capabilities:
            extra["transform"] = first.transform
        if first.ws is not None:
            ws = self._tensor([r.ws for r in reqs if r.ws is not None])

            def run(rows: slice) -> torch.Tensor:
                return g.synthesis(ws[rows], noise_mode=first.noise_mode, **extra)

            n = ws.shape[0]
        else:
            z = self._tensor([r.z for r in reqs if r.z is not None])
            c = self._labels(reqs, info, z.shape[0])
            knobs = {"psi": first.psi, "cutoff": first.cutoff, "noise_mode": first.noise_mode, **extra}
            if first.w_offset is not None:  # directions in w on a walk in z: map, move, synthesise
                w_off = self._tensor([r.w_offset for r in reqs if r.w_offset is not None])

                def run(rows: slice) -> torch.Tensor:
                    ws = g.mapping(z[rows], c[rows], psi=first.psi, cutoff=first.cutoff) + w_off[rows]
                    return g.synthesis(ws, noise_mode=first.noise_mode, **extra)
            else:

                def run(rows: slice) -> torch.Tensor:
                    return g.render(z[rows], c[rows], **knobs)

            n = z.shape[0]
        if self.device.type == "cpu":
            # oneDNN picks its convolution and GEMM algorithms by batch size, which changes the
            # last bits of the result and so, now and then, a pixel. On the CPU a batch gains
            # little anyway: run its rows one by one, so an image never depends on its company.
            img = torch.cat([run(slice(i, i + 1)) for i in range(n)])
        else:
            img = run(slice(0, n))
        pixels = to_uint8(img)
        self.batches_run += 1
        self.images_rendered += len(pixels)
        start = 0
        for r, job in zip(reqs, jobs, strict=True):
            job.future.set_result(pixels[start : start + r.rows])
            start += r.rows

    def _get(self, ref: ModelRef) -> tuple[LoadedModel, ModelInfo]:
        if ref in self._pinned:
            return self._pinned[ref]
        key = ("zoo", ref.zoo) if ref.zoo is not None else ("file", self._hashes.of(ref.path))  # type: ignore[arg-type]
        cached = self._models.get(key)
        if cached is not None:
            self._models.move_to_end(key)
            return cached
        loaded = load_zoo_model(ref.zoo, self.cache_dir) if ref.zoo is not None else load_model_file(ref.path)  # type: ignore[arg-type]
        loaded.generator.to(self.device).eval().requires_grad_(False)
        entry = (loaded, describe(ref.name, loaded))
        self._models[key] = entry
        while len(self._models) > self.cache_size:
            evicted = self._models.popitem(last=False)[1][0]
            self._fast.forget(evicted.generator)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return entry


def describe(name: str, loaded: LoadedModel) -> ModelInfo:
    g = loaded.generator
    w_space = has_w_space(g)
    return ModelInfo(
        name=name,
        family=str(loaded.info.get("family", getattr(g, "family", "unknown"))),
        resolution=int(g.img_resolution),
        img_channels=int(g.img_channels),
        z_dim=int(g.z_dim),
        c_dim=int(g.c_dim),
        w_dim=int(g.w_dim) if w_space else None,
        num_ws=int(g.num_ws) if w_space else None,
        num_params=sum(p.numel() for p in g.parameters()),
        details=dict(loaded.info),
        capabilities=frozenset(getattr(g, "capabilities", ("w",) if w_space else ())),
        w_avg=g.w_avg.detach().float().cpu().numpy().copy() if w_space else None,
    )
