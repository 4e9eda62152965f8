"""``train(config, run_dir)``: one run from its config to a finished run directory, in named phases.

1. set-up: resolve the config (every default a number), load the data once, build the trainer and the fixed
   inputs of sample grids and logged gradient norms, prepare the run directory (or refuse a different run);
2. resume or start: load the latest checkpoint (and its RNG states) or write ``provenance.json``;
3. the loop: one iteration per generator step, statistics kept on the device;
4. windows: at ``log_every`` a stats line, at ``sample_every`` a grid, at ``eval_every`` a metrics line, at
   ``checkpoint_every`` (and at the end or the time limit) a checkpoint.

Logging, sampling and evaluation draw from their own fixed inputs and RNG states, so the cadences never change
what a run computes; a killed and resumed run (one process) is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.utils import save_image
from tqdm.auto import tqdm

import granlib.training.distributed as distributed
from granlib.data import holds_in_memory, load_dataset, make_sampler, to_float
from granlib.jsonl import append_jsonl
from granlib.training.config import TrainConfig, resolve_config
from granlib.training.devices import cudnn_autotuning
from granlib.training.evaluation import PeriodicEvaluator
from granlib.training.fast_path import precision_note
from granlib.training.graphs import GraphedIteration
from granlib.training.probes import probe_measures
from granlib.training.provenance import write_provenance
from granlib.training.run_dir import (
    check_checkpoint_config,
    check_finished_run,
    checkpoint_path,
    hold_run_dir,
    load_latest_checkpoint,
    prepare_run_dir,
    run_is_finished,
    save_checkpoint,
    truncate_jsonl,
)
from granlib.training.seeds import SeedStreams
from granlib.training.trainer import Trainer, accumulate


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite at iteration ``step``; the run directory keeps its last good checkpoint, if
    any."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


@dataclass
class Run:
    """Everything the loop needs, built once by :func:`set_up`."""

    config: TrainConfig  # resolved
    run_dir: Path
    ctx: distributed.Context
    device: torch.device
    seeds: SeedStreams
    trainer: Trainer
    dataset: object
    sampler: object
    fixed_z: Tensor  # the codes of every sample grid
    probe: tuple[Tensor, Tensor]  # the inputs of every logged probe measure
    evaluator: Callable[[nn.Module, int], dict] | None  # eval_every's evaluation
    precision_note: str | None = None  # why the run trains in fp32 although bf16 was asked for (provenance.json)


def train(config: TrainConfig, run_dir: str | Path, quiet: bool = False, max_steps: int | None = None,
          evaluator=None, max_seconds: float | None = None) -> Path:
    """Train (or resume) the run described by ``config`` in ``run_dir``; returns ``run_dir``.

    ``max_steps`` stops after that many iterations in total (as if interrupted); re-running resumes.
    ``max_seconds`` stops at the first iteration that ends after this many seconds since the call (a job's time
    limit), with a checkpoint; re-running resumes. ``evaluator(ema_G, step) -> dict`` overrides the default
    periodic evaluation (``eval_every``); each metrics line also records the evaluation's ``eval_seconds``.
    """
    called = time.perf_counter()
    run = set_up(config, Path(run_dir), max_seconds, evaluator)
    with hold_run_dir(run.run_dir) if run.ctx.is_main else contextlib.nullcontext():  # one trainer per directory
        if run.ctx.is_main:
            prepare_run_dir(run.config, run.run_dir)
        distributed.barrier()
        start = resume_or_start(run)
        with cudnn_autotuning(run.trainer.fast_path.cudnn_benchmark, run.device):
            loop(run, start, quiet, max_steps, deadline=None if max_seconds is None else called + max_seconds)
        distributed.barrier()
    return run.run_dir


def ensure_trained(config: TrainConfig, resolved: TrainConfig, run_dir: str | Path) -> Path:
    """The one way a study asks for a trained run: a finished run in ``run_dir`` is checked against ``resolved``
    (:class:`~granlib.training.run_dir.FinishedRunMismatchError` naming the fields that differ) and left as it is;
    any other is trained or resumed from ``config`` (quietly). Returns ``run_dir``."""
    if run_is_finished(run_dir):
        check_finished_run(Path(run_dir), resolved)
        return Path(run_dir)
    return train(config, run_dir, quiet=True)


# --- phase 1: set-up

def set_up(config: TrainConfig, run_dir: Path, max_seconds: float | None = None, evaluator=None) -> Run:
    """Resolve and check the config, load the data, build the evaluator, the trainer and the fixed inputs; anything
    that can fail here (config, data, feature weights) fails before a file is written."""
    ctx = distributed.context()
    if max_seconds is not None and ctx.active:
        raise ValueError("max_seconds is for one process: ranks would stop at different iterations")
    requested_precision = config.precision
    config = resolve_config(config)  # validated: nothing is written for an impossible config
    device = distributed.device_for(ctx, torch.device(config.device))
    for name, size in (("batch_size_d", config.batch_size_d), ("batch_size_g", config.batch_size_g)):
        if size % ctx.world_size:
            raise ValueError(f"{name}={size} does not split evenly across {ctx.world_size} processes")
    dataset = load_dataset(config.dataset, config.data_root, config.resolution)
    config = config.replace(in_memory=holds_in_memory(dataset, config.in_memory))
    if evaluator is None and config.eval_every:
        evaluator = PeriodicEvaluator(config, dataset, device)  # missing feature weights fail here, not mid-run
    seeds = SeedStreams(config.seed, ctx.rank)
    torch.manual_seed(seeds.weights)  # the same initial weights on every rank
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seeds.weights)
    trainer = Trainer(config, device)
    sampler = make_sampler(dataset, device, seeds.data, config.in_memory)
    fixed_z = torch.randn(64, config.nz, generator=torch.Generator().manual_seed(seeds.fixed_samples)).to(device)
    probe_images = load_dataset(config.probe_dataset, config.data_root, config.resolution) if config.probe_dataset \
        else dataset
    probe = gradient_probe(probe_images, config.nz, device, seed=seeds.probe)
    note = precision_note(config.fast, device.type, requested_precision)
    return Run(config, run_dir, ctx, device, seeds, trainer, dataset, sampler, fixed_z, probe, evaluator, note)


# --- phase 2: resume or start

def resume_or_start(run: Run) -> int:
    """Load the latest checkpoint and return its step, or start at 0; then wrap for torchrun."""
    state = load_latest_checkpoint(run.run_dir, map_location=run.device)
    start = 0
    if state is not None:
        check_checkpoint_config(state, run.config, run.run_dir / "checkpoints")
        run.trainer.load_training_state(state)
        start = int(state["step"])
        if run.ctx.active:  # each rank restarts its own streams; bit-identical resume is a one-process guarantee
            torch.manual_seed(run.seeds.rank_noise(start))
            run.sampler.reseed(run.seeds.rank_data(start))
        else:
            set_rng_state(state["rng"], run.sampler)
    else:
        if run.ctx.is_main:
            write_provenance(run.run_dir, run.config, run.device, run.precision_note)
        if run.ctx.active:
            torch.manual_seed(run.seeds.rank_noise())
    if run.ctx.active:
        run.trainer.world_size = run.ctx.world_size
        distributed.wrap(run.trainer, run.device)
    if run.ctx.is_main:
        for name in ("stats.jsonl", "metrics.jsonl"):
            truncate_jsonl(run.run_dir / name, start)
    return start


# --- phase 3: the loop

def loop(run: Run, start: int, quiet: bool, max_steps: int | None, deadline: float | None) -> None:
    """Iterations ``start`` .. the end (or ``max_steps``, or the deadline), with the windows of phase 4."""
    config, trainer = run.config, run.trainer
    run_iteration = GraphedIteration(trainer, enabled=config.cuda_graph)
    stop = min(config.iterations, max_steps if max_steps is not None else config.iterations)
    window = LogWindow(run.device)
    progress = tqdm(range(start, stop), initial=start, total=config.iterations,
                    disable=quiet or not run.ctx.is_main, desc=run.run_dir.name)
    for step in progress:
        stats = run_iteration(step, *trainer.sample_inputs(run.sampler))
        window.add(step, stats)
        done = step + 1

        def due(every: int, done: int = done) -> bool:
            return bool(every) and (done % every == 0 or done == stop)

        out_of_time = deadline is not None and time.perf_counter() >= deadline
        if due(config.log_every) or due(config.checkpoint_every) or due(config.eval_every) or out_of_time:
            window.raise_if_non_finite(run)  # every rank stops together, before anything is saved
        if due(config.log_every):
            record = window.close(run, done, run_iteration)
            if record is not None:
                progress.set_postfix(loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}")
        if due(config.sample_every) and run.ctx.is_main:
            save_samples(trainer, run.fixed_z, run.run_dir / "samples" / f"step_{done:07d}.png")
        if run.evaluator is not None and due(config.eval_every):
            evaluate_window(run, done)
        if due(config.checkpoint_every) or done == stop or out_of_time:
            checkpoint(run, done)
        if out_of_time:
            break
    progress.close()


# --- phase 4: windows

class LogWindow:
    """Statistics summed on the device between two logs; the first non-finite step, found without a host sync."""

    def __init__(self, device: torch.device):
        self.sums: dict[str, Tensor] = {}
        self.steps, self.started = 0, time.perf_counter()
        self.first_bad_step = torch.tensor(float("inf"), device=device)

    def add(self, step: int, stats: dict[str, Tensor]) -> None:
        finite = torch.isfinite(stats["loss_d"]) & torch.isfinite(stats["loss_g"])
        self.first_bad_step = torch.where(~finite & torch.isinf(self.first_bad_step),
                                          torch.full_like(self.first_bad_step, step + 1), self.first_bad_step)
        accumulate(self.sums, stats)
        self.steps += 1

    def raise_if_non_finite(self, run: Run) -> None:
        first_bad = distributed.all_reduce_min(self.first_bad_step)
        if torch.isfinite(first_bad):
            path = checkpoint_path(run.run_dir)
            kept = (f"the last good checkpoint ({path}) is kept" if path.exists()
                    else "no checkpoint was written before it")
            step = int(first_bad.item())
            raise NonFiniteLossError(f"non-finite loss at iteration {step} of {run.run_dir}; {kept}", step)

    def close(self, run: Run, done: int, run_iteration: GraphedIteration) -> dict | None:
        """Append the window's stats line (rank 0) and start a new window; returns the line."""
        # every rank runs the probe: on GPUs G's SyncBatchNorm is a collective (rank 0 alone would hang)
        probed = probe_sample(run.trainer, run.probe)
        record = None
        if run.ctx.is_main:
            record = {k: v.item() / (1 if k.startswith("max_") else self.steps) for k, v in self.sums.items()}
            trainer = run.trainer
            record.update(step=done, **probed, lr_d=float(trainer.opt_d.param_groups[0]["lr"]),
                          lr_g=float(trainer.opt_g.param_groups[0]["lr"]),
                          sec_per_it=(time.perf_counter() - self.started) / self.steps,
                          cuda_graph=run_iteration.active, cuda_graph_fallback=run_iteration.fallback_reason)
            append_jsonl(run.run_dir / "stats.jsonl", record)
        self.sums, self.steps, self.started = {}, 0, time.perf_counter()
        return record


def evaluate_window(run: Run, done: int) -> None:
    """One evaluation of EMA-G; every rank samples its share, rank 0 writes the metrics line."""
    started = time.perf_counter()
    metrics = run.evaluator(run.trainer.ema_G, done)
    if run.ctx.is_main:
        append_jsonl(run.run_dir / "metrics.jsonl",
                     {"step": done, **metrics, "eval_seconds": time.perf_counter() - started})


def checkpoint(run: Run, step: int) -> None:
    if run.ctx.is_main:
        save_checkpoint(run.run_dir, {"step": step, "config": run.config.to_dict(), "rng": rng_state(run.sampler),
                                      **run.trainer.training_state()})


# --- fixed inputs, RNG states, samples

PROBE_SIZE = 64  # real images and codes of the logged probes (granlib.training.probes)


def gradient_probe(dataset, nz: int, device: torch.device, n: int = PROBE_SIZE, seed: int = 0
                   ) -> tuple[Tensor, Tensor]:
    """The fixed inputs of the logged probes: n real images of ``dataset`` (a seeded choice) and n latent codes.

    Drawn with their own generators, never from the training streams, so logging cannot change a run, and the
    same images at every log, so logged values differ only because D (and G) changed.
    """
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(dataset), generator=generator)[:n].tolist()
    reals = to_float(torch.stack([dataset[i][0] for i in indices])).to(device)
    return reals, torch.randn(n, nz, generator=generator).to(device)


def probe_sample(trainer: Trainer, probe: tuple[Tensor, Tensor]) -> dict[str, float]:
    """D's probe measures (:func:`granlib.training.probes.probe_measures`) on the probe's real images and G's images
    of its codes; every buffer of G and D (G's BatchNorm running statistics, SN's power-iteration vectors) is
    restored afterwards: logging never changes a run.
    """
    reals, z = probe
    buffers = list(trainer.G.buffers()) + list(trainer.D.buffers())
    saved_buffers = [buffer.clone() for buffer in buffers]
    try:
        with torch.no_grad():
            fake = trainer.G(z).float()
        return probe_measures(trainer.D, reals, fake)
    finally:
        with torch.no_grad():
            for buffer, saved in zip(buffers, saved_buffers):
                buffer.copy_(saved)  # in place: a captured CUDA graph keeps reading the same memory


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


def save_samples(trainer: Trainer, fixed_z: Tensor, path: Path) -> None:
    """An 8×8 grid of EMA-G's images of the fixed codes."""
    with torch.no_grad():
        images = trainer.ema_G(fixed_z).float()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=8, normalize=True, value_range=(-1, 1))
