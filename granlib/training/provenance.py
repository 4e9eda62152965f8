"""Where a number came from: the device it was measured on and the code that measured it."""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

import granlib
from granlib.data import dataset_identity
from granlib.training.checkpoint import atomic_write_text
from granlib.training.config import TrainConfig


def device_name(device: torch.device | str) -> str:
    """The GPU's name (e.g. 'NVIDIA H200'), or 'cpu'."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


CODE_PATHS = ("granlib", "params", "pyproject.toml")  # what a run's result depends on, for git_commit's "+dirty"


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout granlib runs from, with '+dirty' when its code (``CODE_PATHS``) differs from it;
    None outside git.

    Read once per process, when this module is imported (with the rest of granlib's code): a commit made while a
    long study runs does not change the code that process had loaded, so it must not change what its rows say.
    """
    return checkout_commit(Path(__file__).resolve().parents[2])  # granlib/training/ -> the checkout


def checkout_commit(root: Path) -> str | None:
    """HEAD of the git checkout at ``root``, '+dirty' when a tracked file under ``CODE_PATHS`` differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if commit.returncode != 0:
        return None
    # The first status of a fresh checkout re-reads every tracked file to refresh its index: on a loaded machine that
    # took over 10 s, and a timeout here once left a study's rows without their commit. Wait for it, and say so if
    # it still does not answer rather than dropping the commit. Only what decides a run counts: the rows and
    # figures a study appends to results/ while it runs would otherwise mark every row after its first "+dirty".
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                 *(f":(top){path}" for path in CODE_PATHS)],
                                cwd=root, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return commit.stdout.strip() + "+status-unknown"
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def write_provenance(run_dir: str | Path, config: TrainConfig, device: torch.device,
                     precision_note: str | None = None) -> None:
    """provenance.json: versions, commit, device, the dataset's key and label, start time, the precision the run
    trains in and, when bf16 was asked for but could not be had, why (``precision_note``)."""
    identity = dataset_identity(config.dataset, config.dataset_variant)
    record = {"granlib": granlib.__version__, "git_commit": git_commit(), "torch": torch.__version__,
              "device": device_name(device), "dataset": identity.label, "dataset_key": identity.key,
              "precision": config.precision, **({"precision_note": precision_note} if precision_note else {}),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write_text(json.dumps(record, indent=2) + "\n", Path(run_dir) / "provenance.json")


git_commit()  # pinned at import: the commit of the code this process loaded, not of the tree at its first row
