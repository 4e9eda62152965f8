"""The image study's training curves (D's values and slopes on the fixed probes at every log: every 250 iterations in
the CPU profiles) and what they test: whether D separates real from generated images by more than any K-Lipschitz
function could.

For D K-Lipschitz over the image cube [-1, 1]^(C·H·W) (ℓ2 norm over pixels), every pair of images is at most its
diameter d = 2·√(C·H·W) apart, so the gap between D's means on two sets of images obeys

    |E g(real) − E g(generated)| ≤ K · W₁(real, generated) ≤ K · d.

GraN's g is K-Lipschitz only inside each linear region of f (it jumps between regions), so the gap is where a
Wasserstein critic built on it can exceed the bound: the curves show by how much, beside ‖∇ₓg‖ ≤ K inside regions.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from granlib.normalizers import method_label
from granlib.study.ledger.curves import copy_logged_points
from granlib.study.ledger.images.protocol import METHODS, by_method, row_profile, rows_path, study_params
from granlib.study.pipeline.plots import line_with_band
from granlib.study.pipeline.results import load_rows
from granlib.study.pipeline.row_store import RowSchema, RowStore
from granlib.training.loop import PROBE_SIZE
from granlib.training.probes import PROBE_FIELDS

TRAIN_CURVES_FILE = "train_curves.jsonl"
# What a point keeps of a run's row, and of the stats line it copies (granlib.training.probes, trainer's D step).
CURVE_IDENTITY = ("profile", "method", "loss", "K", "seed", "ndf", "resolution", "iterations", "precision",
                  "git_commit")
# D's batch values, the steepest slope and mean n over both probe sets, then every per-set measure (n, n²/ε, the trap)
CURVE_FIELDS = ("d_real", "d_fake", "max_abs_d", "grad_f_mean", "grad_d_max", *PROBE_FIELDS)
CURVE_POINTS = RowSchema(key=("profile", "method", "loss", "K", "seed", "iterations", "step"),
                         required=(*CURVE_IDENTITY, "step", *CURVE_FIELDS),
                         numeric=("K", "seed", "ndf", "resolution", "iterations", "step"))


def curves_path(profile: str, root: Path | None = None, **where: str | Path) -> Path:
    """``train_curves.jsonl`` beside the rows of ``profile``."""
    return rows_path(profile, root, **where).with_name(TRAIN_CURVES_FILE)


def collect_train_curves(profile: str, root: Path | None = None, **where: str | Path) -> int:
    """Add to :func:`curves_path` the logged points of every run of ``profile`` with a row whose run directory is on
    disk (run directories are not in git; points already there are kept); returns how many were added."""
    project = Path(study_params(profile, root, **where)["project_root"])
    rows = load_rows(rows_path(profile, root, **where), profile=row_profile(profile)).to_dict("records")
    return copy_logged_points(rows, project, RowStore(curves_path(profile, root, **where), CURVE_POINTS),
                              CURVE_IDENTITY, CURVE_FIELDS)


def load_train_curves(profile: str, root: Path | None = None, **where: str | Path) -> pd.DataFrame:
    """The committed curves of ``profile`` (an empty frame before any), with ``gap_over_K``: |mean g(real probes) −
    mean g(generated probes)| / K."""
    store = RowStore(curves_path(profile, root, **where), CURVE_POINTS)
    curves = store.frame(CURVE_POINTS.required, profile=row_profile(profile))
    return curves.assign(gap_over_K=(curves["g_mean[real]"] - curves["g_mean[generated]"]).abs() / curves.K)


def lipschitz_gap_ceiling(resolution: int, channels: int = 3, low: float = -1.0, high: float = 1.0) -> float:
    """An upper bound on |E g(real) − E g(generated)| / K for any K-Lipschitz g (ℓ2 over pixels) on the cube
    [low, high]^(channels·resolution²): its diameter (high − low)·√(channels·resolution²)."""
    return (high - low) * math.sqrt(channels * resolution * resolution)


def gap_figure(curves: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> plt.Figure:
    """Per method (median over seeds, band: their range), by log: left, D's gap between real and generated probes
    over K against :func:`lipschitz_gap_ceiling`; right, the largest ‖∇ₓD‖ on the probes over K."""
    if not len(curves):
        raise ValueError("no training curves to draw")
    fig, (gap_ax, slope_ax) = plt.subplots(1, 2, figsize=(11, 5))
    shown = curves.assign(gap_over_K=curves.gap_over_K.where(curves.gap_over_K > 0),  # 0 has no place on a log axis
                          slope_over_K=curves.grad_d_max / curves.K)
    for _, part in by_method(shown, methods):
        first = part.iloc[0]  # the label names K where the method has one
        line = line_with_band(gap_ax, part, "step", "gap_over_K", centre="median",
                              label=method_label(first.method, first.loss, first.K))
        line_with_band(slope_ax, part, "step", "slope_over_K", centre="median", color=line.get_color())
    resolution = int(curves.resolution.iloc[0])
    ceiling = lipschitz_gap_ceiling(resolution)
    gap_ax.axhline(ceiling, color="k", linestyle="--",
                   label=f"bound for any K-Lipschitz D: 2·√(3·{resolution}²) = {ceiling:.0f}")
    bound = slope_ax.axhline(1.0, color="k", linestyle=":", label="K (GraN's bound inside a region)")
    for ax, title, label in (
            (gap_ax, "D's gap between real and generated probes", "|mean D(real) − mean D(generated)| / K"),
            (slope_ax, "D's steepest slope on the probes", "max ‖∇ₓD‖ / K")):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel(label)
        ax.set_title(title)
    handles, labels = gap_ax.get_legend_handles_labels()
    fig.legend(handles + [bound], labels + [bound.get_label()], loc="lower center", ncol=4, fontsize=8)
    seeds = curves.groupby(["method", "loss"]).seed.nunique()
    counted = f"{seeds.min()}–{seeds.max()}" if seeds.min() != seeds.max() else f"{seeds.max()}"
    fig.suptitle(f"D on {PROBE_SIZE} fixed real and {PROBE_SIZE} fixed generated probes during training\n(median "
                 f"over {counted} seeds, band: their range; K = 1 where the legend names none)")
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig
