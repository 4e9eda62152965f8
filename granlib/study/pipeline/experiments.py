"""Orchestration for the notebooks: profiles, one run per (dataset, method, loss, K, seed), result rows.

A profile (``params/<name>.yaml``) is a flat dict of notebook parameters; :func:`load_profile` reads it.
:func:`run_and_evaluate` looks for the run's row first (nothing to do when it exists), else trains the run (skipped
when its run directory is finished), evaluates EMA-G and appends one provenance-complete row to
``<results_dir>/rows/<dataset>.jsonl``.

Relative ``results_dir``/``runs_dir`` are taken from the *project* being worked in
(:func:`granlib.project.project_root`), not from where granlib is installed, and rows store ``run_dir`` relative to
it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from granlib.data import NATIVE_RESOLUTION, dataset_identity
from granlib.gran import DEFAULT_EPS
from granlib.normalizers import parse_method
from granlib.project import REPO_ROOT, project_root
from granlib.study.pipeline.plots import apply_theme
from granlib.study.pipeline.profiles import FIELDS, anchor_paths, read_profile
from granlib.study.pipeline.results import RESULT_ROWS, SOURCE, append_row, rows_files
from granlib.study.pipeline.row_store import RowStore
from granlib.training.config import TrainConfig, preset, resolve_config, run_settings
from granlib.training.evaluation import evaluate_run
from granlib.training.loop import ensure_trained
from granlib.training.provenance import device_name, git_commit

ARCHITECTURE_FOR = {32: "cnn", 48: "cnn", 64: "resnet", 128: "resnet"}


def profile_path(name_or_path: str, root: str | Path | None = None) -> Path:
    """The file of a profile given by name (``params/<name>.yaml`` of the project, else of granlib's checkout) or
    by path; :class:`UnknownProfileError` when there is none."""
    path = Path(name_or_path)
    folders = [Path(root or project_root()) / "params", REPO_ROOT / "params"]
    if not path.suffix:
        path = next((f / f"{name_or_path}.yaml" for f in folders if (f / f"{name_or_path}.yaml").is_file()),
                    folders[0] / f"{name_or_path}.yaml")
    if not path.is_file():
        known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.yaml")})
        raise UnknownProfileError(f"no profile {name_or_path!r} ({path} does not exist); profiles: {', '.join(known)}, "
                                  f"or the path of a .yaml file")
    return path


def load_profile(name_or_path: str, root: str | Path | None = None) -> dict:
    """The parameters of a profile by name or path (:func:`profile_path`), checked against the profile schema
    (:mod:`granlib.study.pipeline.profiles`: a :class:`~granlib.study.pipeline.profiles.ProfileError` names the file
    and the field)."""
    return read_profile(profile_path(name_or_path, root))


class UnknownProfileError(FileNotFoundError):
    """A profile name or path that names no file; the message lists the profiles there are."""


def resolve_params(profile: str, **overrides) -> dict:
    """A profile's parameters with every non-None override applied (the notebooks' parameters).

    ``project_root`` (an override, else :func:`project_root`) anchors every relative path
    (:func:`~granlib.study.pipeline.profiles.anchor_paths`: ``results_dir``, ``runs_dir``, ``data_root`` and
    ``imagefolder:`` datasets), so a notebook resolves them alike from any working directory; absolute paths are
    kept as given.
    """
    root = Path(overrides.pop("project_root", None) or project_root())
    params = load_profile(profile, root)
    params.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("methods", "sweep_methods"):  # a notebook's own list is read as a profile's ("paper" expanded)
        if overrides.get(key) is not None:
            params[key] = FIELDS[key][1](key, list(overrides[key]))
    params["smoke"] = params.get("profile") == "smoke"
    params["project_root"] = str(root)
    return anchor_paths(params, root)


SHOWN = ("profile", "iterations", "seeds", "methods", "feature_extractor", "device")  # what a training notebook runs


def notebook_setup(profile: str, show: Sequence[str] = SHOWN, **overrides) -> dict:
    """What every notebook does first: resolve the parameters, apply the figure theme, make ``figures/``.

    Returns the parameters with ``figures`` (the directory figures are saved to) added; prints those named in
    ``show`` (the ones the notebook uses) and the results folder.
    """
    params = resolve_params(profile, **overrides)
    apply_theme()
    params["figures"] = Path(params["results_dir"]) / "figures"
    params["figures"].mkdir(parents=True, exist_ok=True)
    print({**{k: params[k] for k in show if k in params}, "results_dir": relative_run_dir(params["results_dir"],
                                                                                           params)})
    return params


def relative_run_dir(run_dir: str | Path, params: dict) -> str:
    """``run_dir`` (or any path) as rows store it: relative to the project root when it lies inside, else
    absolute."""
    run_dir = Path(run_dir).resolve()
    root = Path(params.get("project_root") or project_root()).resolve()
    return str(run_dir.relative_to(root)) if run_dir.is_relative_to(root) else str(run_dir)


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
    """Where a profile's run of ``config`` trains, named from resolved values (an open K as the normaliser's
    default; the options of a normaliser that declares some), so that a run asked for at the default K and at that
    K by number is one run directory."""
    resolved = resolve_config(config)
    options = "".join(f"-{name}{value:g}" for name, value in sorted(resolved.normalizer_options.items()))
    name = f"{resolved.normalizer}-{resolved.loss}-K{resolved.K:g}{options}-s{resolved.seed}"
    return Path(params["runs_dir"]) / dataset / settings_folder(resolved) / name


def settings_folder(config: TrainConfig) -> str:
    """The folder of a resolved config's protocol under a profile's runs: its widths and precision, then a digest of
    every other setting that changes a run (:func:`granlib.training.config.run_settings`, ε, the networks), so that a
    run asked for with one setting changed is a new run, never a finished one refused or relabelled."""
    # ε as folders were named when every config carried one: the library's value for a normaliser without ε
    eps = DEFAULT_EPS if config.eps is None else config.eps
    protocol = {**run_settings(config), "eps": eps, "nets": [config.architecture, config.cnn_variant,
                                                                    config.init, config.resnet_upsample],
                "iterations": config.iterations, "resolution": config.resolution}
    digest = hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()[:8]
    return f"G{config.ngf}-D{config.ndf}-{run_settings(config)['precision']}-{digest}"


def reference_images(params: dict) -> str:
    """What a profile's FD is measured against, as rows store it: "training set", or the held-out dataset with a
    path inside the project written relative to it (so rows travel between checkouts)."""
    override = params.get("eval_dataset_override")
    if not override:
        return "training set"
    kind, _, path = override.partition(":")
    return f"{kind}:{relative_run_dir(path, params)}" if kind == "imagefolder" and path else override


def run_key(config: TrainConfig, params: dict, dataset: str) -> dict:
    """The run key (:data:`granlib.study.pipeline.results.RUN_KEY`) of one run of a profile, known before it is
    trained or evaluated (``config`` resolved)."""
    identity = dataset_identity(config.dataset, config.dataset_variant, stands_for=dataset)
    n_fake = int(params["n_eval"])
    return {"dataset_key": identity.key, "dataset": identity.label, "resolution": config.resolution,
            "architecture": config.architecture, "cnn_variant": config.cnn_variant, "init": config.init,
            "ngf": config.ngf, "ndf": config.ndf, "method": config.normalizer, "loss": config.loss, "K": config.K,
            "eps": config.eps, **run_settings(config), "iterations": config.iterations, "seed": config.seed,
            "feature_extractor": params.get("feature_extractor", "inception"),
            "n_real": int(params.get("n_real", n_fake)), "n_fake": n_fake,
            "reference_images": reference_images(params), "profile": params["profile"],
            **({"normalizer_options": json.dumps(config.normalizer_options, sort_keys=True)}
               if config.normalizer_options else {})}


@dataclass(frozen=True)
class PlannedRun:
    """One run of a profile as :func:`run_and_evaluate` sees it before doing anything."""

    config: TrainConfig  # as made from the profile
    resolved: TrainConfig
    run_dir: Path
    key: dict  # its row's run key
    target: Path  # the rows file its row goes to
    measured: bool  # a row of its key exists: nothing to train or evaluate


def plan_run(dataset: str, method: str, seed: int, params: dict, K: float | None = None,  # noqa: N803
             results_name: str | None = None, rows_file: str | Path | None = None) -> PlannedRun:
    """Where one run trains, its run key and whether its row exists (in ``rows_file``, or without one in any rows
    file of the results directory): what a study's plan prints and :func:`run_and_evaluate` acts on."""
    normalizer, loss = parse_method(method)
    config = make_config(dataset, normalizer, loss, K, seed, params)
    resolved = resolve_config(config)
    key = run_key(resolved, params, dataset)
    target = Path(rows_file) if rows_file else Path(params["results_dir"]) / "rows" / f"{results_name or dataset}.jsonl"
    measured = RowStore(rows_files(target if rows_file else params["results_dir"]), RESULT_ROWS).has(key)
    return PlannedRun(config, resolved, run_dir_for(config, params, dataset), key, target, measured)


def provenance(planned: PlannedRun, params: dict) -> dict:
    """Where, when and by which code a run's row was made: device, date, git commit, run directory, source."""
    return {"gpu": device_name(planned.resolved.device), "date": datetime.now(timezone.utc).date().isoformat(),
            "git_commit": git_commit(), "run_dir": relative_run_dir(planned.run_dir, params), "source": SOURCE}


def run_and_evaluate(dataset: str, method: str, seed: int, params: dict, K: float | None = None,
                     results_name: str | None = None, rows_file: str | Path | None = None,
                     measure: Callable[[Path], dict] | None = None) -> Path:
    """Train (or finish) one run, evaluate its EMA generator once, append the row; returns the run directory.

    The row goes to ``rows_file`` when given, else ``<results_dir>/rows/<results_name or dataset>.jsonl``;
    ``measure(run_dir)`` adds further measurements of the trained run to it. A row of the same run key in that
    file (or, without ``rows_file``, in any rows file of the results directory) means there is nothing to do.
    """
    planned = plan_run(dataset, method, seed, params, K, results_name, rows_file)
    config, run_dir, resolved, key = planned.config, planned.run_dir, planned.resolved, planned.key
    if planned.measured:
        return run_dir  # measured already: nothing to train (the run directory may be absent, as on a fresh clone)
    ensure_trained(config, resolved, run_dir)
    # against the training images, or a held-out split where the profile names one (eval_dataset_override)
    metrics = evaluate_run(run_dir, key["n_fake"], n_real=key["n_real"], feature_extractor=key["feature_extractor"],
                           reference_dataset=params.get("eval_dataset_override"))
    row = {**key, "metric": metrics["metric"], "fd": metrics["fd"], "is_mean": metrics["is_mean"],
           "is_std": metrics["is_std"], "kid_mean": metrics["kid_mean"], "kid_std": metrics["kid_std"],
           "weights_sha256": metrics["weights_sha256"], "n_real": metrics["n_real"], "n_fake": metrics["n_fake"],
           **provenance(planned, params)}
    if measure is not None:
        row.update(measure(run_dir))
    append_row(planned.target, row)
    return run_dir
