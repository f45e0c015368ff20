"""OSC end to end on loopback: real UDP packets drive a running player (its own thread, the real
worker, a tiny generator), and the frames it presents arrive in order at an OSC receiver."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from latentwalk.animation.schema import Animation, ModelIdentity
from latentwalk.animation.store import AnimationStore
from latentwalk.backends.base import LoadedModel
from latentwalk.catalog import ModelRef
from latentwalk.directions.store import DirectionStore
from latentwalk.directions.vectors import Direction, unit
from latentwalk.errors import InvalidRequest
from latentwalk.latents import seeds_to_z
from latentwalk.models.procedural import ProceduralGenerator
from latentwalk.playback import commands as c
from latentwalk.playback.osc import OscControl, command_for, parse_target
from latentwalk.playback.player import Player, PlayerOptions
from latentwalk.playback.stage import Stage, build_stage
from latentwalk.render.worker import InferenceWorker

TINY = ModelRef(name="tiny", zoo="tiny")
Z = 16


def register_tiny(worker: InferenceWorker) -> None:
    g = ProceduralGenerator(z_dim=Z, resolution=8, hidden=4, depth=2)
    worker.register(TINY, LoadedModel(g, {"family": "procedural", "sha256": "tiny-v1"}))


def save(store: AnimationStore, name: str, steps: int, seeds: tuple[int, int]) -> None:
    anim = Animation(
        name=name,
        model=ModelIdentity(name="tiny", sha256="tiny-v1"),
        keyframes=[{"seed": s} for s in seeds],
        steps=[steps],
    )
    store.save(anim, seeds_to_z(list(seeds), Z).astype(np.float32))


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out waiting")


class Receiver:
    """A python-osc server on a free loopback port, keeping what it hears."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[Any]]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args: self.messages.append((address, list(args))))
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def of(self, address: str) -> list[list[Any]]:
        return [args for a, args in list(self.messages) if a == address]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(worker: InferenceWorker, tmp_path: Path) -> Iterator[tuple[Stage, SimpleUDPClient, Receiver]]:
    register_tiny(worker)
    store = AnimationStore(tmp_path / "animations")
    save(store, "walk", 240, (1, 2))
    save(store, "a", 6, (3, 4))
    save(store, "b", 6, (5, 6))
    stage = build_stage(worker, store, (), tmp_path, lambda: TINY, PlayerOptions(fps=24, walk_seed=1))
    stage.player.resolve = lambda identity: TINY
    receiver = Receiver()
    stage.announce_osc("127.0.0.1", receiver.port)
    osc = stage.listen_osc("127.0.0.1", 0)
    client = SimpleUDPClient("127.0.0.1", osc.port)
    try:
        yield stage, client, receiver
    finally:
        client.close()
        stage.close()
        receiver.close()


def _status(player: Player) -> dict[str, Any]:
    return player.status()


def test_osc_messages_drive_the_player_and_frames_are_announced_in_order(
    live: tuple[Stage, SimpleUDPClient, Receiver],
) -> None:
    stage, client, rx = live
    player = stage.player
    client.send_message("/latentwalk/play", ["walk"])
    wait_for(lambda: len(rx.of("/latentwalk/frame")) >= 12)
    st = _status(player)
    assert st["state"] == "playing" and st["names"] == ["walk"]
    assert rx.of("/latentwalk/started") == [["walk", 240]]
    client.send_message("/latentwalk/speed", 2.0)
    client.send_message("/latentwalk/shadows", 1)
    client.send_message("/latentwalk/psi", 0.5)  # OSC floats are float32: 0.5 is exact
    client.send_message("/latentwalk/late", "hold")
    wait_for(lambda: _status(player)["psi"] == 0.5)
    st = _status(player)
    assert st["speed"] == 2.0 and st["shadows"] is True and st["late_policy"] == "hold"
    client.send_message("/latentwalk/pause", [])
    wait_for(lambda: _status(player)["state"] == "paused")
    client.send_message("/latentwalk/seek", 100)
    wait_for(lambda: _status(player)["index"] == 100)
    client.send_message("/latentwalk/fps", 12)
    client.send_message("/latentwalk/loop", 0)
    client.send_message("/latentwalk/resume", [])
    wait_for(lambda: _status(player)["state"] == "playing" and _status(player)["fps"] == 12.0)
    assert _status(player)["loop"] is False
    frames = rx.of("/latentwalk/frame")
    assert all(total == 240 for _, total in frames)
    indices = [i for i, _ in frames]
    assert indices[0] <= 1 and sorted(indices[: indices.index(100)]) == indices[: indices.index(100)]
    after = indices[indices.index(100) :]
    assert after == sorted(after)  # in order after the seek too
    client.send_message("/latentwalk/stop", [])
    wait_for(lambda: _status(player)["state"] == "stopped")


def test_marrow_start_sequence_plays_once_in_order_and_announces_the_ends(
    live: tuple[Stage, SimpleUDPClient, Receiver],
) -> None:
    stage, client, rx = live
    client.send_message("/start-sequence", "a,b")  # what Marrow's show controller sent: one string
    wait_for(lambda: _status(stage.player)["state"] == "ended")
    assert rx.of("/latentwalk/started") == [["a", 6], ["b", 6]]
    wait_for(lambda: rx.of("/latentwalk/ended") == [["a"], ["b"]])
    assert _status(stage.player)["loop"] is False
    client.send_message("/random", [])
    wait_for(lambda: str(_status(stage.player)["name"]).startswith("random walk"))
    assert _status(stage.player)["state"] == "playing"


def test_unknown_addresses_and_wrong_types_are_ignored(
    live: tuple[Stage, SimpleUDPClient, Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    stage, client, rx = live
    client.send_message("/latentwalk/play", ["walk"])
    wait_for(lambda: _status(stage.player)["state"] == "playing")
    with caplog.at_level(logging.WARNING, logger="latentwalk.playback.osc"):
        for address, args in (
            ("/latentwalk/dance", [1]),
            ("/elsewhere", []),
            ("/latentwalk/speed", ["fast"]),
            ("/latentwalk/speed", [-3.0]),
            ("/latentwalk/seek", [2.5]),
            ("/latentwalk/latent", [1]),
            ("/latentwalk/loop", ["yes"]),
            ("/latentwalk/play", []),
            ("/latentwalk/dance", [2]),  # the same problem again: logged at debug level only
        ):
            client.send_message(address, args)
        client.send_message("/latentwalk/fps", 30)  # still listening after all that
        wait_for(lambda: _status(stage.player)["fps"] == 30.0)
    assert stage.osc is not None and stage.osc.ignored == 9
    warnings = [r.getMessage() for r in caplog.records if r.name == "latentwalk.playback.osc"]
    assert len(warnings) == 8 and sum("dance" in w for w in warnings) == 1
    assert _status(stage.player)["speed"] == 1.0 and _status(stage.player)["state"] == "playing"


def test_command_for_maps_every_address() -> None:
    assert command_for("/latentwalk/play", ("x", "y")) == c.Play(("x", "y"))
    assert command_for("/start-sequence", ("bubble4.3,bubble4.4", "b5")) == c.Play(
        ("bubble4.3", "bubble4.4", "b5"), loop=False
    )
    assert command_for("/random", ()) == c.RandomWalk()
    assert command_for("/latentwalk/seek", (12.0,)) == c.Seek(12)  # TouchDesigner sends floats
    assert command_for("/latentwalk/loop", ()) == c.Loop(None)
    assert command_for("/latentwalk/shadows", (True,)) == c.Shadows(True)
    assert command_for("/latentwalk/latent", (3, 0.5)) == c.Latent(3, 0.5)
    assert command_for("/latentwalk/seed", (7,)) == c.Seed(7)
    assert command_for("/latentwalk/random", (100,)) == c.RandomWalk(100)
    assert command_for("/latentwalk/direction/lock", ("male", 1)) == c.DirectionLock("male", True)
    assert command_for("/latentwalk/direction/lock", ("male", 0.0)) == c.DirectionLock("male", False)
    assert command_for("/latentwalk/direction/lock", ("male",)) == c.DirectionLock("male", None)
    for args in ((), (1, 1), ("male", 2), ("male", "yes"), ("", 1), ("male", 1, 1)):
        with pytest.raises(InvalidRequest):
            command_for("/latentwalk/direction/lock", args)
    with pytest.raises(KeyError):
        command_for("/latentwalk/nope", ())
    with pytest.raises(InvalidRequest, match="usage"):
        command_for("/latentwalk/speed", ())
    assert parse_target("127.0.0.1:9001") == ("127.0.0.1", 9001)
    with pytest.raises(InvalidRequest):
        parse_target("9001")


def test_a_port_in_use_is_a_clear_error() -> None:
    rx = Receiver()
    try:
        with pytest.raises(InvalidRequest, match="another --osc-port"):
            OscControl(lambda cmd: None, "127.0.0.1", rx.port).start()
    finally:
        rx.close()


def test_osc_direction_locks_keep_the_locked_score(
    live: tuple[Stage, SimpleUDPClient, Receiver], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`/latentwalk/direction/lock`: a direction with a component along a locked axis moves the
    rendered latent with that component removed; unlocking restores the raw move; unknown names are
    refused in the status and the log while the show goes on."""
    stage, client, _ = live
    player = stage.player
    info = player.worker.info(TINY)
    rng = np.random.default_rng(0)
    attr = unit(rng.standard_normal(Z))  # the locked attribute
    other = rng.standard_normal(Z)
    other = unit(other - (other @ attr) * attr)
    mix = unit(attr + 2.0 * other)  # a direction that also moves the attribute
    DirectionStore(tmp_path / "directions").put(
        info,
        [
            Direction("attr", "feature", "z", attr, std=0.5),
            Direction("mix", "feature", "z", mix, std=0.8),
            Direction("same", "feature", "z", attr, std=1.0),
        ],
    )
    sent: list[tuple[int, np.ndarray]] = []  # (generation, z) of every request to the worker
    submit = player.worker.submit

    def recording(req: Any) -> Any:
        sent.append((player.generation, np.array(req.z, dtype=np.float64)))
        return submit(req)

    player.worker.submit = recording  # type: ignore[method-assign]

    def rendered() -> np.ndarray:
        """The latent rendered for the player's present generation (a held seed: one frame)."""
        gen = _status(player)["generation"]
        zs = wait_for(lambda: [z for g, z in list(sent) if g == gen])
        return zs[-1][0]  # type: ignore[no-any-return]

    client.send_message("/latentwalk/seed", 5)
    wait_for(lambda: _status(player)["name"] == "seed 5")
    plain = rendered()

    client.send_message("/latentwalk/direction/lock", ["attr", 1])
    wait_for(lambda: _status(player)["direction_locks"] == ["attr"])
    client.send_message("/latentwalk/direction", ["mix", 2.0])
    wait_for(lambda: _status(player)["directions"] == {"mix": 2.0})
    locked = rendered()
    step = locked - plain
    assert abs(step @ attr) < 1e-6  # the locked score stays put
    assert np.allclose(step, 2.0 * 0.8 * other, atol=1e-5)  # the rest of `mix`, at its full amount
    assert abs(step @ mix) > 0.5

    # A locked direction with an amount still applies (along itself), as in the explorer.
    client.send_message("/latentwalk/direction", ["attr", 1.0])
    wait_for(lambda: _status(player)["directions"] == {"attr": 1.0, "mix": 2.0})
    both = rendered()
    np.testing.assert_allclose(both - locked, 1.0 * 0.5 * attr, atol=1e-5)

    # A direction within the locked ones cannot move: refused, nothing changes.
    client.send_message("/latentwalk/direction", ["same", 1.0])
    wait_for(lambda: "lies within the locked directions" in str(_status(player)["error"]))
    assert _status(player)["directions"] == {"attr": 1.0, "mix": 2.0}

    # Unlocking restores the raw move.
    client.send_message("/latentwalk/direction", ["attr", 0])
    client.send_message("/latentwalk/direction/lock", ["attr", 0])
    wait_for(
        lambda: _status(player)["direction_locks"] == [] and _status(player)["directions"] == {"mix": 2.0}
    )
    raw = rendered()
    np.testing.assert_allclose(raw - plain, 2.0 * 0.8 * mix, atol=1e-5)
    assert abs((raw - plain) @ attr - 1.6 * (mix @ attr)) < 1e-5

    # An unknown name: a clear error in the status and the log; the player keeps playing.
    presented = _status(player)["counters"]["presented"]
    with caplog.at_level(logging.WARNING, logger="latentwalk.playback.player"):
        client.send_message("/latentwalk/direction/lock", ["nope", 1])
        wait_for(lambda: "unknown direction 'nope'" in str(_status(player)["error"]))
    assert any("unknown direction 'nope'" in r.getMessage() for r in caplog.records)
    st = _status(player)
    assert st["state"] == "playing" and st["direction_locks"] == [] and st["directions"] == {"mix": 2.0}
    wait_for(lambda: _status(player)["counters"]["presented"] > presented + 3)
    client.send_message("/latentwalk/direction/lock", ["attr"])  # no flag: toggles
    wait_for(lambda: _status(player)["direction_locks"] == ["attr"])
    assert _status(player)["error"] is None
