"""PyTorch state-dict files (`.pt`, `.pth`, `.tar` zip checkpoints) of the built-in architectures.

Read with `torch.load(weights_only=True)`: tensors and plain containers only, no code. The
architecture is recognised from the key names and shapes.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from typing import Any

import torch

from latentwalk.backends.base import LoadedModel
from latentwalk.errors import CorruptModelFile, UnsafeModelFile, UnsupportedFormat
from latentwalk.models.dcgan import DCGANGenerator


def looks_like_torch_zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def load_state_dict_file(data: bytes, name: str) -> LoadedModel:
    """Load a DCGAN generator from a torch zip checkpoint (a state dict, or a dict holding one)."""
    check_zip_sizes(data, name)
    try:
        obj: Any = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeModelFile(
            f"{name} holds objects other than tensors, which latentwalk does not load ({exc}). "
            "Nothing was run."
        ) from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, ValueError, KeyError) as exc:
        raise CorruptModelFile(f"{name} is not a readable PyTorch checkpoint ({exc})") from None
    state = _find_state_dict(obj)
    if state is None:
        raise UnsupportedFormat(f"{name}: no generator state dict found in this PyTorch checkpoint")
    if "main.0.weight" in state and state["main.0.weight"].ndim == 4:
        return _load_dcgan(state, name)
    raise UnsupportedFormat(
        f"{name}: unknown architecture (state dict keys start with {list(state)[:3]}); "
        "latentwalk loads DCGAN state dicts and NVIDIA StyleGAN pickles"
    )


MAX_DCGAN_LAYERS = 11  # 4096 pixels
MAX_UNPACKED = 16 << 30  # bytes a checkpoint may unpack to
BOMB_RATIO = 100  # torch stores its entries uncompressed; a big entry squeezed 100:1 is a zip bomb
BOMB_MIN = 64 << 20


def check_zip_sizes(data: bytes, name: str) -> None:
    """Refuse a zip whose entries would unpack to far more than the file holds (a zip bomb), before
    anything is decompressed. The sizes checked are the ones the readers allocate by.

    Raises:
        CorruptModelFile: not a readable zip, or its entries claim absurd unpacked sizes.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise CorruptModelFile(f"{name} is not a readable PyTorch checkpoint ({exc})") from None
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED:
        raise CorruptModelFile(
            f"{name}: its entries would unpack to {total / 2**30:.0f} GiB "
            f"(at most {MAX_UNPACKED >> 30} GiB); "
            "refusing what looks like a zip bomb"
        )
    for i in infos:
        if i.file_size > BOMB_MIN and i.file_size > BOMB_RATIO * max(1, i.compress_size):
            raise CorruptModelFile(
                f"{name}: entry {i.filename} would unpack {i.compress_size} bytes into {i.file_size}; "
                "refusing what looks like a zip bomb (PyTorch stores its tensors uncompressed)"
            )


def _find_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in ("netG_state_dict", "g_ema", "generator", "state_dict", "G"):
            if key in obj:
                found = _find_state_dict(obj[key])
                if found is not None:
                    return found
    return None


def _load_dcgan(state: dict[str, torch.Tensor], name: str) -> LoadedModel:
    first = state["main.0.weight"]  # [z_dim, C0, 4, 4] (ConvTranspose2d: in, out, k, k)
    try:
        convs = sorted(
            (int(k.split(".")[1]), v) for k, v in state.items() if k.endswith(".weight") and v.ndim == 4
        )
    except (ValueError, IndexError):
        raise CorruptModelFile(
            f"{name}: DCGAN tensor names are not main.N.weight ({list(state)[:6]})"
        ) from None
    z_dim, last = int(first.shape[0]), convs[-1][1]
    img_channels = int(last.shape[1])
    base = int(last.shape[0])
    if len(convs) > MAX_DCGAN_LAYERS:
        raise CorruptModelFile(
            f"{name}: {len(convs)} transposed convolutions would make {4 * 2 ** (len(convs) - 1)}-pixel "
            f"images; at most {MAX_DCGAN_LAYERS} layers are loaded"
        )
    resolution = 4 * 2 ** (len(convs) - 1)
    model = DCGANGenerator(z_dim=z_dim, base_channels=base, img_channels=img_channels, resolution=resolution)
    expected = model.state_dict()
    for key, ref in expected.items():
        if key not in state or tuple(state[key].shape) != tuple(ref.shape):
            got = tuple(state[key].shape) if key in state else "missing"
            raise CorruptModelFile(f"{name}: DCGAN tensor {key} is {got}, expected {tuple(ref.shape)}")
        if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
            raise CorruptModelFile(f"{name}: tensor {key} holds NaN or infinite values")
    model.load_state_dict({k: state[k] for k in expected})
    model.eval().requires_grad_(False)
    info = {
        "format": "PyTorch state dict (weights only)",
        "family": "dcgan",
        "class": "DCGAN Generator",
        "channels": [int(v.shape[1]) for _, v in convs],
    }
    return LoadedModel(generator=model, info=info)
