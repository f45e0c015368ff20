"""Preview precision routes: the default and choices, and a measured fp32 comparison on the current model.

GET  /api/precision          -> {default, choices, device, bf16_instructions}
POST /api/precision/compare  -> renders one frame of the current model in fp32 and in the asked
                                precision (each twice, timing the second) and answers the speed-up
                                and the difference in grey levels (max, mean) and PSNR.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from latentwalk.latents import class_label, seed_to_z
from latentwalk.render.acceleration import PRECISIONS, cpu_has_bf16
from latentwalk.render.worker import InferenceWorker, RenderRequest
from latentwalk.server.routes import state_of

router = APIRouter()


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    precision: Literal["bf16", "fp16"] = "bf16"
    seed: int = Field(0, ge=0, le=2**32 - 1)
    psi: float = Field(0.7, ge=-2, le=2)


@router.get("/api/precision")
async def precision_info(request: Request) -> dict[str, Any]:
    st = state_of(request)
    return {
        "default": st.settings.preview_precision,
        "choices": list(PRECISIONS),
        "device": st.worker.device.type,
        "bf16_instructions": cpu_has_bf16() if st.worker.device.type == "cpu" else None,
    }


def difference(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Max and mean absolute difference of two uint8 images in grey levels, and PSNR in dB (None: equal)."""
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float((d**2).mean())
    return {
        "max": float(np.abs(d).max()),
        "mean": round(float(np.abs(d).mean()), 3),
        "psnr": None if mse == 0 else round(10 * math.log10(255**2 / mse), 1),
    }


def compare(worker: InferenceWorker, req: RenderRequest, precision: str) -> dict[str, Any]:
    """Blocking: time one frame in fp32 and in `precision` (second of two calls each), and diff them."""
    out: dict[str, Any] = {}
    images = {}
    for p in ("fp32", precision):
        r = RenderRequest(req.model, req.z, req.c, psi=req.psi, precision=p)  # type: ignore[arg-type]
        worker.render(r)  # warm: builds the fast path, lets oneDNN pick its kernels
        t0 = time.perf_counter()
        images[p] = worker.render(r)
        out[f"{p}_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out.update(difference(images[precision], images["fp32"]))
    out["speedup"] = round(out["fp32_ms"] / max(out[f"{precision}_ms"], 1e-6), 2)
    return out


@router.post("/api/precision/compare")
async def compare_precision(request: Request, body: CompareRequest) -> dict[str, Any]:
    st = state_of(request)
    info = await st.worker.info_async(st.model)
    z = seed_to_z(body.seed, info.z_dim)
    c = class_label(0, info.c_dim) if info.c_dim else None
    req = RenderRequest(st.model, z, c, psi=body.psi)
    result = await asyncio.to_thread(compare, st.worker, req, body.precision)
    return {"model": info.name, "precision": body.precision, "seed": body.seed, **result}
