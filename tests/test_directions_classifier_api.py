"""Classifiers through the explorer's API: upload an ONNX file, fit axes on it as a job, list and
delete; bad files (not ONNX, TorchScript, wrong input, too big, bad names) get a clear 4xx in the one
error shape and change nothing."""

from __future__ import annotations

import hashlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from classifier_support import onnx_classifier
from directions_support import directions_app, wait_job
from latentwalk.directions import classifier_store
from latentwalk.render.worker import InferenceWorker

pytest.importorskip("onnx")  # in the `test` extra, so CI has it
pytest.importorskip("onnxruntime")

URL = "/api/directions/classifiers"


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    with directions_app(worker, tmp_path) as c:
        yield c


def _refused(r: Any, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"type", "message"} and words in error["message"], error


def test_upload_fit_list_delete(client: TestClient, tmp_path: Path) -> None:
    assert client.get(URL).json() == {"classifiers": []}
    data = onnx_classifier(tmp_path / "colour.onnx").read_bytes()
    r = client.post(f"{URL}?name=colour.onnx", content=data)  # a file's name works: .onnx is dropped
    assert r.status_code == 200, r.text
    record = r.json()["classifier"]
    assert record["name"] == "colour" and record["axes"] == ["red", "green", "blue"]
    assert record["bytes"] == len(data) and record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["size"] == [16, 16]
    assert (tmp_path / "data" / "classifiers" / "colour.onnx").read_bytes() == data
    assert [c["name"] for c in client.get(URL).json()["classifiers"]] == ["colour"]

    job = client.post("/api/directions/jobs", json={"kind": "fit", "samples": 40, "classifier": "colour"})
    assert job.status_code == 200, job.text
    assert job.json()["classifier"] == "colour"
    done = wait_job(client, job.json())
    assert done["state"] == "done" and done["names"] == ["red", "green", "blue"], done
    assert done["done"] == done["total"] == 41
    found = {d["name"]: d for d in client.get("/api/directions").json()["directions"]}
    assert set(found) == {"red", "green", "blue"}
    assert all(d["method"] == "classifier" and "r2" in d["stats"] for d in found.values())

    # The sliders of these axes work like any other (the offsets route knows them).
    offs = client.post("/api/directions/offsets", json={"entries": [{"name": "red", "amount": 1.0}]})
    assert offs.status_code == 200 and offs.json()["directions"][0]["name"] == "red"

    r = client.delete(f"{URL}/colour")
    assert r.status_code == 200 and r.json() == {"classifiers": []}
    assert not (tmp_path / "data" / "classifiers" / "colour.onnx").exists()
    _refused(client.delete(f"{URL}/colour"), 404, "no classifier 'colour'")
    assert {d["name"] for d in client.get("/api/directions").json()["directions"]} == set(found)


def test_job_bodies_name_features_or_a_classifier(client: TestClient, tmp_path: Path) -> None:
    client.post(f"{URL}?name=colour", content=onnx_classifier(tmp_path / "c.onnx").read_bytes())
    jobs = "/api/directions/jobs"
    both = {"kind": "fit", "features": ["brightness"], "classifier": "colour"}
    _refused(client.post(jobs, json=both), 400, "either features or a classifier")
    _refused(client.post(jobs, json={"kind": "pca", "classifier": "colour"}), 400, "PCA takes no classifier")
    _refused(client.post(jobs, json={"kind": "fit", "classifier": "nope"}), 404, "no classifier 'nope'")
    _refused(client.post(jobs, json={"kind": "fit", "classifier": "../colour"}), 400, "classifier name")
    _refused(client.post(jobs, json={"kind": "fit"}), 400, "at least one feature")


def test_bad_files_are_refused_and_lose_nothing(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = onnx_classifier(tmp_path / "colour.onnx").read_bytes()
    assert client.post(f"{URL}?name=colour", content=good).status_code == 200
    kept = client.get(URL).json()

    script = tmp_path / "net.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch.nn.Flatten()), str(script))
    bad: list[tuple[bytes, int, str]] = [
        (b"\x08\x07 this is no graph" * 10, 422, "does not load as an ONNX classifier"),
        (script.read_bytes(), 422, "--trust-classifier"),
        (onnx_classifier(tmp_path / "g.onnx", "grey").read_bytes(), 400, "[N, 3, H, W]"),
        (onnx_classifier(tmp_path / "b.onnx", "bad-output").read_bytes(), 400, "expected [N] or [N, K]"),
        (b"", 400, "empty"),
    ]
    for data, status, words in bad:
        # Over the kept one, even with replace: refused whole, the kept file stays as it was.
        _refused(client.post(f"{URL}?name=colour&replace=true", content=data), status, words)
        _refused(client.post(f"{URL}?name=other", content=data), status, words)
    assert client.get(URL).json() == kept
    assert (tmp_path / "data" / "classifiers" / "colour.onnx").read_bytes() == good
    assert sorted(p.name for p in (tmp_path / "data" / "classifiers").iterdir()) == [
        ".lock",
        "colour.json",
        "colour.onnx",
    ]  # no staging folder left behind

    _refused(client.post(f"{URL}?name=colour", content=good), 409, "exists")
    for name in ("../up", ".hidden", "a/b", "x" * 65, "spa ce"):
        _refused(client.post(URL, params={"name": name}, content=good), 400, "classifier name")
    _refused(client.post(URL, content=good), 400, "name")
    monkeypatch.setattr(classifier_store, "MAX_BYTES", len(good) - 1)
    _refused(client.post(f"{URL}?name=big", content=good), 400, f"at most {len(good) - 1} bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while the body streams in
        yield good[:100]
        yield good[100:]

    _refused(client.post(f"{URL}?name=big", content=chunks()), 400, "larger than")
    assert client.get(URL).json() == kept
    # The kept classifier still fits.
    job = client.post("/api/directions/jobs", json={"kind": "fit", "samples": 20, "classifier": "colour"})
    assert wait_job(client, job.json())["state"] == "done"


def test_a_classifier_failing_oddly_ends_its_job(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from latentwalk.directions.classifier import Classifier

    client.post(f"{URL}?name=colour", content=onnx_classifier(tmp_path / "c.onnx").read_bytes())

    def broken(self: Classifier, pixels: Any) -> dict[str, Any]:
        raise KeyError("something no one expected")

    monkeypatch.setattr(Classifier, "scores", broken)
    job = client.post("/api/directions/jobs", json={"kind": "fit", "samples": 20, "classifier": "colour"})
    done = wait_job(client, job.json())
    assert done["state"] == "error" and "KeyError" in done["error"], done
    assert client.get("/api/directions").json()["directions"] == []


def test_without_onnxruntime_an_upload_says_what_to_install(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = onnx_classifier(tmp_path / "colour.onnx").read_bytes()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    r = client.post(f"{URL}?name=colour", content=data)
    _refused(r, 501, "pip install 'latentwalk[onnx]'")
    assert r.json()["error"]["type"] == "MissingExtra"
    assert client.get(URL).json() == {"classifiers": []}  # nothing kept
