"""Figures for the notebooks: one theme, training curves, sample grids beside real data, and mean ± std bars."""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from torchvision.utils import make_grid

from granlib.jsonl import read_jsonl
from granlib.normalizers import method_label
from granlib.study.pipeline.results import SMOKE_STAMP
from granlib.training.run_dir import saved_config

# (stats.jsonl key, panel title, y-axis label); what each panel of training_curves shows
CURVES = [("loss_d", "Discriminator loss", "loss (nats; W critic: score)"),
          ("loss_g", "Generator loss", "loss (nats; W critic: score)"),
          ("max_abs_d", "Largest |D(x)| in the batch", "max |D(x)| (logit)"),
          ("grad_f_mean", "Gradient norm of the raw net f", "mean ‖∇ₓf‖"),
          ("grad_d_mean", "Gradient norm of the normalised D", "mean ‖∇ₓD‖")]


def apply_theme() -> None:
    """The one look of every figure: seaborn's whitegrid at notebook scale; saved files keep their titles. Saved
    files are deterministic, so re-rendering committed results rewrites no byte: no date in a file's metadata
    (``SOURCE_DATE_EPOCH``, which matplotlib's SVG and PDF writers read; its PNG metadata holds no date) and SVG ids
    from a fixed salt instead of random ones."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "savefig.bbox": "tight", "axes.titlesize": 11,
                         "axes.labelsize": 10, "legend.fontsize": 9, "figure.titlesize": 13,
                         "svg.hashsalt": "granlib"})
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")


def line_with_band(ax: plt.Axes, runs: pd.DataFrame, x: str, y: str, centre: str = "mean", **line) -> plt.Line2D:
    """``y`` against ``x`` over several runs: the runs' ``centre`` ("mean" or "median") as a line (``line``: its
    style and label), their range as a band of the line's colour."""
    by_x = runs.groupby(x)[y]
    middle = getattr(by_x, centre)()
    (drawn,) = ax.plot(middle.index, middle, **line)
    ax.fill_between(middle.index, by_x.min(), by_x.max(), color=drawn.get_color(), alpha=0.2)
    return drawn


def read_stats(run_dir: str | Path) -> pd.DataFrame:
    """A run's stats.jsonl as a table, one row per logged step."""
    return pd.DataFrame(read_jsonl(Path(run_dir, "stats.jsonl")))


def stamp(fig: plt.Figure, smoke: bool) -> plt.Figure:
    """Mark smoke-profile figures so they are never mistaken for results."""
    if smoke:
        fig.text(0.5, 0.5, SMOKE_STAMP, ha="center", va="center", fontsize=28, color="red", alpha=0.25, rotation=20)
    return fig


def run_label(run_dir: str | Path) -> str:
    """'GraND-GAN, K=0.1, seed 0' from a run directory's config.json."""
    config = saved_config(run_dir)
    return f"{method_label(config.normalizer, config.loss, config.K)}, seed {config.seed}"


def iteration_of(sample_path: str | Path) -> str:
    """'iteration 10 000' from a sample grid named step_0010000.png."""
    digits = re.findall(r"\d+", Path(sample_path).stem)
    return f"iteration {int(digits[-1]):,}".replace(",", " ") if digits else Path(sample_path).stem


def training_curves(run_dirs: dict[str, Path], smoke: bool = False, title: str | None = None) -> plt.Figure:
    """Losses, D's largest output, ‖∇f‖ and ‖∇D‖ against the generator iteration, one line per run."""
    fig, axes = plt.subplots(1, len(CURVES), figsize=(4 * len(CURVES), 3.6))
    for label, run_dir in run_dirs.items():
        stats = read_stats(run_dir)
        for ax, (key, _, _) in zip(axes, CURVES):
            ax.plot(stats.step, stats[key], label=label)
    for ax, (_, panel, ylabel) in zip(axes, CURVES):
        ax.set_title(panel)
        ax.set_xlabel("generator iteration")
        ax.set_ylabel(ylabel)
    axes[3].set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), bbox_to_anchor=(0.5, -0.02))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * ((len(labels) - 1) // 4), 1, 1))
    return stamp(fig, smoke)


def last_samples(run_dirs: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """(caption, path) of each run's last EMA sample grid, captioned with its method, K, seed and iteration."""
    panels = []
    for run_dir in run_dirs:
        last = sorted(Path(run_dir, "samples").glob("*.png"))[-1]
        panels.append((f"{run_label(run_dir)}\n{iteration_of(last)}", last))
    return panels


def sample_grids(panels: list[tuple[str, str | Path]], real: torch.Tensor | None = None,
                 real_caption: str = "real images", title: str | None = None, smoke: bool = False,
                 columns: int = 4) -> plt.Figure:
    """The one sample-grid figure: 64 reference images ``real`` (in [−1, 1], an 8×8 grid captioned
    ``real_caption``) first, then each (caption, sample grid PNG) of ``panels``, at most ``columns`` a line."""
    images = [] if real is None else [
        (real_caption, make_grid(real[:64] * 0.5 + 0.5, nrow=8, padding=2, pad_value=1.0).permute(1, 2, 0)
         .clamp(0, 1).numpy())]
    images += [(caption, plt.imread(str(path))) for caption, path in panels]
    columns = max(1, min(columns, len(images)))
    lines = -(-len(images) // columns)
    # constrained layout leaves room for every panel's title above its grid (tight_layout let the second line's
    # titles run under the first line's grids)
    fig, axes = plt.subplots(lines, columns, figsize=(3.3 * columns, 3.9 * lines), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, (caption, image) in zip(axes.flat, images):
        ax.imshow(image)
        ax.set_title("\n".join(textwrap.fill(line, 34) for line in caption.split("\n")), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return stamp(fig, smoke)


def mean_std_bars(summary: pd.DataFrame, metric: str, smoke: bool = False, title: str | None = None) -> plt.Figure:
    """One horizontal bar per (dataset, method, K): the mean over seeds with a ± std error bar.

    ``summary`` has columns ``dataset``, ``label`` (method and K as the paper names them), ``mean``, ``std`` and
    ``seeds``: :func:`granlib.study.pipeline.results.summary_table`'s, its ``fd_mean`` and ``fd_std`` as ``mean`` and
    ``std``."""
    labels = [f"{d}: {m} ({n} seed{'' if n == 1 else 's'})"
              for d, m, n in zip(summary.dataset, summary.label, summary.seeds)]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * len(summary)))
    ax.barh(labels, summary["mean"], xerr=summary["std"].fillna(0), capsize=4, color=sns.color_palette()[0])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric}, mean ± std over seeds (lower is better)")
    ax.set_title(title or f"{metric} per method")
    fig.tight_layout()
    return stamp(fig, smoke)


def k_sweep_curves(sweep: dict[tuple[str, float, int], Path], seed: int, smoke: bool = False,
                   title: str | None = None) -> plt.Figure:
    """Per method (row): D loss, G loss and max |D(x)| against the iteration, one line per K, for one seed.

    ``sweep`` maps (method spec 'normalizer/loss', K, seed) to a run directory."""
    methods = list(dict.fromkeys(m for m, _, _ in sweep))
    panels = [CURVES[0], CURVES[1], CURVES[2]]
    fig, axes = plt.subplots(len(methods), len(panels), figsize=(13, 3.4 * len(methods)), squeeze=False)
    for row, method in enumerate(methods):
        name = method_label(method)
        for (spec, k, s), run_dir in sweep.items():
            if spec != method or s != seed:
                continue
            stats = read_stats(run_dir)
            for ax, (key, _, _) in zip(axes[row], panels):
                ax.plot(stats.step, stats[key], label=f"K = {k:g}")
        for ax, (_, panel, ylabel) in zip(axes[row], panels):
            ax.set_title(f"{name}: {panel[0].lower()}{panel[1:]}")
            ax.set_xlabel("generator iteration")
            ax.set_ylabel(ylabel)
        axes[row, 2].set_yscale("log")
        axes[row, 0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return stamp(fig, smoke)
