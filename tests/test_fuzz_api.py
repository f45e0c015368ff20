"""The API under fuzzing: schemathesis walks the app's own OpenAPI (so new routes are covered when they
land) and hypothesis throws messages at the WebSocket. No 5xx, and every 4xx in the one error shape.

The default run tries FUZZ_EXAMPLES cases per operation; the `slow` run tries SLOW_EXAMPLES.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app

FUZZ_EXAMPLES = 25
SLOW_EXAMPLES = 300
# Streams that run until the client leaves: no single response to check (tested in test_playback_http).
STREAMS = ("/stream.mjpg",)
SETTINGS = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    # Seeded, so CI runs the same cases every time; LATENTWALK_FUZZ_RANDOM=1 explores afresh.
    "derandomize": os.environ.get("LATENTWALK_FUZZ_RANDOM") != "1",
    "database": None,
}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The real app on a 16-px model (fast renders), with a saved animation and a bookmark to hit."""
    root = tmp_path_factory.mktemp("fuzz")
    tiny = ModelRef(name="tiny", path=write_tiny_dcgan(root / "models" / "tiny.pt"))
    worker = InferenceWorker(cache_dir=root / "cache", device="cpu", max_batch=8, cache_size=2).start()
    s = Settings(
        models_dirs=(root / "models",),
        cache_dir=root / "cache",
        data_dir=root / "data",
        allowed_hosts=TESTSERVER,
    )
    app = create_app(s, worker, tiny)
    with TestClient(app) as c:
        z = c.get("/api/z?seeds=1,2").json()["z"]
        body = {
            "name": "walk",
            "settings": {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [4]},
            "latents": z,
        }
        assert c.post("/api/animations", json=body).status_code == 200
        assert c.post("/api/bookmarks", json={"name": "mark", "z": z[0]}).status_code == 200
        yield app
        for job in list(app.state.lw.exports.values()):
            job.cancel.set()
    worker.stop()


def operations(app: FastAPI) -> list[Any]:
    """Every operation of the app's OpenAPI but the streams."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path=list(STREAMS))
    return [result.ok() for result in loaded.get_all_operations()]


def fuzz_operations(app: FastAPI, examples: int) -> dict[str, int]:
    """Run `examples` generated cases (valid and invalid ones) against each operation; returns the counts.

    (schemathesis' own pytest integration, `from_fixture`, does not run under pytest 9, so each
    operation's hypothesis strategy drives an inner test here.)"""
    return {f"{op.method.upper()} {op.path}": fuzz_one(op, examples) for op in operations(app)}


def fuzz_one(op: Any, examples: int) -> int:
    tried = [0]
    cases = st.one_of(
        op.as_strategy(generation_mode=GenerationMode.POSITIVE),
        op.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(max_examples=examples, **SETTINGS)
    def run(case: Any) -> None:
        tried[0] += 1
        # A slow answer is not a failure here (a 1024-px translation takes ~20 s on two cores).
        check_response(case, case.call(timeout=180))

    run()
    return tried[0]


def check_response(case: Any, response: Any) -> None:
    where = f"{case.method} {case.formatted_path} {case.query or ''} {str(case.body)[:300]}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            pytest.fail(f"{where} -> {response.status_code} without a JSON body: {response.text[:300]}")
        assert isinstance(body, dict) and set(body) == {"error"}, f"{where} -> {body}"
        assert set(body["error"]) == {"type", "message"}, f"{where} -> {body}"
        assert isinstance(body["error"]["message"], str) and body["error"]["message"], f"{where} -> {body}"


def test_api_fuzz(fuzz_app: FastAPI) -> None:
    counts = fuzz_operations(fuzz_app, FUZZ_EXAMPLES)
    assert len(counts) >= 20 and min(counts.values()) >= 1, counts


@pytest.mark.slow
def test_api_fuzz_slow(fuzz_app: FastAPI) -> None:
    counts = fuzz_operations(fuzz_app, SLOW_EXAMPLES)
    print(f"fuzzed {len(counts)} operations, {sum(counts.values())} cases: {counts}")
    assert min(counts.values()) >= 1, counts


def test_every_operation_is_fuzzed(fuzz_app: FastAPI) -> None:
    """The fuzzer sees every route of the OpenAPI but the streams (a route added later is fuzzed too)."""
    ops = list(
        schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
        .exclude(path=list(STREAMS))
        .get_all_operations()
    )
    paths = {op.ok().path for op in ops}
    documented = set(fuzz_app.openapi()["paths"]) - set(STREAMS)
    assert paths == documented and len(ops) >= 20


# ---------------------------------------------------------------------------- the WebSocket

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
messages = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["render", "cancel", "latent", "bogus"]), "id": st.integers(-5, 2**33)},
        optional={
            "settings": json_values,
            "latents": st.lists(st.lists(st.floats(), max_size=10), max_size=4),
            "index": st.integers(-3, 10**6),
            "format": st.sampled_from(["jpeg", "png", "gif"]),
            "start": st.integers(-3, 100),
            "end": st.integers(-3, 100),
        },
    ).map(json.dumps),
)


def _ws_fuzz(fuzz_app: FastAPI, batch: list[str]) -> None:
    with TestClient(fuzz_app) as c, c.websocket_connect("/ws") as ws:
        for text in batch:
            ws.send_text(text)
        # A good render message after the noise is still answered: the socket survived.
        z = c.get("/api/z?seeds=3,4").json()["z"]
        good = {
            "type": "render",
            "id": 999,
            "settings": {"keyframes": [{"seed": 3}, {"seed": 4}], "steps": [2]},
        }
        ws.send_text(json.dumps({**good, "latents": z}))
        while True:
            msg = ws.receive()
            if "text" not in msg or msg["text"] is None:
                continue
            event = json.loads(msg["text"])
            assert event["type"] in ("error", "started", "progress", "done", "cancelled", "latent"), event
            if event["type"] == "error":
                assert set(event["error"]) == {"type", "message"}, event
                assert event["error"]["type"] != "RenderError", event  # a bug, not a refusal
            if event.get("id") == 999 and event["type"] in ("done", "error"):
                assert event["type"] == "done", event
                break


@given(batch=st.lists(messages, min_size=1, max_size=8))
@settings(max_examples=FUZZ_EXAMPLES, **SETTINGS)
def test_websocket_fuzz(fuzz_app: FastAPI, batch: list[str]) -> None:
    _ws_fuzz(fuzz_app, batch)


@pytest.mark.slow
@given(batch=st.lists(messages, min_size=1, max_size=8))
@settings(max_examples=SLOW_EXAMPLES, **SETTINGS)
def test_websocket_fuzz_slow(fuzz_app: FastAPI, batch: list[str]) -> None:
    _ws_fuzz(fuzz_app, batch)
