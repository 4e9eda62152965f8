"""Training: the GAN (G, normalised D, EMA-G, optimisers, one iteration) and ``train(config, run_dir)``.

``train`` writes a self-describing run directory (layout in :mod:`granlib.run_dir`), resumes from its checkpoint,
and refuses a run directory whose hyper-parameters differ.

Run as a script: ``python -m granlib.train --config cfg.yaml --run-dir runs/x`` (and under ``torchrun`` for
several processes, see :mod:`granlib.distributed`).
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from granlib.checkpoint import load_checkpoint
from granlib.config import TrainConfig
from granlib.data import load_dataset, make_sampler, to_float
from granlib.fast_path import FastPath
from granlib.graphs import GraphedIteration
from granlib.losses import get_loss
from granlib.models import build_models
from granlib.normalizers import build_discriminator, gradient_norms
from granlib.run_dir import (
    append_jsonl,
    checkpoint_path,
    prepare_run_dir,
    save_checkpoint,
    truncate_jsonl,
    write_provenance,
)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


class GAN(nn.Module):
    """G, the normalised D, EMA-G, their optimisers and one training iteration.

    ``iteration(reals, d_noises, g_noise)`` takes its random inputs as arguments so that tests (and
    distributed training) can inject them; ``sample_inputs`` draws them from the global RNG.
    """

    def __init__(self, config: TrainConfig, device: torch.device, models: tuple[nn.Module, nn.Module] | None = None,
                 fast_path: FastPath | None = None):
        super().__init__()
        self.config = config
        generator, d_net = models or build_models(config.architecture, config.resolution, nz=config.nz,
                                                  ngf=config.ngf, ndf=config.ndf)
        self.G = generator.to(device)
        self.D = build_discriminator(config.normalizer, d_net, K=config.K, eps=config.eps,
                                     gp_weight=config.gp_weight, clip=config.clip).to(device)
        self.ema_G = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.d_loss, self.g_loss = get_loss(config.loss)
        # Fast path (default on CUDA): the measures of granlib.fast_path (``fast_path`` picks a subset, for
        # ablations); the reference takes none of them. Either way no host sync inside an iteration.
        self.fast = device.type == "cuda" if config.fast is None else bool(config.fast)
        if fast_path is not None and not self.fast:
            raise ValueError("fast_path chooses measures of the fast path, but this run takes the reference path")
        self.fast_path = (fast_path or FastPath()) if self.fast else FastPath.off()
        on_cuda = device.type == "cuda"
        self.fused_adam = self.fast_path.fused_adam and on_cuda  # otherwise PyTorch's default Adam
        self.bf16 = self.fast_path.bf16_autocast and on_cuda
        fused = self.fused_adam or None
        self.opt_g = torch.optim.Adam(self.G.parameters(), config.lr_g, betas=config.betas_g, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), config.lr_d, betas=config.betas_d, fused=fused)
        decay = config.lr_decay == "linear"
        if config.lr_decay not in ("linear", "none"):
            raise ValueError(f"lr_decay must be 'linear' or 'none', got {config.lr_decay!r}")
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, LinearDecay(config.iterations, decay))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, LinearDecay(config.iterations, decay))
        self.device = device
        self.world_size = 1  # processes sharing each global batch (granlib.distributed)
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
        """bf16 autocast on the fast CUDA path; a no-op otherwise. GraN/GP norms are widened to float32."""
        enabled = self.bf16
        # no cast cache: a cached bf16 copy of a weight would be recorded once by a CUDA graph and never refreshed
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled, cache_enabled=False)

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
        stats = self.iteration_updates(step, reals, d_noises, g_noise, gp_alphas)
        self.advance_schedules()
        return stats

    def iteration_updates(self, step: int, reals: list[Tensor], d_noises: list[Tensor], g_noise: Tensor,
                          gp_alphas: list[Tensor] | None = None) -> dict[str, Tensor]:
        """The device work of one iteration (what :mod:`granlib.graphs` captures): D steps, G step, EMA."""
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

    A graph-captured run keeps lr in a device tensor and Adam in capturable mode (granlib.graphs); a checkpoint
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


def rng_state(sampler) -> dict:
    state = {"torch": torch.get_rng_state(), "sampler": sampler.state_dict()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, sampler) -> None:
    """Restore the RNG streams; states may arrive on the training device (map_location), setters want CPU."""
    torch.set_rng_state(state["torch"].cpu())
    sampler.load_state_dict({key: value.cpu() for key, value in state["sampler"].items()})
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_samples(gan: GAN, fixed_z: Tensor, path: Path) -> None:
    from torchvision.utils import save_image

    with torch.no_grad():
        images = gan.ema_G(fixed_z).float()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=8, normalize=True, value_range=(-1, 1))


def train(config: TrainConfig, run_dir: str | Path, quiet: bool = False, max_steps: int | None = None,
          evaluator=None, max_seconds: float | None = None) -> Path:
    """Train (or resume) the run described by ``config`` in ``run_dir``; returns ``run_dir``.

    ``max_steps`` stops after that many iterations in total (as if interrupted); re-running resumes.
    ``max_seconds`` stops at the first iteration that ends after this many seconds since the call (a job's time
    limit), with a checkpoint; re-running resumes. ``evaluator(ema_G, step) -> dict`` overrides the default
    periodic evaluation (``eval_every``); each metrics line also records the evaluation's ``eval_seconds``.
    """
    from tqdm.auto import tqdm

    from granlib import distributed

    called = time.perf_counter()
    run_dir = Path(run_dir)
    ctx = distributed.context()
    if max_seconds is not None and ctx.active:
        raise ValueError("max_seconds is for one process: ranks would stop at different iterations")
    device = distributed.device_for(ctx, resolve_device(config.device))
    for name, size in (("batch_size_d", config.batch_size_d), ("batch_size_g", config.batch_size_g)):
        if size % ctx.world_size:
            raise ValueError(f"{name}={size} does not split evenly across {ctx.world_size} processes")
    if ctx.is_main:
        prepare_run_dir(config, run_dir)
    distributed.barrier()
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(config.seed)
    gan = GAN(config, device)
    dataset = load_dataset(config.dataset, config.data_root, config.resolution)
    sampler = make_sampler(dataset, device, config.seed + 1000 * ctx.rank, config.in_memory)
    fixed_z = torch.randn(64, config.nz, generator=torch.Generator().manual_seed(config.seed + 1)).to(device)
    probe = gradient_probe(dataset, config.nz, device, seed=config.seed + 2)

    checkpoint_file = checkpoint_path(run_dir)
    start = 0
    if checkpoint_file.exists():
        state = load_checkpoint(checkpoint_file, map_location=device)
        gan.load_training_state(state)
        start = int(state["step"])
        if ctx.active:  # each rank restarts its own streams; bit-identical resume is a one-process guarantee
            torch.manual_seed(config.seed * 100_003 + 1000 * ctx.rank + start)
            sampler.reseed(config.seed * 100_003 + 1000 * ctx.rank + start + 1)
        else:
            set_rng_state(state["rng"], sampler)
    elif ctx.is_main:
        write_provenance(run_dir, config, device)
    if ctx.active:
        if not checkpoint_file.exists():
            torch.manual_seed(config.seed * 100_003 + 1000 * ctx.rank)  # per-rank noise
        gan.world_size = ctx.world_size
        distributed.wrap(gan, device)
    if ctx.is_main:
        for name in ("stats.jsonl", "metrics.jsonl"):
            truncate_jsonl(run_dir / name, start)
    if evaluator is None and config.eval_every:
        evaluator = default_evaluator(config, device)
    autotuning = torch.backends.cudnn.benchmark  # restored when train() returns or raises
    if device.type == "cuda":  # the fast path lets cuDNN time its algorithms once (static shapes); the
        torch.backends.cudnn.benchmark = gan.fast_path.cudnn_benchmark  # reference does not
    run_iteration = GraphedIteration(gan, enabled=config.cuda_graph)

    def checkpoint(step: int) -> None:
        if ctx.is_main:
            save_checkpoint(run_dir, {"step": step, "config": config.to_dict(), "rng": rng_state(sampler),
                                      **gan.training_state()})

    try:
        stop = min(config.iterations, max_steps if max_steps is not None else config.iterations)
        sums: dict[str, Tensor] = {}
        first_bad_step = torch.tensor(float("inf"), device=device)
        window_start, window_steps = time.perf_counter(), 0
        progress = tqdm(range(start, stop), initial=start, total=config.iterations, disable=quiet or not ctx.is_main,
                        desc=run_dir.name)
        for step in progress:
            stats = run_iteration(step, *gan.sample_inputs(sampler))
            finite = torch.isfinite(stats["loss_d"]) & torch.isfinite(stats["loss_g"])
            first_bad_step = torch.where(~finite & torch.isinf(first_bad_step),
                                         torch.full_like(first_bad_step, step + 1), first_bad_step)  # no host sync
            accumulate(sums, stats)
            window_steps += 1
            done = step + 1
            at = lambda every, done=done: every and (done % every == 0 or done == stop)  # noqa: E731
            out_of_time = max_seconds is not None and time.perf_counter() - called >= max_seconds
            if at(config.log_every) or at(config.checkpoint_every) or at(config.eval_every) or out_of_time:
                first_bad_step = distributed.all_reduce_min(first_bad_step)  # every rank stops together
                if torch.isfinite(first_bad_step):
                    raise NonFiniteLossError(
                        f"non-finite loss at iteration {int(first_bad_step.item())} of {run_dir}; the last good "
                        f"checkpoint ({checkpoint_file}) is kept")
            if at(config.log_every):
                # every rank runs the probe: on GPUs G's SyncBatchNorm is a collective (rank 0 alone would hang)
                grad_f, grad_d = _gradient_norm_sample(gan, probe)
            if at(config.log_every) and ctx.is_main:
                record = {k: v.item() / (1 if k.startswith("max_") else window_steps) for k, v in sums.items()}
                elapsed = time.perf_counter() - window_start
                record.update(step=done, grad_f_mean=grad_f.mean().item(), grad_f_max=grad_f.max().item(),
                              grad_d_mean=grad_d.mean().item(), grad_d_max=grad_d.max().item(),
                              lr_d=float(gan.opt_d.param_groups[0]["lr"]), lr_g=float(gan.opt_g.param_groups[0]["lr"]),
                              sec_per_it=elapsed / window_steps, cuda_graph=run_iteration.active,
                              cuda_graph_fallback=run_iteration.fallback_reason)
                append_jsonl(run_dir / "stats.jsonl", record)
                progress.set_postfix(loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}")
                sums, window_start, window_steps = {}, time.perf_counter(), 0
            if at(config.sample_every) and ctx.is_main:
                save_samples(gan, fixed_z, run_dir / "samples" / f"step_{done:07d}.png")
            if evaluator is not None and at(config.eval_every):
                evaluation_start = time.perf_counter()
                metrics = evaluator(gan.ema_G, done)  # every rank samples its share; rank 0 gets the result
                if ctx.is_main:
                    append_jsonl(run_dir / "metrics.jsonl",
                                  {"step": done, **metrics, "eval_seconds": time.perf_counter() - evaluation_start})
            if at(config.checkpoint_every) or done == stop or out_of_time:
                checkpoint(done)
            if out_of_time:
                break
        progress.close()
    finally:
        torch.backends.cudnn.benchmark = autotuning
    distributed.barrier()
    return run_dir


def gradient_probe(dataset, nz: int, device: torch.device, n: int = 16, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The fixed inputs of the logged gradient norms: n real images (a seeded choice) and n latent codes.

    Drawn with their own generators, never from the training streams, so logging cannot change a run, and the
    same images at every log, so logged norms differ only because D (and G) changed.
    """
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(dataset), generator=generator)[:n].tolist()
    reals = to_float(torch.stack([dataset[i][0] for i in indices])).to(device)
    return reals, torch.randn(n, nz, generator=generator).to(device)


def _gradient_norm_sample(gan: GAN, probe: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """‖∇ₓf‖ and ‖∇ₓD‖ on the probe's real images and G's images of its codes; every buffer of G and D (G's
    BatchNorm running statistics, SN's power-iteration vectors) is restored afterwards: logging never changes a run.
    """
    reals, z = probe
    buffers = list(gan.G.buffers()) + list(gan.D.buffers())
    saved_buffers = [buffer.clone() for buffer in buffers]
    try:
        with torch.no_grad():
            fake = gan.G(z)
        return gradient_norms(gan.D, torch.cat([reals, fake]))
    finally:
        with torch.no_grad():
            for buffer, saved in zip(buffers, saved_buffers):
                buffer.copy_(saved)  # in place: a captured CUDA graph keeps reading the same memory


def default_evaluator(config: TrainConfig, device: torch.device):
    """Periodic feature-distance evaluation of EMA-G against the training set (see granlib.metrics)."""
    from granlib.metrics import evaluate_against_dataset

    def evaluator(ema_G: nn.Module, step: int) -> dict:
        return evaluate_against_dataset(ema_G, config, n_samples=config.eval_samples, device=device)

    return evaluator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one GAN run (resumes if the run directory exists).")
    parser.add_argument("--config", required=True, help="a .yaml or .json TrainConfig (may name a 'preset')")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    config = TrainConfig.load(args.config)
    from granlib import distributed

    if distributed.launched_by_torchrun():
        distributed.train_distributed(config, args.run_dir, quiet=args.quiet)
    else:
        train(config, args.run_dir, quiet=args.quiet)


if __name__ == "__main__":
    main()
