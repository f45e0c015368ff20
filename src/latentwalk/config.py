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
    frame_cache_mb: int = field(
        default=256,
        metadata={
            "help": "memory for encoded frames kept to answer repeated requests at once "
            "(env LATENTWALK_FRAME_CACHE_MB)"
        },
    )
    cuda_graphs: bool = field(
        default=False,
        metadata={
            "help": "on a GPU, compile StyleGAN2 with torch.compile + CUDA graphs: faster frames, "
            "tens of seconds to compile per batch size (env LATENTWALK_CUDA_GRAPHS=1)"
        },
    )
    preview_precision: str = field(
        default="fp32",
        metadata={
            "help": "explorer preview precision: fp32, or bf16 (faster on CPUs with bf16 instructions, "
            "a few grey levels off; export stays fp32) (env LATENTWALK_PREVIEW_PRECISION)"
        },
    )
    token: str | None = field(
        default=None,
        metadata={
            "help": "access token the server asks for (env LATENTWALK_TOKEN); one is generated when "
            "the server binds beyond loopback without one"
        },
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "extra host names the server answers to, besides its address and localhost "
            "(env LATENTWALK_ALLOWED_HOSTS, comma-separated)"
        },
    )
    osc_allow: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "senders (addresses or networks) OSC input accepts when bound beyond loopback "
            "(env LATENTWALK_OSC_ALLOW, comma-separated); loopback only when empty"
        },
    )
    perceptual_weights: Path | None = field(
        default=None,
        metadata={
            "help": "a local VGG-16 state dict that adds a perceptual loss to projection; never "
            "downloaded (env LATENTWALK_PERCEPTUAL_WEIGHTS)"
        },
    )
    trusted_files: tuple[Path, ...] = field(
        default=(),
        metadata={
            "help": "TorchScript translator files you trust to run as code (env LATENTWALK_TRUSTED_FILES, "
            "a path list)"
        },
    )
    cluster: str = field(
        default="",
        metadata={
            "help": "render the explorer's exports on a Ray cluster: auto or ray://HOST:PORT; empty renders "
            "locally (env LATENTWALK_CLUSTER; needs the cluster extra)"
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
        ("preview_precision", str),
        ("cluster", str),
    ):
        value = env.get(f"LATENTWALK_{name.upper()}")
        if value:
            over[name] = conv(value)
    if env.get("LATENTWALK_CUDA_GRAPHS"):
        over["cuda_graphs"] = env["LATENTWALK_CUDA_GRAPHS"].lower() in ("1", "true", "yes")
    if env.get("LATENTWALK_TOKEN"):
        over["token"] = env["LATENTWALK_TOKEN"]
    for name in ("allowed_hosts", "osc_allow"):
        value = env.get(f"LATENTWALK_{name.upper()}")
        if value:
            over[name] = tuple(v.strip() for v in value.split(",") if v.strip())
    if env.get("LATENTWALK_PERCEPTUAL_WEIGHTS"):
        over["perceptual_weights"] = Path(env["LATENTWALK_PERCEPTUAL_WEIGHTS"])
    if env.get("LATENTWALK_FRAME_CACHE_MB"):
        over["frame_cache_mb"] = int(env["LATENTWALK_FRAME_CACHE_MB"])
    if env.get("LATENTWALK_PORT"):
        over["port"] = int(env["LATENTWALK_PORT"])
    return s.with_overrides(**over)


def documented_settings() -> list[tuple[str, str]]:
    """(name, help) of every setting, for the README and its test."""
    return [(f.name, f.metadata.get("help", "")) for f in fields(Settings)]
