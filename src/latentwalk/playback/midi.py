"""MIDI control: knobs (CC) and pads (notes) bound to player commands, with a learn mode.

The bindings live in the data folder as JSON (`midi.json`). Learning: arm a control, and the next
CC or note that arrives is bound to it. The mapping works on plain `MidiMessage`s, so it is tested
with synthetic messages; a real device is read through `mido` with `python-rtmidi` (the optional
`midi` extra), converted at the edge.

Controls: continuous ones take a knob's value (0..127) into a range: `speed` (0.25..4, logarithmic:
the middle is 1), `fps` (1..60), `psi` (0..2), `latent` (arg: the component index; -3..3). Triggers
fire on a pad hit (note on) or on a knob crossing the middle upward: `play` (arg: names, comma
separated), `random`, `stop`, `pause`, `resume`, `toggle-pause`, `loop` and `shadows` (toggles),
`seed` (arg: the seed), `seek` (arg: the frame).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from latentwalk.errors import InvalidRequest, MissingExtra
from latentwalk.playback import commands as c

log = logging.getLogger(__name__)

MIDI_INSTALL = "pip install 'latentwalk[midi]'  (mido and python-rtmidi)"
Source = Literal["cc", "note"]
RANGES: dict[str, tuple[float, float, str]] = {  # continuous controls: default min, max, curve
    "speed": (0.25, 4.0, "log"),
    "fps": (1.0, 60.0, "linear"),
    "psi": (0.0, 2.0, "linear"),
    "latent": (-3.0, 3.0, "linear"),
}
TRIGGERS = ("play", "random", "stop", "pause", "resume", "toggle-pause", "loop", "shadows", "seed", "seek")
CONTROLS = tuple(RANGES) + TRIGGERS
NEEDS_ARG = ("play", "seed", "seek", "latent")


@dataclass(frozen=True)
class MidiMessage:
    """A control change or a note (note off is a note with value 0); channels 0..15."""

    kind: Source
    channel: int
    number: int  # controller or note number 0..127
    value: int  # controller value or velocity 0..127

    def __post_init__(self) -> None:
        if self.kind not in ("cc", "note"):
            raise InvalidRequest(f"a MIDI message is 'cc' or 'note', not {self.kind!r}")
        for what, v, top in (
            ("channel", self.channel, 15),
            ("number", self.number, 127),
            ("value", self.value, 127),
        ):
            if not 0 <= v <= top:
                raise InvalidRequest(f"MIDI {what} must be in 0..{top}, not {v}")

    @classmethod
    def from_mido(cls, msg: Any) -> MidiMessage | None:
        """A mido message as ours (None for kinds the mapping does not use: clock, sysex...)."""
        if msg.type == "control_change":
            return cls("cc", msg.channel, msg.control, msg.value)
        if msg.type == "note_on":
            return cls("note", msg.channel, msg.note, msg.velocity)
        if msg.type == "note_off":
            return cls("note", msg.channel, msg.note, 0)
        return None


@dataclass(frozen=True)
class Binding:
    """One knob or pad bound to one control."""

    source: Source
    channel: int
    number: int
    control: str
    arg: str | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.source not in ("cc", "note"):
            raise InvalidRequest(f"a binding's source is 'cc' or 'note', not {self.source!r}")
        if self.control not in CONTROLS:
            raise InvalidRequest(f"unknown control {self.control!r}; controls: {', '.join(CONTROLS)}")
        if self.control in NEEDS_ARG and not self.arg:
            raise InvalidRequest(f"the control {self.control!r} needs an arg ({_arg_help(self.control)})")
        if self.control in ("seed", "seek", "latent"):
            try:
                int(self.arg or "")
            except ValueError:
                raise InvalidRequest(
                    f"{self.control}: arg must be a whole number, not {self.arg!r}"
                ) from None

    def matches(self, msg: MidiMessage) -> bool:
        return (self.source, self.channel, self.number) == (msg.kind, msg.channel, msg.number)

    def scaled(self, value: int) -> float:
        low, high, curve = RANGES[self.control]
        low = low if self.min is None else self.min
        high = high if self.max is None else self.max
        f = value / 127.0
        if value in (0, 127):
            return low if value == 0 else high  # exact ends, whatever the curve
        if curve == "log" and low > 0 and high > 0:
            return low * math.exp(f * math.log(high / low))
        return low + f * (high - low)


def _arg_help(control: str) -> str:
    return {
        "play": "animation names, comma separated",
        "seed": "the seed",
        "seek": "the frame",
        "latent": "the latent index",
    }[control]


class MidiMapping:
    """Bindings, learn mode and the translation of messages into commands; saved in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.bindings: list[Binding] = []
        self.armed: Binding | None = None  # the control waiting for its knob or pad (learn mode)
        self._above: dict[tuple[int, int], bool] = {}  # CC above the middle, for triggers on a rise
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            self.bindings = [Binding(**b) for b in data.get("bindings", [])]
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, InvalidRequest) as exc:
            log.warning(
                "ignoring the MIDI mapping %s (%s): it will be replaced on the next change", self.path, exc
            )
            self.bindings = []

    def save(self) -> None:
        body = json.dumps({"version": 1, "bindings": [asdict(b) for b in self.bindings]}, indent=2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        temp.write_text(body + "\n")
        os.replace(temp, self.path)

    # ------------------------------------------------------------ learn mode and editing

    def arm(
        self, control: str, arg: str | None = None, min: float | None = None, max: float | None = None
    ) -> None:
        """Learn: bind `control` to the next knob or pad that sends anything."""
        binding = Binding("cc", 0, 0, control, arg, min, max)  # validates; source filled in on learning
        with self._lock:
            self.armed = binding

    def disarm(self) -> None:
        with self._lock:
            self.armed = None

    def bind(self, binding: Binding) -> None:
        """Add a binding; one knob or pad drives one control, and one control is driven by one of them."""
        with self._lock:
            self.bindings = [
                b
                for b in self.bindings
                if (b.source, b.channel, b.number) != (binding.source, binding.channel, binding.number)
                and (b.control, b.arg) != (binding.control, binding.arg)
            ]
            self.bindings.append(binding)
            self.save()

    def unbind(self, index: int) -> Binding:
        with self._lock:
            if not 0 <= index < len(self.bindings):
                raise InvalidRequest(f"there is no MIDI binding {index} (there are {len(self.bindings)})")
            gone = self.bindings.pop(index)
            self.save()
            return gone

    # ------------------------------------------------------------ messages

    def handle(self, msg: MidiMessage) -> tuple[list[c.Command], Binding | None]:
        """The commands a message asks for, and the binding it made when a control was armed."""
        with self._lock:
            armed = self.armed
            if armed is not None and (msg.kind == "cc" or msg.value > 0):
                self.armed = None
        if armed is not None and (msg.kind == "cc" or msg.value > 0):
            learned = Binding(
                msg.kind, msg.channel, msg.number, armed.control, armed.arg, armed.min, armed.max
            )
            self.bind(learned)
            log.info(
                "MIDI learn: %s %d on channel %d -> %s",
                msg.kind,
                msg.number,
                msg.channel + 1,
                learned.control,
            )
            return [], learned
        fired = False
        if msg.kind == "cc":
            key = (msg.channel, msg.number)
            above = msg.value >= 64
            fired = above and not self._above.get(key, False)
            self._above[key] = above
        else:
            fired = msg.value > 0
        out: list[c.Command] = []
        for b in list(self.bindings):
            if not b.matches(msg):
                continue
            try:
                cmd = self._command(b, msg, fired)
            except InvalidRequest as exc:
                log.warning("MIDI %s %d: %s", msg.kind, msg.number, exc)
                continue
            if cmd is not None:
                out.append(cmd)
        return out, None

    def _command(self, b: Binding, msg: MidiMessage, fired: bool) -> c.Command | None:
        if b.control in RANGES:
            if msg.kind == "note" and msg.value == 0:
                return None  # a pad let go leaves the value where it was
            value = b.scaled(msg.value)
            if b.control == "speed":
                return c.Speed(value)
            if b.control == "fps":
                return c.Fps(round(value))
            if b.control == "psi":
                return c.Psi(value)
            return c.Latent(int(b.arg or 0), value)
        if not fired:
            return None
        match b.control:
            case "play":
                return c.Play(tuple(n.strip() for n in (b.arg or "").split(",") if n.strip()))
            case "seed":
                return c.Seed(int(b.arg or 0))
            case "seek":
                return c.Seek(int(b.arg or 0))
            case "loop":
                return c.Loop(None)
            case "shadows":
                return c.Shadows(None)
            case "random":
                return c.RandomWalk()
        simple: dict[str, Callable[[], c.Command]] = {
            "stop": c.Stop,
            "pause": c.Pause,
            "resume": c.Resume,
            "toggle-pause": c.TogglePause,
        }
        return simple[b.control]()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "bindings": [asdict(b) for b in self.bindings],
                "learning": None
                if self.armed is None
                else {"control": self.armed.control, "arg": self.armed.arg},
                "controls": {"continuous": list(RANGES), "triggers": list(TRIGGERS)},
            }


class MidiInput:
    """A MIDI input port read through mido (python-rtmidi); each message goes to `on_message`."""

    def __init__(self, on_message: Callable[[MidiMessage], None], port: str | None = None) -> None:
        try:
            import mido  # type: ignore[import-not-found]
        except ImportError:
            raise MissingExtra(f"MIDI input needs mido and python-rtmidi: {MIDI_INSTALL}") from None
        try:
            names = mido.get_input_names()
        except ImportError:
            raise MissingExtra(f"MIDI input needs python-rtmidi: {MIDI_INSTALL}") from None
        if not names:
            raise InvalidRequest("no MIDI input port found: connect a controller, or leave out --midi")
        if port is None or port == "":
            name = names[0]
        else:
            found = [n for n in names if port.lower() in n.lower()]
            if not found:
                raise InvalidRequest(f"no MIDI input port matches {port!r}; ports: {', '.join(names)}")
            name = found[0]

        def callback(raw: Any) -> None:
            msg = MidiMessage.from_mido(raw)
            if msg is not None:
                on_message(msg)

        self.name = name
        self._port = mido.open_input(name, callback=callback)
        log.info("reading MIDI from %s", name)

    def close(self) -> None:
        self._port.close()


def available_ports() -> tuple[list[str], str | None]:
    """MIDI input ports, and why there are none (a missing package) or None."""
    try:
        import mido
    except ImportError:
        return [], f"MIDI input needs mido and python-rtmidi: {MIDI_INSTALL}"
    try:
        return list(mido.get_input_names()), None
    except ImportError:
        return [], f"MIDI input needs python-rtmidi: {MIDI_INSTALL}"
    except Exception as exc:  # a backend error (no ALSA sequencer...)
        return [], f"MIDI ports cannot be listed: {exc}"
