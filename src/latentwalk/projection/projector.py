"""Projection of one image into a generator's latent space by optimisation (after NVIDIA's projector).

The schedule follows the one of stylegan2-ada-pytorch's `projector.py`, re-derived: Adam, the
learning rate ramped up over the first 5 % of the steps and down along a cosine over the last
25 %, the latent perturbed by Gaussian noise that fades out over the first 75 % (it shakes the
search out of poor basins early), and, for StyleGAN's noise inputs when they are optimised, a
penalty on their spatial autocorrelation at several scales plus renormalisation after each step.

The losses need no download (see `losses.py`). Where the space has no single good starting point
(z space: the mean of z is only the centre of a Gaussian) several starts are optimised together as
one batch for a short burn-in, and the best one goes on alone.

A `Projector` is a state machine advanced by `run(max_steps)`: the inference worker runs it in
short slices so that the explorer's renders are served in between (see `job.py`).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from latentwalk.errors import InvalidRequest
from latentwalk.projection.losses import ProjectionLoss, psnr, ssim_uint8
from latentwalk.render.images import to_uint8
from latentwalk.types import has_w_space

Space = Literal["z", "w", "w+"]
SPACES: tuple[Space, ...] = ("z", "w", "w+")
MAX_STEPS = 5000
MAX_STARTS = 16


@dataclass(frozen=True)
class ProjectionOptions:
    """How to project; the defaults suit both the default DCGAN and StyleGAN models."""

    steps: int = 500
    space: Space | None = None  # None: "w" for models with a w space, else "z"
    starts: int | None = None  # None: 8 in z space, 1 in w space (w_avg is a good start)
    burn_in: int = 60  # steps the starts run together before the best is kept
    lr: float = 0.1
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    latent_noise: float = 0.05  # initial latent perturbation, times the latents' spread
    noise_ramp: float = 0.75
    optimize_noise: bool = False  # StyleGAN noise inputs; off so the latent alone gives the picture
    noise_weight: float = 1e5
    ssim_weight: float = 0.5
    seed: int = 0
    preview_every: int = 10  # a reconstruction image every N steps (0: none)

    def check(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise InvalidRequest(f"steps must be 1..{MAX_STEPS}, got {self.steps}")
        if self.space is not None and self.space not in SPACES:
            raise InvalidRequest(f"space {self.space!r} is not one of {', '.join(SPACES)}")
        if self.starts is not None and not 1 <= self.starts <= MAX_STARTS:
            raise InvalidRequest(f"starts must be 1..{MAX_STARTS}, got {self.starts}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InvalidRequest("the learning rate must be a positive number")


@dataclass
class ProjectionStep:
    """Progress after a slice of steps: where it is, the loss, and maybe a reconstruction."""

    step: int
    total: int
    loss: float
    preview: np.ndarray | None = None  # [H, W, C] uint8


@dataclass
class ProjectionResult:
    """The found latent and how close its picture is to the target."""

    space: Space
    latent: np.ndarray  # z [1, z_dim], or ws [1, num_ws, w_dim] for w and w+
    reconstruction: np.ndarray  # [H, W, C] uint8, exactly what the latent renders to
    target: np.ndarray  # [H, W, C] uint8
    psnr: float
    ssim: float
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "space": self.space,
            "psnr": round(self.psnr, 3),
            "ssim": round(self.ssim, 4),
            "steps": len(self.losses),
            "seconds": round(self.seconds, 2),
        }


def trainable_copy(generator: torch.nn.Module) -> torch.nn.Module:
    """A copy of the generator whose tensors take part in autograd (the worker loads models in
    inference mode, whose tensors cannot), frozen, in eval mode."""
    with torch.inference_mode(False):
        g = copy.deepcopy(generator)
        for module in g.modules():
            for name, buf in list(module._buffers.items()):
                if buf is not None and buf.is_inference():
                    module._buffers[name] = buf.clone()
        return g.eval().requires_grad_(False)


class Projector:
    """Optimises latents so that `generator` renders `target`; advance it with `run`."""

    def __init__(
        self,
        generator: torch.nn.Module,  # a `trainable_copy`, on `device`
        target: np.ndarray,  # [R, R, C] uint8 at the generator's resolution
        options: ProjectionOptions,
        device: torch.device,
        features: torch.nn.Module | None = None,
    ) -> None:
        options.check()
        self.g, self.options, self.device = generator, options, device
        res, channels = int(generator.img_resolution), int(generator.img_channels)
        if target.shape != (res, res, channels):
            raise InvalidRequest(f"the target is {target.shape}, the model renders {(res, res, channels)}")
        if int(getattr(generator, "c_dim", 0)):
            raise InvalidRequest("projection into conditional models is not supported yet")
        self.w_model = has_w_space(generator)
        self.space: Space = options.space or ("w" if self.w_model else "z")
        if self.space != "z" and not self.w_model:
            raise InvalidRequest(f"this model has no w space: project into z (asked for {self.space})")
        self.target = target
        tgt = torch.from_numpy(target.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None].to(device)
        self.loss_fn = ProjectionLoss(tgt, ssim_weight=options.ssim_weight, features=features)
        self.gen = torch.Generator(device="cpu").manual_seed(options.seed)
        self.step = 0
        self.losses: list[float] = []
        self.started = time.perf_counter()
        self.noise_bufs: list[torch.Tensor] = []
        starts = options.starts or (8 if self.space == "z" else 1)
        self.latent, self.spread = self._initial_latents(starts)
        if options.optimize_noise and self.w_model and starts == 1:
            self._free_noise()
        self.opt = torch.optim.Adam([self.latent, *self.noise_bufs], lr=0.0, betas=(0.9, 0.999))

    # ------------------------------------------------------------------ set-up

    def _randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen).to(self.device)

    def _initial_latents(self, starts: int) -> tuple[torch.Tensor, float]:
        g = self.g
        if self.space == "z":
            # The first start is the mean of z; the others are draws from the prior.
            z = torch.cat([torch.zeros(1, g.z_dim, device=self.device), self._randn(starts - 1, g.z_dim)])
            return z.requires_grad_(True), math.sqrt(g.z_dim)
        with torch.no_grad():
            samples = g.mapping(self._randn(2000, g.z_dim), torch.zeros(2000, 0, device=self.device))[:, 0]
        w_avg = samples.mean(0, keepdim=True)  # [1, w_dim]
        spread = float(((samples - w_avg).square().sum() / samples.shape[0]).sqrt())
        n = g.num_ws if self.space == "w+" else 1
        w = w_avg[:, None, :].repeat(starts, n, 1)
        if starts > 1:
            w[1:] += self._randn(starts - 1, n, g.w_dim) * (spread / math.sqrt(g.w_dim))
        return w.requires_grad_(True), spread

    def _free_noise(self) -> None:
        """Make StyleGAN's constant noise inputs free variables, started from fresh Gaussian noise."""
        for module in self.g.modules():
            buf = module._buffers.get("noise_const")
            if buf is not None:
                fresh = self._randn(*buf.shape).requires_grad_(True)
                module._buffers["noise_const"] = fresh
                self.noise_bufs.append(fresh)

    # ------------------------------------------------------------------ the loop

    @property
    def done(self) -> bool:
        return self.step >= self.options.steps

    def _synth(self, latent: torch.Tensor) -> torch.Tensor:  # [K, ...] -> [K, C, R, R]
        g = self.g
        if self.space == "z":
            return g.render(latent, torch.zeros(latent.shape[0], 0, device=self.device))
        ws = latent.expand(-1, g.num_ws, -1) if self.space == "w" else latent
        return g.synthesis(ws, noise_mode="const")

    def _schedule(self) -> tuple[float, float]:
        o = self.options
        t = self.step / o.steps
        noise = self.spread * o.latent_noise * max(0.0, 1.0 - t / o.noise_ramp) ** 2
        ramp = min(1.0, (1.0 - t) / o.lr_rampdown)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
        ramp *= min(1.0, t / o.lr_rampup) if o.lr_rampup > 0 else 1.0
        return o.lr * ramp, noise

    def _noise_penalty(self) -> torch.Tensor:
        reg = torch.zeros([], device=self.device)
        for buf in self.noise_bufs:
            n = buf[None, None]
            while True:
                reg = (
                    reg
                    + (n * torch.roll(n, 1, dims=3)).mean() ** 2
                    + (n * torch.roll(n, 1, dims=2)).mean() ** 2
                )
                if n.shape[-1] <= 8:
                    break
                n = torch.nn.functional.avg_pool2d(n, 2)
        return reg

    def run(self, max_steps: int = 10, max_seconds: float = 0.25) -> ProjectionStep:
        """Advance by up to `max_steps` steps or about `max_seconds`, whichever ends first."""
        o = self.options
        t0 = time.perf_counter()
        preview = None
        loss_value = self.losses[-1] if self.losses else math.nan
        for _ in range(max_steps):
            if self.done:
                break
            lr, noise_scale = self._schedule()
            for group in self.opt.param_groups:
                group["lr"] = lr
            latent = self.latent + self._randn(*self.latent.shape) * noise_scale
            images = self._synth(latent)
            per_start = self.loss_fn(images)  # [K]
            loss = per_start.sum()
            if self.noise_bufs:
                loss = loss + o.noise_weight * self._noise_penalty()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            if self.noise_bufs:
                with torch.no_grad():
                    for buf in self.noise_bufs:
                        buf -= buf.mean()
                        buf *= buf.square().mean().rsqrt()
            best = int(per_start.detach().argmin())
            loss_value = float(per_start[best].detach())
            self.losses.append(loss_value)
            self.step += 1
            if self.latent.shape[0] > 1 and (self.step >= o.burn_in or self.done):
                self._keep(best)
                best = 0
            if o.preview_every and (self.step % o.preview_every == 0 or self.done):
                preview = to_uint8(images[best : best + 1].detach())[0]
            if time.perf_counter() - t0 > max_seconds:
                break
        return ProjectionStep(self.step, o.steps, loss_value, preview)

    def _keep(self, best: int) -> None:
        """End of the burn-in: go on with the best start alone, keeping its Adam moments."""
        old_state = self.opt.state.get(self.latent, {})
        latent = self.latent.detach()[best : best + 1].clone().requires_grad_(True)
        opt = torch.optim.Adam([latent], lr=0.0, betas=(0.9, 0.999))
        if old_state:
            opt.state[latent] = {
                k: (v[best : best + 1].clone() if torch.is_tensor(v) and v.ndim > 0 else v)
                for k, v in old_state.items()
            }
        self.latent, self.opt = latent, opt
        if self.options.optimize_noise and self.w_model and not self.noise_bufs:
            self._free_noise()
            self.opt.add_param_group({"params": self.noise_bufs, "lr": 0.0})

    def result(self) -> ProjectionResult:
        """The latent as it stands (the best start if still in burn-in) and its exact rendering."""
        with torch.no_grad():
            images = self._synth(self.latent.detach())
            best = int(self.loss_fn(images).argmin())
            latent = self.latent.detach()[best : best + 1]
            if self.space == "w":
                latent = latent.expand(-1, self.g.num_ws, -1)
            recon = to_uint8(images[best : best + 1])[0]
        return ProjectionResult(
            space=self.space,
            latent=latent.cpu().numpy().astype(np.float32),
            reconstruction=recon,
            target=self.target,
            psnr=psnr(recon, self.target),
            ssim=ssim_uint8(recon, self.target),
            losses=list(self.losses),
            seconds=time.perf_counter() - self.started,
        )
