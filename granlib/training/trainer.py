"""The trainer: G, the normalised D, EMA-G, their optimisers, and one training iteration.

One iteration = ``n_dis`` D steps (real and fake through D in one forward; GraN's and WGAN-GP's terms double
backprop), one G step (cheap on the fast path: ‖∇f‖ held constant, exact a.e., see :mod:`granlib.gran`), the EMA
of G's weights, and the lr schedules. Random inputs are arguments, so tests and torchrun can inject them.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from granlib.losses import get_loss
from granlib.models import build_models
from granlib.normalizers import build_discriminator
from granlib.training.config import TrainConfig, normalizer_arguments, resolve_config
from granlib.training.fast_path import FastPath, precision


def discriminator_for(config: TrainConfig, d_net: nn.Module) -> nn.Module:
    """The normalised D of a resolved ``config`` around ``d_net``: its normaliser, K and declared hyper-parameters
    (the one place a config becomes a discriminator, for training and for reloading a run alike)."""
    return build_discriminator(config.normalizer, d_net, K=config.K, **normalizer_arguments(config))


class LinearDecay:
    """lr factor 1 − step/total (Mimicry's linear decay); a class so the scheduler's state is saved."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.enabled = total, enabled

    def __call__(self, step: int) -> float:
        return max(0.0, 1.0 - step / self.total) if self.enabled else 1.0


def accumulate(totals: dict[str, Tensor], stats: dict[str, Tensor], weight: float = 1.0) -> None:
    """Add ``weight``·stats into totals on the device; keys starting with ``max_`` keep the maximum."""
    for key, value in stats.items():
        if key.startswith("max_"):
            totals[key] = torch.maximum(totals[key], value) if key in totals else value
        else:
            totals[key] = totals.get(key, 0) + (value if weight == 1.0 else weight * value)  # no ×1 kernel


class Trainer(nn.Module):
    """G, the normalised D, EMA-G, their optimisers and one training iteration: what :func:`granlib.training.train`
    drives and a checkpoint holds.

    ``iteration(reals, d_noises, g_noise)`` takes its random inputs as arguments so that tests (and
    distributed training) can inject them; ``sample_inputs`` draws them from the global RNG.
    """

    def __init__(self, config: TrainConfig, device: torch.device, models: tuple[nn.Module, nn.Module] | None = None,
                 fast_path: FastPath | None = None):
        super().__init__()
        config = resolve_config(config.replace(device=str(device)))  # the device given here is the one used
        self.config = config
        generator, d_net = models or build_models(config.architecture, config.resolution, nz=config.nz,
                                                  ngf=config.ngf, ndf=config.ndf, cnn_variant=config.cnn_variant,
                                                  init=config.init, resnet_upsample=config.resnet_upsample)
        self.G = generator.to(device)
        self.D = discriminator_for(config, d_net).to(device)
        self.ema_G = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.d_loss, self.g_loss = get_loss(config.loss)
        # Fast path (default on CUDA): the measures of granlib.training.fast_path (``fast_path`` picks a subset, for
        # ablations); the reference takes none of them. Either way no host sync inside an iteration.
        self.fast = bool(config.fast)  # resolved: on for CUDA unless the config says otherwise
        if fast_path is not None and not self.fast:
            raise ValueError("fast_path chooses measures of the fast path, but this run takes the reference path")
        self.fast_path = (fast_path or FastPath()) if self.fast else FastPath.off()
        on_cuda = device.type == "cuda"
        self.fused_adam = self.fast_path.fused_adam and on_cuda  # otherwise PyTorch's default Adam
        self.bf16 = self.fast_path.bf16_autocast and precision(self.fast, device.type, config.precision) == "bf16"
        fused = self.fused_adam or None
        self.opt_g = torch.optim.Adam(self.G.parameters(), config.lr_g, betas=config.betas_g, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), config.lr_d, betas=config.betas_d, fused=fused)
        decay = config.lr_decay == "linear"
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, LinearDecay(config.iterations, decay))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, LinearDecay(config.iterations, decay))
        self.device = device
        self.world_size = 1  # processes sharing each global batch (granlib.training.distributed)
        if self.fast_path.channels_last:
            for module in (self.G, self.D, self.ema_G):
                module.to(memory_format=torch.channels_last)
        # The modules that training forwards go through: DDP wrappers under torchrun, else G and D themselves.
        self.G_forward: nn.Module = self.G
        self.D_forward: nn.Module = self.D

    # --- one iteration
    def sample_inputs(self, sampler) -> tuple[list[Tensor], list[Tensor], Tensor]:
        c = self.config
        batch_d, batch_g = c.batch_size_d // self.world_size, c.batch_size_g // self.world_size  # this rank's share
        reals = [sampler.sample(batch_d) for _ in range(c.n_dis)]
        d_noises = [torch.randn(batch_d, c.nz, device=self.device) for _ in range(c.n_dis)]
        return reals, d_noises, torch.randn(batch_g, c.nz, device=self.device)

    def autocast(self):
        """bf16 autocast where the run's precision is bf16 (CUDA or CPU); a no-op otherwise. GraN/GP norms are
        widened to float32 (granlib.gran)."""
        # no cast cache: a cached bf16 copy of a weight would be recorded once by a CUDA graph and never refreshed
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False)

    def layout(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.fast_path.channels_last and x.dim() == 4 else x

    def d_step(self, real: Tensor, z: Tensor, gp_alpha: Tensor | None = None) -> dict[str, Tensor]:
        real = self.layout(real)
        with torch.no_grad(), self.autocast():
            fake = self.layout(self.G(z).float())
        with self.autocast():
            scores = self.D_forward(torch.cat([real, fake])).float()  # real and fake through D in one forward
            d_real, d_fake = scores[: len(real)], scores[len(real):]
            loss, loss_real, loss_fake = self.d_loss(d_real, d_fake)
            penalty = self.D.penalty(real, fake, alpha=gp_alpha)
        self.opt_d.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        self.opt_d.step()
        self.D.after_step()
        return {"loss_d": loss.detach(), "loss_d_real": loss_real.detach(), "loss_d_fake": loss_fake.detach(),
                "penalty": penalty.detach(), "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean(),
                "max_abs_d": scores.detach().abs().max()}

    def g_step(self, z: Tensor) -> dict[str, Tensor]:
        self.D.requires_grad_(False)  # D is a fixed function during the G step
        try:
            with self.autocast():
                # unwrapped, frozen D; the reference path differentiates through ‖∇f‖ (double backprop), the fast
                # path holds it constant, which is exact almost everywhere (granlib.gran)
                fake = self.layout(self.G_forward(z).float())
                loss = self.g_loss(self.D(fake, generator_step=self.fast_path.cheap_generator_step).float())
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return {"loss_g": loss.detach()}

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """ema ← ema + (1 − β)(θ − ema) after ``ema_start``; a plain copy before; buffers (BN stats) copied."""
        ema_params, params = list(self.ema_G.parameters()), list(self.G.parameters())
        if step < self.config.ema_start:
            torch._foreach_copy_(ema_params, params)
        else:
            torch._foreach_lerp_(ema_params, params, 1.0 - self.config.ema_decay)
        ema_buffers, buffers = list(self.ema_G.buffers()), list(self.G.buffers())
        if buffers:
            torch._foreach_copy_(ema_buffers, buffers)  # one kernel for all of them

    def iteration(self, step: int, reals: list[Tensor], d_noises: list[Tensor], g_noise: Tensor,
                  gp_alphas: list[Tensor] | None = None) -> dict[str, Tensor]:
        """n_dis D steps, one G step, EMA and lr schedule; returns device-side statistics (no host sync)."""
        stats = self.captured_updates(step, reals, d_noises, g_noise, gp_alphas)
        self.advance_schedules()
        return stats

    def captured_updates(self, step: int, reals: list[Tensor], d_noises: list[Tensor], g_noise: Tensor,
                          gp_alphas: list[Tensor] | None = None) -> dict[str, Tensor]:
        """The device work of one iteration (what :mod:`granlib.training.graphs` captures): D steps, G step, EMA."""
        stats: dict[str, Tensor] = {}
        for i, (real, z) in enumerate(zip(reals, d_noises)):
            accumulate(stats, self.d_step(real, z, gp_alphas[i] if gp_alphas else None), 1.0 / len(reals))
        stats.update(self.g_step(g_noise))
        self.update_ema(step)
        return stats

    def advance_schedules(self) -> None:
        """One lr-schedule step for G and D (host-side: kept outside a captured graph)."""
        self.sched_g.step()
        self.sched_d.step()

    # --- checkpoint state
    def training_state(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "ema_G": self.ema_G.state_dict(),
                "opt_g": portable_optimizer_state(self.opt_g), "opt_d": portable_optimizer_state(self.opt_d),
                "sched_g": portable_scheduler_state(self.sched_g), "sched_d": portable_scheduler_state(self.sched_d)}

    def load_training_state(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.ema_G.load_state_dict(state["ema_G"])
        self.opt_g.load_state_dict(self._with_this_runs_adam(state["opt_g"]))
        self.opt_d.load_state_dict(self._with_this_runs_adam(state["opt_d"]))
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])

    def _with_this_runs_adam(self, optimizer_state: dict) -> dict:
        """The saved state with this run's Adam flavour: a checkpoint of the other path resumes on this one."""
        groups = [{**group, "fused": self.fused_adam or None} for group in optimizer_state["param_groups"]]
        return {**optimizer_state, "param_groups": groups}


def portable_optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """The optimiser's state dict with a plain-float lr and capturable=False, loadable on any device.

    A graph-captured run keeps lr in a device tensor and Adam in capturable mode (granlib.training.graphs); a checkpoint
    must not carry either, so that it resumes on a CPU or in eager mode as well.
    """
    state = optimizer.state_dict()
    for group in state["param_groups"]:
        group["lr"] = float(group["lr"])
        if "capturable" in group:
            group["capturable"] = False
    return state


def portable_scheduler_state(scheduler) -> dict:
    """The scheduler's state dict with its last lr values as floats (not device tensors)."""
    state = scheduler.state_dict()
    if "_last_lr" in state:
        state["_last_lr"] = [float(value) for value in state["_last_lr"]]
    return state
