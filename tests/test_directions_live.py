"""Directions moved live: OSC `/latentwalk/direction NAME AMOUNT`, the JSON command, the player."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentwalk.directions.live import live_moves
from latentwalk.directions.offsets import with_directions
from latentwalk.directions.store import DirectionStore
from latentwalk.directions.vectors import Direction, unit
from latentwalk.errors import InvalidRequest, NameNotFound
from latentwalk.playback import commands as c
from latentwalk.playback.osc import command_for
from latentwalk.render.worker import ModelInfo, RenderRequest
from playback_support import FAKE, drive, fake_player


def test_osc_and_json_direction_commands() -> None:
    assert command_for("/latentwalk/direction", ("bright", 1.5)) == c.Direction("bright", 1.5)
    assert command_for("/latentwalk/direction", ("bright", 0)) == c.Direction("bright", 0.0)
    assert c.parse_command({"command": "direction", "name": "bright", "amount": -2}) == c.Direction(
        "bright", -2.0
    )
    for args in (("bright",), (3, 1.0), ("bright", "much"), ("bright", 11.0), ("", 1.0)):
        with pytest.raises(InvalidRequest):
            command_for("/latentwalk/direction", args)


def test_with_directions_moves_z_ws_and_w_offsets() -> None:
    info = ModelInfo("m", "x", 8, 3, z_dim=4, c_dim=0, w_dim=3, num_ws=5, num_params=0)
    dz = Direction("a", "pca", "z", unit(np.array([1.0, 0, 0, 0])), std=2.0)
    dw = Direction("b", "pca", "w", unit(np.array([0, 1.0, 0])), std=0.5, layers=(1, 3))
    ref = FAKE
    req = RenderRequest(ref, z=np.zeros((2, 4), np.float32))
    moved = with_directions(req, info, [(dz, 1.5), (dw, 2.0)])
    assert np.allclose(moved.z[:, 0], 3.0) and moved.w_offset is not None  # type: ignore[index]
    assert np.allclose(moved.w_offset[:, 1:3, 1], 1.0) and not moved.w_offset[:, [0, 3, 4]].any()
    ws_req = RenderRequest(ref, ws=np.ones((1, 5, 3), np.float32))
    moved_ws = with_directions(ws_req, info, [(dw, -2.0)])
    assert (
        moved_ws.ws is not None and np.allclose(moved_ws.ws[0, 1:3, 1], 0.0) and moved_ws.ws[0, 0, 1] == 1.0
    )


def test_player_moves_frames_along_a_saved_direction(tmp_path: Path) -> None:
    player, clock, worker, _ = fake_player(tmp_path)
    store = DirectionStore(tmp_path / "directions")
    player.directions.store = store
    t0 = clock.t
    player.apply(c.Seed(5))
    drive(player, clock, worker, t0 + 0.2)
    plain = worker.requests[-1]
    info = player.program.items[-1].plan.info  # type: ignore[union-attr]
    axis = unit(np.arange(1.0, info.z_dim + 1))
    store.put(info, [Direction("up", "feature", "z", axis, std=0.5)])
    future = player.apply(c.Direction("nope", 1.0))
    drive(player, clock, worker, t0 + 0.3)
    with pytest.raises(NameNotFound, match="unknown direction"):
        future.result(0)
    player.apply(c.Direction("up", 2.0))
    drive(player, clock, worker, t0 + 0.5)
    moved = worker.requests[-1]
    assert plain.z is not None and moved.z is not None
    np.testing.assert_allclose(moved.z[0] - plain.z[0], 2.0 * 0.5 * axis, atol=1e-5)
    assert player.status()["directions"] == {"up": 2.0}
    player.apply(c.Direction("up", 0.0))
    drive(player, clock, worker, t0 + 0.7)
    np.testing.assert_allclose(worker.requests[-1].z, plain.z)  # type: ignore[arg-type]


def test_json_direction_lock_command() -> None:
    assert c.parse_command({"command": "direction-lock", "name": "male", "on": True}) == c.DirectionLock(
        "male", True
    )
    assert c.parse_command({"command": "direction-lock", "name": "male"}) == c.DirectionLock("male", None)
    for bad in ({"command": "direction-lock"}, {"command": "direction-lock", "name": "m", "on": 1}):
        with pytest.raises(InvalidRequest):
            c.parse_command(bad)


def test_live_moves_follow_the_explorers_locks() -> None:
    a = Direction("a", "feature", "z", unit(np.array([1.0, 0, 0])), std=2.0)
    b = Direction("b", "feature", "z", unit(np.array([1.0, 1.0, 0])))
    same = Direction("same", "feature", "z", unit(np.array([-3.0, 0, 0])))
    known = {d.name: d for d in (a, b, same)}
    (raw,) = live_moves(known, {"b": 1.0}, [])
    np.testing.assert_allclose(raw[0].vector, b.vector)
    moves = dict((d.name, (d.vector, amount)) for d, amount in live_moves(known, {"a": 0.5, "b": 1.0}, ["a"]))
    np.testing.assert_allclose(moves["b"][0], [0.0, 1.0, 0.0], atol=1e-12)  # a's component removed
    np.testing.assert_allclose(moves["a"][0], a.vector)  # a locked direction moves along itself
    assert moves["a"][1] == 0.5
    assert live_moves(known, {"gone": 1.0, "b": 0.0}, ["gone"]) == []  # unknown names are left out
    with pytest.raises(InvalidRequest, match="'same'.*within the locked"):
        live_moves(known, {"same": 1.0}, ["a"])


def test_player_locks_and_refuses_without_losing_state(tmp_path: Path) -> None:
    player, clock, worker, _ = fake_player(tmp_path)
    store = DirectionStore(tmp_path / "directions")
    player.directions.store = store
    t0 = clock.t
    player.apply(c.Seed(5))
    drive(player, clock, worker, t0 + 0.2)
    plain = worker.requests[-1].z
    info = player.program.items[-1].plan.info  # type: ignore[union-attr]
    lock_axis = unit(np.eye(info.z_dim)[0])
    store.put(
        info,
        [
            Direction("lock", "feature", "z", lock_axis),
            Direction("move", "feature", "z", unit(np.eye(info.z_dim)[0] + np.eye(info.z_dim)[1])),
        ],
    )
    player.apply(c.DirectionLock("lock", True))
    player.apply(c.Direction("move", 2.0))
    drive(player, clock, worker, t0 + 0.4)
    moved = worker.requests[-1].z
    assert plain is not None and moved is not None
    np.testing.assert_allclose(moved[0] - plain[0], 2.0 * np.eye(info.z_dim)[1], atol=1e-5)
    assert player.status()["direction_locks"] == ["lock"]
    refused = player.apply(c.DirectionLock("nope", True))
    drive(player, clock, worker, t0 + 0.5)
    with pytest.raises(NameNotFound, match="unknown direction 'nope'"):
        refused.result(0)
    assert player.status()["direction_locks"] == ["lock"] and "nope" in str(player.status()["error"])
    player.apply(c.DirectionLock("lock"))  # toggles off: the raw move again
    drive(player, clock, worker, t0 + 0.7)
    unlocked = worker.requests[-1].z
    assert unlocked is not None and player.status()["direction_locks"] == []
    np.testing.assert_allclose(
        unlocked[0] - plain[0], 2.0 * unit(np.eye(info.z_dim)[0] + np.eye(info.z_dim)[1]), atol=1e-5
    )
