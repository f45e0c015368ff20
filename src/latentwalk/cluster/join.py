"""Shard files: a shard's frames encoded on an actor, and finished shards joined into the output.

PNG sequences are joined by linking the files into place (the same encoder call as a
single-machine export, so the bytes are the same). MP4 (H.264) and MOV (ProRes) shards are
independent encodes that each start with a key frame (closed GOPs), so their packets are remuxed
one after the other with shifted timestamps, no re-encode. GIF and WebP are palette/whole-file
formats: their shards are lossless PNGs and the driver encodes the final file in one pass.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from latentwalk.cluster.shards import Shard, ShardStore
from latentwalk.errors import ExportError
from latentwalk.export import ExportOptions, _write_pillow_animation, _write_video

VIDEO = ("mp4", "mov")


def frame_name(index: int) -> str:
    """The file name of frame `index` (0-based) in a PNG sequence, as a single-machine export names it."""
    return f"frame_{index + 1:05d}.png"


def png_bytes(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=3)  # as export._write_png_folder
    return buf.getvalue()


def encode_shard(
    frames: Iterator[tuple[int, np.ndarray]], options: ExportOptions
) -> tuple[dict[str, bytes], list[str]]:
    """Encode one shard's frames (global index, [H, W, C] uint8 after resizing).

    Returns:
        The shard's files (name -> bytes) and the sha256 of every frame before encoding.
    """
    hashes: list[str] = []

    def hashed() -> Iterator[tuple[int, np.ndarray]]:
        for index, frame in frames:
            hashes.append(hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest())
            yield index, frame

    if options.fmt in VIDEO:
        with tempfile.TemporaryDirectory(prefix="latentwalk-shard-") as tmp:
            path = Path(tmp) / f"shard.{options.fmt}"
            _write_video(path, (frame for _, frame in hashed()), options)
            return {path.name: path.read_bytes()}, hashes
    return {frame_name(i): png_bytes(frame) for i, frame in hashed()}, hashes


def join_shards(store: ShardStore, options: ExportOptions, temp: Path) -> None:
    """Write the finished shards of `store`, in order, to `temp` (a folder for PNG, else a file)."""
    if options.fmt == "png":
        _join_png(store, temp)
    elif options.fmt in VIDEO:
        _remux(store, options, temp)
    else:
        _write_pillow_animation(temp, _decoded_pngs(store), options)


def _pngs(store: ShardStore, shard: Shard) -> list[Path]:
    names = [store.path(shard) / frame_name(i) for i in range(shard.start, shard.end)]
    missing = [p.name for p in names if not p.is_file()]
    if missing:
        raise ExportError(f"shard {shard.name} lacks {missing[0]}: remove {store.root} and render again")
    return names


def _join_png(store: ShardStore, temp: Path) -> None:
    temp.mkdir()
    for shard in store.shards:
        for src in _pngs(store, shard):
            try:  # a hard link leaves the shard whole until the join has succeeded
                os.link(src, temp / src.name)
            except OSError:
                shutil.copyfile(src, temp / src.name)


def _decoded_pngs(store: ShardStore) -> Iterator[np.ndarray]:
    for shard in store.shards:
        for src in _pngs(store, shard):
            with Image.open(src) as img:
                yield np.asarray(img)


def _remux(store: ShardStore, options: ExportOptions, temp: Path) -> None:
    import av

    rate = Fraction(options.fps).limit_denominator(1001)
    fmt = "mp4" if options.fmt == "mp4" else "mov"
    files = [store.path(s) / f"shard.{options.fmt}" for s in store.shards]
    for f in files:
        if not f.is_file():
            raise ExportError(f"shard {f.parent.name} has no video: remove {store.root} and render again")
    opts = {"movflags": "+faststart"} if fmt == "mp4" else {}
    with av.open(str(temp), mode="w", format=fmt, options=opts) as out:
        ostream: Any = None
        extradata: bytes | None = None
        last_dts: int | None = None
        for shard, path in zip(store.shards, files, strict=True):
            with av.open(str(path)) as src:
                istream = src.streams.video[0]
                if ostream is None:
                    ostream = out.add_stream_from_template(istream)
                    ostream.time_base = istream.time_base
                    extradata = istream.codec_context.extradata
                elif istream.codec_context.extradata != extradata:
                    raise ExportError(
                        f"shard {shard.name} was encoded with other codec parameters than the first; "
                        f"remove {store.root} and render again"
                    )
                tb = istream.time_base
                offset = round(Fraction(shard.start) / rate / tb)  # the shard's first frame time
                for packet in src.demux(istream):
                    if packet.dts is None:  # the flush packet at the end of a stream
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + offset
                    packet.dts = packet.dts + offset
                    if last_dts is not None and packet.dts <= last_dts:
                        packet.dts = last_dts + 1  # keep dts rising across a change of B-frame delay
                    last_dts = packet.dts
                    packet.stream = ostream
                    out.mux(packet)
