import math

import pandas as pd
import pytest

from granlib.study.instruments.measurements import POINT_KINDS
from granlib.study.ledger.claims import (
    BOUND_CHECKS,
    CLAIMS,
    bound_claim,
    cell_rows,
    comparison,
    threshold,
    verdict_table,
)


def runs(method: str, values: dict, seeds: int = 5, K: float = 1.0) -> list[dict]:
    return [{"dataset_key": "toy", "method": method, "loss": "ns", "K": K, "seed": s,
             **{name: value + 0.001 * s for name, value in values.items()}} for s in range(seeds)]


def test_a_bound_claim_reads_the_same_columns_at_either_scale():
    rows = pd.DataFrame(runs("gran", {f"fd_above_K[{k}]": 0.0 for k in POINT_KINDS}))
    points = bound_claim("P1", rows, "toy", "Toy data", ("gran", "ns", 1.0), min_n=5, unit="points")
    images = bound_claim("P1", rows, "toy", "Toy data", ("gran", "ns", 1.0), min_n=5, unit="images")
    assert points["claim"] == "P1" and points["setting"] == "Toy data; GraND-GAN, K=1, trained D"
    assert points["verdict"] == images["verdict"] == "supported" and points["reference"] == 0.01
    assert points["measurement"].replace("points", "images") == images["measurement"]
    assert bound_claim("P2 layers", rows, "toy", "Toy data", ("gran", "ns", 1.0), 5, "points")["claim"] == "P2"
    assert {check.split()[0] for check in BOUND_CHECKS} == {"P1", "P2", "P3", "C3"}


def test_a_comparison_names_both_groups_as_the_paper_does_and_needs_min_n():
    rows = pd.DataFrame(runs("gran", {"energy_distance": 0.1}) + runs("sn", {"energy_distance": 0.5}))
    row = comparison(rows, "P4", "toy", "Toy data", ("sn", "ns", 1.0), ("gran", "ns", 1.0), +1, 5, "energy_distance")
    assert row["setting"] == "Toy data; SNGAN − GraND-GAN, K=1" and row["verdict"] == "supported"
    assert row["estimate"] == pytest.approx(0.4) and row["n"] == "5 vs 5"
    assert comparison(rows, "P4", "toy", "", ("sn", "ns", 1.0), ("gran", "ns", 1.0), +1, 6,
                      "energy_distance")["verdict"] == "pending"


def test_rows_of_a_cell_match_K_to_rounding_and_a_missing_column_is_empty():
    rows = pd.DataFrame(runs("gran", {"x": 1.0}, K=0.1 + 1e-15) + runs("gran", {"x": 2.0}, K=10.0))
    assert len(cell_rows(rows, "toy", "gran", "ns", 0.1)) == 5 and len(cell_rows(rows, "toy", "gran", "ns", 1.0)) == 0
    row = threshold(rows, "C3", "toy", ["jump_share"], 0.01, "above", min_n=1)
    assert row["verdict"] == "pending" and row["n"] == "0" and math.isnan(row["intervals"][0][1])
    assert "GraND-GAN, K=0.1" in comparison(rows, "P4", "toy", "toy", ("gran", "ns", 0.1), ("gran", "ns", 10.0), +1, 1,
                                            "x")["setting"]  # the one method label, with K


def test_the_table_gives_every_row_its_claim_and_source():
    table = verdict_table([threshold(pd.DataFrame(runs("gp", {"jump_share": 0.5})), "C3", "toy", ["jump_share"],
                                     0.01, "above", min_n=5)])
    assert list(table.columns[:3]) == ["claim", "statement", "source"]
    assert table.statement.iloc[0] == CLAIMS["C3"][0] and table.verdict.iloc[0] == "supported"
    assert verdict_table([]).empty


def test_a_misspelt_measurement_is_an_error_and_a_known_one_not_yet_measured_reads_as_pending():
    from granlib.study.ledger.claims import UnknownMeasurementError, column

    rows = pd.DataFrame({"fd_effnet": [1.0, 2.0]})
    assert list(column(rows, "fd_effnet")) == [1.0, 2.0]
    assert column(rows, "jump_share").empty  # measured by the studies, not by these rows: pending
    with pytest.raises(UnknownMeasurementError, match="'fd_efnet'"):
        column(rows, "fd_efnet")
