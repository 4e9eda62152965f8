"""Multi-process training with PyTorch's DistributedDataParallel (DDP).

Launch: ``torchrun --nproc_per_node N -m granlib.training --config cfg.yaml --run-dir runs/x``
(:mod:`granlib.training.cli`). Backend nccl on GPUs,
gloo on CPU. The global batch sizes of the config are split across ranks (they must divide evenly); each rank
draws its own real batches (sampler seeded by rank: an independent shard of the random stream) and its own noise.
Only rank 0 writes logs, samples, checkpoints and metrics; evaluation splits sampling across ranks and gathers
the feature statistics on rank 0.

How double backprop and DDP fit together:

* The GraN and WGAN-GP terms differentiate **with respect to the inputs only**
  (``torch.autograd.grad(f.sum(), x, create_graph=True)``). That computes no parameter gradients, so no DDP hook
  fires. The single ordinary ``loss.backward()`` that follows reaches every parameter through the first- and
  second-order graph; autograd sums all contributions to a parameter before its gradient accumulator runs, so
  DDP's hook fires once per parameter and all-reduces the complete gradient.
* The D step goes through the DDP-wrapped D (one forward on real and fake together). The G step calls the
  **unwrapped** D with its parameters frozen (``requires_grad_(False)``): DDP's reducer is not prepared for that
  forward and expects no gradients, so freezing D never leaves a reduction half done.
* D has no BatchNorm (GraN refuses it; per-sample gradients need it). G's BatchNorm is converted to SyncBatchNorm
  on GPUs so that batch statistics are those of the global batch; SyncBatchNorm does not run on CPU, where each
  rank normalises with its own half-batch (a G without BatchNorm is then exactly equivalent to one process).
* Checkpoints hold the unwrapped state dicts, so a run resumes on any number of processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


@dataclass
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def context() -> Context:
    """The current process's place in the process group (rank 0 of 1 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    return Context()


def init_process_group() -> Context:
    """Initialise from torchrun's environment: nccl with one GPU per process, else gloo."""
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    ctx = context()
    if torch.cuda.is_available():
        torch.cuda.set_device(ctx.local_rank)
    return ctx


def device_for(ctx: Context, requested: torch.device) -> torch.device:
    if ctx.active and requested.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return requested


def wrap(gan, device: torch.device) -> None:
    """Route the training forwards of ``gan`` through DDP wrappers; ``gan.G``/``gan.D`` stay unwrapped."""
    if device.type == "cuda":
        gan.G = nn.SyncBatchNorm.convert_sync_batchnorm(gan.G)
        gan.ema_G = nn.SyncBatchNorm.convert_sync_batchnorm(gan.ema_G)
    ids = [device.index] if device.type == "cuda" else None
    gan.G_forward = DDP(gan.G, device_ids=ids)
    gan.D_forward = DDP(gan.D, device_ids=ids)


def all_reduce_min(value: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return value


def all_gather_statistics(stats):
    """Merge every rank's FeatureStatistics (rank order) so that all ranks hold the global statistics."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return stats
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, stats.cpu())  # each rank's sums live on its own GPU
    merged = gathered[0]
    for other in gathered[1:]:
        merged.merge(other)
    return merged


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
