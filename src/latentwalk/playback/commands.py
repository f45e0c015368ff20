"""The player's commands: one small union that OSC, MIDI, HTTP and the CLI all turn their input into.

Each command is a frozen dataclass that checks its own values (raising `InvalidRequest` with a
message that says what is allowed), so every control path refuses the same bad input the same way.
`Player.apply(command)` is the only way to change what plays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from latentwalk.errors import InvalidRequest

MAX_SPEED = 16.0
MAX_FPS = 240.0
MAX_SEED = 2**32 - 1
MAX_LATENT = 10.0
MAX_DIRECTION = 10.0  # standard deviations
RANDOM_STEPS = 288  # Marrow's /random: 288 frames per leg (12 s at 24 fps)
LatePolicy = Literal["drop", "hold"]


def _finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise InvalidRequest(f"{what} must be a finite number, not {value}")
    return value


@dataclass(frozen=True)
class Play:
    """Play saved animations in order (a chain); `loop` None keeps the current loop setting."""

    names: tuple[str, ...]
    loop: bool | None = None

    def __post_init__(self) -> None:
        if not self.names or not all(isinstance(n, str) and n.strip() for n in self.names):
            raise InvalidRequest("play needs at least one animation name")


@dataclass(frozen=True)
class RandomWalk:
    """An endless walk from the current picture to random seeds, `steps` frames per leg (Marrow's /random)."""

    steps: int = RANDOM_STEPS

    def __post_init__(self) -> None:
        if not 2 <= self.steps <= 10_000:
            raise InvalidRequest(f"a random walk needs 2..10000 steps per leg, not {self.steps}")


@dataclass(frozen=True)
class Stop:
    """Stop playing; the outputs keep the last picture."""


@dataclass(frozen=True)
class Pause:
    """Freeze on the current frame (the clock stops with it)."""


@dataclass(frozen=True)
class Resume:
    """Go on from the frame where playback was paused."""


@dataclass(frozen=True)
class TogglePause:
    """Pause when playing, resume when paused (for a single pad or key)."""


@dataclass(frozen=True)
class Seek:
    """Jump to a frame of the animation playing now (clamped to its frames)."""

    frame: int

    def __post_init__(self) -> None:
        if self.frame < 0:
            raise InvalidRequest(f"seek needs a frame index >= 0, not {self.frame}")


@dataclass(frozen=True)
class Speed:
    """Animation frames per presented frame: 0.5 shows each frame twice, 2 skips every other one."""

    factor: float

    def __post_init__(self) -> None:
        f = _finite(self.factor, "speed")
        if not 0 < f <= MAX_SPEED:
            raise InvalidRequest(f"speed must be in (0, {MAX_SPEED:g}], not {f:g}")


@dataclass(frozen=True)
class Fps:
    """Frames presented per second."""

    fps: float

    def __post_init__(self) -> None:
        f = _finite(self.fps, "fps")
        if not 1 <= f <= MAX_FPS:
            raise InvalidRequest(f"fps must be in 1..{MAX_FPS:g}, not {f:g}")


@dataclass(frozen=True)
class Loop:
    """Loop the chain (True), play it once (False), or toggle (None)."""

    on: bool | None = None


@dataclass(frozen=True)
class Shadows:
    """Show frames as shadow silhouettes (True), as they are (False), or toggle (None)."""

    on: bool | None = None


@dataclass(frozen=True)
class Psi:
    """Truncation psi for every frame, overriding the animations' own."""

    value: float

    def __post_init__(self) -> None:
        v = _finite(self.value, "psi")
        if not 0 <= v <= 2:
            raise InvalidRequest(f"psi must be in 0..2, not {v:g}")


@dataclass(frozen=True)
class Seed:
    """Show the picture of one seed (held, so that `latent` knobs can steer it)."""

    seed: int

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise InvalidRequest(f"seed must be in 0..{MAX_SEED}, not {self.seed}")


@dataclass(frozen=True)
class Latent:
    """Add `value` to latent component `index` of every frame (0 takes the offset away again)."""

    index: int
    value: float

    def __post_init__(self) -> None:
        if self.index < 0:
            raise InvalidRequest(f"latent index must be >= 0, not {self.index}")
        v = _finite(self.value, "latent value")
        if abs(v) > MAX_LATENT:
            raise InvalidRequest(f"latent value must be in -{MAX_LATENT:g}..{MAX_LATENT:g}, not {v:g}")


@dataclass(frozen=True)
class Direction:
    """Move every frame `amount` standard deviations along the model's saved direction `name`
    (0 takes it away again). Directions are found with `latentwalk directions` or the explorer."""

    name: str
    amount: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidRequest("direction needs the name of a saved direction")
        v = _finite(self.amount, "direction amount")
        if abs(v) > MAX_DIRECTION:
            raise InvalidRequest(
                f"direction amount must be in -{MAX_DIRECTION:g}..{MAX_DIRECTION:g}, not {v:g}"
            )


@dataclass(frozen=True)
class DirectionLock:
    """Lock the saved direction `name` (True), unlock it (False) or toggle (None). Every moved
    direction then moves made orthogonal to the locked ones, so a locked attribute stays put."""

    name: str
    on: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidRequest("direction lock needs the name of a saved direction")


@dataclass(frozen=True)
class Late:
    """What to do when a frame is not ready at its time: 'drop' it or 'hold' the newest ready frame."""

    policy: LatePolicy

    def __post_init__(self) -> None:
        if self.policy not in ("drop", "hold"):
            raise InvalidRequest(f"late policy must be 'drop' or 'hold', not {self.policy!r}")


Command = (
    Play
    | RandomWalk
    | Stop
    | Pause
    | Resume
    | TogglePause
    | Seek
    | Speed
    | Fps
    | Loop
    | Shadows
    | Psi
    | Seed
    | Latent
    | Direction
    | DirectionLock
    | Late
)

# HTTP and JSON: {"command": NAME, ...fields}.
_BY_NAME: dict[str, type[Any]] = {
    "play": Play,
    "random": RandomWalk,
    "stop": Stop,
    "pause": Pause,
    "resume": Resume,
    "toggle-pause": TogglePause,
    "seek": Seek,
    "speed": Speed,
    "fps": Fps,
    "loop": Loop,
    "shadows": Shadows,
    "psi": Psi,
    "seed": Seed,
    "latent": Latent,
    "direction": Direction,
    "direction-lock": DirectionLock,
    "late": Late,
}
COMMAND_NAMES = tuple(_BY_NAME)


def _as(value: Any, kind: type, field: str, command: str) -> Any:
    """A JSON value of the field's type (ints accepted for floats; bools never taken for numbers)."""
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is bool and isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise InvalidRequest(f"{command}: {field} must be {kind.__name__}, not {value!r}")


def parse_command(data: Mapping[str, Any]) -> Command:
    """A command from its JSON form, e.g. {"command": "play", "names": ["walk"], "loop": true}.

    Raises:
        InvalidRequest: unknown command, unknown or missing fields, values of the wrong type or range.
    """
    name = data.get("command")
    if name not in _BY_NAME:
        raise InvalidRequest(f"unknown command {name!r}; commands: {', '.join(COMMAND_NAMES)}")
    cls = _BY_NAME[name]
    fields = cls.__dataclass_fields__
    extra = set(data) - set(fields) - {"command"}
    if extra:
        raise InvalidRequest(f"{name}: unknown field(s) {', '.join(sorted(extra))}")
    kwargs: dict[str, Any] = {}
    for field, spec in fields.items():
        if field not in data:
            if spec.default is spec.default_factory:  # both MISSING: a required field
                raise InvalidRequest(f"{name}: {field} is missing")
            continue
        value = data[field]
        annotation = str(spec.type)
        if field == "names":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise InvalidRequest(f"{name}: names must be a list of animation names")
            kwargs[field] = tuple(names)
        elif value is None and "None" in annotation:
            kwargs[field] = None
        elif annotation.startswith("bool"):
            kwargs[field] = _as(value, bool, field, name)
        elif annotation.startswith("int"):
            kwargs[field] = _as(value, int, field, name)
        elif annotation.startswith("float"):
            kwargs[field] = _as(value, float, field, name)
        else:
            kwargs[field] = _as(value, str, field, name)
    return cls(**kwargs)  # type: ignore[no-any-return]
