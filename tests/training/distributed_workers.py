"""Worker functions for tests/test_distributed.py (importable by spawned processes)."""

import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from granlib.training import distributed
from granlib.training.config import preset
from granlib.training.loop import train
from granlib.training.trainer import Trainer

NZ, SIDE = 8, 8


def models(seed: int = 0):
    """A BatchNorm-free generator (so per-rank batches are exactly equivalent) and a small conv D."""
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(NZ, 3 * SIDE * SIDE), nn.Tanh(), nn.Unflatten(1, (3, SIDE, SIDE)))
    generator.nz = NZ
    d_net = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(8, 8, 4, 2, 1), nn.LeakyReLU(0.1),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 1))
    return generator, d_net


def injected_inputs(steps: int, batch: int, seed: int = 123):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.rand(batch, 3, SIDE, SIDE, generator=gen) * 2 - 1, torch.randn(batch, NZ, generator=gen),
             torch.randn(batch, NZ, generator=gen), torch.rand(batch, generator=gen)) for _ in range(steps)]


def run_injected(normalizer: str, steps: int, batch: int, rank: int = 0, world: int = 1) -> dict:
    config = preset("tiny", normalizer=normalizer, loss="ns" if normalizer != "gp" else "wasserstein", nz=NZ,
                    batch_size_d=batch, batch_size_g=batch, K=1.0 if normalizer.startswith("gran") else None)
    gan = Trainer(config, torch.device("cpu"), models=models())
    if world > 1:
        gan.world_size = world
        distributed.wrap(gan, torch.device("cpu"))
    share = slice(rank * batch // world, (rank + 1) * batch // world)
    for step, (real, z_d, z_g, alpha) in enumerate(injected_inputs(steps, batch)):
        gan.iteration(step, [real[share]], [z_d[share]], z_g[share], [alpha[share]])
    return {"G": gan.G.state_dict(), "D": gan.D.state_dict()}


def _init(rank: int, world: int, init_file: str) -> None:
    os.environ.setdefault("LOCAL_RANK", str(rank))
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)


def injected_worker(rank: int, world: int, init_file: str, normalizer: str, steps: int, batch: int, out: str):
    _init(rank, world, init_file)
    try:
        state = run_injected(normalizer, steps, batch, rank, world)
        if rank == 0:
            torch.save(state, out)
    finally:
        dist.destroy_process_group()


def train_worker(rank: int, world: int, init_file: str, config_dict: dict, run_dir: str):
    from granlib.training.config import TrainConfig

    _init(rank, world, init_file)
    try:
        train(TrainConfig.from_dict(config_dict), run_dir, quiet=True)
    finally:
        dist.destroy_process_group()


class TrainingForwardCounter(nn.Module):
    """Stands in for SyncBatchNorm (GPU only): a layer whose training-mode forward is a collective on GPUs, so
    every rank must run G in training mode equally often or the ranks deadlock."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, z):
        if self.training:
            self.calls += 1
        return z


def counting_train_worker(rank: int, world: int, init_file: str, config_dict: dict, run_dir: str, out_dir: str):
    """train() with a TrainingForwardCounter in front of G; writes this rank's count to out_dir/<rank>.txt."""
    import granlib.training.trainer
    from granlib.models import build_models
    from granlib.training.config import TrainConfig

    counter = TrainingForwardCounter()

    def models_with_counter(*args, **kwargs):
        generator, d_net = build_models(*args, **kwargs)
        counted = nn.Sequential(counter, generator)
        counted.nz = generator.nz
        return counted, d_net

    granlib.training.trainer.build_models = models_with_counter
    _init(rank, world, init_file)
    try:
        train(TrainConfig.from_dict(config_dict), run_dir, quiet=True)
    finally:
        dist.destroy_process_group()
    (Path(out_dir) / f"{rank}.txt").write_text(str(counter.calls))
