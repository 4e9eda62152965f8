"""The statistics behind every verdict: intervals over seeds, the tests of a family of comparisons, and how the
ledger prints an estimate."""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

LEVEL = 0.95  # every interval is a 95 % one, and a family's tests are at α = 1 − LEVEL


def t_interval(values, level: float = LEVEL) -> tuple[float, float, float, int]:
    """(mean, low, high, n): the t-interval of the mean over seeds (NaN-free values; n < 2 gives NaN bounds)."""
    x = pd.Series(values, dtype=float).dropna()
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def welch_interval(a, b, level: float = LEVEL) -> tuple[float, float, float]:
    """(mean(a) − mean(b), low, high): Welch's CI of the difference of two independent groups' means."""
    a, b = pd.Series(a, dtype=float).dropna(), pd.Series(b, dtype=float).dropna()
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    return diff, diff - half, diff + half


def welch_p_value(a, b) -> float:
    """Two-sided p of Welch's t-test of equal means (NaN with fewer than two values a side)."""
    a, b = pd.Series(a, dtype=float).dropna(), pd.Series(b, dtype=float).dropna()
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if a.var(ddof=1) + b.var(ddof=1) == 0:
        return 1.0 if a.mean() == b.mean() else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def rank_p_value(a, b) -> float:
    """Two-sided p of the Mann–Whitney U test (exact for small groups): one diverged seed moves it by one rank,
    where it can dominate a t-interval."""
    a, b = pd.Series(a, dtype=float).dropna(), pd.Series(b, dtype=float).dropna()
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return float(stats.mannwhitneyu(a, b, alternative="two-sided", method="auto").pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: adjusted p-values that control the family-wise error over the m tests (NaN
    entries are not tests and stay NaN)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(tested)
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def fmt(x: float) -> str:
    """An estimate as the ledger prints it: four significant digits, or 'nan'."""
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"
