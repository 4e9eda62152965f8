import pandas as pd
import pytest

from granlib.study.ledger.estimate import (
    SECONDS_PER_EVALUATED_IMAGE,
    PlannedCost,
    estimate,
    measured_rates,
    plan_line,
    reference_rate,
    run_kind,
)

GRAN16 = run_kind("cpu", "gran/ns", 16, None)


def timed_row(method: str, ndf: int, seconds: float, iterations: int = 1000, precision: str = "fp32",
              gpu: str = "cpu") -> dict:
    return {"method": method, "ndf": ndf, "precision": precision, "iterations": iterations, "train_seconds": seconds,
            "gpu": gpu}


def test_a_kind_is_the_normaliser_width_precision_and_device():
    assert run_kind("cpu", "gran/wasserstein", 16, None) == GRAN16  # the loss does not change the step's cost
    assert run_kind("cpu", "gran_floor/ns", 16, "fp32") != GRAN16
    assert run_kind("cpu", "gran/ns", 16, "bf16") != GRAN16
    assert run_kind("cpu", "gran", 16, float("nan")) == GRAN16  # a row from before precision was recorded: fp32


def test_measured_rates_are_the_median_seconds_per_iteration_of_each_kind():
    rows = pd.DataFrame([timed_row("gran", 16, 200.0), timed_row("gran", 16, 300.0, iterations=2000),
                         timed_row("gran", 16, 900.0), timed_row("sn", 16, 100.0),
                         timed_row("gran", 16, 50.0, gpu="NVIDIA H100 80GB HBM3")])
    rates = measured_rates(rows)
    assert rates[GRAN16] == pytest.approx(0.2)  # median of 0.2, 0.15, 0.9
    assert rates[run_kind("cpu", "sn/ns", 16, None)] == pytest.approx(0.1)
    assert rates[run_kind("cuda", "gran/ns", 16, None)] == pytest.approx(0.05)
    assert measured_rates(pd.DataFrame()) == {}


def test_reference_rates_scale_with_d_width_and_precision():
    base = reference_rate(run_kind("cpu", "gran/ns", 8, None))
    assert reference_rate(GRAN16) == pytest.approx(base * 2 ** 1.1)
    assert reference_rate(run_kind("cpu", "gran/ns", 16, "bf16")) == pytest.approx(base * 2 ** 1.1 / 1.47)
    assert reference_rate(run_kind("cuda", "gran/ns", 64, None)) == reference_rate(run_kind("cuda", "sn/ns", 8, None))


def test_a_measured_kind_is_estimated_at_its_rows_rate_the_others_at_the_reference():
    runs = [PlannedCost(GRAN16, 10_000, 100), PlannedCost(run_kind("cpu", "sn/ns", 16, None), 10_000, 100)]
    rows = pd.DataFrame([timed_row("gran", 16, 250.0), timed_row("gran", 8, 10.0)])  # width 8 is another kind
    result = estimate(runs, rows)
    evaluation = 200 * SECONDS_PER_EVALUATED_IMAGE["cpu"]
    expected = 10_000 * 0.25 + 10_000 * reference_rate(run_kind("cpu", "sn/ns", 16, None)) + evaluation
    assert result.seconds == pytest.approx(expected)
    assert (result.measured_kinds, result.kinds) == (1, 2)
    assert "1 of 2 kinds" in result.describe("cpu")
    everything = estimate(runs[:1], rows).describe("cpu")
    assert "(rates measured by this study's rows;" in everything and "reference" not in everything
    assert estimate(runs, pd.DataFrame()).describe("cpu").startswith(
        f"estimated {estimate(runs, pd.DataFrame()).seconds / 3600:.1f} h of cpu time for one process (reference rates")


def test_the_plan_line_gives_an_estimate_only_for_runs_to_train():
    cost = estimate([PlannedCost(GRAN16, 100, 0)], pd.DataFrame())
    assert plan_line("map", "3 runs", 2, 3, cost, "cpu") == (
        f"map: 3 runs, 2 with a row already (nothing to train), 1 to train; {cost.describe('cpu')}")
    assert plan_line("map", "3 runs", 3, 3, estimate([], pd.DataFrame()), "cpu") == (
        "map: 3 runs, 3 with a row already (nothing to train), 0 to train")
