"""Model files -> generators: sniff the format, pick the backend, load safely.

| format                                   | recognised by                  | backend                    |
|------------------------------------------|--------------------------------|----------------------------|
| NVIDIA PyTorch pickle (StyleGAN2)        | pickle PROTO header, `G_ema`   | `stylegan_pkl`             |
| NVIDIA PyTorch pickle (StyleGAN3 T, R)   | ... and a `SynthesisInput`     | `stylegan3_pkl`            |
| NVIDIA TF pickle (StyleGAN2, SG, ProGAN) | tuple of TF Network stubs      | `tf_pickle` -> `tf_*`      |
| PyTorch zip checkpoint (DCGAN state dict)| `PK` zip header                | `torch_pt` (weights_only)  |
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from latentwalk.backends.base import LoadedModel
from latentwalk.backends.stylegan_pkl import load_network_pickle, looks_like_pickle
from latentwalk.backends.torch_pt import load_state_dict_file, looks_like_torch_zip
from latentwalk.errors import CorruptModelFile, ModelLoadError, ModelNotFound, UnsupportedFormat

__all__ = ["LoadedModel", "load_model_bytes", "load_model_file", "MODEL_SUFFIXES"]

# File suffixes the models folders are scanned for.
MODEL_SUFFIXES = (".pkl", ".pt", ".pth")


def load_model_bytes(data: bytes, name: str) -> LoadedModel:
    """Detect the format of `data` (the content of the file `name`) and load its generator."""
    try:
        loaded = _dispatch(data, name)
    except ModelLoadError as exc:
        if name in str(exc):
            raise
        raise type(exc)(f"{name}: {exc}") from None
    loaded.info["sha256"] = hashlib.sha256(data).hexdigest()
    loaded.info["file_size"] = len(data)
    return loaded


def _dispatch(data: bytes, name: str) -> LoadedModel:
    head = data[:16]
    if not data:
        raise CorruptModelFile(f"{name} is empty")
    if looks_like_pickle(head):
        return load_network_pickle(data, name)
    if looks_like_torch_zip(head):
        return load_state_dict_file(data, name)
    if head.startswith(b"\x89PNG") or head[:3] == b"\xff\xd8\xff":
        raise UnsupportedFormat(f"{name} is an image, not a model file")
    raise UnsupportedFormat(
        f"{name}: unrecognised model format (first bytes {head[:8]!r}); latentwalk loads NVIDIA "
        "StyleGAN2/StyleGAN3 PyTorch pickles, TensorFlow pickles of StyleGAN2, StyleGAN and Progressive GAN "
        "(.pkl) and DCGAN PyTorch state dicts (.pt/.pth)"
    )


def load_model_file(path: str | Path) -> LoadedModel:
    """Load the generator stored in the file at `path`."""
    p = Path(path)
    if not p.is_file():
        raise ModelNotFound(f"no model file at {p}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelNotFound(f"cannot read {p}: {exc.strerror}") from None
    loaded = load_model_bytes(data, p.name)
    loaded.info["path"] = str(p)
    return loaded
