"""The ledger's figures: each claim's intervals coloured by verdict (a forest, for any study's ledger table), and the
views of the 2-D and cost studies' measurements behind the verdicts; methods named as the paper names them."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from granlib.normalizers import method_label
from granlib.study.instruments.measurements import POINT_KINDS
from granlib.study.ledger.claims import CLAIMS, SHARE_LIMIT
from granlib.study.ledger.costs import FORM_LABELS

VERDICT_COLOURS = {"supported": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:grey",
                   "pending": "tab:orange"}


NO_VERDICT_COLOUR = "tab:blue"  # under smoke: one colour, no verdict stated


def forest(table: pd.DataFrame, claim: str, smoke: bool = False) -> plt.Figure:
    """One line per interval of ``claim``'s ledger rows (95 % CI, coloured by the row's verdict) against its
    reference: 0 for a difference, the threshold for a bound. Under ``smoke`` no verdict is shown: one colour."""
    part = table[table.claim == claim]
    lines = [(setting if name in setting else f"{setting} | {name}", mean, lo, hi, verdict)
             for setting, verdict, intervals in zip(part.setting, part.verdict, part.intervals)
             for name, mean, lo, hi in intervals]
    fig, ax = plt.subplots(figsize=(9, max(2.4, 1.0 + 0.32 * len(lines))))
    for y, (_, mean, lo, hi, verdict) in enumerate(lines):
        if np.isfinite(mean):
            err = [[mean - lo], [hi - mean]] if np.isfinite(lo) else None
            ax.errorbar(mean, y, xerr=err, fmt="o", color=NO_VERDICT_COLOUR if smoke else VERDICT_COLOURS[verdict],
                        capsize=3)
    for reference in sorted(set(part.reference)):
        ax.axvline(reference, color="k", lw=0.8, ls="--")
    ax.set_yticks(range(len(lines)), [line[0] for line in lines], fontsize=7)
    ax.set_xlabel("estimate with 95 % CI (dashed: 0, or the claim's threshold)")
    ax.set_ylabel("setting")
    ax.set_title(textwrap.fill(f"{claim}: {CLAIMS[claim][0]}", 90), fontsize=9)
    for verdict, colour in ({"not stated (smoke)": NO_VERDICT_COLOUR} if smoke else VERDICT_COLOURS).items():
        ax.plot([], [], "o", color=colour, label=verdict)
    ax.legend(title="verdict", fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _labelled(ax: plt.Axes, xlabel: str, ylabel: str, title: str) -> None:
    """A panel's axis labels, title and legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)


def _bars(ax: plt.Axes, summary: pd.DataFrame, label_text: str) -> None:
    """One bar per (method, loss) of ``summary`` (mean, sem), named as the paper names the method."""
    x = range(len(summary))
    ax.bar(x, summary["mean"], yerr=1.96 * summary["sem"].fillna(0), capsize=3, label=label_text)
    ax.set_xticks(x, [method_label(m, l) for m, l in zip(summary.method, summary.loss)], rotation=45, ha="right",
                  fontsize=7)


def gradients_figure(rows: pd.DataFrame, K: float) -> plt.Figure:  # noqa: N803
    """P1: the largest ‖∇ₓg‖/K of each trained GraN D (one point per seed) at each kind of point, per loss."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    gran = rows[(rows.method == "gran") & (rows.K == K)]
    for j, (loss, part) in enumerate(gran.groupby("loss")):
        for i, kind in enumerate(POINT_KINDS):
            values = part.get(f"grad_max_over_K[{kind}]", pd.Series(dtype=float))
            ax.scatter(np.full(len(values), i + 0.15 * j), values, s=12, color=f"C{j}",
                       label=method_label("gran", loss, K) if i == 0 else None)
    ax.axhline(1.0, color="k", ls="--", lw=0.8, label="the bound K")
    ax.set_xticks(range(len(POINT_KINDS)), POINT_KINDS)
    _labelled(ax, "kind of point", "max ‖∇ₓg‖ / K over the points (per seed)",
              "P1: GraN's input gradient stays below K at every kind of point")
    fig.tight_layout()
    return fig


def generation_figure(rows: pd.DataFrame, K: float) -> plt.Figure:  # noqa: N803
    """Energy distance of every method of the generation cells at ``K``, one panel per mixture (mean ± 1.96 s.e.)."""
    generation = rows[(rows.K == K) & (rows.experiment == "generation")]
    datasets = sorted(set(generation.dataset))
    fig, axes = plt.subplots(1, max(len(datasets), 1), figsize=(5.5 * max(len(datasets), 1), 3.8), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        summary = (generation[generation.dataset == dataset].groupby(["method", "loss"]).energy_distance
                   .agg(["mean", "sem"]).reset_index())
        _bars(ax, summary, "mean ± 1.96·s.e.")
        ax.set_yscale("log")
        _labelled(ax, "method", "energy distance (lower is better)", f"{dataset}: generation by method (K = {K:g})")
    fig.tight_layout()
    return fig


def k_figure(rows: pd.DataFrame, dataset: str = "8gaussians") -> plt.Figure:
    """P6: GraND-GAN's energy distance and D's plateau share against K on one mixture (mean ± 1.96 s.e.)."""
    runs = rows[(rows.dataset_key == dataset) & (rows.method == "gran") & (rows.loss == "ns")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, (metric, shown) in zip(axes, (("energy_distance", "energy distance (lower is better)"),
                                          ("plateau_share_d", "share of D steps on a plateau"))):
        summary = runs.groupby("K")[metric].agg(["mean", "sem"]).reset_index()
        ax.errorbar(summary.K, summary["mean"], yerr=1.96 * summary["sem"].fillna(0), marker="o",
                    label=method_label("gran", "ns"))
        ax.set_xscale("log")
        _labelled(ax, "K", shown, f"{runs.dataset.iloc[0] if len(runs) else dataset}: {shown.split(' (')[0]} against K")
    fig.tight_layout()
    return fig


def jumps_figure(rows: pd.DataFrame, K: float) -> plt.Figure:  # noqa: N803
    """C3's detector on every method at ``K``: the share of real→generated segments with a jump (both mixtures)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    at_k = rows[rows.K == K]
    summary = at_k.groupby(["method", "loss"]).jump_share.agg(["mean", "sem"]).reset_index()
    _bars(ax, summary, "mean ± 1.96·s.e., both mixtures")
    ax.axhline(SHARE_LIMIT, color="k", ls="--", lw=0.8, label=f"threshold {SHARE_LIMIT:.0%}")
    _labelled(ax, "method", "share of segments with a jump",
              f"C3: jumps of D along real→generated segments, by method (K = {K:g})")
    fig.tight_layout()
    return fig


def costs_figure(summary: pd.DataFrame) -> plt.Figure:
    """C2: time per iteration and peak memory of each method, the G step in each of its forms (``summary``: mean
    per (method spec, form), as :func:`granlib.study.ledger.costs.summary` makes it)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    by_form = summary.reset_index()
    methods = list(dict.fromkeys(by_form.method))
    x = np.arange(len(methods))
    for k, (form, part) in enumerate(by_form.groupby("form", sort=False)):
        part = part.set_index("method").loc[methods]
        axes[0].bar(x + 0.4 * k, part.iteration_seconds * 1e3, width=0.4, label=f"G step {FORM_LABELS[form]}")
        axes[1].bar(x + 0.4 * k, part.peak_mib_g_step, width=0.4, label=f"G step {FORM_LABELS[form]}")
    if methods:
        axes[1].scatter(x + 0.2, by_form.groupby("method", sort=False).peak_mib_d_step.first().loc[methods],
                        color="k", marker="_", s=200, label="D step", zorder=3)
    for ax, ylabel, title in ((axes[0], "milliseconds per iteration (D step + G step)", "time per iteration"),
                              (axes[1], "peak memory (MiB)", "peak memory of a step")):
        ax.set_xticks(x + 0.2, [method_label(m) for m in methods], rotation=45, fontsize=8, ha="right")
        _labelled(ax, "method", ylabel, f"C2: {title} by normaliser")
    fig.tight_layout()
    return fig
