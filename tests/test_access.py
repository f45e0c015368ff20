"""Access control: the token beyond loopback, Host checks against DNS rebinding, Origin checks, OSC senders,
and user-given names that never leave their folder (every route that takes a name, found in the OpenAPI)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import TESTSERVER, write_tiny_dcgan
from latentwalk.catalog import ModelRef
from latentwalk.config import Settings, settings_from_env
from latentwalk.errors import InvalidRequest
from latentwalk.playback.osc import OscControl, sender_filter
from latentwalk.render.worker import InferenceWorker
from latentwalk.server.app import create_app
from latentwalk.server.security import COOKIE, Access, is_loopback

PROC = ModelRef(name="procedural", zoo="procedural")
TOKEN = "s3cret-token-for-tests"


def make_client(
    worker: InferenceWorker, tmp_path: Path, model: ModelRef = PROC, **settings: Any
) -> TestClient:
    base: dict[str, Any] = {
        "models_dirs": (tmp_path / "models",),
        "cache_dir": tmp_path / "cache",
        "data_dir": tmp_path / "data",
        "allowed_hosts": TESTSERVER,
    }
    return TestClient(create_app(Settings(**{**base, **settings}), worker, model))


def assert_error(response: Any, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind and body["error"]["message"]


# ---------------------------------------------------------------------------- Host and Origin


@pytest.fixture
def local(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(worker, tmp_path) as c:
        yield c


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "192.168.1.20", "testserver"]
)
def test_own_names_and_ip_literals_are_served(local: TestClient, host: str) -> None:
    assert local.get("/api/health", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "localhost.evil.example", "", "a b", "x:notaport"]
)
def test_foreign_host_names_are_refused_dns_rebinding(local: TestClient, host: str) -> None:
    assert_error(local.get("/api/health", headers={"host": host}), 403, "Forbidden")
    assert_error(local.get("/api/animations", headers={"host": host}), 403, "Forbidden")
    with pytest.raises(WebSocketDisconnect) as info, local.websocket_connect("/ws", headers={"host": host}):
        pass
    assert info.value.code == 1008


def test_state_changes_and_sockets_from_other_origins_are_refused(local: TestClient) -> None:
    evil = {"origin": "http://evil.example"}
    assert_error(local.post("/api/bookmarks", json={"name": "x", "z": [0.0]}, headers=evil), 403, "Forbidden")
    assert_error(local.delete("/api/animations/x", headers=evil), 403, "Forbidden")
    assert_error(local.put("/api/animations/x", json={}, headers=evil), 403, "Forbidden")
    assert_error(local.post("/api/playback", json={"command": "stop"}, headers=evil), 403, "Forbidden")
    # a page served by this server itself is the same origin
    assert local.post(
        "/api/playback", json={"command": "stop"}, headers={"origin": "http://testserver"}
    ).is_success
    for path in ("/ws", "/ws/output"):
        with pytest.raises(WebSocketDisconnect) as info, local.websocket_connect(path, headers=evil):
            pass
        assert info.value.code == 1008


def test_loopback_needs_no_token(local: TestClient) -> None:
    assert local.get("/api/models").status_code == 200
    assert local.app.state.access.token is None  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- token


def test_binding_beyond_loopback_generates_a_token(tmp_path: Path) -> None:
    assert Access.from_settings(Settings(host="127.0.0.1")).token is None
    assert Access.from_settings(Settings(host="::1")).token is None
    a, b = Access.from_settings(Settings(host="0.0.0.0")), Access.from_settings(Settings(host="0.0.0.0"))
    assert a.token and b.token and a.token != b.token and len(a.token) >= 24
    assert Access.from_settings(Settings(host="192.168.1.5", token=TOKEN)).token == TOKEN
    assert Access.from_settings(Settings(host="127.0.0.1", token=TOKEN)).token == TOKEN  # asked for: kept
    assert is_loopback("127.8.0.1") and is_loopback("[::1]") and not is_loopback("0.0.0.0")
    for bad in ("short", "has space in it", "semi;colon-token-x", 'quote"token-xxxx'):
        with pytest.raises(InvalidRequest, match="access token"):
            Access.from_settings(Settings(token=bad))
    env = settings_from_env({"LATENTWALK_TOKEN": TOKEN, "LATENTWALK_ALLOWED_HOSTS": "studio.lan, kiosk"})
    assert env.token == TOKEN and env.allowed_hosts == ("studio.lan", "kiosk")


@pytest.fixture
def guarded(worker: InferenceWorker, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(worker, tmp_path, host="0.0.0.0", token=TOKEN) as c:
        yield c


def test_every_request_needs_the_token(guarded: TestClient) -> None:
    for path in ("/", "/api/health", "/api/models", "/static/app.js", "/output", "/openapi.json"):
        r = guarded.get(path)
        assert_error(r, 401, "Unauthorized")
        assert "token" in r.json()["error"]["message"]
    assert_error(
        guarded.get("/api/health", headers={"authorization": "Bearer wrong-token-123"}), 401, "Unauthorized"
    )
    assert_error(guarded.get("/api/health?token=wrong-token-123"), 401, "Unauthorized")
    assert guarded.get("/api/health", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    for path in ("/ws", "/ws/output"):
        with pytest.raises(WebSocketDisconnect) as info, guarded.websocket_connect(path):
            pass
        assert info.value.code == 1008


def test_the_first_visit_sets_a_strict_httponly_cookie_that_later_requests_use(guarded: TestClient) -> None:
    first = guarded.get(f"/?token={TOKEN}")
    assert first.status_code == 200 and "<html" in first.text.lower()
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    # The client now carries the cookie, as a browser does: pages, API and sockets work without ?token=.
    assert guarded.get("/api/models").status_code == 200
    assert guarded.get("/static/app.js").status_code == 200
    with guarded.websocket_connect("/ws") as ws:
        ws.send_text("{}")
        assert json.loads(ws.receive_text())["type"] == "error"  # served: an invalid message is answered
    guarded.cookies.clear()
    assert_error(guarded.get("/api/models"), 401, "Unauthorized")
    with guarded.websocket_connect(f"/ws?token={TOKEN}") as ws:  # programs may put it in the URL
        ws.send_text("{}")
        assert json.loads(ws.receive_text())["type"] == "error"


def test_token_does_not_bypass_host_or_origin_checks(guarded: TestClient) -> None:
    bearer = {"authorization": f"Bearer {TOKEN}"}
    assert_error(guarded.get("/api/health", headers={**bearer, "host": "evil.example"}), 403, "Forbidden")
    r = guarded.post(
        "/api/playback", json={"command": "stop"}, headers={**bearer, "origin": "http://evil.example"}
    )
    assert_error(r, 403, "Forbidden")


# ---------------------------------------------------------------------------- OSC senders


def test_osc_hears_loopback_and_allowed_senders_only() -> None:
    allowed = sender_filter(("192.168.1.0/24", "10.0.0.7"))
    assert allowed("127.0.0.1") and allowed("::1") and allowed("::ffff:127.0.0.1")
    assert allowed("192.168.1.77") and allowed("10.0.0.7")
    assert not allowed("10.0.0.8") and not allowed("192.168.2.1") and not allowed("garbage")
    assert not sender_filter(())("192.168.1.77")  # wider binding alone admits no one else
    with pytest.raises(InvalidRequest, match="not an address or a network"):
        sender_filter(("not-an-address",))
    seen: list[Any] = []
    control = OscControl(seen.append, "127.0.0.1", 0, ("10.0.0.0/8",)).start()
    try:
        from pythonosc.osc_message_builder import OscMessageBuilder

        server = control._server
        assert server is not None
        dgram = OscMessageBuilder("/latentwalk/stop").build().dgram
        assert server.verify_request((dgram, None), ("10.1.2.3", 5000))
        assert not server.verify_request((dgram, None), ("172.16.0.1", 5000))
        assert control.refused == 1
    finally:
        control.close()


# ---------------------------------------------------------------------------- names from users

ESCAPING_NAMES = [
    "..",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "C:\\Windows\\System32",
    "a\x00b",
    "x" * 5000,
    "x" * 150,
    ".hidden",
    "名前/../../x",
]
# Legal but awkward: accepted and stored inside the library (Windows device names get a hashed folder).
AWKWARD_NAMES = ["nul", "CON", "\u202egnp.exe", "100% sure", "名前 ünïcode ☃", "x" * 80]
BAD_NAMES = ESCAPING_NAMES + AWKWARD_NAMES


def files_outside(root: Path, inside: Path) -> set[Path]:
    return {p for p in root.rglob("*") if inside not in p.parents and p != inside and "cache" not in p.parts}


def _path_routes(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, ops in schema["paths"].items()
        if "{" in path
        for method in ops
        if method in ("get", "put", "post", "delete")
    ]


def test_names_in_paths_never_escape_the_data_folder(worker: InferenceWorker, tmp_path: Path) -> None:
    """Every route with a name in its path (from the app's own OpenAPI, so new routes are covered),
    with every hostile name: a 4xx in the one error shape, and nothing outside the data folder touched."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    with make_client(worker, tmp_path) as c:
        routes = _path_routes(c.get("/openapi.json").json())
        assert len(routes) >= 8
        bodies = {"rename": {"new_name": "../../outside/moved"}, "duplicate": {"new_name": "../outside/dup"}}
        tried = 0
        for method, template in routes:
            for name in [*BAD_NAMES, str(victim), f"../../outside/{victim.name}"]:
                segment = quote(name, safe="")
                if set(segment) == {"."}:  # a bare dot segment: the client would resolve it away
                    segment = segment.replace(".", "%2E")
                url = re.sub(r"\{[^}]+\}", segment, template)
                body = next((b for k, b in bodies.items() if template.endswith(k)), {})
                r = c.request(method.upper(), url, json=body if method in ("put", "post") else None)
                tried += 1
                assert 400 <= r.status_code < 500, (method, url, r.text)
                assert set(r.json()) == {"error"} and r.json()["error"]["message"], (method, url, r.text)
        assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"] and victim.read_text() == "keep me"
        assert tried >= 8 * len(BAD_NAMES)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_in_bodies_are_refused(worker: InferenceWorker, tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside"
    tiny = ModelRef(name="tiny", path=write_tiny_dcgan(tmp_path / "models" / "tiny.pt"))  # 16 px: fast
    before = files_outside(tmp_path, tmp_path / "data")
    with make_client(worker, tmp_path, tiny) as c:
        settings = {"keyframes": [{"seed": 1}, {"seed": 2}], "steps": [4]}
        z = c.get("/api/z?seeds=1,2").json()["z"]
        checks = [
            c.post("/api/animations", json={"name": name, "settings": settings, "latents": z}),
            c.post("/api/bookmarks", json={"name": name, "z": z[0]}),
            c.post("/api/exports", json={"name": name, "settings": settings, "latents": z, "format": "gif"}),
            c.post("/api/model", json={"name": name}),
            c.post("/api/playback", json={"command": "play", "names": [name]}),
        ]
        for r in checks:
            if name in ESCAPING_NAMES or r.status_code >= 400:
                assert 400 <= r.status_code < 500, r.text
                assert set(r.json()) == {"error"} and r.json()["error"]["message"]
        listed = [a["name"] for a in c.get("/api/animations").json()["animations"]]
        assert listed == ([] if name in ESCAPING_NAMES else [name])
        if listed:  # an awkward name reads back under its own name
            assert c.get(f"/api/animations/{quote(name, safe='')}").json()["name"] == name
    assert not outside.exists()
    assert files_outside(tmp_path, tmp_path / "data") == before


def test_model_loading_from_the_web_takes_names_never_paths(worker: InferenceWorker, tmp_path: Path) -> None:
    elsewhere = write_tiny_dcgan(tmp_path / "elsewhere" / "tiny.pt")
    inside = write_tiny_dcgan(tmp_path / "models" / "tiny.pt")
    with make_client(worker, tmp_path) as c:
        for spec in (str(elsewhere), str(inside), "models/tiny.pt", "../elsewhere/tiny", "tiny.pt", "~/tiny"):
            assert_error(c.post("/api/model", json={"name": spec}), 404, "ModelNotFound")
        assert c.post("/api/model", json={"name": "tiny"}).json()["name"] == "tiny"  # a listed name works
        assert c.post("/api/model", json={"name": "procedural"}).status_code == 200  # and the zoo


# ---------------------------------------------------------------------------- the real server


def test_serve_beyond_loopback_prints_a_token_and_requires_it(tmp_path: Path) -> None:
    """`latentwalk serve --host 0.0.0.0`: the printed address carries a generated token, and requests
    without it are refused while the printed address works (as does LATENTWALK_TOKEN)."""
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from browser_support import free_port, subprocess_env

    port = free_port()
    cmd = [sys.executable, "-m", "latentwalk", "--cache-dir", str(tmp_path / "cache"), "--data-dir",
           str(tmp_path / "data"), "serve", "--dummy", "--host", "0.0.0.0", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path, env=subprocess_env(tmp_path)
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        assert proc.stdout is not None
        deadline, line = time.monotonic() + 120, ""
        while "open http" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            assert line or proc.poll() is None, "the server exited"
        token = re.search(r"\?token=([A-Za-z0-9_-]+)", line)
        assert token, line
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the banner is printed just before uvicorn listens
            try:
                opener.open(f"{base}/api/health", timeout=2)
            except urllib.error.HTTPError as exc:
                with exc:
                    assert exc.code == 401 and json.loads(exc.read())["error"]["type"] == "Unauthorized"
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer")
        with opener.open(f"{base}/?token={token.group(1)}", timeout=10) as r:
            assert r.status == 200 and "HttpOnly" in r.headers["set-cookie"]
        req = urllib.request.Request(
            f"{base}/api/models", headers={"Authorization": f"Bearer {token.group(1)}"}
        )
        with opener.open(req, timeout=10) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()
