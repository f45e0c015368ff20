"""Settings: one frozen dataclass, built in the CLI from defaults < LATENTWALK_* env < flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP = "latentwalk"


def _default_models_dirs() -> tuple[Path, ...]:
    return (Path("models"), Path(platformdirs.user_data_dir(APP)) / "models")


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default and help text (the `help` metadata is documented in the README)."""

    models_dirs: tuple[Path, ...] = field(
        default_factory=_default_models_dirs,
        metadata={"help": "folders searched for model files (env LATENTWALK_MODELS, a path list)"},
    )
    cache_dir: Path = field(
        default_factory=lambda: Path(platformdirs.user_cache_dir(APP)),
        metadata={"help": "where built-in model weights are downloaded (env LATENTWALK_CACHE_DIR)"},
    )
    data_dir: Path = field(
        default_factory=lambda: Path(platformdirs.user_data_dir(APP)),
        metadata={"help": "where animations and directions are kept (env LATENTWALK_DATA_DIR)"},
    )
    device: str = field(
        default="auto", metadata={"help": "cpu, cuda, cuda:N or auto (env LATENTWALK_DEVICE)"}
    )
    host: str = field(
        default="127.0.0.1", metadata={"help": "address the server binds to (env LATENTWALK_HOST)"}
    )
    port: int = field(default=8080, metadata={"help": "port of the server (env LATENTWALK_PORT)"})
    model: str = field(
        default="dcgan-faces", metadata={"help": "model the server starts with (env LATENTWALK_MODEL)"}
    )
    max_batch: int = field(default=16, metadata={"help": "largest batch the engine runs at once"})
    model_cache_size: int = field(default=2, metadata={"help": "loaded models kept in memory"})
    trusted_files: tuple[Path, ...] = field(
        default=(),
        metadata={
            "help": "TorchScript translator files you trust to run as code (env LATENTWALK_TRUSTED_FILES, "
            "a path list)"
        },
    )

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Defaults overridden by LATENTWALK_* environment variables."""
    env = os.environ if environ is None else environ
    s = Settings()
    over: dict[str, Any] = {}
    if env.get("LATENTWALK_MODELS"):
        extra = tuple(Path(p) for p in env["LATENTWALK_MODELS"].split(os.pathsep) if p)
        over["models_dirs"] = extra + s.models_dirs
    if env.get("LATENTWALK_TRUSTED_FILES"):
        over["trusted_files"] = tuple(Path(p) for p in env["LATENTWALK_TRUSTED_FILES"].split(os.pathsep) if p)
    for name, conv in (
        ("cache_dir", Path),
        ("data_dir", Path),
        ("device", str),
        ("host", str),
        ("model", str),
    ):
        value = env.get(f"LATENTWALK_{name.upper()}")
        if value:
            over[name] = conv(value)
    if env.get("LATENTWALK_PORT"):
        over["port"] = int(env["LATENTWALK_PORT"])
    return s.with_overrides(**over)


def documented_settings() -> list[tuple[str, str]]:
    """(name, help) of every setting, for the README and its test."""
    return [(f.name, f.metadata.get("help", "")) for f in fields(Settings)]
