"""OSC over UDP: messages under /latentwalk/ (and Marrow's show-controller messages) become player
commands, and presented frames are announced to a target so an overlay can follow frame by frame.

Incoming (default 127.0.0.1:9000):

    /latentwalk/play NAME [NAME...]   play saved animations in order
    /latentwalk/stop | pause | resume | toggle-pause
    /latentwalk/seek FRAME            frame of the animation playing now
    /latentwalk/speed FACTOR          /latentwalk/fps N
    /latentwalk/loop 0|1              /latentwalk/shadows 0|1   (no argument: toggle)
    /latentwalk/psi VALUE             /latentwalk/seed N         /latentwalk/latent I VALUE
    /latentwalk/random [STEPS]        /latentwalk/late drop|hold
    /latentwalk/direction NAME AMOUNT move along a saved direction (std units; 0: back)
    /latentwalk/direction/lock NAME [0|1]  lock it: moved directions keep its score (none: toggle)
    /start-sequence A[,B...] [C...]   Marrow: play these animations once, in order, then hold
    /random                           Marrow: an endless walk to random seeds, 288 frames a leg

Outgoing (to --osc-target): /latentwalk/frame INDEX TOTAL on every presented frame,
/latentwalk/started NAME TOTAL when an animation begins, /latentwalk/ended NAME when it is over.

Unknown addresses and arguments of the wrong type or range are logged and ignored.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from latentwalk.errors import InvalidRequest
from latentwalk.playback import commands as c
from latentwalk.playback.frame import PresentedFrame
from latentwalk.playback.player import PlaybackListener

log = logging.getLogger(__name__)

PREFIX = "/latentwalk/"
DEFAULT_PORT = 9000


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{what} must be a whole number, not {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidRequest(f"{what} must be a whole number, not {value!r}")
    return int(value)


def _float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{what} must be a number, not {value!r}")
    return float(value)


def _flag(args: tuple[Any, ...], what: str) -> bool | None:
    """0|1 (int, float or OSC true/false); no argument toggles."""
    if not args:
        return None
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise InvalidRequest(f"{what} takes 0 or 1, not {value!r}")


def _arity(args: tuple[Any, ...], low: int, high: int, usage: str) -> None:
    if not low <= len(args) <= high:
        raise InvalidRequest(f"usage: {usage}")


def _names(args: tuple[Any, ...], split_commas: bool) -> tuple[str, ...]:
    names: list[str] = []
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, str | int | float):
            raise InvalidRequest(f"animation names must be strings, not {arg!r}")
        text = str(int(arg)) if isinstance(arg, float) and arg.is_integer() else str(arg)
        parts = text.split(",") if split_commas else [text]
        names.extend(p.strip() for p in parts if p.strip())
    return tuple(names)


def command_for(address: str, args: tuple[Any, ...]) -> c.Command:
    """The command an OSC message asks for.

    Raises:
        KeyError: an address latentwalk does not know.
        InvalidRequest: arguments of the wrong number, type or range.
    """
    if address == "/start-sequence":  # Marrow: one string "a,b,c" (or several arguments), played once
        names = _names(args, split_commas=True)
        if not names:
            raise InvalidRequest("usage: /start-sequence NAME[,NAME...]")
        return c.Play(names, loop=False)
    if address == "/random":
        return c.RandomWalk()
    if not address.startswith(PREFIX):
        raise KeyError(address)
    verb = address[len(PREFIX) :]
    usage = f"{address} " + {
        "seek": "FRAME",
        "speed": "FACTOR",
        "fps": "N",
        "psi": "VALUE",
        "seed": "N",
        "latent": "INDEX VALUE",
        "direction": "NAME AMOUNT",
        "direction/lock": "NAME [0|1]",
        "late": "drop|hold",
        "random": "[STEPS]",
    }.get(verb, "")
    match verb:
        case "play":
            names = _names(args, split_commas=False)
            if not names:
                raise InvalidRequest(f"usage: {address} NAME [NAME...]")
            return c.Play(names)
        case "stop" | "pause" | "resume" | "toggle-pause":
            return {"stop": c.Stop, "pause": c.Pause, "resume": c.Resume, "toggle-pause": c.TogglePause}[
                verb
            ]()
        case "seek":
            _arity(args, 1, 1, usage)
            return c.Seek(_int(args[0], "the frame"))
        case "speed":
            _arity(args, 1, 1, usage)
            return c.Speed(_float(args[0], "the speed"))
        case "fps":
            _arity(args, 1, 1, usage)
            return c.Fps(_float(args[0], "fps"))
        case "loop":
            _arity(args, 0, 1, f"{address} [0|1]")
            return c.Loop(_flag(args, "loop"))
        case "shadows":
            _arity(args, 0, 1, f"{address} [0|1]")
            return c.Shadows(_flag(args, "shadows"))
        case "psi":
            _arity(args, 1, 1, usage)
            return c.Psi(_float(args[0], "psi"))
        case "seed":
            _arity(args, 1, 1, usage)
            return c.Seed(_int(args[0], "the seed"))
        case "latent":
            _arity(args, 2, 2, usage)
            return c.Latent(_int(args[0], "the latent index"), _float(args[1], "the latent value"))
        case "direction":
            _arity(args, 2, 2, usage)
            if not isinstance(args[0], str):
                raise InvalidRequest(f"usage: {usage}")
            return c.Direction(args[0], _float(args[1], "the amount"))
        case "direction/lock":
            _arity(args, 1, 2, usage)
            if not isinstance(args[0], str):
                raise InvalidRequest(f"usage: {usage}")
            return c.DirectionLock(args[0], _flag(args[1:], "direction/lock"))
        case "random":
            _arity(args, 0, 1, usage)
            return c.RandomWalk(_int(args[0], "steps")) if args else c.RandomWalk()
        case "late":
            _arity(args, 1, 1, usage)
            if args[0] not in ("drop", "hold"):
                raise InvalidRequest(f"usage: {usage}")
            return c.Late(args[0])
    raise KeyError(address)


def sender_filter(allow: tuple[str, ...] | list[str]) -> Callable[[str], bool]:
    """A test of sender addresses: loopback always, plus the addresses and networks in `allow`.

    Raises:
        InvalidRequest: an entry is neither an address nor a network (e.g. 192.168.1.0/24).
    """
    nets = []
    for entry in allow:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise InvalidRequest(
                f"OSC allow entry {entry!r} is not an address or a network such as 192.168.1.0/24"
            ) from None

    def allowed(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback):
            return True
        return any(ip in net for net in nets)

    return allowed


class _FilteredServer(BlockingOSCUDPServer):
    """The OSC UDP server, answering only senders its filter allows (others are counted and dropped)."""

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, control: OscControl) -> None:
        super().__init__(address, dispatcher)
        self.control = control

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not self.control.sender_allowed(str(client_address[0])):
            self.control.refused_sender(str(client_address[0]))
            return False
        return bool(super().verify_request(request, client_address))


class OscControl:
    """An OSC server on UDP that turns messages into player commands (on its own thread).

    Only loopback senders are heard unless `allow` names more (addresses or networks): binding to a
    wider address alone does not let the whole network drive the show."""

    def __init__(
        self,
        apply: Callable[[c.Command], Any],
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allow: tuple[str, ...] = (),
    ) -> None:
        self.apply = apply
        self.host = host
        self.port = port
        self.allow = tuple(allow)
        self.sender_allowed = sender_filter(self.allow)
        self.received = 0
        self.ignored = 0
        self.refused = 0
        self._warned: set[str] = set()
        self._server: BlockingOSCUDPServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, address: str, *args: Any) -> c.Command | None:
        """Apply the command of one message; anything wrong is logged and ignored."""
        self.received += 1
        try:
            command = command_for(address, args)
        except KeyError:
            self._ignore(
                f"unknown:{address}", f"ignoring OSC {address}: unknown address (see docs: {PREFIX}...)"
            )
            return None
        except InvalidRequest as exc:
            self._ignore(f"bad:{address}:{exc}", f"ignoring OSC {address} {list(args)!r}: {exc}")
            return None
        self.apply(command)
        return command

    def refused_sender(self, address: str) -> None:
        self.refused += 1
        self._ignore(
            f"sender:{address}",
            f"ignoring OSC from {address}: not an allowed sender "
            "(add it with --osc-allow or LATENTWALK_OSC_ALLOW)",
        )

    def _ignore(self, key: str, message: str) -> None:
        self.ignored += 1
        if key in self._warned:
            log.debug(message)
        else:
            self._warned.add(key)
            log.warning(message)

    def start(self) -> OscControl:
        """Bind the UDP port and serve on a thread.

        Raises:
            InvalidRequest: the port cannot be bound (in use, or not allowed).
        """
        dispatcher = Dispatcher()
        # A handler's return value would be sent back as a reply: answer nothing.
        dispatcher.set_default_handler(lambda address, *args: None if self.handle(address, *args) else None)
        try:
            self._server = _FilteredServer((self.host, self.port), dispatcher, self)
        except OSError as exc:
            raise InvalidRequest(
                f"cannot listen for OSC on {self.host}:{self.port} ({exc.strerror}): "
                "choose another --osc-port"
            ) from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.2,), name="latentwalk-osc", daemon=True
        )
        self._thread.start()
        log.info("listening for OSC on udp://%s:%d", self.host, self.port)
        if not self.allow and self.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "OSC listens on %s but hears only this machine until --osc-allow names senders", self.host
            )
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None


def parse_target(text: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidRequest(f"an OSC target is HOST:PORT, e.g. 127.0.0.1:9001, not {text!r}")
    return host, int(port)


class OscAnnouncer(PlaybackListener):
    """Tells an OSC target about every presented frame, and when animations begin and end."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._client = SimpleUDPClient(host, port)
        self._failed = False
        self.sent = 0

    def _send(self, address: str, args: list[Any]) -> None:
        try:
            self._client.send_message(address, args)
            self.sent += 1
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("cannot send OSC to %s:%d: %s", *self.target, exc)

    def presented(self, frame: PresentedFrame) -> None:
        self._send(PREFIX + "frame", [frame.index, frame.total])

    def started(self, name: str, total: int) -> None:
        self._send(PREFIX + "started", [name, total])

    def ended(self, name: str) -> None:
        self._send(PREFIX + "ended", [name])

    def close(self) -> None:
        self._client.close()
