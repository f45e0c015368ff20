"""Image-to-image translators (CycleGAN, pix2pix): the built-in one, user files, and running them.

| source                                  | read with                                  |
|-----------------------------------------|--------------------------------------------|
| built-in `cyclegan-vintage`             | pinned wheel, sha256-verified (zoo.fetch)  |
| `<models folder>/translators/*.pth|.pt` | torch.load(weights_only=True), keys sniffed|
| `<models folder>/translators/*.onnx`    | onnxruntime (the `onnx` extra)             |
| `<models folder>/translators/*.ts`      | TorchScript: only files listed as trusted  |

Translators run on the inference worker's thread (`worker.call`), like every model; their cache
lives on that thread too, so it needs no lock.
"""

from __future__ import annotations

import collections
import io
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentwalk.backends import LoadedModel
from latentwalk.errors import (
    CorruptModelFile,
    InvalidRequest,
    MissingExtra,
    ModelNotFound,
    UnsafeModelFile,
    UnsupportedFormat,
)
from latentwalk.models.cyclegan import translator_from_state_dict
from latentwalk.render.images import to_uint8
from latentwalk.render.worker import InferenceWorker
from latentwalk.zoo import WheelSource, ZooEntry, fetch

TRANSLATOR_SUFFIXES = (".pth", ".pt", ".onnx", ".ts")
TRANSLATORS_FOLDER = "translators"  # under each models folder; the generator catalog skips it
MIN_SIZE, MAX_SIZE = 64, 1024
DEFAULT_TRANSLATOR = "cyclegan-vintage"


def _not_a_generator(_: Path | None) -> LoadedModel:
    raise UnsupportedFormat("cyclegan-vintage is an image-to-image translator, not a generator")


# Built-in translators, fetched like the zoo's generators but kept out of the generator list.
TRANSLATOR_ZOO: dict[str, tuple[ZooEntry, int]] = {
    "cyclegan-vintage": (
        ZooEntry(
            name="cyclegan-vintage",
            description="CycleGAN ResNet generator, modern photo to vintage look, native 512x512",
            licence="MIT",
            credit="vintagify 0.1.2 (PyPI), MIT licence",
            source=WheelSource(
                package="vintagify",
                version="0.1.2",
                wheel_sha256="f3b38b728cc6158e97f77c3cc1bf784a63f427db47c445941ad2da3747fa208f",
                member="vintagify/resources/G_A2B_epoch33.pth",
            ),
            build=_not_a_generator,
        ),
        512,
    ),
}


@dataclass
class Translator:
    """A loaded image-to-image network: [N, C, H, W] in [-1, 1] -> the same shape."""

    name: str
    run: Callable[[torch.Tensor], torch.Tensor]
    native_size: int
    multiple: int  # sides must be multiples of this
    module: torch.nn.Module | None = None  # for torch models, so they can follow the device
    kind: str = "resnet"
    fixed: bool = False  # a graph exported for one size only (ONNX with a static shape)

    def check_size(self, size: int) -> None:
        if self.fixed and size != self.native_size:
            raise InvalidRequest(f"{self.name} takes {self.native_size}x{self.native_size} pictures only")
        if not MIN_SIZE <= size <= MAX_SIZE or size % self.multiple:
            raise InvalidRequest(
                f"size {size} does not suit {self.name}: use a multiple of {self.multiple} "
                f"between {MIN_SIZE} and {MAX_SIZE} (native: {self.native_size})"
            )


def _torch_translator(name: str, net: torch.nn.Module, native: int) -> Translator:
    return Translator(
        name, net, native, int(getattr(net, "multiple", 4)), module=net, kind=getattr(net, "kind", "torch")
    )


def _read_state_dict(data: bytes, name: str) -> dict[str, torch.Tensor]:
    if not data.startswith(b"PK"):
        raise UnsupportedFormat(f"{name} is not a PyTorch zip checkpoint (torch.save of a state dict)")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (RuntimeError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        msg = str(exc)
        if "Weights only load failed" in msg or "Unsupported global" in msg:
            raise UnsafeModelFile(
                f"{name} asks to run code or build objects; only state dicts load"
            ) from None
        raise CorruptModelFile(
            f"{name} is damaged: {msg.splitlines()[0] if msg else type(exc).__name__}"
        ) from None
    for key in ("state_dict", "model", "netG", "G", "generator"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise UnsupportedFormat(f"{name} holds a {type(obj).__name__}, not a state dict")
    return obj


def _onnx_translator(path: Path) -> Translator:
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError:
        raise MissingExtra(
            f"{path.name} is an ONNX model: install onnxruntime with `pip install 'latentwalk[onnx]'`"
        ) from None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise CorruptModelFile(f"{path.name}: onnxruntime cannot read it: {exc}") from None
    inp = session.get_inputs()[0]
    fixed = [d for d in inp.shape[2:] if isinstance(d, int)]
    native = fixed[0] if fixed else 256

    def run(x: torch.Tensor) -> torch.Tensor:
        out = session.run(None, {inp.name: x.detach().cpu().numpy().astype(np.float32)})[0]
        return torch.from_numpy(out)

    return Translator(path.stem, run, native, 4, kind="onnx", fixed=bool(fixed))


def load_translator_file(path: Path, trusted: tuple[Path, ...] = ()) -> Translator:
    """Load a user's translator file (see the table at the top)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _onnx_translator(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelNotFound(f"cannot read {path}: {exc.strerror}") from None
    if suffix == ".ts":
        if path.resolve() not in {p.resolve() for p in trusted}:
            raise UnsafeModelFile(
                f"{path.name} is TorchScript, which is code: add it to the trusted files "
                "(LATENTWALK_TRUSTED_FILES) if you trust where it came from"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # still supported, only deprecated
            net = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
        return Translator(path.stem, net, 256, 4, module=net, kind="torchscript")
    net = translator_from_state_dict(_read_state_dict(data, path.name), path.name)
    return _torch_translator(path.stem, net, 256)


def translator_files(models_dirs: tuple[Path, ...] | list[Path]) -> dict[str, Path]:
    """User translators by name (file stem); the first folder wins on a clash."""
    found: dict[str, Path] = {}
    for root in models_dirs:
        folder = Path(root) / TRANSLATORS_FOLDER
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in TRANSLATOR_SUFFIXES and p.is_file():
                found.setdefault(p.stem, p)
    return found


def list_translators(models_dirs: tuple[Path, ...] | list[Path]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [
        {"name": n, "source": "zoo", "description": e.description, "native_size": size}
        for n, (e, size) in TRANSLATOR_ZOO.items()
    ]
    for name, path in translator_files(models_dirs).items():
        if name not in TRANSLATOR_ZOO:
            out.append({"name": name, "source": "file", "description": path.name, "native_size": None})
    return out


class TranslatorCache:
    """Loaded translators by name, least recently used dropped first. Used on the worker thread only."""

    def __init__(
        self, cache_dir: Path, models_dirs: tuple[Path, ...], trusted: tuple[Path, ...] = (), size: int = 2
    ) -> None:
        self.cache_dir, self.models_dirs, self.trusted, self.size = (
            cache_dir,
            tuple(models_dirs),
            trusted,
            size,
        )
        self._loaded: collections.OrderedDict[str, Translator] = collections.OrderedDict()

    def get(self, name: str, device: torch.device) -> Translator:
        tr = self._loaded.get(name)
        if tr is None:
            tr = self._load(name)
            self._loaded[name] = tr
            while len(self._loaded) > self.size:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(name)
        if tr.module is not None:
            tr.module.to(device)
        return tr

    def _load(self, name: str) -> Translator:
        if name in TRANSLATOR_ZOO:
            entry, native = TRANSLATOR_ZOO[name]
            path = fetch(entry, self.cache_dir)
            assert path is not None
            net = translator_from_state_dict(_read_state_dict(path.read_bytes(), path.name), name)
            return _torch_translator(name, net, native)
        files = translator_files(self.models_dirs)
        if name not in files:
            names = ", ".join([*TRANSLATOR_ZOO, *files])
            raise ModelNotFound(f"no translator named {name!r}; available: {names}")
        return load_translator_file(files[name], self.trusted)


def translate(worker: InferenceWorker, cache: TranslatorCache, name: str, image: np.ndarray) -> np.ndarray:
    """Translate one picture, [S, S, 3] uint8 already fitted to the size wanted (imagein.fit_image;
    the translator's `native_size` or smaller, for speed). Blocking."""

    def job(_: LoadedModel | None, device: torch.device) -> np.ndarray:
        tr = cache.get(name, device)
        tr.check_size(image.shape[0])
        x = torch.from_numpy(image.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None].to(device)
        with torch.inference_mode():
            out = tr.run(x)
        if out.ndim != 4 or out.shape[1] not in (1, 3):
            raise InvalidRequest(f"{name} answered a tensor of shape {tuple(out.shape)}, not an image")
        return to_uint8(out.float())[0]

    return worker.call(job).result()


def native_size(worker: InferenceWorker, cache: TranslatorCache, name: str) -> int:
    """Load the translator (on the worker) and tell its native size."""
    return worker.call(lambda _, device: cache.get(name, device).native_size).result()
