"""The pilot that chose the study's length: FD against iterations of no normalisation, SNGAN and GraND-GAN at 2
seeds (FD every 1 000 iterations), and the rule, fixed before the pilot ended, that reads the study's length off
the curves."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from granlib.jsonl import read_jsonl
from granlib.normalizers import method_label, parse_method
from granlib.study.ledger.images.protocol import DATASET, methods_of, plan, profiles, study_params
from granlib.study.pipeline.experiments import plan_run
from granlib.study.pipeline.plots import line_with_band
from granlib.study.pipeline.results import SOURCE
from granlib.study.pipeline.row_store import RowSchema, RowStore
from granlib.training.run_dir import saved_config

PILOT_CURVES_FILE = "pilot_curves.jsonl"
# One point of a pilot curve: a run's FD at one step, with the run's protocol and provenance.
PILOT_POINTS = RowSchema(key=("method", "loss", "K", "seed", "step", "ngf", "ndf", "iterations", "n_fake", "n_real"),
                         required=("method", "loss", "K", "seed", "step", "fd", "metric", "dataset", "ngf", "ndf",
                                   "iterations", "batch_size", "n_fake", "n_real", "reference_images", "device",
                                   "git_commit", "started", "source"),
                         numeric=("K", "seed", "step", "fd", "ngf", "ndf", "iterations", "n_fake", "n_real"))
# The rule that turns the pilot's curves into the study's length, fixed before the pilot ended: the shortest length
# the budget allows (≥ 10 000 iterations, ≤ 25 min per run on one core) at which every pilot method's mean FD over
# seeds has come within LENGTH_TOLERANCE of the lowest mean FD on its curve.
LENGTH_CANDIDATES = (10_000, 11_000, 12_000)
LENGTH_TOLERANCE = 0.05


class NoLengthError(ValueError):
    """The pilot's curves satisfy the length rule at none of the candidate lengths."""


def pilot_curves(root: Path | None = None, **where: str | Path) -> pd.DataFrame:
    """The pilot's FD against iterations from its run directories: every metrics line with the run's method, seed,
    protocol and provenance (``provenance.json``)."""
    params = study_params("pilot", root, **where)
    lines = []
    for method, seed in plan(profiles()["pilot"]["seeds"], methods_of("pilot")):
        normalizer, loss = parse_method(method)
        run_dir = plan_run(DATASET, method, seed, params).run_dir
        if not (run_dir / "config.json").exists():
            continue
        config = saved_config(run_dir)
        provenance = json.loads((run_dir / "provenance.json").read_text())
        for record in read_jsonl(run_dir / "metrics.jsonl"):
            lines.append({"method": normalizer, "loss": loss, "K": config.K, "seed": seed, "step": record["step"],
                          "fd": record["fd"], "metric": record["metric"], "kid_mean": record["kid_mean"],
                          "is_mean": record["is_mean"], "dataset": config.dataset_variant, "ngf": config.ngf,
                          "ndf": config.ndf, "iterations": config.iterations, "batch_size": config.batch_size_d,
                          "n_fake": record["n_fake"], "n_real": record["n_real"], "reference_images": "training set",
                          "eval_seconds": record["eval_seconds"], "device": provenance["device"],
                          "git_commit": provenance["git_commit"], "started": provenance["started"], "source": SOURCE})
    return pd.DataFrame(lines)


def save_pilot_curves(curves: pd.DataFrame, path: str | Path) -> Path:
    """Append the curves' points that are not in ``path`` yet (one validated line each)."""
    store = RowStore(path, PILOT_POINTS)
    for point in curves.to_dict("records"):
        store.append(point)
    return Path(path)


def pilot_curves_path(root: Path | None = None) -> Path:
    """Where the pilot's curves are committed: beside the pilot profile's rows."""
    return Path(study_params("pilot", root)["results_dir"]) / PILOT_CURVES_FILE


def read_pilot_curves(path: str | Path | None = None) -> pd.DataFrame:
    """The pilot's curves at ``path`` (default: the committed ones), validated; an empty frame when there are
    none."""
    return RowStore(path or pilot_curves_path(), PILOT_POINTS).frame()


def choose_length(curves: pd.DataFrame, candidates: tuple[int, ...] = LENGTH_CANDIDATES,
                  tolerance: float = LENGTH_TOLERANCE) -> int:
    """The study's length from the pilot's curves (rule above); :class:`NoLengthError` when no candidate qualifies
    (the rule then has no answer: the budget or the candidates must change, which is a decision, not a default)."""
    means = curves.groupby(["method", "loss", "step"]).fd.mean()
    for length in candidates:
        if all(means[method][loss].get(length, float("inf")) <= (1 + tolerance) * means[method][loss].min()
               for method, loss in means.index.droplevel("step").unique()):
            return length
    raise NoLengthError(f"no length among {list(candidates)} has every pilot method's mean FD within "
                        f"{tolerance:.0%} of its lowest; the pilot's curves do not settle within the budget")


def pilot_figure(curves: pd.DataFrame, chosen: int | None = None) -> plt.Figure:
    """FD against iterations, one band (the seeds' range) and line (their mean) per pilot method."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for (method, loss), part in curves.groupby(["method", "loss"], sort=False):
        line_with_band(ax, part, "step", "fd", marker="o", ms=3,
                       label=f"{method_label(method, loss)} (mean of {part.seed.nunique()} seeds)")
    if chosen is not None:
        ax.axvline(chosen, color="k", ls="--", lw=1, label=f"the study's length: {chosen:,}".replace(",", " "))
    first = curves.iloc[0]
    ax.set_xlabel("generator iterations")
    ax.set_ylabel(f"{first.metric} (lower is better)")
    ax.set_title(f"Pilot on {first.dataset}: FD of {int(first.n_fake)} EMA samples vs {int(first.n_real)} training "
                 f"images\n(G/D widths {int(first.ngf)}/{int(first.ndf)}, batch {int(first.batch_size)}; band: range "
                 "over seeds)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
