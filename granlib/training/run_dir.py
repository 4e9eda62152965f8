"""The run directory: its files, how a run is recognised, resumed or refused (StyleGAN2-ADA style).

Layout::

    config.json        the resolved TrainConfig (every default as a number); a resumed run must match it
                       (execution-only fields may differ, and are then updated)
    provenance.json    granlib/torch versions, git commit, device name, dataset label, start date
    stats.jsonl        one line per ``log_every``: losses, D outputs, the probe measures of
                       :mod:`granlib.training.probes` on a fixed probe (``PROBE_SIZE`` = 64 real images, G's images
                       of 64 fixed codes), lr, s/iteration, whether iterations replay a CUDA graph (``cuda_graph``)
    metrics.jsonl      one line per evaluation (``eval_every``), with the evaluation's ``eval_seconds``
    samples/           EMA-G on a fixed noise, PNG grids
    checkpoints/latest.pt   G, D, EMA-G, optimisers, schedulers, step, RNG states, config (atomic)
    checkpoints/latest.json its step and sha256 (read by :func:`run_is_finished` without loading the weights)
    checkpoints/previous.*  the checkpoint before, kept until a newer one is written whole
    .lock              held (flock) by the process training the run; names it

A resume loads the latest checkpoint whose sha256 matches and falls back to the previous one, so a damaged or
half-renamed file costs at most one checkpoint interval; two processes never train one run directory at once.

:func:`granlib.training.train` writes it; :func:`load_ema_generator` and :func:`run_is_finished` read it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from granlib.jsonl import LockHeldError, exclusive_lock, read_jsonl
from granlib.models import build_models
from granlib.normalizers import Discriminator
from granlib.training.checkpoint import CheckpointError, atomic_save, atomic_write_text, load_checkpoint
from granlib.training.config import TrainConfig, config_differences, upgrade_saved_config
from granlib.training.trainer import discriminator_for

# Fields that only change how a run executes, not what it computes; a resumed run may change them.
EXECUTION_FIELDS = {"device", "data_root", "log_every", "sample_every", "checkpoint_every", "eval_every",
                    "eval_samples", "eval_feature_extractor", "fast", "cuda_graph", "probe_dataset"}


class ConfigMismatchError(ValueError):
    """A run directory holds a run whose hyper-parameters differ from the requested config."""


class RunDirectoryBusyError(RuntimeError):
    """Another process is training in this run directory."""


def checkpoint_path(run_dir: str | Path, which: str = "latest") -> Path:
    """Where the run directory keeps its latest checkpoint (``which="previous"``: the one before)."""
    return Path(run_dir) / "checkpoints" / f"{which}.pt"


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    """Write the checkpoint beside the current one, keep the current one as ``previous``, then record the new
    one's step and sha256 (:func:`latest_step`, :func:`load_latest_checkpoint`)."""
    latest, previous = checkpoint_path(run_dir), checkpoint_path(run_dir, "previous")
    staged = latest.with_name("staged.pt")
    digest = atomic_save(state, staged)  # whole on disk before anything older is touched
    if latest.exists():
        os.replace(latest, previous)
        if latest.with_suffix(".json").exists():
            os.replace(latest.with_suffix(".json"), previous.with_suffix(".json"))
    os.replace(staged, latest)
    atomic_write_text(json.dumps({"step": state["step"], "sha256": digest}) + "\n", latest.with_suffix(".json"))


def load_latest_checkpoint(run_dir: str | Path, map_location="cpu") -> dict | None:
    """The newest checkpoint that is whole (its recorded sha256 matches): latest, else previous (with a warning
    naming what was wrong); None when there is none. Raises :class:`CheckpointError` when every one is damaged."""
    problems = []
    for which in ("latest", "staged", "previous"):  # staged: a kill between the two renames of save_checkpoint
        path = checkpoint_path(run_dir, which)
        if not path.exists():
            continue
        sidecar = path.with_suffix(".json")
        recorded = json.loads(sidecar.read_text()) if which != "staged" and sidecar.exists() else {}
        try:
            state = load_checkpoint(path, map_location, sha256=recorded.get("sha256"))
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if problems:
            warnings.warn(f"{'; '.join(problems)}; resuming from {path} (step {state['step']})", stacklevel=2)
        return state
    if problems:
        raise CheckpointError("; ".join(problems) + ". No whole checkpoint is left: delete the run directory's "
                              "checkpoints/ to start again")
    return None


def _refusal(where: str, differences: list[str]) -> ConfigMismatchError:
    return ConfigMismatchError(
        f"{where} holds a run with other hyper-parameters; refusing to resume. Differences (saved -> requested):\n  "
        + "\n  ".join(differences) + "\nUse a new run directory, or, where a library default changed since the run "
        "started (a saved number against a new default), set that field to the saved value to finish the run.")


def hyperparameter_differences(saved: dict, requested: TrainConfig) -> list[str]:
    """The fields other than execution-only ones in which a saved config differs from ``requested`` (the saved one
    read as this version spells it, :func:`granlib.training.config.upgrade_saved_config`)."""
    return [line for line in config_differences(upgrade_saved_config(saved), requested.to_dict())
            if line.split(":")[0] not in EXECUTION_FIELDS]


def prepare_run_dir(config: TrainConfig, run_dir: str | Path) -> None:
    """Create the run directory for a resolved ``config``, or check that an existing one holds the same
    hyper-parameters (and record changed execution-only fields)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if config_path.exists():
        saved = json.loads(config_path.read_text())
        differences = hyperparameter_differences(saved, config)
        if differences:
            raise _refusal(str(run_dir), differences)
        if saved != json.loads(json.dumps(config.to_dict())):  # execution-only or spelling changes: config.json
            # says what runs
            atomic_write_text(json.dumps(config.to_dict(), indent=2) + "\n", config_path)
    else:
        if checkpoint_path(run_dir).exists() or checkpoint_path(run_dir, "previous").exists():
            state = load_latest_checkpoint(run_dir)  # config.json removed: the checkpoint still knows its run
            if state is not None:
                check_checkpoint_config(state, config, checkpoint_path(run_dir))
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json.dumps(config.to_dict(), indent=2) + "\n", config_path)


def check_checkpoint_config(state: dict, config: TrainConfig, path: Path) -> None:
    """Refuse a checkpoint whose own saved config differs from ``config`` (even if config.json was removed)."""
    differences = hyperparameter_differences(state.get("config", {}), config)
    if differences:
        raise _refusal(f"checkpoint {path}", differences)


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Drop lines logged after the checkpoint we resume from (they will be logged again), and torn lines."""
    if path.exists():
        kept = [json.dumps(record) for record in read_jsonl(path) if record["step"] <= last_step]
        atomic_write_text("".join(line + "\n" for line in kept), path)


def latest_step(run_dir: str | Path) -> int:
    """The step of the run directory's latest checkpoint (0 when there is none).

    Reads ``latest.json`` beside the checkpoint when that file is at least as new as the checkpoint, so that
    re-running a notebook does not load every finished run's weights just to skip it.
    """
    path = checkpoint_path(run_dir)
    if not path.exists() and not checkpoint_path(run_dir, "previous").exists():
        return 0
    sidecar = path.with_suffix(".json")
    if path.exists() and sidecar.exists() and sidecar.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        return int(json.loads(sidecar.read_text())["step"])
    state = load_latest_checkpoint(run_dir)
    return int(state["step"]) if state else 0


def run_is_finished(run_dir: str | Path) -> bool:
    """True when the run directory's latest checkpoint is at its final iteration."""
    if not (checkpoint_path(run_dir).exists() or checkpoint_path(run_dir, "previous").exists()):
        return False
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return latest_step(run_dir) >= config["iterations"]


class FinishedRunMismatchError(ValueError):
    """A finished run directory holds a run with other training settings than the one requested."""


def check_finished_run(run_dir: Path, config: TrainConfig) -> None:
    """Refuse a finished run directory whose saved training settings differ from the requested resolved
    ``config`` (a changed iteration count would otherwise be skipped and relabelled), naming each field."""
    saved = saved_config(run_dir)
    if config.in_memory is None:  # resolved from the data's size when training starts: whatever it became
        config = config.replace(in_memory=saved.in_memory)
    differences = hyperparameter_differences(saved.to_dict(), config)
    if differences:
        raise FinishedRunMismatchError(
            f"{run_dir} holds a finished run with other training settings (saved -> requested):\n  "
            + "\n  ".join(differences) + "\nUse another runs_dir, or remove that run directory to train it anew.")


def saved_config(run_dir: str | Path) -> TrainConfig:
    """The resolved configuration a run directory was trained with (``config.json``)."""
    return TrainConfig.from_dict(upgrade_saved_config(json.loads((Path(run_dir) / "config.json").read_text())))


def _latest_state(run_dir: str | Path, device: torch.device | str) -> dict:
    state = load_latest_checkpoint(run_dir, map_location=device)
    if state is None:
        raise FileNotFoundError(f"{run_dir} holds no checkpoint yet")
    return state


def load_generator(run_dir: str | Path, device: torch.device | str = "cpu", which: str = "ema_G") -> nn.Module:
    """A generator of a run directory's latest checkpoint, in eval mode: ``which`` = "ema_G" (the EMA of G's
    weights, what every evaluation samples) or "G" (the weights the last step trained)."""
    if which not in ("ema_G", "G"):
        raise ValueError(f"which={which!r}: a checkpoint holds the generators 'ema_G' and 'G'")
    config = saved_config(run_dir)
    generator, _ = build_models(config.architecture, config.resolution, nz=config.nz, ngf=config.ngf, ndf=config.ndf,
                                cnn_variant=config.cnn_variant, init=config.init,
                                resnet_upsample=config.resnet_upsample)
    generator.load_state_dict(_latest_state(run_dir, device)[which])
    return generator.to(device).eval().requires_grad_(False)


def load_ema_generator(run_dir: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """The EMA generator of a run directory's latest checkpoint (what every evaluation samples), in eval mode."""
    return load_generator(run_dir, device, "ema_G")


def load_discriminator(run_dir: str | Path, device: torch.device | str = "cpu") -> Discriminator:
    """The normalised discriminator of a run directory's latest checkpoint (its K, ε, λ or c as trained), in eval
    mode (spectral norm then reuses its power-iteration vectors, as D did at its last step)."""
    config = saved_config(run_dir)
    _, d_net = build_models(config.architecture, config.resolution, nz=config.nz, ngf=config.ngf, ndf=config.ndf,
                            cnn_variant=config.cnn_variant, init=config.init, resnet_upsample=config.resnet_upsample)
    disc = discriminator_for(config, d_net)
    disc.load_state_dict(_latest_state(run_dir, device)["D"])
    return disc.to(device).eval().requires_grad_(False)


@contextmanager
def hold_run_dir(run_dir: str | Path) -> Iterator[None]:
    """Hold the run directory's lock while training in it; stale temporary files of a killed write are removed.

    The lock is an ``flock`` on ``.lock`` (:func:`granlib.jsonl.exclusive_lock`), released by the system when its
    process ends however it ends, so a killed run never leaves a directory locked. Raises
    :class:`RunDirectoryBusyError` naming the holder.
    """
    run_dir = Path(run_dir)
    try:
        with exclusive_lock(run_dir / ".lock", f"{run_dir} (being trained)"):
            for stale in [*run_dir.glob(".*.tmp"), *run_dir.glob("checkpoints/.*.tmp")]:
                stale.unlink(missing_ok=True)  # we hold the lock: no other writer is mid-write
            yield
    except LockHeldError as error:
        raise RunDirectoryBusyError(str(error)) from None
