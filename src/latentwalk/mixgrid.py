"""Style-mixing grids as NVIDIA's style_mixing.py draws them: row seeds take some layers from column seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentwalk.catalog import ModelRef
from latentwalk.latents import class_label, seeds_to_z
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.styles import mix, parse_layers, truncate_w
from latentwalk.types import NoiseMode


@dataclass(frozen=True)
class MixGrid:
    """The images of a style-mixing grid, each [H, W, C] uint8."""

    rows: list[int]  # row seeds (they keep the layers outside `layers`)
    cols: list[int]  # column seeds (they give the layers in `layers`)
    layers: list[int]
    row_images: dict[int, np.ndarray]
    col_images: dict[int, np.ndarray]
    mixed: dict[tuple[int, int], np.ndarray]  # (row seed, column seed) -> image

    def sheet(self) -> np.ndarray:  # [(R+1) H, (C+1) W, C] uint8
        """One picture: column parents along the top, row parents down the left, children inside."""
        first = next(iter(self.row_images.values()))
        h, w, ch = first.shape
        out = np.zeros(((len(self.rows) + 1) * h, (len(self.cols) + 1) * w, ch), dtype=np.uint8)
        for j, col in enumerate(self.cols):
            out[0:h, (j + 1) * w : (j + 2) * w] = self.col_images[col]
        for i, row in enumerate(self.rows):
            out[(i + 1) * h : (i + 2) * h, 0:w] = self.row_images[row]
            for j, col in enumerate(self.cols):
                out[(i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w] = self.mixed[(row, col)]
        return out


def mix_grid(
    worker: InferenceWorker,
    model: ModelRef,
    rows: list[int],
    cols: list[int],
    layers: str,
    psi: float = 1.0,
    noise_mode: NoiseMode = "const",
    class_idx: int | None = None,
) -> MixGrid:
    """Render the grid: seeds mapped to w, truncated (all layers, as style_mixing.py does), then mixed.

    Raises:
        InvalidRequest: the model has no w space, or a layer is outside it.
    """
    info = worker.info(model)
    picked = parse_layers(layers, info.num_ws)
    assert info.w_avg is not None
    seeds = list(dict.fromkeys(rows + cols))
    label = class_label(class_idx, info.c_dim)
    ws = {}
    for seed in seeds:  # one by one: a w never depends on its batch
        c = label if info.c_dim else None
        mapped = worker.map(model, seeds_to_z([seed], info.z_dim), c)[0]
        ws[seed] = truncate_w(mapped, info.w_avg, psi)

    def render(batch: list[np.ndarray]) -> list[np.ndarray]:
        futures = [worker.submit(RenderRequest(model, ws=w[None], noise_mode=noise_mode)) for w in batch]
        return [f.result()[0] for f in futures]

    row_images = dict(zip(rows, render([ws[s] for s in rows]), strict=True))
    col_images = dict(zip(cols, render([ws[s] for s in cols]), strict=True))
    pairs = [(r, c) for r in rows for c in cols]
    children = render([mix(ws[r], ws[c], picked) for r, c in pairs])
    return MixGrid(rows, cols, picked, row_images, col_images, dict(zip(pairs, children, strict=True)))
