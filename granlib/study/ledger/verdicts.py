"""The verdict rule, fixed before the runs: how an interval (or a family of tests) becomes supported, contradicted,
inconclusive or pending.

* comparative claims ("A is better than B"): the Welch 95 % CI of the difference of the two groups' means
  lies wholly on the claimed side of 0: *supported*; wholly on the other side: *contradicted*; else *inconclusive*.
  Two-sided claims ("K matters"): *supported* when the CI excludes 0, *contradicted* when it lies within ±10 % of
  the reference group's mean (a practical null), else *inconclusive*;
* bound claims, on per-seed shares or ratios with a t-interval over seeds: "below" claims (P1: the share of points
  with ‖∇ₓg‖ > K·(1 + 1e-3) is ≤ 1 % at every kind of point) are *supported* when every upper CI bound is ≤ the
  threshold, *contradicted* when some lower bound is above it; "above" claims (P3, C3) the mirror image;
* a family of comparisons (the image study's FD comparisons): Welch's and the rank test, Holm-adjusted, decide
  together (:data:`FAMILY_RULE`);
* fewer than ``min_n`` seeds in a group: *pending*.
"""

from __future__ import annotations

import math

import pandas as pd

from granlib.study.ledger.statistics import LEVEL, fmt, holm, rank_p_value, welch_p_value

RULE = ("Comparative: Welch 95 % CI of the difference on the claimed side of 0 → supported, wholly on the other side "
        "→ contradicted, else inconclusive; two-sided ('K matters'): CI excludes 0 → supported, CI within ±10 % of the "
        "reference mean → contradicted. Bound: t-interval (95 %) over seeds of per-seed shares/ratios against the "
        "stated threshold ('below': every upper bound ≤ threshold → supported, some lower bound > threshold → "
        "contradicted; 'above': the mirror). Fewer than min_n seeds → pending.")
FAMILY_RULE = ("Comparisons of one family (the image study's FD comparisons): Welch's t-test and the Mann–Whitney "
               "rank test, each two-sided and Holm-adjusted over the family's m comparisons (pending ones counted, "
               "as p = 1) at α = 0.05; supported (or contradicted, by the estimate's side) only when both reject, else "
               "inconclusive; Welch's 95 % CI shown unadjusted. Fewer than min_n seeds → pending.")
VERDICTS = ("supported", "contradicted", "inconclusive", "pending")
PRACTICAL_NULL = 0.10  # two-sided claims: |Δ| within 10 % of the reference mean counts as "no effect"


def comparative_verdict(low: float, high: float, side: int, null_margin: float | None = None) -> str:
    """side = +1 (claimed Δ > 0), −1 (Δ < 0) or 0 (two-sided: Δ ≠ 0, ``null_margin`` the practical null)."""
    if math.isnan(low) or math.isnan(high):
        return "pending"
    if side == 0:
        if low > 0 or high < 0:
            return "supported"
        if null_margin is not None and -null_margin <= low and high <= null_margin:
            return "contradicted"
        return "inconclusive"
    if (side > 0 and low > 0) or (side < 0 and high < 0):
        return "supported"
    if (side > 0 and high < 0) or (side < 0 and low > 0):
        return "contradicted"
    return "inconclusive"


def threshold_verdict(intervals: list[tuple[float, float]], threshold: float, claimed: str) -> str:
    """``claimed`` = "below" (every quantity ≤ threshold) or "above" (some quantity > threshold), on (low, high)
    intervals."""
    if not intervals or any(math.isnan(lo) or math.isnan(hi) for lo, hi in intervals):
        return "pending"
    if claimed == "below":
        if all(hi <= threshold for _, hi in intervals):
            return "supported"
        return "contradicted" if any(lo > threshold for lo, _ in intervals) else "inconclusive"
    if any(lo > threshold for lo, _ in intervals):
        return "supported"
    return "contradicted" if all(hi <= threshold for _, hi in intervals) else "inconclusive"


def decide_family(rows: list[dict], groups: dict[str, tuple[pd.Series, pd.Series]], alpha: float = 1 - LEVEL
                  ) -> list[dict]:
    """Verdicts of a family of comparative rows (:func:`granlib.study.ledger.claims.comparison`) under
    :data:`FAMILY_RULE`: each row's Welch and rank p-values, Holm-adjusted over the family, decide together;
    ``groups`` maps a row's setting to its two samples. Rows already pending stay pending; the measurement text gains
    the tests."""
    # m is the family's size, pending comparisons included (as p = 1: not made, so not rejected): a look at the rows
    # before every group has its seeds adjusts as strictly as the final one.
    def adjusted(test) -> list[float]:
        return holm([1.0 if r["verdict"] == "pending" else test(*groups[r["setting"]]) for r in rows])

    m = len(rows)
    for row, p_welch, p_rank in zip(rows, adjusted(welch_p_value), adjusted(rank_p_value)):
        if row["verdict"] == "pending":
            continue
        side = 1 if row["estimate"] > 0 else -1
        if p_welch < alpha and p_rank < alpha:
            row["verdict"] = "supported" if side == row["side"] else "contradicted"
        else:
            row["verdict"] = "inconclusive"
        disagree = (p_welch < alpha) != (p_rank < alpha)
        row["measurement"] += (f"; Holm-adjusted over {m}: Welch p = {fmt(p_welch)}, Mann–Whitney "
                               f"p = {fmt(p_rank)}" + (" (the tests disagree: a diverged seed?)" if disagree else ""))
    return rows
