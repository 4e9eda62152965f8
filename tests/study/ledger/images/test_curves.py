import math

import pytest

from granlib.project import REPO_ROOT
from granlib.study.ledger.images.curves import (
    CURVE_FIELDS,
    CURVE_IDENTITY,
    CURVE_POINTS,
    curves_path,
    gap_figure,
    lipschitz_gap_ceiling,
    load_train_curves,
)
from granlib.study.ledger.images.protocol import row_profile, rows_path
from granlib.study.pipeline.results import load_rows
from granlib.study.pipeline.row_store import RowStore


def test_the_ceiling_is_the_diameter_of_the_image_cube():
    assert lipschitz_gap_ceiling(32) == pytest.approx(2 * math.sqrt(3 * 32 * 32))
    assert lipschitz_gap_ceiling(1, channels=1, low=0.0, high=1.0) == 1.0  # [0, 1]: two points 1 apart


def point(method: str, loss: str, K: float, seed: int, step: int, real: float, generated: float) -> dict:
    identity = {"profile": row_profile("regime16"), "method": method, "loss": loss, "K": K, "seed": seed, "ndf": 16,
                "resolution": 32, "iterations": 500, "precision": "fp32", "git_commit": "0" * 40}
    values = dict.fromkeys(CURVE_FIELDS, 0.5) | {"g_mean[real]": real, "g_mean[generated]": generated,
                                                 "grad_d_max": 0.1 * K}
    return identity | {"step": step} | values


def test_the_gap_is_taken_over_K_and_drawn_against_the_ceiling(tmp_path):
    store = RowStore(tmp_path / "train_curves.jsonl", CURVE_POINTS)
    for seed, spread in ((0, 50.0), (1, 5.0), (2, 0.5)):
        for step in (250, 500):
            store.append(point("gran", "wasserstein", 0.1, seed, step, real=spread, generated=-spread))
            store.append(point("sn", "ns", 1.0, seed, step, real=0.5, generated=0.5 + seed))
    curves = load_train_curves("regime16", results_dir=tmp_path)
    gaps = curves.groupby(["method", "seed"]).gap_over_K.max()
    assert gaps["gran", 0] == pytest.approx(1000.0) and gaps["sn", 2] == pytest.approx(2.0)
    fig = gap_figure(curves)
    gap_ax, slope_ax = fig.axes
    gran_gap, sn_gap = gap_ax.get_lines()[:2]
    assert list(gran_gap.get_ydata()) == pytest.approx([100.0, 100.0])  # the median of 1000, 100 and 10
    assert list(sn_gap.get_ydata()) == pytest.approx([1.5, 1.5])  # 0 has no log value: the median of 1 and 2
    band = gap_ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(10.0) and band.max() == pytest.approx(1000.0)  # the seeds' range
    gran_slope, sn_slope = slope_ax.get_lines()[:2]
    assert list(gran_slope.get_ydata()) == pytest.approx([0.1, 0.1]) and gran_slope.get_color() == gran_gap.get_color()
    assert gap_ax.get_yscale() == slope_ax.get_yscale() == "log" and gap_ax.get_title() and slope_ax.get_title()
    assert gap_ax.get_xlabel() == "iteration" and "/ K" in gap_ax.get_ylabel() and "/ K" in slope_ax.get_ylabel()
    ceiling = [line for line in gap_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(ceiling) == 1 and ceiling[0].get_ydata()[0] == pytest.approx(lipschitz_gap_ceiling(32))
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels[:2] == ["GraNC-GAN, K=0.1", "SNGAN"] and any("K-Lipschitz" in label for label in labels)
    with pytest.raises(ValueError, match="no training curves"):
        gap_figure(curves.iloc[:0])


@pytest.mark.parametrize("profile", ["regime16"])
def test_the_committed_curves_are_those_of_committed_runs_each_logged_through(profile):
    """Every point belongs to a run with a row, of the row's commit and settings, and each run's curve is whole."""
    rows = load_rows(rows_path(profile, REPO_ROOT), profile=row_profile(profile))
    curves = load_train_curves(profile, REPO_ROOT)
    assert curves_path(profile, REPO_ROOT).is_file() and len(curves)
    identity = [name for name in CURVE_IDENTITY if name != "profile"]
    runs = set(map(tuple, rows[identity].astype(str).values))
    assert set(map(tuple, curves[identity].astype(str).values)) <= runs
    for _, run in curves.groupby(["method", "loss", "seed"]):
        assert sorted(run.step) == list(range(250, int(run.iterations.iloc[0]) + 1, 250))
