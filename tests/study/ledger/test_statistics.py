import math

import pytest
from scipy import stats

from granlib.study.ledger.statistics import fmt, holm, rank_p_value, t_interval, welch_interval, welch_p_value


def test_intervals_match_scipy():
    a, b = [1.0, 2.0, 3.0, 4.5], [0.5, 0.7, 0.2, 0.9, 1.1]
    mean, lo, hi, n = t_interval(a)
    ref = stats.ttest_1samp(a, 0.0).confidence_interval(0.95)
    assert (mean, n) == (pytest.approx(2.625), 4) and (lo, hi) == (pytest.approx(ref.low), pytest.approx(ref.high))
    diff, lo, hi = welch_interval(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(2.625 - 0.68) and (lo, hi) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert math.isnan(t_interval([1.0])[1]) and welch_interval([1.0, 1.0], [0.0, 0.0]) == (1.0, 1.0, 1.0)


def test_holm_steps_down_and_leaves_non_tests_alone():
    adjusted = holm([0.01, math.nan, 0.04, 0.03])
    assert adjusted[0] == pytest.approx(0.03) and math.isnan(adjusted[1])
    assert adjusted[2] == adjusted[3] == pytest.approx(0.06)  # monotone: the larger p keeps the running maximum


def test_p_values_need_two_values_a_side_and_match_scipy():
    a, b = [1.0, 2.0, 3.0, 4.5], [0.5, 0.7, 0.2, 0.9, 1.1]
    assert welch_p_value(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert rank_p_value(a, b) == pytest.approx(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert math.isnan(welch_p_value([1.0], b)) and math.isnan(rank_p_value(a, [2.0]))
    assert welch_p_value([1.0, 1.0], [1.0, 1.0]) == 1.0 and welch_p_value([1.0, 1.0], [2.0, 2.0]) == 0.0


def test_estimates_print_with_four_significant_digits():
    assert fmt(0.123456) == "0.1235" and fmt(math.nan) == "nan" and fmt(None) == "nan" and fmt(12345.0) == "1.234e+04"
