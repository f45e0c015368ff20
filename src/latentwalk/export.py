"""Animation -> video or image sequence for animators: MP4 (H.264), MOV (ProRes 422), PNG, GIF, WebP.

Frames stream from the worker into the encoder while the next ones are generated (bounded
memory), pixel-identical to the explorer's frames at the same size. Output is written under a
temporary name and renamed into place, so a cancelled, failed or killed export never leaves a
half-written file under the final name. A JSON sidecar beside the output records the settings,
keyframes and the model's content hash, so a file found months later can be traced and re-rendered.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from latentwalk import __version__
from latentwalk.animation.frames import FramePlan, render_frames
from latentwalk.errors import ExportCancelled, ExportError, InvalidRequest
from latentwalk.render.worker import InferenceWorker
from latentwalk.threaded import threaded_map

Format = Literal["mp4", "mov", "png", "gif", "webp"]
FORMATS: tuple[Format, ...] = ("mp4", "mov", "png", "gif", "webp")
EXTENSIONS = {"mp4": ".mp4", "mov": ".mov", "png": "", "gif": ".gif", "webp": ".webp"}
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
MAX_SIZE = 4096


@dataclass(frozen=True)
class ExportOptions:
    """How to write: format, frame rate, output size (None: the model's), upscaling filter, quality."""

    fmt: Format = "mp4"
    fps: float = 12.0
    size: int | None = None
    upscale: str = "lanczos"
    crf: int = 16  # H.264 quality (lower is better); visually lossless around 16-18

    def check(self, native: int) -> None:
        if self.fmt not in FORMATS:
            raise InvalidRequest(f"format {self.fmt!r} is not supported: use one of {', '.join(FORMATS)}")
        if not 0 < self.fps <= 240:
            raise InvalidRequest(f"fps {self.fps} is out of range 0..240")
        if self.size is not None and not 8 <= self.size <= MAX_SIZE:
            raise InvalidRequest(f"size {self.size} is out of range: 8..{MAX_SIZE} pixels")
        if self.upscale not in RESAMPLE:
            raise InvalidRequest(f"upscale filter {self.upscale!r} is not one of {', '.join(RESAMPLE)}")
        size = self.size or native
        if self.fmt in ("mp4",) and size % 2:
            raise InvalidRequest(f"H.264 needs an even size; {size} is odd (try {size + 1})")


def output_path(out: Path, fmt: Format) -> Path:
    """The final path: a folder for PNG sequences, else a file with the format's extension."""
    ext = EXTENSIONS[fmt]
    if ext and out.suffix.lower() != ext:
        return out.with_name(out.name + ext) if out.suffix == "" else out.with_suffix(ext)
    return out


def sidecar_path(path: Path) -> Path:
    return (
        path.with_name(path.name + ".json") if path.suffix == "" else path.with_suffix(path.suffix + ".json")
    )


def _resized(frame: np.ndarray, size: int | None, upscale: str) -> np.ndarray:
    if size is None or size == frame.shape[0]:
        return frame
    img = Image.fromarray(frame)
    method = RESAMPLE[upscale] if size > frame.shape[0] else Image.Resampling.LANCZOS
    return np.asarray(img.resize((size, size), method))


def export_frames(
    worker: InferenceWorker,
    plan: FramePlan,
    out: Path,
    options: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Render every frame of `plan` and write it to `out` in the chosen format.

    Returns:
        The path written (with the format's extension; a folder for PNG).

    Raises:
        InvalidRequest: bad options. ExportError: the output could not be written.
        ExportCancelled: `cancel` was set; no output is left.
    """
    options.check(plan.info.resolution)
    final = output_path(Path(out), options.fmt)
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the folder {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise ExportError(f"cannot write into {parent}: permission denied")
    temp = parent / f".{final.name}.partial-{os.getpid()}-{threading.get_ident()}{final.suffix}"
    total = plan.total

    def frames() -> Iterator[np.ndarray]:
        for done, (_, frame) in enumerate(render_frames(worker, plan), start=1):
            if cancel is not None and cancel.is_set():
                raise ExportCancelled("the export was cancelled")
            yield _resized(frame, options.size, options.upscale)
            if progress is not None:
                progress(done, total)

    try:
        # Generation (the worker thread), collecting and resizing (a stage thread) and encoding
        # (this thread, or the video stages) overlap; bounded queues keep memory flat.
        stream = threaded_map(lambda frame: frame, frames(), depth=8, name="export-frames")
        if options.fmt in ("mp4", "mov"):
            _write_video(temp, stream, options)
        elif options.fmt == "png":
            _write_png_folder(temp, stream)
        else:
            _write_pillow_animation(temp, stream, options)
        if final.is_dir():
            shutil.rmtree(final)
        os.replace(temp, final)
        _write_sidecar(sidecar_path(final), plan, options, final)
    except BaseException as exc:
        _remove(temp)
        if isinstance(exc, OSError):
            what = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise ExportError(f"could not write {final.name}: {what}; nothing was left behind") from None
        raise
    return final


def _write_video(path: Path, frames: Iterator[np.ndarray], options: ExportOptions) -> None:
    import av

    rate = Fraction(options.fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format="mp4" if options.fmt == "mp4" else "mov") as container:
        if options.fmt == "mp4":
            stream = container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p"  # plays in browsers and QuickTime
            stream.options = {"crf": str(options.crf), "preset": "veryfast", "movflags": "+faststart"}
        else:
            stream = container.add_stream("prores_ks", rate=rate)
            stream.pix_fmt = "yuv422p10le"
            stream.options = {"profile": "2"}  # ProRes 422
        pix_fmt = stream.pix_fmt

        def convert(frame: np.ndarray) -> av.VideoFrame:  # colour conversion, off the encoding thread
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[..., :3]), format="rgb24")
            return vf.reformat(format=pix_fmt)

        first = True
        for vf in threaded_map(convert, frames, depth=4, name="export-convert"):
            if first:
                stream.height, stream.width = vf.height, vf.width
                first = False
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_png_folder(path: Path, frames: Iterator[np.ndarray]) -> None:
    path.mkdir()
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(path / f"frame_{i:05d}.png", compress_level=3)


def _write_pillow_animation(path: Path, frames: Iterator[np.ndarray], options: ExportOptions) -> None:
    images = (Image.fromarray(f) for f in frames)
    first = next(images)
    duration = max(1, round(1000 / options.fps))
    kwargs = {"save_all": True, "append_images": images, "duration": duration, "loop": 0}
    if options.fmt == "webp":
        first.save(path, format="WEBP", quality=90, method=4, **kwargs)
    else:
        first.save(path, format="GIF", optimize=False, disposal=1, **kwargs)


def _write_sidecar(path: Path, plan: FramePlan, options: ExportOptions, final: Path) -> None:
    body = {
        "latentwalk": __version__,
        "exported": datetime.now(UTC).isoformat(),
        "file": final.name,
        "format": options.fmt,
        "fps": options.fps,
        "size": options.size or plan.info.resolution,
        "upscale": options.upscale,
        "frames": plan.total,
        "model": {
            "name": plan.model.name,
            "snapshot": plan.model.snapshot,
            "sha256": plan.info.details.get("sha256"),
            "family": plan.info.family,
        },
        "settings": plan.settings.model_dump(mode="json"),
        "latents": plan.keys.tolist(),
    }
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(body, indent=1))
    os.replace(tmp, path)


def _remove(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    except OSError:
        pass
