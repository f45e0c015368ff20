"""A weight-free CPPN image generator with fixed random weights drawn from a seed."""

from __future__ import annotations

import math

import torch

from latentwalk.models.base import ZSpaceGenerator

_TAU = 2.0 * math.pi
_RADIUS_SOFTENING = 0.15  # r = sqrt(x^2 + y^2 + 0.15^2): a plain radius leaves a pinched point at the centre

# Domain warp: x += a0 sin(2.1 y + 0.7) + a1 cos(1.7 y - 0.4), y += a2 sin(1.9 x - 1.3) + a3 cos(1.5 x + 0.9),
# with the amplitudes a depending on z.
_WARP_FREQ = (2.1, 1.7, 1.9, 1.5)
_WARP_PHASE = (0.7, -0.4 + 0.5 * math.pi, -1.3, 0.9 + 0.5 * math.pi)  # cos(u) = sin(u + pi/2)


class ProceduralGenerator(ZSpaceGenerator):
    """A compositional pattern-producing network (CPPN) whose weights are drawn once from `seed`.

    Each pixel is computed on its own from its coordinates, so any resolution works and the image is
    a smooth field rather than a grid of samples. The pipeline for a latent z:

    1. Code. z goes through a fixed random projection scaled by 1/sqrt(z_dim) into a 16-d code,
       which has unit variance per element for z ~ N(0, I). Everything below depends on z only
       through this code, and smoothly, so small latent steps give small image changes; z = 0
       (psi = 0) gives one fixed image.
    2. Coordinates. The pixel grid in [-1, 1]^2 is bent by a code-dependent sinusoidal domain warp,
       then rotated (angle linear in the code) and scaled (log-scale linear in the code). This
       makes different seeds differ in orientation and size, not only in colour, and makes a walk
       turn and breathe.
    3. Features. x, y, a softened radius r and six low-frequency Fourier features sin/cos(w.(x, y)) along
       fixed random directions (0.4 to 1.4 cycles across the image).
    4. Network. A tanh MLP of `depth` layers and `hidden` units; the code adds to the first layer's
       pre-activation and modulates the gain and bias of every later layer (FiLM style). Weight
       scales are chosen so that the field has rounded blobs with a few sharper ridges.
    5. Colour. The net ends in two scalar fields: a palette coordinate t and a shade s. The colour
       is a cosine palette 0.5 + 0.5 cos(2 pi (t + d)) per channel (Inigo Quilez's trick), with the
       channel phases d moved by the code, so each seed gets its own harmonious palette; it is
       slightly desaturated and multiplied by a shade in [0.6, 1]. The result lies in [0, 1] by
       construction and is mapped to [-1, 1]; no clipping is needed.

    How strongly the code acts is a trade-off: strong enough that seeds differ in layout, palette
    and orientation, weak enough that a lerp between two seeds is a morph. In mean absolute pixel
    difference, the largest step of a 10-step lerp between seeds 0 and 1 is about a third of the total
    change, and a step of 1e-3 |z| changes the image by about 0.2% of a change of seed.

    Nothing mixes pixels or batch items, so rendering a batch equals rendering each item alone.
    All weights are buffers (not Parameters, so nothing requires grad) generated from a seeded CPU
    `torch.Generator`, hence identical on every machine and run; they are not persistent (the state
    dict is empty) because `seed`, `z_dim`, `hidden` and `depth` define the model completely.
    """

    code_dim: int = 16
    n_fourier: int = 6
    chunk_pixels: int = 16384  # pixels per step: keeps the [pixels, hidden] activations in cache

    def __init__(
        self,
        z_dim: int = 512,
        resolution: int = 256,
        seed: int = 0,
        hidden: int = 32,
        depth: int = 4,
    ) -> None:
        super().__init__()
        if z_dim < 1 or resolution < 1 or hidden < 1 or depth < 1:
            raise ValueError("z_dim, resolution, hidden and depth must all be positive")
        self.z_dim = int(z_dim)
        self.img_resolution = int(resolution)
        self.img_channels = 3
        self.c_dim = 0
        self.seed = int(seed)
        self.hidden = int(hidden)
        self.depth = int(depth)

        gen = torch.Generator(device="cpu").manual_seed(self.seed)

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float32)

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=gen, dtype=torch.float32)

        k, c, h = self.n_fourier, self.code_dim, self.hidden
        n_feat = 3 + 2 * k
        n_mid = self.depth - 1

        angles = rand(k) * _TAU
        freqs = (0.4 + 1.0 * rand(k)) * math.pi  # 0.4 to 1.4 cycles across the image
        self._buffer("fourier_dirs", torch.stack([angles.cos(), angles.sin()], dim=0) * freqs)  # [2, K]

        self._buffer("z_proj", randn(self.z_dim, c) / math.sqrt(self.z_dim))  # [z_dim, C]
        self._buffer("warp_code", randn(c, 4) * (0.14 / math.sqrt(c)))
        self._buffer("rot_code", randn(c, 1) * (0.15 / math.sqrt(c)))  # radians per unit of code
        self._buffer("scale_code", randn(c, 1) * (0.05 / math.sqrt(c)))  # log-scale per unit
        self._buffer("palette_code", randn(c, 3) * (0.2 / math.sqrt(c)))  # palette phase shift

        self._buffer("w_in", randn(n_feat, h) * (1.5 / math.sqrt(n_feat)))
        self._buffer("b_in", randn(h) * 0.5)
        self._buffer("w_code_in", randn(c, h) * (0.4 / math.sqrt(c)))
        self._buffer("w_mid", randn(n_mid, h, h) * (1.9 / math.sqrt(h)))
        self._buffer("b_mid", randn(n_mid, h) * 0.3)
        self._buffer("film_gain", randn(n_mid, c, h) * (0.13 / math.sqrt(c)))
        self._buffer("film_bias", randn(n_mid, c, h) * (0.18 / math.sqrt(c)))
        self._buffer("w_out", randn(h, 2) * (1.5 / math.sqrt(h)))  # -> (palette coordinate, shade)
        self._buffer("b_out", randn(2) * 0.2)

        self._buffer("palette_phase", torch.tensor([0.0, 0.1, 0.2]))
        # Per-pixel inputs that do not depend on z, [R*R, 6]: built on first use, rebuilt whenever the
        # resolution (or the device or dtype) changes. See `_coords`.
        self._buffer("_grid", torch.empty(0, 6))

    def _buffer(self, name: str, value: torch.Tensor) -> None:
        self.register_buffer(name, value.to(torch.float32).contiguous(), persistent=False)

    def _coords(self) -> torch.Tensor:
        """Per-pixel inputs [R*R, 6], row-major, cached per resolution.

        Columns: the pixel centre (x, y) in [-1, 1]^2, then the four domain-warp waves: two in y that
        displace x and two in x that displace y.
        """
        res = self.img_resolution
        ref = self.w_in
        grid = self._grid
        if grid.shape[0] != res * res or grid.device != ref.device or grid.dtype != ref.dtype:
            # A normal tensor even when first called under inference mode, so that a later call with
            # autograd (say, optimising z) can still use the cache.
            with torch.inference_mode(False):
                t = (torch.arange(res, dtype=torch.float64) + 0.5) * (2.0 / res) - 1.0
                yy, xx = torch.meshgrid(t, t, indexing="ij")
                xy = torch.stack([xx, yy], dim=-1).reshape(res * res, 2)
                freq = torch.tensor(_WARP_FREQ, dtype=torch.float64)
                phase = torch.tensor(_WARP_PHASE, dtype=torch.float64)
                waves = torch.sin(xy[:, (1, 1, 0, 0)] * freq + phase)
                grid = torch.cat([xy, waves], dim=1).to(device=ref.device, dtype=ref.dtype)
            self._grid = grid
        return grid

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # [N, z_dim] -> [N, 3, R, R] in [-1, 1]
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected z of shape [N, {self.z_dim}], got {list(z.shape)}")
        ref = self.w_in
        z = z.to(device=ref.device, dtype=ref.dtype)
        n, res = z.shape[0], self.img_resolution
        grid = self._coords()
        out = torch.empty(n, 3, grid.shape[0], device=ref.device, dtype=ref.dtype)
        # One image at a time, code included, so an image is bit-for-bit what it would be alone; and
        # a chunk of pixels at a time, so the [pixels, hidden] activations stay in cache.
        for i in range(n):
            self._render_one(z[i : i + 1], grid, out[i])
        return out.reshape(n, 3, res, res)

    def _render_one(self, z: torch.Tensor, grid: torch.Tensor, out: torch.Tensor) -> None:
        """Render one latent z [1, z_dim] over the grid [P, 6] into out [3, P]."""
        code = z @ self.z_proj  # [1, C]

        # The coordinate transform as one linear map of the grid's columns: (x, y) plus the warp,
        # then rotation and scale. As a row-vector product: xy' = [xy | waves] @ [rot; warp @ rot].
        warp_amp = torch.tanh(code @ self.warp_code)[0]  # [4]
        warp = torch.zeros(4, 2, device=code.device, dtype=code.dtype)
        warp[0:2, 0] = warp_amp[0:2]  # the y waves displace x
        warp[2:4, 1] = warp_amp[2:4]  # the x waves displace y
        angle = (code @ self.rot_code)[0]  # [1]
        cos_a, sin_a = torch.cos(angle), torch.sin(angle)
        rot = torch.cat([cos_a, sin_a, -sin_a, cos_a]).reshape(2, 2) * torch.exp(code @ self.scale_code)[0]
        coord_map = torch.cat([rot, warp @ rot], dim=0)  # [6, 2]

        b_in = (self.b_in + code @ self.w_code_in)[0]  # [H]
        gain = 1.0 + torch.einsum("c,lch->lh", code[0], self.film_gain)  # [L, H]
        w_mid = self.w_mid * gain[:, None, :]  # [L, H, H]: FiLM gain folded into the weights
        b_mid = self.b_mid + torch.einsum("c,lch->lh", code[0], self.film_bias)  # [L, H]
        phase = (self.palette_phase + code @ self.palette_code)[0]  # [3]

        for start in range(0, grid.shape[0], self.chunk_pixels):
            pix = grid[start : start + self.chunk_pixels]
            out[:, start : start + pix.shape[0]] = self._pixels(pix, coord_map, b_in, w_mid, b_mid, phase).T

    def _pixels(
        self,
        pix: torch.Tensor,  # [P, 6] rows of the grid from `_coords`
        coord_map: torch.Tensor,  # [6, 2]
        b_in: torch.Tensor,  # [H]
        w_mid: torch.Tensor,  # [L, H, H]
        b_mid: torch.Tensor,  # [L, H]
        phase: torch.Tensor,  # [3]
    ) -> torch.Tensor:  # [P, 3] in [-1, 1]
        """Colours of a set of pixels of one image, given that image's z-dependent quantities."""
        xy = pix @ coord_map  # [P, 2]: warped, rotated and scaled coordinates

        proj = xy @ self.fourier_dirs  # [P, K]
        r = torch.sqrt((xy * xy).sum(dim=1, keepdim=True) + _RADIUS_SOFTENING**2)
        feats = torch.cat([xy, r, torch.sin(proj), torch.cos(proj)], dim=1)  # [P, F]

        h = torch.addmm(b_in, feats, self.w_in).tanh_()  # [P, H]
        for layer in range(w_mid.shape[0]):
            h = torch.addmm(b_mid[layer], h, w_mid[layer]).tanh_()
        fields = torch.addmm(self.b_out, h, self.w_out)  # [P, 2]: palette coordinate, shade

        # Colour: cosine palette of t, slightly desaturated, times a shade in [0.6, 1], then to [-1, 1].
        rgb = 0.5 + 0.5 * torch.cos(math.pi * fields[:, 0:1] + _TAU * phase)  # [P, 3] in [0, 1]
        lum = rgb.mean(dim=1, keepdim=True)
        rgb = lum + 0.85 * (rgb - lum)
        shade = 0.8 + 0.2 * torch.tanh(fields[:, 1:2])
        return (2.0 * shade) * rgb - 1.0
