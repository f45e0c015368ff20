"""The inference worker: batching gives the same pixels, errors reach the caller, models switch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_tiny_dcgan
from latentwalk.backends import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.errors import InvalidRequest, ModelNotFound, UnsupportedFormat, WorkerStopped
from latentwalk.latents import seeds_to_z
from latentwalk.models.base import ZSpaceGenerator
from latentwalk.render.worker import InferenceWorker, RenderRequest

PROC = ModelRef(name="procedural", zoo="procedural")


def _req(model: ModelRef, seeds: list[int], z_dim: int, **kw: object) -> RenderRequest:
    return RenderRequest(model, seeds_to_z(seeds, z_dim), **kw)  # type: ignore[arg-type]


def test_batched_requests_give_the_same_pixels_as_one_at_a_time(
    worker: InferenceWorker, tmp_path: Path
) -> None:
    ref = ModelRef(name="tiny", path=write_tiny_dcgan(tmp_path / "tiny.pt"))
    z_dim = worker.info(ref).z_dim
    alone = [worker.render(_req(ref, [s], z_dim))[0] for s in range(6)]
    batches_before = worker.batches_run
    # Submit together while the worker is busy, so they are drained and batched.
    futures = [worker.submit(_req(ref, [s], z_dim)) for s in range(6)]
    together = [f.result()[0] for f in futures]
    assert worker.batches_run - batches_before < 6, "compatible requests were not batched"
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)
    # And one request of 6 rows equals the six single renders too.
    np.testing.assert_array_equal(worker.render(_req(ref, list(range(6)), z_dim)), np.stack(alone))


def test_procedural_batch_independent(worker: InferenceWorker) -> None:
    info = worker.info(PROC)
    one = worker.render(_req(PROC, [3], info.z_dim))
    many = worker.render(_req(PROC, [1, 2, 3], info.z_dim))
    np.testing.assert_array_equal(one[0], many[2])
    assert one.shape == (1, info.resolution, info.resolution, 3) and one.dtype == np.uint8


def test_errors_reach_the_caller_and_the_worker_goes_on(worker: InferenceWorker, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pkl"
    bad.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(Exception) as info:
        worker.render(_req(ModelRef(name="broken", path=bad), [0], 8))
    assert "broken.pkl" in str(info.value)
    with pytest.raises(InvalidRequest, match="z_dim"):
        worker.render(_req(PROC, [0], 7))  # wrong latent size
    with pytest.raises(ModelNotFound):
        worker.render(_req(ModelRef(name="gone", path=tmp_path / "gone.pkl"), [0], 8))
    img = tmp_path / "picture.pkl"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    with pytest.raises(UnsupportedFormat, match="image"):
        worker.info(ModelRef(name="picture", path=img))
    assert worker.render(_req(PROC, [0], 512)).shape[0] == 1  # still alive


def test_invalid_latents_are_refused_before_queueing(worker: InferenceWorker) -> None:
    z = seeds_to_z([0], 512)
    z[0, 3] = np.nan
    with pytest.raises(InvalidRequest, match="finite"):
        worker.submit(RenderRequest(PROC, z))
    with pytest.raises(InvalidRequest, match="noise mode"):
        worker.submit(RenderRequest(PROC, seeds_to_z([0], 512), noise_mode="loud"))  # type: ignore[arg-type]


def test_model_switch_and_reload_when_the_file_changes(worker: InferenceWorker, tmp_path: Path) -> None:
    path = write_tiny_dcgan(tmp_path / "m.pt", seed=0)
    ref = ModelRef(name="m", path=path)
    first = worker.render(_req(ref, [5], 8))
    worker.render(_req(PROC, [5], 512))  # switch to another model and back: no restart needed
    np.testing.assert_array_equal(worker.render(_req(ref, [5], 8)), first)
    write_tiny_dcgan(path, seed=1)  # new content under the same name
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    changed = worker.render(_req(ref, [5], 8))
    assert np.abs(changed.astype(int) - first.astype(int)).mean() > 1.0


def test_cache_is_bounded(tmp_path: Path) -> None:
    w = InferenceWorker(tmp_path / "cache", device="cpu", cache_size=1).start()
    try:
        for i in range(3):
            w.info(ModelRef(name=f"m{i}", path=write_tiny_dcgan(tmp_path / f"m{i}.pt", seed=i)))
        assert len(w._models) == 1
    finally:
        w.stop()


def test_async_render_and_stop(tmp_path: Path) -> None:
    w = InferenceWorker(tmp_path / "cache", device="cpu").start()

    async def go() -> np.ndarray:
        return await w.render_async(_req(PROC, [1], 512))

    # In its own thread: Playwright's sync API (browser tests, session-scoped) keeps an event loop
    # running in the main thread, where asyncio.run() refuses to start.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: asyncio.run(go())).result().shape == (1, 256, 256, 3)
    w.stop()
    with pytest.raises(WorkerStopped):
        w.submit(_req(PROC, [1], 512))


def test_w_space_render_and_mapping(worker: InferenceWorker) -> None:
    """Rendering the mapped ws equals rendering z; malformed ws and ws for z-only models are refused."""
    from latentwalk.backends import load_model_bytes
    from nvpickle_writer import build_stylegan2, dumps_network_pickle

    tree, _ = build_stylegan2(seed=4)
    ref = ModelRef(name="sg2", zoo="sg2-test")
    info = worker.register(ref, load_model_bytes(dumps_network_pickle(tree), "sg2.pkl"))
    assert info.has_w and "w" in info.capabilities and info.num_ws == 6
    z = seeds_to_z([1, 2], info.z_dim)
    ws = worker.map(ref, z, psi=0.6)
    assert ws.shape == (2, info.num_ws, info.w_dim) and ws.dtype == np.float32
    from_z = worker.render(RenderRequest(ref, z, psi=0.6))
    from_ws = worker.render(RenderRequest(ref, ws=ws))
    np.testing.assert_array_equal(from_z, from_ws)
    with pytest.raises(InvalidRequest, match="needs"):
        worker.render(RenderRequest(ref, ws=ws[:, :3]))
    with pytest.raises(InvalidRequest, match="no w space"):
        worker.render(RenderRequest(PROC, ws=np.zeros((1, 2, 512))))
    with pytest.raises(InvalidRequest, match="cannot be translated"):
        worker.render(RenderRequest(ref, z, transform=(0.1, 0.0, 0.0)))
    with pytest.raises(InvalidRequest, match="either"):
        worker.submit(RenderRequest(ref))


class GatedGenerator(ZSpaceGenerator):
    """4x4 grey images; a row whose first latent value has a gate waits for it (a render in progress
    that the test holds open). Records the rows it renders."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim, self.img_resolution = 4, 4
        self.gates: dict[int, threading.Event] = {}
        self.entered: dict[int, threading.Event] = {}
        self.rendered: list[int] = []

    def hold(self, key: int) -> None:
        self.gates[key], self.entered[key] = threading.Event(), threading.Event()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        key = int(z[0, 0])
        self.rendered.append(key)
        if key in self.gates:
            self.entered[key].set()
            assert self.gates[key].wait(30)
        return torch.zeros(z.shape[0], 3, 4, 4)


def test_a_drained_render_is_claimed_when_its_batch_starts_and_let_go_when_done(
    worker: InferenceWorker,
) -> None:
    # Under load the worker drains a render per client at once. A client that hangs up meanwhile must
    # not have its frames rendered, and finished results must not wait for the rest of the drain
    # (bench_load: hundreds of MiB of pixels were held that way).
    g = GatedGenerator()
    ref = ModelRef(name="gated", zoo="gated-test")
    worker.register(ref, LoadedModel(generator=g))
    g.hold(1)
    g.hold(3)

    def submit(key: int, noise: str) -> concurrent.futures.Future[np.ndarray]:
        z = np.array([[key, 0, 0, 0]], np.float32)
        return worker.submit(RenderRequest(ref, z, noise_mode=noise))  # type: ignore[arg-type]

    busy = submit(1, "const")
    assert g.entered[1].wait(30)
    # Queued while the worker is busy: drained together, three groups (the noise modes differ).
    done_first, held, abandoned = submit(2, "const"), submit(3, "random"), submit(4, "none")
    g.gates[1].set()
    busy.result(timeout=30)
    assert g.entered[3].wait(30)  # 2 has been rendered; 3 is in progress; 4 waits its turn
    result = weakref.ref(done_first.result(timeout=30))
    del done_first
    gc.collect()
    assert result() is None, "a finished render was kept until the whole drain was done"
    assert abandoned.cancel(), "a drained render could not be cancelled before its batch started"
    g.gates[3].set()
    held.result(timeout=30)
    worker.render(RenderRequest(ref, np.zeros((1, 4), np.float32)))  # the drain is over
    assert g.rendered == [1, 2, 3, 0]
