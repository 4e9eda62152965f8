import re

import pandas as pd
import pytest

from granlib.project import REPO_ROOT
from granlib.study.ledger import precision_check as check
from granlib.study.ledger.images import protocol


def arm(cell: str, fd: list[float], collapsed: list[bool] | None = None) -> list[dict]:
    collapsed = collapsed or [False] * len(fd)
    return [{"cell": cell, "seed": seed, "fd": value, "diversity_generated": 0.4 + 0.01 * seed,
             "collapsed": gone} for seed, (value, gone) in enumerate(zip(fd, collapsed))]


def rows(sn_bf16: list[float], gran_bf16_collapsed: list[bool] | None = None) -> dict[str, pd.DataFrame]:
    return {"map": pd.DataFrame(arm("w16", [150.0, 160.0, 170.0])),
            "bf16_check": pd.DataFrame(arm("w16-sn", [100.0, 110.0, 120.0]) + arm("w16-sn-bf16", sn_bf16)
                                       + arm("w16-bf16", [152.0, 158.0, 171.0], gran_bf16_collapsed))}


def test_bf16_does_not_change_results_when_paired_differences_stay_within_the_seed_spread():
    table = check.comparison(rows([103.0, 108.0, 125.0]))
    assert list(table.holds) == ["yes"] * 4 and check.verdict(table) == "does not change results"
    sn_fd = table[(table.method == "SNGAN") & (table.measure.str.startswith("FD"))].iloc[0]
    assert sn_fd["mean paired difference"] == 2.0 and sn_fd["fp32 seed spread"] == 10.0


def test_bf16_changes_results_beyond_the_spread_or_when_a_seed_collapses_in_one_precision_only():
    assert check.verdict(check.comparison(rows([130.0, 140.0, 150.0]))) == "changes results"  # +30 > spread 10
    assert check.verdict(check.comparison(rows([103.0, 108.0, 125.0], [False, True, False]))) == "changes results"


def test_the_check_is_pending_until_every_arm_has_three_seeds():
    partial = rows([103.0, 108.0])
    assert check.verdict(check.comparison(partial)) == "pending"


def test_a_cpu_study_trains_in_bf16_only_after_the_comparison_passed(monkeypatch, tmp_path):
    monkeypatch.setattr(check, "committed_rows", lambda root=None: rows([103.0, 108.0]))  # pending
    check.require_proven("fp32", "cpu")  # fp32 and CUDA need no verdict
    check.require_proven("bf16", "cuda")
    with pytest.raises(check.UnprovenPrecisionError, match="'pending'"):
        check.require_proven("bf16", "cpu")
    studies = protocol.profiles()
    studies["smoke"] = {**studies["smoke"], "model_overrides": {**studies["smoke"]["model_overrides"],
                                                                "precision": "bf16"}}
    monkeypatch.setattr(protocol, "profiles", lambda: studies)
    where = dict(results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    with pytest.raises(check.UnprovenPrecisionError):  # refused before anything is trained
        protocol.run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    assert not (tmp_path / "runs").exists()
    monkeypatch.setattr(check, "committed_rows", lambda root=None: rows([130.0, 140.0, 150.0]))
    with pytest.raises(check.UnprovenPrecisionError, match="'changes results'"):
        check.require_proven("bf16", "cpu")
    monkeypatch.setattr(check, "committed_rows", lambda root=None: rows([103.0, 108.0, 125.0]))
    check.require_proven("bf16", "cpu")  # passed: allowed


def test_the_bench_readme_shows_the_committed_comparison_and_its_verdict():
    """results/bench/README.md holds the table and verdict the committed rows give, once every arm is complete."""
    table = check.comparison(check.committed_rows(REPO_ROOT))
    if check.verdict(table) == "pending":
        pytest.skip("an arm of the comparison has fewer than 3 rows")
    assert check.markdown(table) in (REPO_ROOT / "results" / "bench" / "README.md").read_text()


def test_the_markdown_table_ends_with_the_verdict_and_shows_each_arms_mean():
    text = check.markdown(check.comparison(rows([103.0, 108.0, 125.0])))
    assert text.splitlines()[0].startswith("| method ") and "| SNGAN " in text
    assert re.search(r"\|\s+110\s+\|\s+112\s+\|\s+2\s+\|", text)  # SNGAN's FD: fp32 and bf16 means, paired difference
    assert text.endswith("Verdict: bf16 **does not change results** (rule: `results/bench/bf16_rule.md`).")


def test_a_pending_arm_shows_dashes_in_the_same_columns():
    text = check.markdown(check.comparison(rows([103.0, 108.0])))
    header, _, sn_fd, *_ = text.splitlines()
    assert header.split("|")[-2].strip() == "holds" and "fp32 mean" in header
    assert sn_fd.split("|")[4].strip() == "–" and sn_fd.split("|")[-2].strip() == "pending"
