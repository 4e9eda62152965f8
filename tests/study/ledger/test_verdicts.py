import math

import pandas as pd

from granlib.study.ledger.verdicts import comparative_verdict, decide_family, threshold_verdict


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


def family_row(setting: str, estimate: float) -> dict:
    return {"setting": setting, "verdict": "inconclusive", "estimate": estimate, "side": +1, "measurement": "Δ"}


def test_a_family_decides_only_where_both_tests_reject_after_holm():
    far, near = pd.Series([10.0, 11, 12, 13, 14]), pd.Series([0.0, 1, 2, 3, 4])
    groups = {"clear": (far, near), "none": (near, near + 0.1), "other way": (near, far)}
    rows = decide_family([family_row(s, pd.Series(a).mean() - pd.Series(b).mean()) for s, (a, b) in groups.items()],
                         groups)
    assert [r["verdict"] for r in rows] == ["supported", "inconclusive", "contradicted"]
    assert all("Holm-adjusted over 3" in r["measurement"] for r in rows)
    pending = decide_family([{**family_row("clear", 10.0), "verdict": "pending"}], groups)
    assert pending[0]["verdict"] == "pending" and pending[0]["measurement"] == "Δ"


def test_pending_comparisons_count_in_the_family_so_an_early_look_is_no_less_strict():
    """Five seeds a side, fully separated: the exact two-sided Mann–Whitney p is 2/252 ≈ 0.0079, which passes Holm
    over 6 (0.0476) but not over 7 (0.056); the pending comparisons keep m at the family's size."""
    far, near = pd.Series([10.0, 11, 12, 13, 14]), pd.Series([0.0, 1, 2, 3, 4])
    groups = {"clear": (far, near)}
    waiting = [{**family_row(f"later {i}", 1.0), "verdict": "pending"} for i in range(5)]
    rows = decide_family([family_row("clear", 10.0), *waiting], groups)
    assert rows[0]["verdict"] == "supported" and "Holm-adjusted over 6" in rows[0]["measurement"]
    assert [r["verdict"] for r in rows[1:]] == ["pending"] * 5 and all(r["measurement"] == "Δ" for r in rows[1:])
    more = [{**family_row(f"later {i}", 1.0), "verdict": "pending"} for i in range(6)]
    stricter = decide_family([family_row("clear", 10.0), *more], groups)
    assert stricter[0]["verdict"] == "inconclusive" and "Holm-adjusted over 7" in stricter[0]["measurement"]
