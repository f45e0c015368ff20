"""The explorer page as files: self-contained (no external URLs), its ES modules all wired, and the
WebSocket message names it uses in step with the server's (src/latentwalk/server/ws.py)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from latentwalk.server import ws

STATIC = Path(str(resources.files("latentwalk.server") / "static"))
MODULES = sorted((STATIC / "js").glob("*.js"))
IMPORT = re.compile(r"""^import\s[^;]*?from\s+"(\.{1,2}/[^"]+)";""", re.M)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _pages() -> list[Path]:
    return sorted(STATIC.glob("*.html"))


def _entry_points() -> list[Path]:
    """The modules the HTML pages load (index.html loads app.js; other pages may load their own)."""
    found = []
    for page in _pages():
        for src in re.findall(r'<script[^>]*\bsrc="/static/([^"]+)"', _text(page)):
            found.append((STATIC / src).resolve())
    return found


def test_the_pages_need_nothing_from_outside() -> None:
    files = [*_pages(), *STATIC.glob("*.css"), *STATIC.glob("*.js"), *MODULES]
    for path in files:
        text = _text(path)
        found = re.findall(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"')]""", text, re.I)
        assert not found, f"{path.name} refers to another site: {found}"
        assert "@import" not in text, f"{path.name} imports a stylesheet"


def test_every_module_is_loaded_and_every_import_exists() -> None:
    entries = _entry_points()
    assert (STATIC / "app.js").resolve() in entries, "index.html does not load app.js"
    loaded: set[Path] = set(entries)
    todo = list(entries)
    while todo:
        path = todo.pop()
        assert path.is_file(), f"{path} is loaded but does not exist"
        for target in IMPORT.findall(_text(path)):
            resolved = (path.parent / target).resolve()
            assert resolved.is_file(), f"{path.name} imports {target}, which does not exist"
            if resolved not in loaded:
                loaded.add(resolved)
                todo.append(resolved)
    unused = [m.name for m in MODULES if m.resolve() not in loaded]
    assert not unused, f"modules no page loads: {unused}"


def test_socket_messages_match_the_server() -> None:
    schema = ws.ClientMessage.json_schema()
    defs = [d for d in schema["$defs"].values() if "type" in d.get("properties", {})]
    client_types = {d["properties"]["type"]["const"] for d in defs}
    page = "\n".join(_text(m) for m in (STATIC / "js").glob("*.js") if m.name != "output.js")
    writer = _text(STATIC / "js" / "render.js")  # everything the page sends on /ws goes through it
    sent = set(re.findall(r'\btype:\s*"(\w+)"', writer))
    assert sent, "the page sends no typed messages?"
    assert sent <= client_types, f"the page sends {sent - client_types}, which the server does not know"
    server_types = set(re.findall(r"""["']type["']:\s*["'](\w+)["']""", Path(ws.__file__).read_text()))
    assert {"started", "progress", "done", "cancelled", "error", "latent"} <= server_types
    unheard = {t for t in server_types if f'"{t}"' not in page}
    assert not unheard, f"the server sends {unheard}, which the page never reads"
    assert ws.FRAME_MAGIC.decode() == "LWF1" and ws.FRAME_HEADER.size == 16
    assert "0x4c, 0x57, 0x46, 0x31" in _text(STATIC / "js" / "socket.js")  # "LWF1"
