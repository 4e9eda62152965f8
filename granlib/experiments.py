"""Orchestration for the notebooks: profiles, one run per (dataset, method, loss, K, seed), result rows.

A profile (``params/<name>.yaml``) is a flat dict of notebook parameters; :func:`load_profile` reads it.
:func:`run_and_evaluate` trains a run (skipped when its run directory is finished), evaluates EMA-G and appends
one provenance-complete row to ``<results_dir>/rows/<dataset>.jsonl`` (skipped when that row exists).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import yaml

from granlib.checkpoint import load_checkpoint
from granlib.config import TrainConfig, preset
from granlib.data import NATIVE_RESOLUTION, dataset_label
from granlib.metrics import evaluate_against_dataset
from granlib.results import SOURCE, append_row, has_row
from granlib.run_dir import run_is_finished
from granlib.train import GAN, resolve_device, train
from granlib.versions import device_name

REPO_ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE_FOR = {32: "cnn", 48: "cnn", 64: "resnet", 128: "resnet"}


def load_profile(name_or_path: str) -> dict:
    """The parameters of a profile by name (params/<name>.yaml beside the repository root) or path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = REPO_ROOT / "params" / f"{name_or_path}.yaml"
    return yaml.safe_load(path.read_text())


def resolve_params(profile: str, **overrides) -> dict:
    """A profile's parameters with every non-None override applied (the notebooks' parameters)."""
    params = load_profile(profile)
    params.update({k: v for k, v in overrides.items() if v is not None})
    params["smoke"] = params.get("profile") == "smoke"
    for key in ("results_dir", "runs_dir"):  # relative to the repository root, wherever the notebook runs
        params[key] = str(REPO_ROOT / params[key])
    return params


def parse_method(spec: str) -> tuple[str, str]:
    """'gran/ns' → ('gran', 'ns')."""
    normalizer, _, loss = spec.partition("/")
    return normalizer, loss or "ns"


def make_config(dataset: str, normalizer: str, loss: str, K: float | None, seed: int, params: dict) -> TrainConfig:
    """A TrainConfig for one run of a notebook under a profile's parameters."""
    resolution = params.get("resolution") or NATIVE_RESOLUTION.get(dataset, 32)
    architecture = params.get("architecture") or ARCHITECTURE_FOR[resolution]
    train_on = params.get("dataset_override") or dataset
    iterations = int(params["iterations"])
    base = "gngan_cnn" if architecture == "cnn" else "mimicry_resnet"
    return preset(
        base, dataset=train_on, data_root=params.get("data_root"), resolution=resolution, architecture=architecture,
        dataset_variant=params.get("dataset_variant") or "", normalizer=normalizer, loss=loss, K=K, seed=seed,
        iterations=iterations, device=params.get("device", "auto"), log_every=max(1, iterations // 50),
        sample_every=max(1, iterations // 4), checkpoint_every=max(1, iterations // 4),
        eval_feature_extractor=params.get("feature_extractor", "inception"), **params.get("model_overrides", {}))


def run_dir_for(config: TrainConfig, params: dict, dataset: str) -> Path:
    K = "default" if config.K is None else f"{config.K:g}"
    return Path(params["runs_dir"]) / dataset / f"{config.normalizer}-{config.loss}-K{K}-s{config.seed}"


def run_and_evaluate(dataset: str, method: str, seed: int, params: dict, K: float | None = None,
                     results_name: str | None = None) -> Path:
    """Train (or finish) one run, evaluate its EMA generator once, append the row; returns the run directory."""
    normalizer, loss = parse_method(method)
    config = make_config(dataset, normalizer, loss, K, seed, params)
    run_dir = run_dir_for(config, params, dataset)
    if not run_is_finished(run_dir):
        train(config, run_dir, quiet=True)
    extractor = params.get("feature_extractor", "inception")
    n_fake = int(params["n_eval"])
    if not has_row(params["results_dir"], str(run_dir), config.iterations, extractor, n_fake):
        device = resolve_device(config.device)
        gan = GAN(config, device)
        gan.load_training_state(load_checkpoint(run_dir / "checkpoints" / "latest.pt", map_location=device))
        metrics = evaluate_against_dataset(gan.ema_G, config, n_samples=n_fake, device=device,
                                           n_real=int(params.get("n_real", n_fake)))
        label = config.dataset_variant or dataset_label(config.dataset)
        if params.get("dataset_override") and not config.dataset_variant:
            label = f"{label} standing in for {dataset_label(dataset)}"
        row = {"dataset": label, "resolution": config.resolution, "architecture": config.architecture,
               "method": normalizer, "loss": loss, "K": gan.D.K, "eps": config.eps, "iterations": config.iterations,
               "seed": seed, "metric": metrics["metric"], "fd": metrics["fd"], "is_mean": metrics["is_mean"],
               "is_std": metrics["is_std"], "kid_mean": metrics["kid_mean"], "kid_std": metrics["kid_std"],
               "feature_extractor": extractor, "weights_sha256": metrics["weights_sha256"],
               "n_real": metrics["n_real"], "n_fake": metrics["n_fake"], "gpu": device_name(device),
               "date": datetime.now(timezone.utc).date().isoformat(), "profile": params["profile"],
               "run_dir": str(run_dir), "source": SOURCE}
        append_row(Path(params["results_dir"]) / "rows" / f"{results_name or dataset}.jsonl", row)
    return run_dir
