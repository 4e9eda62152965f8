"""Orchestration for the notebooks: profiles, one run per (dataset, method, loss, K, seed), result rows.

A profile (``params/<name>.yaml``) is a flat dict of notebook parameters; :func:`load_profile` reads it.
:func:`run_and_evaluate` trains a run (skipped when its run directory is finished), evaluates EMA-G and appends
one provenance-complete row to ``<results_dir>/rows/<dataset>.jsonl`` (skipped when that row exists).

Relative ``results_dir``/``runs_dir`` are taken from the *project* being worked in (:func:`project_root`), not
from where granlib is installed, and rows store ``run_dir`` relative to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import yaml

from granlib.data import NATIVE_RESOLUTION, dataset_identity
from granlib.study.plots import apply_theme
from granlib.study.results import SOURCE, append_row, has_row
from granlib.training.config import TrainConfig, preset
from granlib.training.evaluation import evaluate_run
from granlib.training.loop import train
from granlib.training.provenance import device_name, git_commit
from granlib.training.run_dir import run_is_finished

REPO_ROOT = Path(__file__).resolve().parents[2]  # granlib's own checkout (its params/ are the fallback profiles)
PROJECT_ENV = "GRANLIB_PROJECT"
ARCHITECTURE_FOR = {32: "cnn", 48: "cnn", 64: "resnet", 128: "resnet"}


def is_project(path: Path) -> bool:
    """A granlib project holds ``params/`` and ``notebooks/``."""
    return (path / "params").is_dir() and (path / "notebooks").is_dir()


def project_root(start: str | Path | None = None) -> Path:
    """The project worked in: ``$GRANLIB_PROJECT``, else the nearest ancestor of ``start`` (default: the current
    directory) holding ``params/`` and ``notebooks/``, else granlib's own checkout."""
    if os.environ.get(PROJECT_ENV):
        return Path(os.environ[PROJECT_ENV]).expanduser().resolve()
    here = Path(start or Path.cwd()).resolve()
    return next((p for p in (here, *here.parents) if is_project(p)), REPO_ROOT)


def load_profile(name_or_path: str, root: str | Path | None = None) -> dict:
    """The parameters of a profile by name (``params/<name>.yaml`` of the project, else of granlib's checkout) or
    by path."""
    path = Path(name_or_path)
    folders = [Path(root or project_root()) / "params", REPO_ROOT / "params"]
    if not path.suffix:
        path = next((f / f"{name_or_path}.yaml" for f in folders if (f / f"{name_or_path}.yaml").is_file()),
                    folders[0] / f"{name_or_path}.yaml")
    if not path.is_file():
        known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.yaml")})
        raise UnknownProfileError(f"no profile {name_or_path!r} ({path} does not exist); profiles: {', '.join(known)}, "
                                  f"or the path of a .yaml file")
    return yaml.safe_load(path.read_text())


class UnknownProfileError(FileNotFoundError):
    """A profile name or path that names no file; the message lists the profiles there are."""


def resolve_params(profile: str, **overrides) -> dict:
    """A profile's parameters with every non-None override applied (the notebooks' parameters).

    ``project_root`` (an override, else :func:`project_root`) anchors relative ``results_dir`` and ``runs_dir``;
    explicit absolute directories are kept as given.
    """
    root = Path(overrides.pop("project_root", None) or project_root())
    params = load_profile(profile, root)
    params.update({k: v for k, v in overrides.items() if v is not None})
    params["smoke"] = params.get("profile") == "smoke"
    params["project_root"] = str(root)
    for key in ("results_dir", "runs_dir"):
        params[key] = str(root / params[key])  # an absolute path stays as it is
    return params


def notebook_setup(profile: str, **overrides) -> dict:
    """What every notebook does first: resolve the parameters, apply the figure theme, make ``figures/``.

    Returns the parameters with ``figures`` (the directory figures are saved to) added; prints the few that say
    what will run.
    """
    params = resolve_params(profile, **overrides)
    apply_theme()
    params["figures"] = Path(params["results_dir"]) / "figures"
    params["figures"].mkdir(parents=True, exist_ok=True)
    shown = ("profile", "iterations", "seeds", "methods", "feature_extractor", "device")
    print({**{k: params[k] for k in shown if k in params}, "results_dir": relative_run_dir(params["results_dir"],
                                                                                            params)})
    return params


def relative_run_dir(run_dir: str | Path, params: dict) -> str:
    """``run_dir`` (or any path) as rows store it: relative to the project root when it lies inside, else
    absolute."""
    run_dir = Path(run_dir).resolve()
    root = Path(params.get("project_root") or project_root()).resolve()
    return str(run_dir.relative_to(root)) if run_dir.is_relative_to(root) else str(run_dir)


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
    cadences = dict(log_every=max(1, iterations // 50), sample_every=max(1, iterations // 4),
                    checkpoint_every=max(1, iterations // 4))  # a profile's model_overrides may set its own
    return preset(
        base, dataset=train_on, data_root=params.get("data_root"), resolution=resolution, architecture=architecture,
        dataset_variant=params.get("dataset_variant") or "", normalizer=normalizer, loss=loss, K=K, seed=seed,
        iterations=iterations, device=params.get("device", "auto"),
        eval_feature_extractor=params.get("feature_extractor", "inception"),
        **{**cadences, **params.get("model_overrides", {})})


def run_dir_for(config: TrainConfig, params: dict, dataset: str) -> Path:
    K = "default" if config.K is None else f"{config.K:g}"
    return Path(params["runs_dir"]) / dataset / f"{config.normalizer}-{config.loss}-K{K}-s{config.seed}"


def run_and_evaluate(dataset: str, method: str, seed: int, params: dict, K: float | None = None,
                     results_name: str | None = None, rows_file: str | Path | None = None,
                     measure: Callable[[Path], dict] | None = None) -> Path:
    """Train (or finish) one run, evaluate its EMA generator once, append the row; returns the run directory.

    The row goes to ``rows_file`` when given, else ``<results_dir>/rows/<results_name or dataset>.jsonl``;
    ``measure(run_dir)`` adds further measurements of the trained run to it.
    """
    normalizer, loss = parse_method(method)
    config = make_config(dataset, normalizer, loss, K, seed, params)
    run_dir = run_dir_for(config, params, dataset)
    if not run_is_finished(run_dir):
        train(config, run_dir, quiet=True)
    extractor = params.get("feature_extractor", "inception")
    n_fake = int(params["n_eval"])
    stored_run_dir = relative_run_dir(run_dir, params)
    # an explicit rows file is its own record; otherwise any rows file of the results directory counts
    look_in = Path(rows_file) if rows_file else params["results_dir"]
    if not has_row(look_in, stored_run_dir, config.iterations, extractor, n_fake):
        resolved = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        # against the training images, or a held-out split where the profile names one (eval_dataset_override)
        metrics = evaluate_run(run_dir, n_fake, n_real=int(params.get("n_real", n_fake)), feature_extractor=extractor,
                               reference_dataset=params.get("eval_dataset_override"))
        identity = dataset_identity(config.dataset, config.dataset_variant, stands_for=dataset)
        row = {"dataset_key": identity.key, "dataset": identity.label, "resolution": resolved.resolution,
               "architecture": resolved.architecture, "cnn_variant": resolved.cnn_variant, "init": resolved.init,
               "method": normalizer, "loss": loss, "K": resolved.K, "eps": resolved.eps,
               "iterations": resolved.iterations, "seed": seed, "metric": metrics["metric"], "fd": metrics["fd"],
               "is_mean": metrics["is_mean"], "is_std": metrics["is_std"], "kid_mean": metrics["kid_mean"],
               "kid_std": metrics["kid_std"], "feature_extractor": extractor,
               "weights_sha256": metrics["weights_sha256"], "n_real": metrics["n_real"], "n_fake": metrics["n_fake"],
               "gpu": device_name(resolved.device), "date": datetime.now(timezone.utc).date().isoformat(),
               "git_commit": git_commit(), "profile": params["profile"], "run_dir": stored_run_dir,
               "reference_images": params.get("eval_dataset_override") or "training set", "source": SOURCE}
        if measure is not None:
            row.update(measure(run_dir))
        append_row(Path(rows_file) if rows_file else
                   Path(params["results_dir"]) / "rows" / f"{results_name or dataset}.jsonl", row)
    return run_dir
