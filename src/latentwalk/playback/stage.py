"""The live stage: the player with its outputs and its controls, built once and closed together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentwalk.animation.schema import ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.catalog import ModelRef, resolve
from latentwalk.directions.store import DirectionStore
from latentwalk.playback.midi import MidiInput, MidiMapping, MidiMessage
from latentwalk.playback.osc import OscAnnouncer, OscControl
from latentwalk.playback.outputs import FrameHub, NdiSender
from latentwalk.playback.player import Player, PlayerOptions
from latentwalk.render.worker import InferenceWorker

log = logging.getLogger(__name__)


def model_resolver(models_dirs: tuple[Path, ...]) -> Callable[[ModelIdentity], ModelRef]:
    """How a saved animation's model identity becomes something the worker loads (by name only)."""

    def resolve_identity(identity: ModelIdentity) -> ModelRef:
        spec = identity.name if identity.snapshot is None else f"{identity.name}@{identity.snapshot}"
        return resolve(spec, models_dirs, allow_paths=False)

    return resolve_identity


@dataclass
class Stage:
    """The player, the hub its HTTP outputs read, the MIDI mapping, and whatever else was switched on."""

    player: Player
    hub: FrameHub
    midi: MidiMapping
    osc: OscControl | None = None
    announcer: OscAnnouncer | None = None
    ndi: NdiSender | None = None
    midi_input: MidiInput | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_midi(self, msg: MidiMessage) -> dict[str, Any]:
        """Map one MIDI message (a device's or a synthetic one) and apply its commands."""
        commands, learned = self.midi.handle(msg)
        for command in commands:
            self.player.apply(command)
        return {
            "commands": [type(cmd).__name__ for cmd in commands],
            "learned": None if learned is None else learned.__dict__,
        }

    def listen_osc(self, host: str, port: int, allow: tuple[str, ...] = ()) -> OscControl:
        self.osc = OscControl(self.player.apply, host, port, allow).start()
        self._closers.append(self.osc.close)
        return self.osc

    def announce_osc(self, host: str, port: int) -> OscAnnouncer:
        self.announcer = OscAnnouncer(host, port)
        self.player.add_listener(self.announcer)
        self._closers.append(self.announcer.close)
        return self.announcer

    def send_ndi(self, name: str = "latentwalk") -> NdiSender:
        self.ndi = NdiSender(name, self.player.clock.fps)
        self.player.add_listener(self.ndi)
        self._closers.append(self.ndi.close)
        return self.ndi

    def read_midi(self, port: str | None) -> MidiInput:
        self.midi_input = MidiInput(self.on_midi, port)
        self._closers.append(self.midi_input.close)
        return self.midi_input

    @property
    def closed(self) -> bool:
        return self.player.closed

    def close(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                close()
        self._closers.clear()
        self.player.close()


def build_stage(
    worker: InferenceWorker,
    store: AnimationStore,
    models_dirs: tuple[Path, ...],
    data_dir: Path,
    default_model: Callable[[], ModelRef],
    options: PlayerOptions | None = None,
) -> Stage:
    """A stage with the HTTP outputs (hub) and MIDI mapping; OSC, NDI and a MIDI device are added by
    the caller. Nothing starts a thread until it is used."""
    player = Player(worker, store, model_resolver(models_dirs), default_model, options)
    player.directions.store = DirectionStore(Path(data_dir) / "directions")
    hub = FrameHub()
    player.add_listener(hub)
    return Stage(player=player, hub=hub, midi=MidiMapping(Path(data_dir) / "midi.json"))
