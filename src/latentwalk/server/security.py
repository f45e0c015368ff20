"""Who may talk to the server: the access token, the Host check against DNS rebinding, the Origin check.

One ASGI middleware (`AccessGuard`) sees every HTTP request and every WebSocket handshake before
any route does:

- Host: the `Host` header must be an IP literal (a rebinding attack needs a domain name of the
  attacker's), `localhost`, the bound address, or a name configured in `allowed_hosts`.
  Otherwise 403, so a page on evil.example whose name was re-pointed at 127.0.0.1 reads nothing.
- Origin: a browser request that changes something (POST, PUT, PATCH, DELETE) or opens a
  WebSocket must come from the server's own origin (Origin's host:port equals Host). Requests
  without an Origin are not from a web page and pass.
- Token: bound to anything but loopback, the server needs a token (LATENTWALK_TOKEN, `--token`,
  or one generated with `secrets` and printed at start, like Jupyter). A request carries it as
  `Authorization: Bearer TOKEN`, as the cookie set on the first visit, or as `?token=TOKEN`;
  a request with a good `?token=` gets the cookie (HttpOnly, SameSite=Strict), so the pages keep it.

Refusals use the API's one error shape; a refused WebSocket is closed with 1008 before it is accepted.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from latentwalk.config import Settings
from latentwalk.errors import InvalidRequest

COOKIE = "latentwalk_token"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
MIN_TOKEN = 12

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_token(token: str) -> str:
    """A configured token: long enough to guess in no reasonable time, and safe in a cookie and a URL."""
    if len(token) < MIN_TOKEN or not set(token) <= TOKEN_CHARS:
        raise InvalidRequest(
            f"the access token must be at least {MIN_TOKEN} characters of A-Z a-z 0-9 - . _ ~ + / = "
            "(leave it unset and one is generated)"
        )
    return token


def new_token() -> str:
    """A fresh random access token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Access:
    """The rules the guard applies: the token (None: none needed) and the host names accepted."""

    token: str | None
    hosts: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        """The token from the settings, or a new one when the server binds beyond loopback.

        Raises:
            InvalidRequest: the configured token is too short or has characters a cookie cannot carry.
        """
        if settings.token is not None:
            check_token(settings.token)
        token = settings.token or (None if is_loopback(settings.host) else new_token())
        hosts = {*LOCAL_NAMES, settings.host.strip("[]").lower()}
        hosts.update(h.strip().strip("[]").lower() for h in settings.allowed_hosts if h.strip())
        return cls(token=token, hosts=frozenset(hosts))

    def host_allowed(self, host_header: str | None) -> bool:
        """True when the Host header names this server: an IP literal or an allowed name."""
        if not host_header:
            return False
        name = _host_name(host_header)
        if name is None:
            return False
        if name in self.hosts:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def token_ok(self, candidate: str | None) -> bool:
        if self.token is None:
            return True
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token.encode())


def _host_name(host_header: str) -> str | None:
    """The host part of a Host header, lower case, without brackets or port (None if malformed)."""
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        name = parts.hostname
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return None
    return name.lower() if name else None


def same_origin(origin: str | None, host: str | None) -> bool:
    """True when a browser's Origin names the server itself (no Origin: not a browser page)."""
    if origin is None:
        return True
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return host is not None and netloc == host.lower()


class AccessGuard:
    """ASGI middleware applying `Access` to every HTTP request and WebSocket handshake."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, error_type, message = refusal
            await _refuse(kind, status, error_type, message, receive, send)
            return
        query_token = _query_token(scope)
        if self.access.token is not None and query_token is not None and kind == "http":
            await self.app(scope, receive, _with_cookie(send, self.access.token, scope))
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = headers.get("host")
        if not self.access.host_allowed(host):
            return (
                403,
                "Forbidden",
                f"the Host {host!r} is not this server's; open it by its address (127.0.0.1, localhost) "
                "or add the name to allowed_hosts (LATENTWALK_ALLOWED_HOSTS)",
            )
        changes = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        if changes and not same_origin(headers.get("origin"), host):
            return 403, "Forbidden", "cross-origin requests are refused"
        if self.access.token is not None and not self._carries_token(scope, headers):
            return (
                401,
                "Unauthorized",
                "this server needs its access token: open the address printed when it started "
                "(.../?token=...), or send 'Authorization: Bearer TOKEN'",
            )
        return None

    def _carries_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and self.access.token_ok(auth[7:].strip()):
            return True
        cookie = _cookie(headers.get("cookie"))
        if cookie is not None and self.access.token_ok(cookie):
            return True
        query = _query_token(scope)
        return query is not None and self.access.token_ok(query)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = key.decode("latin-1").lower()
        if name not in out:  # the first of repeated headers counts, as in Starlette
            out[name] = value.decode("latin-1")
    return out


def _query_token(scope: Scope) -> str | None:
    raw = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key == "token":
            return value
    return None


def _cookie(header: str | None) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no token  # noqa: BLE001
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _with_cookie(send: Send, token: str, scope: Scope) -> Send:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}".encode("latin-1")

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
        await send(message)

    return wrapped


async def _refuse(
    kind: str, status: int, error_type: str, message: str, receive: Receive, send: Send
) -> None:
    if kind == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"error": {"type": error_type, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
