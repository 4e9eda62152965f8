import matplotlib.pyplot as plt
import pandas as pd
import pytest

from granlib.study.instruments.measurements import POINT_KINDS
from granlib.study.ledger import costs
from granlib.study.ledger.claims import comparison, threshold, verdict_table
from granlib.study.ledger.figures import (
    VERDICT_COLOURS,
    costs_figure,
    forest,
    generation_figure,
    gradients_figure,
    jumps_figure,
    k_figure,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def runs() -> pd.DataFrame:
    rows = []
    for dataset, key in (("8 Gaussians (2-D)", "8gaussians"), ("25 Gaussians (2-D)", "25gaussians")):
        for method, loss, K in (("gran", "ns", 1.0), ("gran", "ns", 10.0), ("sn", "ns", 1.0),
                                ("gran", "wasserstein", 1.0)):
            for seed in range(3):
                rows.append({"dataset": dataset, "dataset_key": key, "experiment": "generation", "method": method,
                             "loss": loss, "K": K, "seed": seed, "energy_distance": 0.1 + 0.01 * seed + (K == 10),
                             "plateau_share_d": 0.1 * seed, "jump_share": 0.5 if method == "gran" else 0.0,
                             **{f"grad_max_over_K[{k}]": 0.9 + 0.01 * seed for k in POINT_KINDS}})
    return pd.DataFrame(rows)


def test_a_forest_names_the_claim_and_colours_each_interval_by_its_verdict():
    rows = runs()
    table = verdict_table([comparison(rows, "P4", "8gaussians", "8 Gaussians (2-D)", ("sn", "ns", 1.0),
                                      ("gran", "ns", 1.0), +1, 3, "energy_distance"),
                           threshold(rows, "C3", "ring", ["jump_share"], 0.01, "above", min_n=3)])
    ax = forest(table, "P4").axes[0]
    assert ax.get_title().startswith("P4: GraN improves generation") and ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["8 Gaussians (2-D); SNGAN − GraND-GAN, K=1"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(VERDICT_COLOURS)
    smoke = forest(table, "P4", smoke=True).axes[0]  # under smoke no verdict is stated, not even by colour
    assert [t.get_text() for t in smoke.get_legend().get_texts()] == ["not stated (smoke)"]
    assert {tuple(line.get_color()) if not isinstance(line.get_color(), str) else line.get_color()
            for line in smoke.lines if len(line.get_xdata())} <= {"tab:blue", "k"}


@pytest.mark.parametrize("draw", [lambda r: gradients_figure(r, 1.0), lambda r: generation_figure(r, 1.0), k_figure,
                                  lambda r: jumps_figure(r, 1.0)])
def test_every_view_has_titles_labelled_axes_a_legend_and_the_papers_names(draw):
    fig = draw(runs())
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    shown = " ".join(t.get_text() for ax in fig.axes for t in [*ax.get_xticklabels(), *ax.get_legend().get_texts()])
    assert "GraND-GAN" in shown and "gran/" not in shown


def test_the_costs_figure_names_methods_and_forms():
    rows = pd.DataFrame([{"method": m.split("/")[0], "loss": m.split("/")[1], "form": form, "repeat": 0,
                          "d_step_seconds": 0.1, "g_step_seconds": 0.1, "iteration_seconds": 0.2,
                          "peak_mib_d_step": 5.0, "peak_mib_g_step": 3.0, "generator_gradient_gap": 0.0}
                         for m in ("none/ns", "gran/ns") for form in costs.FORMS])
    fig = costs_figure(costs.summary(rows))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["GAN (no normalisation)", "GraND-GAN"]
    assert "G step with ‖∇f‖ held constant" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
