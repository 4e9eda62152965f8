import math

import pandas as pd
import pytest
from scipy import stats

from granlib.study import ledger
from granlib.study.ledger import (
    CLAIMS,
    PROFILES,
    Cell,
    comparative_verdict,
    evaluate_claims,
    load_ledger_rows,
    plan,
    render,
    run_study,
    steps_for,
    t_interval,
    threshold_verdict,
    welch_interval,
)
from granlib.study.results import SMOKE_STAMP


def test_comparative_verdicts_on_synthetic_intervals():
    assert comparative_verdict(0.1, 0.5, +1) == "supported"
    assert comparative_verdict(-0.5, -0.1, +1) == "contradicted"
    assert comparative_verdict(-0.1, 0.5, +1) == "inconclusive"
    assert comparative_verdict(-0.5, -0.1, -1) == "supported"
    assert comparative_verdict(0.2, 0.4, 0) == comparative_verdict(-0.4, -0.2, 0) == "supported"
    assert comparative_verdict(-0.05, 0.05, 0, null_margin=0.1) == "contradicted"
    assert comparative_verdict(-0.5, 0.05, 0, null_margin=0.1) == "inconclusive"
    assert comparative_verdict(math.nan, math.nan, +1) == "pending"


def test_threshold_verdicts_on_synthetic_intervals():
    assert threshold_verdict([(0.0, 0.0), (0.0, 0.005)], 0.01, "below") == "supported"
    assert threshold_verdict([(0.0, 0.005), (0.02, 0.05)], 0.01, "below") == "contradicted"
    assert threshold_verdict([(0.0, 0.02)], 0.01, "below") == "inconclusive"
    assert threshold_verdict([(0.0, 0.005), (0.02, 0.05)], 0.01, "above") == "supported"
    assert threshold_verdict([(0.0, 0.005), (0.0, 0.01)], 0.01, "above") == "contradicted"
    assert threshold_verdict([(0.0, 0.02)], 0.01, "above") == "inconclusive"


def test_intervals_match_scipy():
    a, b = [1.0, 2.0, 3.0, 4.5], [0.5, 0.7, 0.2, 0.9, 1.1]
    mean, lo, hi, n = t_interval(a)
    ref = stats.ttest_1samp(a, 0.0).confidence_interval(0.95)
    assert (mean, n) == (pytest.approx(2.625), 4) and (lo, hi) == (pytest.approx(ref.low), pytest.approx(ref.high))
    diff, lo, hi = welch_interval(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(2.625 - 0.68) and (lo, hi) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert math.isnan(t_interval([1.0])[1]) and welch_interval([1.0, 1.0], [0.0, 0.0]) == (1.0, 1.0, 1.0)


def synthetic_rows(sn_ed: float, seeds: int = 10) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        for method, ed in (("gran", 0.1), ("sn", sn_ed)):
            rows.append({"dataset_key": "8gaussians", "method": method, "loss": "ns", "K": 1.0, "seed": seed,
                         "energy_distance": ed + 0.01 * seed, "fd_above_K[real]": 0.0})
    return pd.DataFrame(rows)


def test_claims_verdicts_follow_the_data():
    table = evaluate_claims(synthetic_rows(sn_ed=0.5), min_n=10)
    p4 = table[(table.claim == "P4") & table.setting.str.contains("SNGAN")]
    assert p4.verdict.tolist() == ["supported"] and p4.estimate.iloc[0] == pytest.approx(0.4)
    assert table[(table.claim == "P4") & table.setting.str.contains("SNGAN")].n.iloc[0] == "10 vs 10"
    flipped = evaluate_claims(synthetic_rows(sn_ed=0.0), min_n=10)
    assert flipped[(flipped.claim == "P4") & flipped.setting.str.contains("SNGAN")].verdict.iloc[0] == "contradicted"
    few = evaluate_claims(synthetic_rows(sn_ed=0.5, seeds=5), min_n=10)
    assert set(few.verdict) == {"pending"}  # < 10 seeds: no verdict
    assert set(table.claim) <= set(CLAIMS) and (table.source != "").all()


def test_plan_covers_every_claim_with_ten_seeds():
    cells = plan()
    keys = [(c.dataset, c.method, c.loss, c.K) for c in cells]
    assert len(keys) == len(set(keys)) == 26 and PROFILES["cpu"]["seeds"] >= 10
    assert {c.method for c in cells} >= {"gran", "gran_inverse", "sn", "gp", "gn", "equivalent"}
    assert {c.K for c in cells if c.method == "gran" and c.loss == "ns"} == {0.1, 1.0, 10.0}
    assert {c.dataset for c in cells} == {"8gaussians", "25gaussians"}
    assert steps_for(PROFILES["cpu"], "25gaussians") == 1000 and steps_for(PROFILES["cpu"], "8gaussians") == 1500


def fake_measure(cell: Cell, seed: int, profile: str, settings: dict) -> dict:
    return {"dataset_key": cell.dataset, "dataset": cell.dataset, "method": cell.method, "loss": cell.loss,
            "K": cell.K, "steps": settings["steps"], "seed": seed, "profile": profile, "energy_distance": 0.1,
            "modes_covered": 8, "modes_total": 8, "high_quality": 1.0, "train_seconds": 0.0, "eps": 1e-4,
            "n_eval": settings["n_eval"], "experiment": cell.experiment, "device": "cpu", "date": "2026-12-01",
            "git_commit": "x", "source": "granlib (measured)"}


def test_a_rerun_appends_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "measure_run", fake_measure)
    monkeypatch.setattr(ledger, "plan", lambda: plan()[:2])
    path = run_study("smoke", tmp_path / "rows.jsonl", log=lambda line: None)
    first = path.read_text()
    assert len(load_ledger_rows(path)) == 2 * PROFILES["smoke"]["seeds"]
    run_study("smoke", path, log=lambda line: None)
    assert path.read_text() == first


def test_render_stamps_smoke_and_writes_markdown_and_html(tmp_path):
    rows = synthetic_rows(sn_ed=0.5).assign(steps=10, dataset="8 Gaussians (2-D)")
    written = render(evaluate_claims(rows, 10), rows, tmp_path, smoke=True, min_n=10)
    md = (tmp_path / "ledger.md").read_text()
    assert [p.name for p in written] == ["ledger.md", "ledger.html"] and SMOKE_STAMP in md
    assert "supported" in md and "Rule" in (tmp_path / "ledger.html").read_text()
