"""The regime map's figures: the phase figure (cells by D width × form of GraN, coloured by the share of collapsed
seeds, final FD written in), and per cell the probe curves (n²/ε, the trap share) against iterations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap

from granlib.study.ledger.regime import Cell
from granlib.study.ledger.regime_rule import run_outcomes

COLLAPSE_COLOURS = LinearSegmentedColormap.from_list("collapse", ["#2a9d8f", "#e9c46a", "#d62828"])
SET_STYLES = {"generated": "-", "real": "--"}


def form_of(cell: Cell) -> str:
    """The row of the phase figure a cell belongs to: the method, with its ε where the cell changes it."""
    return cell.label.rsplit(", D width", 1)[0] + ("" if cell.eps is None else f", ε = {cell.eps:.3g}")


def phase_figure(rows: pd.DataFrame, cells: list[Cell], seeds: int, stamp: str = "") -> plt.Figure:
    """One square per cell (D width across, form of GraN down): colour = share of its decided seeds (collapsed or
    learned) that collapsed, text = collapsed/decided seeds, the final FD (mean ± std) and any unsettled or diverged
    seeds; grey where no seed has finished or none was decided."""
    widths = sorted({cell.ndf for cell in cells})
    forms = list(dict.fromkeys(form_of(cell) for cell in cells))
    runs = run_outcomes(rows)
    fig, ax = plt.subplots(figsize=(max(7.0, 2.0 + 2.3 * len(widths)), 1.2 + 0.85 * len(forms)))
    for cell in cells:
        x, y = widths.index(cell.ndf), forms.index(form_of(cell))
        part = runs[runs.cell == cell.name]
        decided = part[part.outcome.isin(["collapsed", "learned"])]  # unsettled and diverged runs count for neither
        fds = part.fd.dropna()
        if len(decided):
            collapsed = int((decided.outcome == "collapsed").sum())
            colour = COLLAPSE_COLOURS(collapsed / len(decided))
            text = f"{collapsed}/{len(decided)} collapsed"
        else:
            colour, text = "0.85", "running" if not len(part) else "no seed decided"
        if len(fds):
            text += f"\nFD {fds.mean():.0f}" + (f" ± {fds.std():.0f}" if len(fds) > 1 else "")
        for other in ("unsettled", "diverged"):
            if (part.outcome == other).any():
                text += f"\n{int((part.outcome == other).sum())} {other}"
        ax.add_patch(plt.Rectangle((x - 0.48, y - 0.45), 0.96, 0.9, color=colour))
        ax.text(x, y, text + ("" if len(part) >= seeds or not len(part) else f"\n({seeds - len(part)} to come)"),
                ha="center", va="center", fontsize=8)
    ax.set_xlim(-0.5, len(widths) - 0.5)
    ax.set_ylim(len(forms) - 0.5, -0.5)
    ax.set_xticks(range(len(widths)), [str(w) for w in widths])
    ax.set_yticks(range(len(forms)), forms, fontsize=8)
    ax.set_xlabel("D base width (G base width 64)")
    ax.set_ylabel("discriminator")
    ax.grid(False)
    first = rows.iloc[0] if len(rows) else None
    iterations = "" if first is None else f"{int(first.iterations):,}".replace(",", " ")
    protocol = "" if first is None else f"{first.dataset}, {iterations} iterations, {first.metric} of EMA-G"
    ax.set_title(f"{stamp}Where GraND-GAN collapses: share of decided seeds collapsed per cell\n{protocol}",
                 fontsize=10)
    mappable = plt.cm.ScalarMappable(cmap=COLLAPSE_COLOURS, norm=plt.Normalize(0, 1))
    fig.colorbar(mappable, ax=ax, label="share of decided seeds collapsed", fraction=0.05)
    fig.tight_layout()
    return fig


def curves_figure(curves: pd.DataFrame, cells: list[Cell], measure: str, ylabel: str, title: str,
                  log: bool = False, reference: float | None = None,
                  ylim: tuple[float, float] | None = None) -> plt.Figure:
    """``measure`` (a probe field without its set, e.g. "n2_over_eps_median") against iterations, one panel per
    cell, one colour per seed, generated probes solid and real probes dashed; ``reference`` drawn as a line."""
    shown = [cell for cell in cells if len(curves) and (curves.cell == cell.name).any()]
    columns = min(3, max(1, len(shown)))
    lines = max(1, -(-len(shown) // columns))
    fig, axes = plt.subplots(lines, columns, figsize=(4.4 * columns, 3.0 * lines), squeeze=False, sharex=True)
    for ax in axes.flat[len(shown):]:
        ax.axis("off")
    for ax, cell in zip(axes.flat, shown):
        part = curves[curves.cell == cell.name]
        for colour, (seed, run) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], part.groupby("seed")):
            for name, style in SET_STYLES.items():
                values = run[f"{measure}[{name}]"].astype(float)
                if log:
                    values = values.where(values > 0)
                ax.plot(run.step, values, style, color=colour, lw=1.2, label=f"seed {seed}, {name}")
        if reference is not None:
            ax.axhline(reference, color="k", lw=0.8, ls=":")
        if log:
            ax.set_yscale("log")
        if ylim is not None:
            ax.set_ylim(*ylim)  # one scale for every panel
        ax.set_title(cell.label, fontsize=9)
        ax.set_xlabel("generator iterations")
        ax.set_ylabel(ylabel)
    if shown:
        axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def regime_curves(curves: pd.DataFrame, cells: list[Cell], stamp: str = "") -> plt.Figure:
    """n²/ε on the probes (median per set; 1 dotted): where D sits relative to the ε-dominated regime."""
    return curves_figure(curves, cells, "n2_over_eps_median", "median n²/ε (log)",
                         f"{stamp}D's regime on the probes: n²/ε below 1 means g ≈ K·f·n/ε (solid: generated, dashed: "
                         "real)", log=True, reference=1.0)


def trap_curves(curves: pd.DataFrame, cells: list[Cell], stamp: str = "") -> plt.Figure:
    """The trap share on the probes (½ dotted: the rule's "trapped")."""
    return curves_figure(curves, cells, "trap_share", "trap share",
                         f"{stamp}The flat-region trap: share of probes whose ‖∇f‖ is 100× below the other set's "
                         "median (solid: generated, dashed: real)", reference=0.5, ylim=(-0.05, 1.05))
