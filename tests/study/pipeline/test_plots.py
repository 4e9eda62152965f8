import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from granlib.study.pipeline.plots import (
    CURVES,
    apply_theme,
    iteration_of,
    k_sweep_curves,
    last_samples,
    mean_std_bars,
    read_stats,
    run_label,
    sample_grids,
    stamp,
    training_curves,
)
from granlib.study.pipeline.results import SMOKE_STAMP


@pytest.fixture
def run_dirs(tmp_path):
    """Two run directories as train() leaves them: config.json, stats.jsonl lines and PNG sample grids."""
    runs = {}
    for offset, (normalizer, loss, K) in enumerate((("gran", "ns", 0.1), ("sn", "ns", None))):
        run = tmp_path / normalizer
        (run / "samples").mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"normalizer": normalizer, "loss": loss, "K": K, "seed": 0,
                                                     "dataset": "synthetic", "data_root": None, "resolution": 8}))
        lines = [{"step": step, "loss_d": 1.0 + offset, "loss_g": 0.5, "max_abs_d": 2.0, "grad_f_mean": 10.0 ** step,
                  "grad_d_mean": 0.1} for step in (1, 2, 3)]
        (run / "stats.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n")
        for step in (10, 10000):
            plt.imsave(run / "samples" / f"step_{step:07d}.png", np.full((4, 4, 3), min(step, 20) / 20.0))
        runs[run_label(run)] = run
    return runs


def test_read_stats_skips_blank_lines(run_dirs):
    stats = read_stats(next(iter(run_dirs.values())))
    assert stats.step.tolist() == [1, 2, 3] and stats.grad_f_mean.tolist() == [10.0, 100.0, 1000.0]


def test_runs_and_grids_are_captioned_as_a_reader_reads_them(run_dirs):
    assert list(run_dirs) == ["GraND-GAN, K=0.1, seed 0", "SNGAN, seed 0"]
    assert iteration_of("samples/step_0010000.png") == "iteration 10 000"


def test_training_curves_one_line_per_run_and_labelled_panel(run_dirs):
    fig = training_curves(run_dirs, title="CIFAR-10: training curves")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [title for _, title, _ in CURVES]
    assert all(ax.get_xlabel() == "generator iteration" and ax.get_ylabel() for ax in axes)
    assert all(len(ax.get_lines()) == 2 for ax in axes)
    assert axes[3].get_yscale() == "log"
    assert axes[0].get_lines()[1].get_ydata().tolist() == [2.0, 2.0, 2.0]  # the second run's D loss
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(run_dirs)
    assert fig._suptitle.get_text() == "CIFAR-10: training curves"
    assert SMOKE_STAMP not in [text.get_text() for text in fig.texts]  # not a smoke figure
    plt.close(fig)


def test_sample_grids_show_real_data_then_the_last_grid_of_each_run(run_dirs):
    real = torch.zeros(16, 3, 8, 8)  # mid-grey in [−1, 1]
    fig = sample_grids(last_samples(run_dirs.values()), real, "real data: synthetic", title="samples", smoke=True)
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["real data: synthetic", "GraND-GAN, K=0.1, seed 0\niteration 10 000",
                      "SNGAN, seed 0\niteration 10 000"]
    assert fig.axes[0].get_images()[0].get_array()[3, 3, 0] == pytest.approx(0.5)  # grey, mapped to [0, 1]
    assert fig.axes[1].get_images()[0].get_array()[0, 0, 0] == pytest.approx(1.0)  # the last grid is white
    assert SMOKE_STAMP in [text.get_text() for text in fig.texts] and fig._suptitle.get_text() == "samples"
    plt.close(fig)


def test_sample_grids_wrap_after_four_panels_and_keep_every_title_clear_of_the_line_above(run_dirs):
    panels = last_samples(run_dirs.values()) * 3  # six runs' panels
    fig = sample_grids(panels, torch.zeros(64, 3, 8, 8))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 7 and len(fig.axes) == 8  # two lines of four, the last cell left blank
    for lower in shown[4:]:
        title = lower.title.get_window_extent(renderer)
        assert all(title.y1 <= upper.get_window_extent(renderer).y0 for upper in shown[:4]), lower.get_title()
    plt.close(fig)


def test_mean_std_bars_one_bar_per_method_with_error_bars():
    summary = pd.DataFrame({"dataset": ["C", "C"], "label": ["GraND-GAN, K=10", "SNGAN"], "mean": [302.7, 250.0],
                            "std": [59.3, np.nan], "seeds": [2, 1]})
    fig = mean_std_bars(summary, "FD-EffNetLite0")
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == [302.7, 250.0]  # the mean, not one seed's value
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C: GraND-GAN, K=10 (2 seeds)", "C: SNGAN (1 seed)"]
    assert ax.get_title() and "mean ± std" in ax.get_xlabel() and len(ax.collections) == 1  # the error bars
    plt.close(fig)


def test_k_sweep_curves_one_row_per_method_one_line_per_K(run_dirs):
    runs = list(run_dirs.values())
    sweep = {("gran/ns", 0.1, 0): runs[0], ("gran/ns", 10.0, 0): runs[1], ("sn/ns", 1.0, 0): runs[1],
             ("sn/ns", 1.0, 1): runs[0]}
    fig = k_sweep_curves(sweep, seed=0)
    assert fig.axes[0].get_title() == "GraND-GAN: discriminator loss" and fig.axes[3].get_title().startswith("SNGAN")
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2, 2, 1, 1, 1]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)


def test_stamp_marks_only_smoke_figures_and_the_theme_keeps_titles():
    apply_theme()
    assert plt.rcParams["savefig.bbox"] == "tight" and plt.rcParams["axes.titlesize"] >= 10
    fig = plt.figure()
    assert stamp(fig, smoke=False) is fig and not fig.texts
    stamp(fig, smoke=True)
    assert [text.get_text() for text in fig.texts] == [SMOKE_STAMP]
    plt.close(fig)
