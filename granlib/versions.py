"""Where a number came from: the device it was measured on and the code that measured it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch


def device_name(device: torch.device | str) -> str:
    """The GPU's name (e.g. 'NVIDIA H200'), or 'cpu'."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def git_commit() -> str | None:
    """The commit of the checkout granlib runs from, with '+dirty' when files differ from it; None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if commit.returncode != 0:
        return None
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")
