"""A user's image classifier as a feature extractor: ONNX through onnxruntime, or trusted TorchScript.

Contract: the model takes float32 images [N, 3, H, W] with values in 0..1 (frames are resized to
the input's fixed H and W, if it has them) and returns scores [N] or [N, K] per output. Each score
column becomes an axis, named after its output (`name`, or `name0`, `name1`... for K columns, or
the comma-separated `labels` entry of the ONNX metadata). TorchScript is code: it is loaded only
for a file the user marks as trusted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentwalk.errors import CorruptModelFile, InvalidRequest, MissingExtra, ModelNotFound, UnsafeModelFile

MAX_SCORES = 256
BATCH = 32  # frames per classifier run (bounds its memory on a fit of thousands of samples)


class Classifier:
    """Named scores for batches of uint8 frames [N, H, W, C], run `batch` frames at a time."""

    def __init__(
        self,
        run: Callable[[np.ndarray], list[tuple[str, np.ndarray]]],
        size: tuple[int, int] | None,
        fixed_batch: int | None = None,
    ):
        self._run = run
        self.size = size  # (H, W) the model wants, or None for any
        self.fixed_batch = fixed_batch  # the only batch size the model takes (last batch padded), or None
        self.batch = fixed_batch or BATCH
        self.names: list[str] = []
        self.labels: list[str] | None = None  # names of the columns of a single [N, K] output

    def _prepare(self, pixels: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(pixels, dtype=np.float32) / 255.0)
        if x.shape[-1] != 3:
            x = x[..., :1].expand(*x.shape[:-1], 3)
        x = x.permute(0, 3, 1, 2)
        if self.size is not None and tuple(x.shape[2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        return x.contiguous().numpy()

    def _chunk(self, pixels: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(output name, [k] or [k, K] float64) for one batch of k <= `batch` frames."""
        k = len(pixels)
        if self.fixed_batch and k < self.fixed_batch:  # pad with copies of the last frame
            pixels = np.concatenate([pixels, np.repeat(pixels[-1:], self.fixed_batch - k, axis=0)])
        n = len(pixels)
        try:
            outputs = self._run(self._prepare(pixels))
        except (RuntimeError, ValueError) as exc:
            raise InvalidRequest(f"the classifier failed on {n} images: {exc}") from None
        out = []
        for name, value in outputs:
            arr = np.asarray(value, dtype=np.float64)
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim not in (1, 2) or arr.shape[0] != n:
                raise InvalidRequest(
                    f"the classifier's output {name!r} has shape {tuple(arr.shape)} for {n} images; "
                    "expected [N] or [N, K] scores"
                )
            out.append((name, arr[:k]))
        return out

    def scores(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """{axis name: scores [N]}.

        Raises:
            InvalidRequest: the classifier fails, or its output is not [N] or [N, K] finite numbers.
        """
        chunks = [self._chunk(pixels[i : i + self.batch]) for i in range(0, len(pixels), self.batch)]
        out: dict[str, np.ndarray] = {}
        for j, (name, first) in enumerate(chunks[0] if chunks else []):
            arr = np.concatenate([c[j][1] for c in chunks]) if len(chunks) > 1 else first
            if not np.isfinite(arr).all():
                raise InvalidRequest(f"the classifier's output {name!r} contains NaN or infinite values")
            cols = [arr] if arr.ndim == 1 else [arr[:, k] for k in range(arr.shape[1])]
            labels = self._labels(name, len(cols)) if arr.ndim == 2 else [name]
            for label, col in zip(labels, cols, strict=True):
                out[label] = col
        if not out or len(out) > MAX_SCORES:
            raise InvalidRequest(f"the classifier gave {len(out)} scores; 1..{MAX_SCORES} are usable")
        self.names = list(out)
        return out

    def _labels(self, output: str, k: int) -> list[str]:
        if self.labels and len(self.labels) == k:
            return list(self.labels)
        return [f"{output}{i}" for i in range(k)]


def load_classifier(path: Path, trusted: bool = False) -> Classifier:
    """An ONNX file (any user), or a TorchScript file only when `trusted`.

    Raises:
        ModelNotFound: no such file.
        MissingExtra: onnxruntime is not installed.
        UnsafeModelFile: a TorchScript file that was not marked as trusted.
        CorruptModelFile: the file does not load.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFound(f"no classifier file {path}")
    head = path.read_bytes()[:4]
    if head == b"PK\x03\x04":  # TorchScript archives are zip files
        if not trusted:
            raise UnsafeModelFile(
                f"{path.name} is TorchScript, which is code: load it only if you trust it "
                "(the CLI's --trust-classifier)"
            )
        return _torchscript(path)
    return _onnx(path)


def _onnx(path: Path) -> Classifier:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingExtra("ONNX classifiers need onnxruntime: pip install 'latentwalk[onnx]'") from None
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own (non-public) exception types
        raise CorruptModelFile(f"{path.name} does not load as an ONNX classifier: {exc}") from None
    inputs = sess.get_inputs()
    shape = list(inputs[0].shape) if len(inputs) == 1 and inputs[0].shape is not None else []
    channels = shape[1] if len(shape) == 4 else None
    if len(inputs) != 1 or len(shape) != 4 or (isinstance(channels, int) and channels != 3):
        found = ", ".join(f"{i.name} {_dims(i.shape)} {i.type}" for i in inputs) or "no input"
        raise InvalidRequest(
            f"{path.name} takes {found}; a classifier must take one float image input [N, 3, H, W]"
        )
    if inputs[0].type != "tensor(float)":
        raise InvalidRequest(f"{path.name} takes {inputs[0].type} images; a classifier must take float32")
    n, _, h, w = shape
    size = (h, w) if isinstance(h, int) and isinstance(w, int) else None
    fixed = n if isinstance(n, int) and n > 0 else None
    names = [o.name for o in sess.get_outputs()]

    def run(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        try:
            return list(zip(names, sess.run(None, {inputs[0].name: x}), strict=True))
        except Exception as exc:
            raise RuntimeError(str(exc)) from None

    c = Classifier(run, size, fixed)
    labels = sess.get_modelmeta().custom_metadata_map.get("labels")
    if labels:
        c.labels = [s.strip() for s in labels.split(",") if s.strip()]
    return c


def _dims(shape: Any) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape or []) + "]"


def _torchscript(path: Path) -> Classifier:
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream, but users still have such files
            warnings.simplefilter("ignore", DeprecationWarning)
            module: Any = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:
        raise CorruptModelFile(f"{path.name} does not load as TorchScript: {exc}") from None

    def run(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        with torch.inference_mode():
            y = module(torch.from_numpy(x))
        if isinstance(y, dict):
            return [(str(k), v.numpy()) for k, v in y.items()]
        if isinstance(y, tuple | list):
            return [(f"score{i}", v.numpy()) for i, v in enumerate(y)]
        return [("score", y.numpy())]

    return Classifier(run, None)
