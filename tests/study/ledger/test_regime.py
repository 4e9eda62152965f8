import pandas as pd
import pytest
import torch

from granlib.normalizers import get_normalizer
from granlib.study.instruments.lipschitz import initial_gradient_norms
from granlib.study.ledger import regime
from granlib.study.ledger.estimate import SECONDS_PER_EVALUATED_IMAGE, reference_rate, run_kind
from granlib.study.pipeline import experiments
from granlib.study.pipeline.results import load_rows


def record(step: int, trap: float = 0.0, generated_diversity: float = 0.5, ratio: float = 0.01) -> dict:
    values = {"n_median": 1e-3, "n2_over_eps_median": ratio, "g_mean": 0.1, "g_abs_mean": 0.1, "f_abs_mean": 1.0,
              "grad_g_mean": 0.01}
    line = {"step": step, **{f"{name}[{s}]": v for name, v in values.items() for s in ("real", "generated")}}
    line.update({"trap_share[real]": 0.0, "trap_share[generated]": trap, "diversity[real]": 0.5,
                 "diversity[generated]": generated_diversity})
    return line


def test_the_probe_summary_dates_the_trap_the_collapse_and_the_escape():
    lines = [record(250), record(500, trap=0.75), record(750, trap=0.75, generated_diversity=0.05),
             record(1000, generated_diversity=0.05, ratio=2.0), record(1250, generated_diversity=0.05, ratio=2.0),
             record(1500, generated_diversity=0.05, ratio=2.0), record(1750, generated_diversity=0.05, ratio=3.0)]
    summary = regime.probe_summary(lines, iterations=1750)
    assert (summary["first_trapped_step"], summary["first_probe_collapse_step"], summary["first_escape_step"]) == (
        500, 750, 1000)
    assert summary["trapped_final"] is False and summary["probe_collapsed_final"] is True
    assert summary["settled"] is True  # collapsed at every log of the last 1 000 iterations (750 … 1 750)
    assert summary["trap_share_generated_final"] == 0.0 and summary["n2_over_eps_median_real_final"] == 3.0
    unsettled = regime.probe_summary(lines[:5] + [record(1500), record(1750)], iterations=1750)
    assert unsettled["settled"] is False and unsettled["first_escape_step"] == 1000
    assert regime.probe_summary([record(250), record(500)], iterations=500)["first_escape_step"] is None


def map_rows(where: dict):
    return load_rows(regime.rows_path("smoke", **where), profile=regime.row_profile("smoke"))


@pytest.fixture
def two_cells(monkeypatch, tmp_path):
    """The smoke profile with two cells and one seed, its rows and runs under tmp_path."""
    smoke = regime.profiles()["smoke"]
    settings = {**smoke, "seeds": 1, "cells": smoke["cells"][:2]}
    monkeypatch.setattr(regime, "profiles", lambda: {"smoke": settings})
    return {"results_dir": tmp_path / "results", "runs_dir": tmp_path / "runs"}


def test_the_map_trains_each_cell_once_and_its_rows_carry_the_cell_and_the_probe_summary(two_cells, monkeypatch):
    path = regime.run_map("smoke", log=lambda line: None, **two_cells)
    rows = map_rows(two_cells)
    assert path.exists() and list(rows.cell) == ["w8", "w8-eps-matched"]
    assert list(rows.ndf) == [8, 8] and list(rows.eps) == [1e-4, 4.15e-11] and set(rows.precision) == {"fp32"}
    for column in ("collapsed", "diversity_generated", "first_trapped_step", "trap_share_generated_final",
                   "n2_over_eps_median_real_final", "settled", "sample_grid"):
        assert column in rows, column
    assert (path.parent / rows.sample_grid[0]).exists()
    assert regime.measured_runs("smoke", **two_cells) == {("w8", 0), ("w8-eps-matched", 0)}

    def no_training(*args, **kwargs):
        raise AssertionError("trained a run whose row exists")

    monkeypatch.setattr(experiments, "ensure_trained", no_training)
    regime.run_map("smoke", log=lambda line: None, **two_cells)
    assert len(map_rows(two_cells)) == 2


def test_the_plan_lists_every_cell_of_seed_0_first_and_the_committed_map_leaves_nothing_to_train(capsys):
    assert regime.main(["--profile", "map", "--plan"]) == 0
    out = capsys.readouterr().out
    settings = regime.profiles()["map"]
    runs = len(settings["cells"]) * settings["seeds"]
    assert f"{runs} runs" in out and f"{runs} with a row already (nothing to train), 0 to train\n" in out
    first = [line.split("] ")[1].split(":")[0] for line in out.splitlines()[1:len(settings["cells"]) + 1]]
    assert first == [cell["name"] for cell in settings["cells"]]


def test_the_width_matched_eps_and_the_scale_free_eps_keep_the_published_initial_ratio():
    """Re-measure what params/ledger/regime.yaml and the scale-free form's ε_rel were computed from."""
    def mean_square(ndf: int) -> float:
        norms = initial_gradient_norms("cnn", 32, seeds=(0, 1, 2), samples=64, ngf=64, ndf=ndf,
                                       cnn_variant="reference_code", init="normal_0.02")
        return float((norms**2).mean())

    before = torch.get_rng_state()
    published, narrow = mean_square(64), mean_square(8)
    assert torch.equal(torch.get_rng_state(), before)  # measuring leaves the global RNG as it was
    matched = {cell["name"]: cell for cell in regime.profiles()["map"]["cells"]}["w8-eps-matched"]["eps"]
    assert matched == pytest.approx(1e-4 * narrow / published, rel=5e-3)  # ε·n₀²(8)/n₀²(64), to 3 digits
    eps_rel = get_normalizer("gran_scalefree").hyperparameters["eps_rel"]
    assert eps_rel == pytest.approx(1e-4 / published, rel=5e-3)  # n²/ε_t starts at the published width's n₀²/ε


def test_the_maps_run_directories_keep_their_names_so_unfinished_runs_resume(tmp_path):
    """A run of the map resumes from its checkpoint only if the code that resumes it names its directory as the
    code that started it did: the protocol folder's digest of the run settings must not drift."""
    settings = regime.profiles()["map"]
    names = {}
    for cell in regime.cells(settings)[:2]:
        planned = experiments.plan_run("cifar10", cell.method, 0, regime.cell_params(settings, cell, "map", tmp_path))
        names[cell.name] = "/".join(planned.run_dir.parts[-2:])
    assert names == {"w8": "G64-D8-fp32-e7b184f1/gran-ns-K0.1-s0", "w16": "G64-D16-fp32-e7b184f1/gran-ns-K0.1-s0"}


def test_a_run_whose_loss_diverges_gets_a_diverged_row_and_the_map_goes_on(two_cells, monkeypatch):
    from granlib.study.ledger import regime_rule
    from granlib.training.loop import NonFiniteLossError

    trained = []
    real_run = regime.run_and_evaluate

    def first_diverges(dataset, method, seed, params, **kwargs):
        trained.append(params["runs_dir"])
        if len(trained) == 1:
            raise NonFiniteLossError("non-finite loss at iteration 3 of …", 3)
        return real_run(dataset, method, seed, params, **kwargs)

    monkeypatch.setattr(regime, "run_and_evaluate", first_diverges)
    regime.run_map("smoke", log=lambda line: None, **two_cells)
    rows = map_rows(two_cells)
    assert list(rows.cell) == ["w8", "w8-eps-matched"] and len(trained) == 2  # the second cell still trained
    diverged = rows.iloc[0]
    assert diverged.diverged_at == 3 and pd.isna(diverged.fd) and diverged.git_commit and diverged.precision == "fp32"
    assert list(regime_rule.run_outcomes(rows).outcome[:1]) == ["diverged"]

    def no_training(*args, **kwargs):
        raise AssertionError("trained a run whose row exists")

    monkeypatch.setattr(experiments, "ensure_trained", no_training)  # a diverged run has its row: not trained again
    regime.run_map("smoke", log=lambda line: None, **two_cells)
    assert len(map_rows(two_cells)) == 2


def test_the_maps_reference_estimate_costs_each_cell_at_its_own_kind():
    settings = regime.profiles()["bf16_check"]
    evaluated = settings["n_eval"] + settings["pixel_images"]
    expected = settings["seeds"] * sum(settings["iterations"] * reference_rate(run_kind("cpu", cell.method, cell.ndf,
                                                                                         cell.precision))
                                       + evaluated * SECONDS_PER_EVALUATED_IMAGE["cpu"]
                                       for cell in regime.cells(settings))
    assert regime.estimated("bf16_check", rows=pd.DataFrame()).seconds == pytest.approx(expected)
    kinds = {run_kind("cpu", c.method, c.ndf, c.precision) for c in regime.cells(settings)}
    assert len(kinds) == 3  # SN in fp32 and bf16, GraN in bf16
