"""The image study's protocol: its profiles, the plan (every method of seed 0 first, then seed 1, …), the time
estimate behind ``--plan``, where its rows live, and the loop that trains, evaluates and measures what is missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from granlib.models.cnn import CNN_NDF
from granlib.normalizers import method_label
from granlib.study.ledger.estimate import Estimate, PlannedCost, estimate, run_kind
from granlib.study.ledger.images.measures import measure_run
from granlib.study.ledger.precision_check import require_proven
from granlib.study.ledger.profiles import DATASET, anchored_params, load_profiles
from granlib.study.pipeline.experiments import plan_run, run_and_evaluate
from granlib.study.pipeline.results import load_rows
from granlib.study.pipeline.row_store import study_lock

# The paper's comparison: GraN with both losses against each baseline it names, at each normaliser's default K.
METHODS = ("gran/ns", "gran/wasserstein", "sn/ns", "gp/wasserstein", "gn/ns", "none/ns")
ROWS_FILE = "ledger_images.jsonl"


def profiles() -> dict[str, dict]:
    """The study's profiles (``params/ledger/images.yaml``), read when asked for."""
    return load_profiles("images")


def row_profile(profile: str) -> str:
    """What a row of ``profile`` records as its profile: 'ledger-cpu'."""
    return f"ledger-{profile}"


def study_params(profile: str, root: Path | None = None, results_dir: str | Path | None = None,
                 runs_dir: str | Path | None = None) -> dict:
    """A profile's settings as :func:`granlib.study.pipeline.experiments.run_and_evaluate` takes them
    (:func:`granlib.study.ledger.profiles.anchored_params`)."""
    return anchored_params(profiles()[profile], row_profile(profile), root, results_dir, runs_dir)


def rows_path(profile: str, root: Path | None = None, **where: str | Path) -> Path:
    """The rows file of ``profile`` (``where``: the ``results_dir``/``runs_dir`` overrides of :func:`study_params`);
    read it with :func:`granlib.study.pipeline.results.load_rows`."""
    return Path(study_params(profile, root, **where)["results_dir"]) / ROWS_FILE


def d_width(profile: str) -> int:
    """D's base width in ``profile``: its override, else the published CNN's."""
    return profiles()[profile]["model_overrides"].get("ndf") or CNN_NDF


def methods_of(profile: str) -> tuple[str, ...]:
    return profiles()[profile].get("methods", METHODS)


def by_method(frame: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> list[tuple[str, pd.DataFrame]]:
    """("normaliser/loss", its part of ``frame``) per method present: those of ``methods`` in that order, then any
    other in order of appearance."""
    keys = frame.method + "/" + frame.loss
    return [(key, frame[keys == key]) for key in dict.fromkeys([*methods, *keys]) if (keys == key).any()]


def plan(seeds: int, methods: tuple[str, ...] = METHODS) -> list[tuple[str, int]]:
    """(method, seed) in protocol order: every method of seed 0 first, then seed 1, …"""
    return [(method, seed) for seed in range(seeds) for method in methods]


def measured_runs(profile: str, root: Path | None = None, **where: str | Path) -> set[tuple[str, int]]:
    """The (method, seed) of ``profile``'s plan whose row exists: what a run of the study skips without training."""
    params = study_params(profile, root, **where)
    path = rows_path(profile, root, **where)
    return {(method, seed) for method, seed in plan(profiles()[profile]["seeds"], methods_of(profile))
            if plan_run(DATASET, method, seed, params, rows_file=path).measured}


def estimated(profile: str, skipped: set[tuple[str, int]] = frozenset(), rows: pd.DataFrame | None = None,
              root: Path | None = None, **where: str | Path) -> Estimate:
    """Training and evaluation time of a profile's runs other than ``skipped`` (one process), at the rates that
    ``rows`` measured (default: the profile's committed rows), reference rates for kinds without one."""
    settings = profiles()[profile]
    overrides = settings["model_overrides"]
    width, precision, noise_seeds = d_width(profile), overrides.get("precision"), settings.get("noise_seeds", ())
    runs = [PlannedCost(run_kind(settings["device"], method, width, precision), settings["iterations"],
                        # evaluated: the FD's samples of EMA-G and of G (again for a noise seed), the pixel spread's
                        settings["n_eval"] * (2 + (seed in noise_seeds)) + settings.get("pixel_images", 0))
            for method, seed in plan(settings["seeds"], methods_of(profile)) if (method, seed) not in skipped]
    if rows is None:
        rows = load_rows(rows_path(profile, root, **where), profile=row_profile(profile))
    return estimate(runs, rows)


def run_study(profile: str, shard: tuple[int, int] = (0, 1), root: Path | None = None, log=print,
              **where: str | Path) -> Path:
    """Train, evaluate and measure every missing run of ``profile`` (this shard's share); returns the rows file.
    ``where``: ``results_dir``/``runs_dir`` overrides (:func:`study_params`)."""
    settings = profiles()[profile]
    require_proven(settings["model_overrides"].get("precision", "fp32"), settings["device"], root)
    params = study_params(profile, root, **where)
    path = rows_path(profile, root, **where)
    index, count = shard
    todo = plan(settings["seeds"], methods_of(profile))
    with study_lock(path, shard):
        for i, (method, seed) in enumerate(todo):
            if i % count != index:
                continue
            run_dir = plan_run(DATASET, method, seed, params, rows_file=path).run_dir
            log(f"[{i + 1}/{len(todo)}] {method_label(method)} seed={seed}: {run_dir}")
            run_and_evaluate(DATASET, method, seed, params, rows_file=path,
                             measure=lambda run, seed=seed: measure_run(run, settings, params, seed,
                                                                       path.parent / "samples"))
    return path
