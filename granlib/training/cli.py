"""The command line of one training run, and its torchrun launcher.

``python -m granlib.training --config cfg.yaml --run-dir runs/x`` trains (or resumes) one run;
``torchrun --nproc_per_node N -m granlib.training ...`` runs it on N processes (:mod:`granlib.training.distributed`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch.distributed as dist

import granlib.training.distributed as distributed
from granlib.training.config import TrainConfig
from granlib.training.loop import train


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def train_distributed(config: TrainConfig, run_dir: str | Path, quiet: bool = False) -> Path:
    """Under torchrun: initialise the process group, train, tear the group down."""
    distributed.init_process_group()
    try:
        return train(config, run_dir, quiet=quiet)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m granlib.training",
                                     description="Train one GAN run (resumes if the run directory exists).")
    parser.add_argument("--config", required=True, help="a .yaml or .json TrainConfig (may name a 'preset')")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    config = TrainConfig.load(args.config)
    if launched_by_torchrun():
        train_distributed(config, args.run_dir, quiet=args.quiet)
    else:
        train(config, args.run_dir, quiet=args.quiet)
