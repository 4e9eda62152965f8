"""Where training runs: the one device resolution and the one place that sets cuDNN autotuning."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' -> cuda when available, else cpu; any other name as torch reads it."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextmanager
def cudnn_autotuning(enabled: bool, device: torch.device) -> Iterator[None]:
    """cuDNN times its algorithms once per shape (``enabled``) on CUDA; the process's setting is restored after.

    The fast path turns it on (static shapes), the reference path off, so a reference run after a fast one in the
    same process (a benchmark, a notebook) does not autotune.
    """
    saved = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); a no-op on the CPU, whose work is done when a call returns."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
