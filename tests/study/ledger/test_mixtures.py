import subprocess
import sys

import pandas as pd
import pytest

from granlib.study.ledger import mixtures
from granlib.study.ledger.claims import CLAIMS
from granlib.study.ledger.mixtures import (
    Cell,
    evaluate_claims,
    load_ledger_rows,
    plan,
    render_ledger,
    run_study,
    steps_for,
)
from granlib.study.ledger.profiles import load_profiles
from granlib.study.pipeline.results import SMOKE_STAMP


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
    assert len(keys) == len(set(keys)) == 26 and load_profiles("mixtures")["cpu"]["seeds"] >= 10
    assert {c.method for c in cells} >= {"gran", "gran_inverse", "sn", "gp", "gn", "equivalent"}
    assert {c.K for c in cells if c.method == "gran" and c.loss == "ns"} == {0.1, 1.0, 10.0}
    assert {c.dataset for c in cells} == {"8gaussians", "25gaussians"}
    cpu = load_profiles("mixtures")["cpu"]
    assert steps_for(cpu, "25gaussians") == 1000 and steps_for(cpu, "8gaussians") == 1500


def fake_measure(cell: Cell, seed: int, profile: str, settings: dict) -> dict:
    return {"dataset_key": cell.dataset, "dataset": cell.dataset, "method": cell.method, "loss": cell.loss,
            "K": cell.K, "steps": settings["steps"], "seed": seed, "profile": profile, "energy_distance": 0.1,
            "modes_covered": 8, "modes_total": 8, "high_quality": 1.0, "train_seconds": 0.0, "eps": 1e-4,
            "n_eval": settings["n_eval"], "experiment": cell.experiment, "device": "cpu", "date": "2026-12-01",
            "git_commit": "x", "source": "granlib (measured)"}


def test_a_rerun_appends_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(mixtures, "measure_run", fake_measure)
    monkeypatch.setattr(mixtures, "plan", lambda: plan()[:2])
    path = run_study("smoke", tmp_path / "rows.jsonl", log=lambda line: None)
    first = path.read_text()
    assert len(load_ledger_rows(path)) == 2 * load_profiles("mixtures")["smoke"]["seeds"]
    run_study("smoke", path, log=lambda line: None)
    assert path.read_text() == first


def test_render_stamps_smoke_and_writes_markdown_and_html(tmp_path):
    rows = synthetic_rows(sn_ed=0.5).assign(steps=10, dataset="8 Gaussians (2-D)")
    written = render_ledger(evaluate_claims(rows, 10), rows, tmp_path, smoke=True, min_n=10)
    md = (tmp_path / "ledger.md").read_text()
    assert [p.name for p in written] == ["ledger.md", "ledger.html"] and SMOKE_STAMP in md
    assert "supported" in md and "Rule" in (tmp_path / "ledger.html").read_text()


def test_the_2d_study_imports_no_plotting():
    """The 2-D ledger reads the project root from granlib.project, not through the pipeline's figures."""
    code = "import sys, granlib.study.ledger.mixtures; print('seaborn' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
