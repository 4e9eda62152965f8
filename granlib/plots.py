"""Figures for the notebooks: training curves and sample grids from run directories."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from granlib.results import SMOKE_STAMP
from granlib.run_dir import read_jsonl


def read_stats(run_dir: str | Path) -> pd.DataFrame:
    """A run's stats.jsonl as a table, one row per logged step."""
    return pd.DataFrame(read_jsonl(Path(run_dir, "stats.jsonl")))


def stamp(fig: plt.Figure, smoke: bool) -> plt.Figure:
    """Mark smoke-profile figures so they are never mistaken for results."""
    if smoke:
        fig.text(0.5, 0.5, SMOKE_STAMP, ha="center", va="center", fontsize=28, color="red", alpha=0.25, rotation=20)
    return fig


def training_curves(run_dirs: dict[str, Path], smoke: bool = False) -> plt.Figure:
    """Losses, D outputs, ‖∇f‖ and ‖∇D‖ over iterations for several runs."""
    panels = [("loss_d", "D loss"), ("loss_g", "G loss"), ("max_abs_d", "max |D(x)|"),
              ("grad_f_mean", "mean ‖∇ₓf‖"), ("grad_d_mean", "mean ‖∇ₓD‖")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for label, run_dir in run_dirs.items():
        stats = read_stats(run_dir)
        for ax, (key, title) in zip(axes, panels):
            ax.plot(stats.step, stats[key], label=label)
            ax.set_title(title)
            ax.set_xlabel("iteration")
    axes[3].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return stamp(fig, smoke)


def sample_grids(run_dirs: dict[str, Path], smoke: bool = False) -> plt.Figure:
    """The last EMA sample grid of each run, side by side."""
    fig, axes = plt.subplots(1, len(run_dirs), figsize=(3.2 * len(run_dirs), 3.4), squeeze=False)
    for ax, (label, run_dir) in zip(axes[0], run_dirs.items()):
        last = sorted(Path(run_dir, "samples").glob("*.png"))[-1]
        ax.imshow(plt.imread(last))
        ax.set_title(f"{label}\n{last.stem}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return stamp(fig, smoke)
