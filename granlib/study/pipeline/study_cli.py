"""What the studies' command lines share: training one shard of a study's plan."""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

from granlib.study.pipeline.row_store import StudyBusyError

BUSY_EXIT = 2  # the exit status of a shard that another process is already running


def train_shard(device: str, train: Callable[[], object]) -> int:
    """Run ``train`` (one shard of a study) as a command line does: one thread per process on the CPU, so that
    shards share the cores without contention; a shard another process holds is refused in one line on stderr with
    exit status :data:`BUSY_EXIT`, not a traceback. Returns the exit status (0 when it ran)."""
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        train()
    except StudyBusyError as error:
        print(f"not started: {error}", file=sys.stderr)
        return BUSY_EXIT
    return 0
