import pandas as pd

from granlib.study.ledger import regime_figures as figures
from granlib.study.ledger.regime import Cell

CELLS = [Cell("w8", "gran/ns", 8), Cell("w8-floor", "gran_floor/ns", 8), Cell("w16", "gran/ns", 16)]


def rows() -> pd.DataFrame:
    base = {"dataset": "CIFAR-10 (JPEG-q75 copy)", "iterations": 5000, "metric": "FD-EffNetLite0", "ndf": 8,
            "settled": True, "first_trapped_step": None, "first_probe_collapse_step": None, "first_escape_step": None,
            "trapped_final": False}
    return pd.DataFrame([{**base, "cell": "w8", "seed": 0, "collapsed": True, "fd": 400.0},
                         {**base, "cell": "w8", "seed": 1, "collapsed": True, "fd": 420.0},
                         {**base, "cell": "w8-floor", "seed": 0, "collapsed": False, "fd": 230.0}])


def texts(fig) -> list[str]:
    return [text.get_text() for text in fig.axes[0].texts]


def test_the_phase_figure_writes_each_cells_collapses_and_fd_and_marks_cells_still_running():
    fig = figures.phase_figure(rows(), CELLS, seeds=3)
    assert "2/2 collapsed\nFD 410 ± 14\n(1 to come)" in texts(fig)
    assert "0/1 collapsed\nFD 230\n(2 to come)" in texts(fig) and "running" in texts(fig)
    ax = fig.axes[0]
    diverged = rows().assign(collapsed=False, fd=float("nan"), diverged_at=[4000, 4100, None])
    shown = texts(figures.phase_figure(diverged, CELLS, seeds=3))
    assert "no seed decided\n2 diverged\n(1 to come)" in shown  # grey, not counted as learned
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["GraND-GAN", "GraND-GAN, floored n (ours)"]
    assert "5 000 iterations" in ax.get_title() and ax.get_xlabel().startswith("D base width")


def test_probe_curves_draw_one_panel_per_cell_with_rows_and_both_probe_sets():
    curves = pd.DataFrame([{"cell": "w8", "seed": 0, "step": step, "trap_share[real]": 0.0,
                            "trap_share[generated]": 1.0 if step > 250 else 0.0} for step in (250, 500)])
    fig = figures.trap_curves(curves, CELLS)
    shown = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in shown] == ["GraND-GAN, D width 8"]
    assert [line.get_label() for line in shown[0].lines][:2] == ["seed 0, generated", "seed 0, real"]
    assert shown[0].get_ylim() == (-0.05, 1.05)
