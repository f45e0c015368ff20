"""StyleGAN3's filtered leaky ReLU: a plain reference implementation and a fast one for CPUs.

The operation, per channel (the "alias-free" activation of Karras et al. 2021, section 3.2):

1. add the bias;
2. upsample by `up`: insert `up - 1` zeros after every sample, pad (negative pads crop), and
   convolve with the up filter `fu` (a true convolution, gain `up**2` overall);
3. leaky ReLU with `slope`, times `gain`, clamped to [-clamp, clamp];
4. convolve with the down filter `fd` ("valid" positions only) and keep every `down`-th sample.

Filters are 1-D (separable: the same taps along both axes), 2-D (`fd` only: the radially symmetric
down filters of config R), or None (identity). `padding` is [x-low, x-high, y-low, y-high] in the
upsampled grid.

`filtered_lrelu_reference` spells the steps out with materialised zero insertion and full 2-D
convolutions. `filtered_lrelu` computes the same numbers faster: each resampling step is a linear
map along one axis whose matrix repeats every `r` outputs (`s` inputs), so

* along the last axis, blocks of `s` inputs become the channels of a channels-last view (no copy)
  and the step is one ordinary convolution over block positions (oneDNN's fast path, not its
  slow depthwise one); zero insertion never exists, the phases come out interleaved;
* along rows, overlapping windows of input rows are multiplied by the small period matrix in one
  batched matrix product;
* the order is: rows up, columns up, activation, columns down, rows down, so the two passes that
  touch the big upsampled image both run along its last axis; channels are processed in chunks
  that bound the upsampled image's memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentwalk.models.ops import upfirdn2d

# Upsampled-image elements per chunk of channels (float32: 16 MiB): bounds memory at any batch size
# and keeps a chunk's intermediate images near the caches.
CHUNK_ELEMENTS = 1 << 22


def _pad4(padding: int | tuple[int, ...] | list[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    p = [int(v) for v in padding]
    if len(p) == 2:
        return p[0], p[0], p[1], p[1]
    if len(p) != 4:
        raise ValueError(f"padding must be an int, [x, y] or [x0, x1, y0, y1], not {padding!r}")
    return p[0], p[1], p[2], p[3]


def output_size(
    in_size: tuple[int, int],
    up_taps: int,
    down_taps: int,
    up: int,
    down: int,
    padding: int | tuple[int, ...] | list[int],
) -> tuple[int, int]:
    """(height, width) of `filtered_lrelu`'s output for an input of `in_size` = (height, width)."""
    px0, px1, py0, py1 = _pad4(padding)
    h = (in_size[0] * up + py0 + py1 - (up_taps - 1) - (down_taps - 1) + down - 1) // down
    w = (in_size[1] * up + px0 + px1 - (up_taps - 1) - (down_taps - 1) + down - 1) // down
    return h, w


def _taps(f: torch.Tensor | None) -> int:
    return 1 if f is None else int(f.shape[-1])


def _as_2d(f: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    if f is None:
        return torch.ones([1, 1], device=device)
    f = f.to(device=device, dtype=torch.float32)
    return torch.outer(f, f) if f.ndim == 1 else f


def filtered_lrelu_reference(
    x: torch.Tensor,  # [N, C, H, W]
    fu: torch.Tensor | None = None,  # [taps], [taps, taps] or None
    fd: torch.Tensor | None = None,  # [taps], [taps, taps] or None
    b: torch.Tensor | None = None,  # [C]
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, ...] | list[int] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """The steps exactly as described in the module docstring, in plain PyTorch (slow, for tests).

    Returns:
        [N, C, H', W'] with (H', W') = `output_size(...)`.
    """
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d(x, _as_2d(fu, x.device), up=up, padding=_pad4(padding), gain=up * up)
    x = F.leaky_relu(x, slope) * gain if slope != 1 else x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, _as_2d(fd, x.device), down=down)


# --------------------------------------------------------------------------------------------------
# The fast implementation.


@dataclass(frozen=True)
class _Stage:
    """y[i] = sum_j A[i, j] x[j] along one axis, with A[i + r, j + s] = A[i, j].

    Output i = b*r + o reads inputs j_off + b*s + t for t in [0, taps): `kern[o, t]`.
    """

    r: int
    s: int
    j_off: int
    kern: torch.Tensor  # [r, taps] float32

    @property
    def taps(self) -> int:
        return int(self.kern.shape[1])

    def blocks(self, n_out: int) -> int:
        return -(-n_out // self.r)

    def conv_weight(self) -> torch.Tensor:
        """[r, s, 1, nk]: kern regrouped so that block kk of `s` inputs is one kernel column."""
        nk = -(-self.taps // self.s)
        k = F.pad(self.kern, [0, nk * self.s - self.taps])
        return k.reshape(self.r, nk, self.s).permute(0, 2, 1).unsqueeze(2).contiguous()


def _up_stage(f: torch.Tensor | None, up: int, pad_lo: int, r: int, scale: float) -> _Stage:
    """Zero-insertion upsampling by `up`, padding `pad_lo` in front, true convolution with f * up."""
    w = (torch.ones(1, dtype=torch.float64) if f is None else f.detach().cpu().double()) * (up * scale)
    k = int(w.shape[0])
    s = r // up
    j_min = -(pad_lo // up)  # ceil(-pad_lo / up)
    j_max = (r - 1 + k - 1 - pad_lo) // up
    o = torch.arange(r).unsqueeze(1)
    j = j_min + torch.arange(j_max - j_min + 1).unsqueeze(0)
    idx = o + (k - 1 - pad_lo) - up * j  # y[i] = sum_j x[j] w[i + k - 1 - pad_lo - up*j]
    valid = (idx >= 0) & (idx < k)
    kern = torch.where(valid, w[idx.clamp(0, k - 1)], torch.zeros((), dtype=torch.float64))
    return _Stage(r=r, s=s, j_off=j_min, kern=kern.float())


def _down_stage(f: torch.Tensor | None, down: int, r: int) -> _Stage:
    """Convolution with f at the valid positions, keeping every `down`-th output."""
    w = torch.ones(1, dtype=torch.float64) if f is None else f.detach().cpu().double()
    k = int(w.shape[0])
    taps = (r - 1) * down + k
    o = torch.arange(r).unsqueeze(1)
    t = torch.arange(taps).unsqueeze(0)
    idx = k - 1 - (t - o * down)  # y[i] = sum_j x[j] f[k - 1 - (j - i*down)]
    valid = (idx >= 0) & (idx < k)
    kern = torch.where(valid, w[idx.clamp(0, k - 1)], torch.zeros((), dtype=torch.float64))
    return _Stage(r=r, s=r * down, j_off=0, kern=kern.float())


def _radial_down_weight(f: torch.Tensor, down: int, r: int) -> tuple[torch.Tensor, int]:
    """[r, s, k, nk] conv weight for a 2-D down filter along (rows, column blocks), and s."""
    g = f.detach().cpu().double().flip([0, 1])  # correlation taps
    k = int(g.shape[1])
    s = r * down
    taps = (r - 1) * down + k
    nk = -(-taps // s)
    o = torch.arange(r).view(r, 1)
    t = torch.arange(nk * s).view(1, -1)
    col = t - o * down  # [r, nk*s]
    valid = (col >= 0) & (col < k)
    w = g[:, col.clamp(0, k - 1)]  # [k rows, r, nk*s]
    w = torch.where(valid.unsqueeze(0), w, torch.zeros((), dtype=torch.float64))
    w = w.permute(1, 0, 2).reshape(r, k, nk, s).permute(0, 3, 1, 2)  # [r, s, k rows, nk]
    return w.float().contiguous(), s


def _rows(x: torch.Tensor, kern: torch.Tensor, stage: _Stage, nb: int) -> torch.Tensor:
    """Apply `stage` along dim 1 of x [R, H, W] whose row 0 is input j_off; returns [R, nb*r, W]."""
    rows, _, w = x.shape
    windows = x.as_strided((rows, nb, stage.taps, w), (x.stride(0), stage.s * w, w, 1))
    return torch.matmul(kern.to(x.dtype), windows).reshape(rows, nb * stage.r, w)


def _columns(x: torch.Tensor, weight: torch.Tensor, s: int, stride_rows: int = 1) -> torch.Tensor:
    """One convolution over blocks of `s` columns of x [R, H, W] (W a multiple of s); returns [R, H', W']."""
    rows, h, w = x.shape
    view = x.view(rows, h, w // s, s).permute(0, 3, 1, 2)  # channels-last [R, s, H, blocks]: no copy
    y = F.conv2d(view, weight.to(x.dtype), stride=(stride_rows, 1))  # channels-last [R, r, H', blocks']
    return y.permute(0, 2, 3, 1).reshape(rows, y.shape[2], -1)


@dataclass
class Plan:
    """What `filtered_lrelu` derives from the filters and the input size (cache it per layer)."""

    in_size: tuple[int, int]
    out_size: tuple[int, int]
    tmp_size: tuple[int, int]  # (rows, columns) of the upsampled buffer, at least the valid part
    input_pad: tuple[int, int, int, int]  # F.pad of the input: left, right, top, bottom
    gain_in_filter: bool
    up_rows: _Stage | None = None
    up_cols: _Stage | None = None
    down_rows: _Stage | None = None
    down_cols: _Stage | None = None
    radial_s: int = 0
    down: int = 1
    tensors: dict[str, torch.Tensor] | None = None


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def _block(n: int, multiple: int, candidates: tuple[int, ...]) -> int:
    """The block length (a multiple of `multiple`) that covers `n` outputs with the least excess."""
    options = sorted({_round_up(c, multiple) for c in candidates}, reverse=True)
    return min(options, key=lambda r: _round_up(n, r))


def make_plan(
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    up: int,
    down: int,
    padding: int | tuple[int, ...] | list[int],
    gain: float,
    in_size: tuple[int, int],
    device: torch.device | str = "cpu",
) -> Plan:
    """Precompute the period matrices and buffer sizes of `filtered_lrelu` for one input size."""
    px0, px1, py0, py1 = _pad4(padding)
    if fu is not None and fu.ndim != 1:
        raise ValueError("the fast filtered_lrelu needs a separable (1-D) up filter or None")
    h, w = in_size
    ku = _taps(fu)
    th, tw = h * up + py0 + py1 - ku + 1, w * up + px0 + px1 - ku + 1
    oh, ow = output_size(in_size, _taps(fu), _taps(fd), up, down, padding)
    kd = _taps(fd)
    if min(oh, ow) <= 0 or min(th, tw) < kd:
        raise ValueError(f"filtered_lrelu: an input of {in_size} is too small for these filters and padding")
    tensors: dict[str, torch.Tensor] = {}
    plan = Plan(in_size, (oh, ow), (th, tw), (0, 0, 0, 0), gain_in_filter=False, down=down, tensors=tensors)

    # What the down passes read: columns as whole blocks, rows as overlapping windows.
    col_multiple = 1
    if fd is not None and fd.ndim == 2:
        weight, s = _radial_down_weight(fd, down, 8)
        tensors["down_radial"] = weight.to(device)
        plan.radial_s = s
        need_w, need_h, col_multiple = (-(-ow // 8) + int(weight.shape[3]) - 1) * s, th, s
    elif fd is not None or down > 1:
        plan.down_cols = _down_stage(fd, down, 8)
        # Longer row blocks multiply bigger matrices but read more of the upsampled image: the least
        # excess wins, ties go to the longer block.
        plan.down_rows = min(
            (_down_stage(fd, down, r) for r in (64, 32, 16)),
            key=lambda st: (st.blocks(oh) - 1) * st.s + st.taps,
        )
        tensors["down_cols"] = plan.down_cols.conv_weight().to(device)
        tensors["down_rows"] = plan.down_rows.kern.to(device)
        nk = int(tensors["down_cols"].shape[3])
        need_w = (plan.down_cols.blocks(ow) + nk - 1) * plan.down_cols.s
        need_h = (plan.down_rows.blocks(oh) - 1) * plan.down_rows.s + plan.down_rows.taps
        col_multiple = plan.down_cols.s
    else:
        need_w, need_h = tw, th

    if fu is None and up == 1:  # no up filter: the padding only, gain applied separately
        plan.tmp_size = (need_h if plan.down_rows else max(need_h, th), need_w)
        plan.input_pad = (px0, need_w - w - px0, py0, plan.tmp_size[0] - h - py0)
        return plan
    plan.gain_in_filter = True  # lrelu(g * x) = g * lrelu(x) for g > 0: the gain rides on the row filter
    r_rows = _block(need_h, up, (64, 32, 16))
    r_cols = _block(need_w, math.lcm(up, col_multiple), (16,))  # measured: 8-16 input channels run best
    plan.up_rows = _up_stage(fu, up, py0, r_rows, scale=gain)
    plan.up_cols = _up_stage(fu, up, px0, r_cols, scale=1.0)
    tensors["up_rows"] = plan.up_rows.kern.to(device)
    tensors["up_cols"] = plan.up_cols.conv_weight().to(device)
    nb_rows = plan.up_rows.blocks(need_h)
    nb_cols = plan.up_cols.blocks(need_w)
    nk = int(tensors["up_cols"].shape[3])
    len_rows = (nb_rows - 1) * plan.up_rows.s + plan.up_rows.taps
    len_cols = (nb_cols + nk - 1) * plan.up_cols.s
    top, left = -plan.up_rows.j_off, -plan.up_cols.j_off
    plan.input_pad = (left, len_cols - w - left, top, len_rows - h - top)
    plan.tmp_size = (nb_rows * plan.up_rows.r, nb_cols * plan.up_cols.r)
    return plan


def filtered_lrelu(
    x: torch.Tensor,  # [N, C, H, W]
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, ...] | list[int] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    plan: Plan | None = None,
) -> torch.Tensor:
    """Same result as `filtered_lrelu_reference` (to float32 rounding), without zero insertion,
    wasted taps or depthwise convolutions.

    Args:
        x, fu, fd, b, up, down, padding, gain, slope, clamp: as `filtered_lrelu_reference`. A 2-D
            up filter falls back to the reference.
        plan: `make_plan(...)` for these filters, factors, padding, gain and input size.

    Returns:
        [N, C, H', W'].
    """
    if fu is not None and fu.ndim != 1:
        return filtered_lrelu_reference(x, fu, fd, b, up, down, padding, gain, slope, clamp)
    n, c, h, w = x.shape
    if plan is None:
        plan = make_plan(fu, fd, up, down, padding, gain, (h, w), x.device)
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = x.reshape(n * c, h, w)
    per_chunk = max(1, CHUNK_ELEMENTS // (plan.tmp_size[0] * plan.tmp_size[1]))
    parts = [_chunk(x[i : i + per_chunk], plan, gain, slope, clamp) for i in range(0, n * c, per_chunk)]
    y = parts[0] if len(parts) == 1 else torch.cat(parts)
    return y.reshape(n, c, *plan.out_size)


def _chunk(x: torch.Tensor, plan: Plan, gain: float, slope: float, clamp: float | None) -> torch.Tensor:
    t = plan.tensors
    assert t is not None
    x = F.pad(x, list(plan.input_pad)).contiguous()
    if plan.up_rows is not None and plan.up_cols is not None:
        x = _rows(x, t["up_rows"], plan.up_rows, plan.up_rows.blocks(plan.tmp_size[0]))
        x = _columns(x, t["up_cols"], plan.up_cols.s)
    elif gain != 1:
        x = x * gain
    if slope != 1:
        x = F.leaky_relu_(x, slope) if x.is_contiguous() else F.leaky_relu(x, slope)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp)
    oh, ow = plan.out_size
    if "down_radial" in t:
        x = _columns(x, t["down_radial"], plan.radial_s, stride_rows=plan.down)
    elif plan.down_rows is not None and plan.down_cols is not None:
        x = _columns(x, t["down_cols"], plan.down_cols.s)
        x = _rows(x, t["down_rows"], plan.down_rows, plan.down_rows.blocks(oh))
    return x[:, :oh, :ow]
