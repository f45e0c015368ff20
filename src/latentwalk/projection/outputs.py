"""What `latentwalk project` writes: the latent, the reconstruction, a summary, optionally a video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from latentwalk.errors import ExportError
from latentwalk.projection.projector import ProjectionResult


def write_projection(
    result: ProjectionResult, out: Path, frames: list[np.ndarray] | None = None
) -> list[Path]:
    """Write projected.npy (z [1, z_dim] or ws [1, num_ws, w_dim], float32), reconstruction.png,
    target.png, projection.json (space, PSNR, SSIM, losses) and, given frames, projection.mp4 (the
    target beside the reconstruction at each preview step). Returns the paths written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [
            out / "projected.npy",
            out / "reconstruction.png",
            out / "target.png",
            out / "projection.json",
        ]
        np.save(written[0], result.latent.astype(np.float32))
        Image.fromarray(result.reconstruction).save(written[1])
        Image.fromarray(result.target).save(written[2])
        summary = {**result.as_dict(), "shape": list(result.latent.shape), "losses": result.losses}
        written[3].write_text(json.dumps(summary, indent=1))
        if frames:
            written.append(out / "projection.mp4")
            write_video(written[-1], [np.concatenate([result.target, f], axis=1) for f in frames])
    except OSError as exc:
        raise ExportError(f"cannot write the projection to {out}: {exc.strerror}") from None
    return written


def write_video(path: Path, frames: list[np.ndarray], fps: float = 24.0) -> None:
    """H.264 MP4 of [H, W, 3] uint8 frames, upscaled to at least 256 pixels high (PyAV)."""
    import av

    height, width = frames[0].shape[:2]
    scale = max(1, -(-256 // height))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.pix_fmt = "yuv420p"
        stream.height, stream.width = height * scale, width * scale
        stream.options = {"crf": "18", "preset": "veryfast", "movflags": "+faststart"}
        for frame in frames:
            big = frame.repeat(scale, axis=0).repeat(scale, axis=1)
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
