import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from granlib.plots import read_stats, sample_grids, stamp, training_curves
from granlib.results import SMOKE_STAMP


@pytest.fixture
def run_dirs(tmp_path):
    """Two run directories as train() leaves them: stats.jsonl lines and PNG sample grids."""
    runs = {}
    for offset, name in enumerate(("gran", "sn")):
        run = tmp_path / name
        (run / "samples").mkdir(parents=True)
        lines = [{"step": step, "loss_d": 1.0 + offset, "loss_g": 0.5, "max_abs_d": 2.0, "grad_f_mean": 10.0 ** step,
                  "grad_d_mean": 0.1} for step in (1, 2, 3)]
        (run / "stats.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n")
        for step in (10, 20):
            plt.imsave(run / "samples" / f"step_{step:07d}.png", np.full((4, 4, 3), step / 20.0))
        runs[name] = run
    return runs


def test_read_stats_skips_blank_lines(run_dirs):
    stats = read_stats(run_dirs["gran"])
    assert stats.step.tolist() == [1, 2, 3] and stats.grad_f_mean.tolist() == [10.0, 100.0, 1000.0]


def test_training_curves_one_line_per_run_and_panel(run_dirs):
    fig = training_curves(run_dirs)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["D loss", "G loss", "max |D(x)|", "mean ‖∇ₓf‖", "mean ‖∇ₓD‖"]
    assert all(len(ax.get_lines()) == 2 for ax in axes)
    assert axes[3].get_yscale() == "log"
    assert axes[0].get_lines()[1].get_ydata().tolist() == [2.0, 2.0, 2.0]  # the second run's D loss
    assert not fig.texts  # not a smoke figure
    plt.close(fig)


def test_sample_grids_show_the_last_grid_of_each_run(run_dirs):
    fig = sample_grids(run_dirs, smoke=True)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["gran\nstep_0000020", "sn\nstep_0000020"]
    assert fig.axes[0].get_images()[0].get_array()[0, 0, 0] == pytest.approx(1.0)  # the step-20 grid is white
    assert [text.get_text() for text in fig.texts] == [SMOKE_STAMP]
    plt.close(fig)


def test_stamp_marks_only_smoke_figures():
    fig = plt.figure()
    assert stamp(fig, smoke=False) is fig and not fig.texts
    stamp(fig, smoke=True)
    assert [text.get_text() for text in fig.texts] == [SMOKE_STAMP]
    plt.close(fig)
