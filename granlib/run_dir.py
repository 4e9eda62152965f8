"""The run directory: its files, how a run is recognised, resumed or refused (StyleGAN2-ADA style).

Layout::

    config.json        the TrainConfig, exactly; a resumed run must match it (execution-only fields may differ)
    provenance.json    granlib/torch versions, git commit, device name, dataset label, start date
    stats.jsonl        one line per ``log_every``: losses, D outputs, ‖∇f‖ and ‖∇D‖ on a fixed probe (16 real
                       images, G's images of 16 fixed codes), lr, s/iteration, whether iterations replay a CUDA
                       graph (``cuda_graph``)
    metrics.jsonl      one line per evaluation (``eval_every``), with the evaluation's ``eval_seconds``
    samples/           EMA-G on a fixed noise, PNG grids
    checkpoints/latest.pt   G, D, EMA-G, optimisers, schedulers, step, RNG states, config (atomic)
    checkpoints/latest.json its step alone (read by :func:`run_is_finished` without loading the weights)

:func:`granlib.train.train` writes it; :mod:`granlib.experiments` and :mod:`granlib.bench_long` read it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import torch

from granlib.checkpoint import atomic_save, atomic_write_text, load_checkpoint
from granlib.config import TrainConfig, config_differences
from granlib.data import dataset_label

# Fields that only change how a run executes, not what it computes; a resumed run may change them.
EXECUTION_FIELDS = {"device", "data_root", "log_every", "sample_every", "checkpoint_every", "eval_every",
                    "eval_samples", "eval_feature_extractor", "fast", "cuda_graph"}


class ConfigMismatchError(ValueError):
    """A run directory holds a run whose hyper-parameters differ from the requested config."""


def checkpoint_path(run_dir: str | Path) -> Path:
    """Where the run directory keeps its (only) checkpoint."""
    return Path(run_dir) / "checkpoints" / "latest.pt"


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    """Write the checkpoint (atomically), then its step beside it for :func:`latest_step`."""
    path = checkpoint_path(run_dir)
    atomic_save(state, path)
    atomic_write_text(json.dumps({"step": state["step"]}) + "\n", path.with_suffix(".json"))


def prepare_run_dir(config: TrainConfig, run_dir: str | Path) -> None:
    """Create the run directory, or check that an existing one holds the same hyper-parameters."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if config_path.exists():
        saved = json.loads(config_path.read_text())
        differences = [line for line in config_differences(saved, config.to_dict())
                       if line.split(":")[0] not in EXECUTION_FIELDS]
        if differences:
            raise ConfigMismatchError(
                f"{run_dir} holds a run with other hyper-parameters; refusing to resume. Differences "
                f"(saved -> requested):\n  " + "\n  ".join(differences) + "\nUse a new run directory.")
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json.dumps(config.to_dict(), indent=2) + "\n", config_path)


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Drop lines logged after the checkpoint we resume from (they will be logged again)."""
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= last_step]
        atomic_write_text("".join(line + "\n" for line in lines), path)


def append_jsonl(path: Path, record: dict) -> None:
    """Append one record to a run directory's JSON-lines file (stats, metrics, segments)."""
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """The records of a run directory's JSON-lines file; [] when it does not exist yet."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def latest_step(run_dir: str | Path) -> int:
    """The step of the run directory's latest checkpoint (0 when there is none).

    Reads ``latest.json`` beside the checkpoint when that file is at least as new as the checkpoint, so that
    re-running a notebook does not load every finished run's weights just to skip it.
    """
    path = checkpoint_path(run_dir)
    if not path.exists():
        return 0
    sidecar = path.with_suffix(".json")
    if sidecar.exists() and sidecar.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        return int(json.loads(sidecar.read_text())["step"])
    return int(load_checkpoint(path)["step"])


def run_is_finished(run_dir: str | Path) -> bool:
    """True when the run directory's latest checkpoint is at its final iteration."""
    if not checkpoint_path(run_dir).exists():
        return False
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return latest_step(run_dir) >= config["iterations"]


def write_provenance(run_dir: str | Path, config: TrainConfig, device: torch.device) -> None:
    """provenance.json: versions, commit, device and dataset label, start time."""
    import granlib
    from granlib.versions import device_name, git_commit

    record = {"granlib": granlib.__version__, "git_commit": git_commit(), "torch": torch.__version__,
              "device": device_name(device), "dataset": config.dataset_variant or dataset_label(config.dataset),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write_text(json.dumps(record, indent=2) + "\n", Path(run_dir) / "provenance.json")
