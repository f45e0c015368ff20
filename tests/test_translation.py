"""Translation (built-in CycleGAN from its real weights, user files) and the image routes over HTTP:
bad pictures get clear 400s and the server keeps serving."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.catalog import ModelRef, scan
from latentwalk.config import Settings
from latentwalk.errors import InvalidImage, InvalidRequest, UnsafeModelFile, UnsupportedFormat
from latentwalk.imagein import MAX_PIXELS, decode_image, fit_image
from latentwalk.models.cyclegan import ResnetTranslator, UnetTranslator, detect, translator_from_state_dict
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app
from latentwalk.translation import TRANSLATOR_ZOO, TranslatorCache, translate


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _photo(h: int = 80, w: int = 100) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.uint8)


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with a few bytes of data: cheap to build."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------------------------- decoding


def test_bad_pictures_are_refused_clearly() -> None:
    with pytest.raises(InvalidImage, match="not a picture"):
        decode_image(b"hello, I am text" * 10)
    with pytest.raises(InvalidImage, match="too small"):
        decode_image(_png(np.zeros((1, 1, 3), np.uint8)))
    with pytest.raises(InvalidImage, match="megapixels"):
        decode_image(_huge_png_header(8000, 6250))  # 50 megapixels claimed
    with pytest.raises(InvalidImage, match="megapixels"):
        decode_image(_huge_png_header(20000, 20000))  # beyond Pillow's own bomb limit too
    good = _png(_photo())
    with pytest.raises(InvalidImage, match="damaged|truncated|not a picture"):
        decode_image(good[: len(good) // 2])
    with pytest.raises(InvalidImage, match="empty"):
        decode_image(b"")
    assert MAX_PIXELS < 50_000_000


def test_grey_palette_and_pad_fit() -> None:
    grey = decode_image(_png(np.full((20, 40), 200, np.uint8)))
    assert grey.mode == "RGB" and grey.size == (40, 20)
    pal = Image.fromarray(_photo()).convert("P")
    buf = io.BytesIO()
    pal.save(buf, format="PNG")
    assert decode_image(buf.getvalue()).mode == "RGB"
    padded = np.asarray(fit_image(grey, 16, "pad"))
    assert padded.shape == (16, 16, 3)
    assert (padded[0] == 128).all() and (padded[8] > 190).all()  # grey margins, the picture between
    cropped = np.asarray(fit_image(grey, 16, "crop"))
    assert (cropped > 190).all()


# ------------------------------------------------------------------------------------- networks


def test_resnet_and_unet_state_dicts_are_detected_and_loaded(tmp_path: Path) -> None:
    torch.manual_seed(0)
    for net in (
        ResnetTranslator(width=8, blocks=2, norm="instance-affine"),
        UnetTranslator(width=4, levels=6),
    ):
        sd = net.state_dict()
        spec = detect(sd)
        assert spec.kind == net.kind and spec.width in (8, 4)
        again = translator_from_state_dict({f"module.{k}": v for k, v in sd.items()})
        x = torch.rand(1, 3, 64, 64) * 2 - 1
        torch.testing.assert_close(again(x), net.eval()(x))
    with pytest.raises(UnsupportedFormat, match="not a state dict of a ResNet or U-Net"):
        translator_from_state_dict({"foo.weight": torch.zeros(3)})


def test_user_translators_in_the_models_folder(worker: InferenceWorker, tmp_path: Path) -> None:
    models = tmp_path / "models"
    folder = models / "translators"
    folder.mkdir(parents=True)
    torch.save(ResnetTranslator(width=4, blocks=1).state_dict(), folder / "mine.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated (still in use); tracing warns too
        torch.jit.save(torch.jit.trace(torch.nn.Tanh(), torch.zeros(1, 3, 64, 64)), folder / "code.ts")
    write_tiny_dcgan(models / "tiny.pt")
    assert [m.name for m in scan((models,)) if m.source == "file"] == [
        "tiny"
    ]  # translators are no generators
    cache = TranslatorCache(tmp_path / "cache", (models,))
    out = translate(worker, cache, "mine", _photo(64, 64))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    with pytest.raises(UnsafeModelFile, match="TorchScript"):
        translate(worker, cache, "code", _photo(64, 64))
    trusted = TranslatorCache(tmp_path / "cache", (models,), trusted=(folder / "code.ts",))
    assert translate(worker, trusted, "code", _photo(64, 64)).shape == (64, 64, 3)


def test_onnx_translator_matches_the_torch_module(worker: InferenceWorker, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "models" / "translators"
    folder.mkdir(parents=True)
    net = ResnetTranslator(width=4, blocks=1).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own deprecation notices
        torch.onnx.export(net, torch.zeros(1, 3, 64, 64), folder / "exported.onnx", dynamo=False)
    cache = TranslatorCache(tmp_path / "cache", (tmp_path / "models",))
    photo = _photo(64, 64)
    out = translate(worker, cache, "exported", photo)
    with torch.no_grad():
        expected = net(torch.from_numpy(photo.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None])
    want = (expected.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    assert np.abs(out.astype(int) - want).max() <= 1
    with pytest.raises(InvalidRequest, match="64x64 pictures only"):
        translate(worker, cache, "exported", _photo(128, 128))  # a fixed-size graph


@pytest.mark.network
def test_cyclegan_vintage_from_its_real_weights(worker: InferenceWorker, cache_dir: Path) -> None:
    cache = TranslatorCache(cache_dir, ())
    photo = np.asarray(fit_image(Image.fromarray(_photo(300, 400)), 128))
    out = translate(worker, cache, "cyclegan-vintage", photo)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    assert out.std() > 5  # a picture, not a flat field
    assert np.abs(out.astype(int) - photo).mean() > 5  # and changed
    np.testing.assert_array_equal(out, translate(worker, cache, "cyclegan-vintage", photo))  # deterministic
    assert TRANSLATOR_ZOO["cyclegan-vintage"][1] == 512


# ------------------------------------------------------------------------------------- HTTP


@pytest.fixture
def client(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    models = tmp_path / "models"
    write_tiny_dcgan(models / "tiny.pt", seed=3)
    folder = models / "translators"
    folder.mkdir()
    torch.save(ResnetTranslator(width=4, blocks=1).state_dict(), folder / "mine.pth")
    settings = Settings(
        models_dirs=(models,),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        allowed_hosts=TESTSERVER,
    )
    ref = ModelRef(name="tiny", path=models / "tiny.pt")
    with TestClient(create_app(settings, worker, ref)) as c:
        yield c


def test_http_bad_pictures_get_400_and_the_server_keeps_serving(client: TestClient) -> None:
    bad = {
        "not a picture": b"GIF? no, plain text",
        "too small": _png(np.zeros((1, 1, 3), np.uint8)),
        "megapixels": _huge_png_header(8000, 6250),
        "damaged|truncated|not a picture": _png(_photo())[:200],
    }
    for message, body in bad.items():
        for url in ("/api/translate?model=mine&size=64", "/api/project?steps=5"):
            r = client.post(url, content=body)
            assert r.status_code == 400, (url, r.text)
            err = r.json()["error"]
            assert err["type"] == "InvalidImage" and any(m in err["message"] for m in message.split("|"))
    assert client.get("/api/health").status_code == 200
    assert client.post("/api/translate?model=nobody", content=_png(_photo())).status_code == 404


def test_http_translate_answers_a_png(client: TestClient) -> None:
    names = [t["name"] for t in client.get("/api/translators").json()["translators"]]
    assert names == ["cyclegan-vintage", "mine"]
    r = client.post("/api/translate?model=mine&size=64&fit=pad", content=_png(_photo()))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (64, 64)
    assert client.post("/api/translate?model=mine&size=66", content=_png(_photo())).status_code == 400


def test_http_projection_job_runs_to_a_z_keyframe(client: TestClient) -> None:
    r = client.post("/api/project?steps=120", content=_png(_photo()))
    assert r.status_code == 200, r.text
    job = r.json()
    for _ in range(600):
        job = client.get(f"/api/project/{job['id']}").json()
        if job["state"] != "running":
            break
        time.sleep(0.05)
    assert job["state"] == "done" and job["step"] == 120 and len(job["losses"]) >= 3
    assert job["losses"][-1] < job["losses"][0]
    result = client.get(f"/api/project/{job['id']}/result").json()
    assert len(result["z"]) == 8 and result["model"] == "tiny" and result["psnr"] > 5
    assert client.get(f"/api/project/{job['id']}/preview.png").headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(client.get(f"/api/project/{job['id']}/target.png").content)) as t:
        assert t.size == (16, 16)
    assert client.get("/api/project/nope").status_code == 404


def test_http_projection_can_be_stopped(client: TestClient) -> None:
    job = client.post("/api/project?steps=5000", content=_png(_photo())).json()
    assert client.delete(f"/api/project/{job['id']}").status_code == 200
    for _ in range(600):
        job = client.get(f"/api/project/{job['id']}").json()
        if job["state"] != "running":
            break
        time.sleep(0.05)
    assert job["state"] == "stopped" and job["step"] < 5000
    assert "z" in client.get(f"/api/project/{job['id']}/result").json()
