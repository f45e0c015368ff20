"""MIDI mapping with synthetic messages: knobs to ranges, pads to triggers, learn mode, the file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from latentwalk.errors import InvalidRequest
from latentwalk.playback import commands as c
from latentwalk.playback.midi import Binding, MidiMapping, MidiMessage


def cc(number: int, value: int, channel: int = 0) -> MidiMessage:
    return MidiMessage("cc", channel, number, value)


def note(number: int, velocity: int = 100, channel: int = 9) -> MidiMessage:
    return MidiMessage("note", channel, number, velocity)


def test_knobs_map_their_range(tmp_path: Path) -> None:
    m = MidiMapping(tmp_path / "midi.json")
    m.bind(Binding("cc", 0, 21, "speed"))
    m.bind(Binding("cc", 0, 22, "psi", min=0.5, max=1.0))
    m.bind(Binding("cc", 0, 23, "latent", arg="7"))
    m.bind(Binding("cc", 0, 24, "fps"))
    assert m.handle(cc(21, 0))[0] == [c.Speed(0.25)]
    assert m.handle(cc(21, 127))[0] == [c.Speed(4.0)]
    (mid,) = m.handle(cc(21, 64))[0]
    assert isinstance(mid, c.Speed) and abs(mid.factor - 1.0) < 0.05  # logarithmic: 1 in the middle
    assert m.handle(cc(22, 127))[0] == [c.Psi(1.0)]
    assert m.handle(cc(23, 0))[0] == [c.Latent(7, -3.0)]
    assert m.handle(cc(24, 127))[0] == [c.Fps(60)]
    assert m.handle(cc(21, 64, channel=1))[0] == []  # another channel: not bound
    assert m.handle(cc(99, 64))[0] == []


def test_pads_and_knobs_trigger_once(tmp_path: Path) -> None:
    m = MidiMapping(tmp_path / "midi.json")
    m.bind(Binding("note", 9, 36, "play", arg="intro, outro"))
    m.bind(Binding("note", 9, 37, "toggle-pause"))
    m.bind(Binding("cc", 0, 64, "shadows"))
    m.bind(Binding("note", 9, 38, "seed", arg="42"))
    assert m.handle(note(36))[0] == [c.Play(("intro", "outro"))]
    assert m.handle(note(36, 0))[0] == []  # the pad let go
    assert m.handle(note(37))[0] == [c.TogglePause()]
    assert m.handle(note(38))[0] == [c.Seed(42)]
    # A knob as a trigger fires when it crosses the middle upward, once.
    fired = [m.handle(cc(64, v))[0] for v in (0, 40, 70, 100, 127, 30, 90)]
    assert fired == [[], [], [c.Shadows(None)], [], [], [], [c.Shadows(None)]]


def test_learn_binds_the_next_knob_and_replaces_older_bindings(tmp_path: Path) -> None:
    path = tmp_path / "data" / "midi.json"
    m = MidiMapping(path)
    m.arm("psi")
    assert m.as_dict()["learning"] == {"control": "psi", "arg": None}
    commands, learned = m.handle(cc(1, 33, channel=2))
    assert commands == [] and learned == Binding("cc", 2, 1, "psi")
    assert m.armed is None
    assert m.handle(cc(1, 127, channel=2))[0] == [c.Psi(2.0)]
    # Learning a pad: a note off does not count, the next hit does.
    m.arm("play", arg="walk")
    assert m.handle(note(40, 0)) == ([], None)
    assert m.handle(note(40))[1] == Binding("note", 9, 40, "play", arg="walk")
    # The same knob learned for another control moves to it; psi is then unbound.
    m.arm("speed")
    m.handle(cc(1, 10, channel=2))
    assert [b.control for b in m.bindings] == ["play", "speed"]
    # Saved in the file and read back by a new mapping.
    saved = json.loads(path.read_text())
    assert saved["version"] == 1 and len(saved["bindings"]) == 2
    again = MidiMapping(path)
    assert again.bindings == m.bindings
    assert again.unbind(0).control == "play" and len(MidiMapping(path).bindings) == 1


def test_bad_bindings_and_a_damaged_file(tmp_path: Path) -> None:
    for kwargs, message in (
        ({"control": "fly"}, "unknown control"),
        ({"control": "play"}, "needs an arg"),
        ({"control": "seed", "arg": "many"}, "whole number"),
    ):
        with pytest.raises(InvalidRequest, match=message):
            Binding("cc", 0, 1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        MidiMessage("cc", 16, 1, 1)
    path = tmp_path / "midi.json"
    path.write_text("{not json")
    m = MidiMapping(path)  # logged and ignored, never a crash
    assert m.bindings == []
    with pytest.raises(InvalidRequest, match="no MIDI binding 3"):
        m.unbind(3)


def test_mido_messages_convert() -> None:
    assert MidiMessage.from_mido(SimpleNamespace(type="control_change", channel=1, control=7, value=3)) == cc(
        7, 3, 1
    )
    assert MidiMessage.from_mido(SimpleNamespace(type="note_on", channel=9, note=36, velocity=80)) == note(
        36, 80
    )
    assert MidiMessage.from_mido(SimpleNamespace(type="note_off", channel=9, note=36, velocity=64)) == note(
        36, 0
    )
    assert MidiMessage.from_mido(SimpleNamespace(type="clock")) is None
