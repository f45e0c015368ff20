"""Directions moved live: OSC `/latentwalk/direction NAME AMOUNT`, the JSON command, the player."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
    player.directions = store
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
