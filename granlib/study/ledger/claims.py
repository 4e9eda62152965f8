"""The claims and the ledger rows that test them: each claim with its source, a comparison of two groups of runs,
a bound on per-seed quantities, and the bound claims (P1-P3, C3) measured alike on a trained D of 2-D points and
of images."""

from __future__ import annotations

import math

import pandas as pd

from granlib.normalizers import method_label
from granlib.study.instruments.measurements import POINT_KINDS
from granlib.study.ledger.statistics import fmt, t_interval, welch_interval
from granlib.study.ledger.verdicts import PRACTICAL_NULL, comparative_verdict, threshold_verdict

PAPER = "Bhaskara et al., WACV 2022 (arXiv 2111.03162)"
SU_REVIEW = "Su Jianlin, 2021 review (spaces.ac.cn/archives/8757)"
MAP = "granlib's regime map (params/ledger/regime.yaml)"
CLAIMS = {
    "P1": ("GraN makes D piecewise K-Lipschitz: ‖∇ₓg‖ ≤ K almost everywhere", PAPER),
    "P2": ("SN's global bound ∏σᵢ is loose; under GraN the layers' spectral norms are unconstrained", PAPER),
    "P3": ("WGAN-GP's ‖∇ₓD‖ exceeds 1 at real, generated, interpolated and off-data points (a soft constraint)",
           PAPER),
    "P4": ("GraN improves generation over SN, WGAN-GP and GN, across losses", PAPER),
    "P5": ("K matters for SN and WGAN-GP too", PAPER),
    "P6": ("K is tied to training dynamics in low-gradient plateaus (with Adam)", PAPER),
    "P7": ("R(n) = 1/(n+ε) trains similarly to but slightly worse than n/(n²+ε)", PAPER),
    "C1": ("Gradient normalisation did not beat a gradient penalty", SU_REVIEW),
    "C2": ("It needs second-order gradients in both the D and G updates, so it is clearly slower and uses more "
           "memory", SU_REVIEW),
    "C3": ("g is discontinuous across linear regions: it jumps along segments between samples", SU_REVIEW),
    "C4": ("The 'equivalent' discriminator K·⟨∇f/‖∇f‖, x⟩ performs very poorly", SU_REVIEW),
    # why GraN collapses at a narrow D: the candidate causes the regime map decides, numbered as RULE.md's causes 1–4
    # (results/ledger/regime/RULE.md)
    "R1": ("GraN's collapse at narrow D is D's width alone, whatever GraN does", MAP),
    "R2": ("GraN's collapse at narrow D is ε relative to D's scale (n²/ε)", MAP),
    "R3": ("GraN's collapse at narrow D is D not escaping n² ≪ ε in its first 1 000 iterations", MAP),
    "R4": ("GraN's collapse at narrow D is the flat-region trap", MAP),
    # the floored form of ours (gran_floor), in the image studies where the map found it learning where GraN collapses
    "F1": ("The floored form of GraN (ours), R(max(n, √ε)), generates better than the paper's GraN at the same D width",
           MAP),
    "F2": ("The floored form of GraN (ours) improves generation over SNGAN at the same D width (P4, for our form)",
           MAP),
}
# The thresholds of the bound claims, fixed before the runs.
SHARE_LIMIT = 0.01  # P1, P3, C3: a share of points (or of segments) above 1 % is more than rounding
SN_BOUND_LIMIT = 0.9  # P2: SN's bound is loose when every measured ‖∇ₓD‖ stays below 90 % of K·∏σᵢ
SIGMA_DEVIATION_LIMIT = 0.1  # P2: GraN leaves its layers free when some σᵢ is more than 10 % from 1
# Bound claims, one check each (a key of the ledger row's claim, then what tells it apart): the trained net
# measured, the per-seed columns, the limit, the claimed side, and what the columns are ({unit}: points or images).
BOUND_CHECKS = {
    "P1": ("trained D", [f"fd_above_K[{k}]" for k in POINT_KINDS], SHARE_LIMIT, "below",
           "share of {unit} with |Δg|/h > K(1+1e-3), h = 1e-6"),
    "P2 bound": ("trained D", ["grad_max_over_bound"], SN_BOUND_LIMIT, "below",
                 "largest ‖∇ₓD‖ over the four kinds of {unit} / (K·∏σᵢ)"),
    "P2 layers": ("trained f", ["sigma_max_dev"], SIGMA_DEVIATION_LIMIT, "above", "max over layers of |σᵢ − 1|"),
    "P3": ("trained D", [f"grad_above_K[{k}]" for k in POINT_KINDS], SHARE_LIMIT, "above",
           "share of {unit} with ‖∇ₓD‖ > K·(1+1e-3)"),
    "C3": ("trained D", ["jump_share"], SHARE_LIMIT, "above",
           "share of real→generated segments where |Δg| > K·h·(1+1e-3) on some step h"),
}
# Every per-run measurement a claim may read: the bound checks' columns and the compared metrics (FD-EffNetLite0 of
# the image studies, the 2-D studies' energy distance and plateau shares, the cost study's own columns aside).
MEASUREMENTS = frozenset({name for _, names, *_ in BOUND_CHECKS.values() for name in names}
                         | {"fd_effnet", "energy_distance", "plateau_share_g", "plateau_share_d"})
TABLE_COLUMNS = ["claim", "setting", "experiment", "measurement", "n", "verdict", "estimate", "low", "high",
                 "intervals", "reference"]


def cell_rows(rows: pd.DataFrame, dataset: str, method: str, loss: str, K: float) -> pd.DataFrame:  # noqa: N803
    """The runs of one (dataset key, method, loss, K)."""
    return rows[(rows.dataset_key == dataset) & (rows.method == method) & (rows.loss == loss)
                & ((rows.K - K).abs() <= 1e-12 * max(1.0, K))]


def column(rows: pd.DataFrame, name: str) -> pd.Series:
    """rows[name]; an empty column where no row measured it yet (its claim then reads as pending), and
    :class:`UnknownMeasurementError` for a name no study measures, so a misspelt one never reads as pending."""
    if name in rows:
        return rows[name]
    if name not in MEASUREMENTS:
        raise UnknownMeasurementError(f"no study measures {name!r}; the ledger's measurements: {sorted(MEASUREMENTS)}")
    return pd.Series(dtype=float)


class UnknownMeasurementError(KeyError):
    """A claim asked for a measurement that no study writes into its rows."""


def comparison(rows: pd.DataFrame, claim: str, dataset: str, data: str, a: tuple[str, str, float],
               b: tuple[str, str, float], side: int, min_n: int, metric: str, experiment: str = "generation",
               two_sided_null: bool = False) -> dict:
    """A ledger row for Δ = mean_a(metric) − mean_b(metric) over the runs on ``dataset`` (named ``data``), a and b
    as (method, loss, K) (named as the paper names them); ``side`` as :func:`comparative_verdict` takes it."""
    ra, rb = (column(cell_rows(rows, dataset, *group), metric) for group in (a, b))
    diff, lo, hi = welch_interval(ra, rb)
    na, nb = int(ra.notna().sum()), int(rb.notna().sum())
    mean_a, mean_b = (float(ra.mean()) if na else math.nan), (float(rb.mean()) if nb else math.nan)
    margin = PRACTICAL_NULL * abs(float(rb.mean())) if two_sided_null and nb else None
    verdict = "pending" if min(na, nb) < min_n else comparative_verdict(lo, hi, side, margin)
    sign = {1: "> 0", -1: "< 0", 0: "≠ 0"}[side]
    return {"claim": claim, "setting": f"{data}; {method_label(*a)} − {method_label(*b)}", "experiment": experiment,
            "measurement": f"Δ {metric} = {fmt(diff)} [{fmt(lo)}, {fmt(hi)}] (claimed {sign}; "
                           f"{fmt(mean_a)} vs {fmt(mean_b)})",
            "n": f"{na} vs {nb}", "verdict": verdict, "estimate": diff, "low": lo, "high": hi,
            "intervals": [(f"{method_label(*a)} − {method_label(*b)}", diff, lo, hi)], "reference": 0.0, "side": side}


def threshold(rows: pd.DataFrame, claim: str, setting: str, columns: list[str], limit: float, claimed: str,
              min_n: int, experiment: str = "generation", describe: str = "") -> dict:
    """A ledger row for per-seed quantities ``columns`` against ``limit`` (see :func:`threshold_verdict`)."""
    intervals, parts, ns, labelled = [], [], [], []
    for name in columns:
        mean, lo, hi, n = t_interval(column(rows, name))
        intervals.append((lo, hi))
        labelled.append((name, mean, lo, hi))
        ns.append(n)
        parts.append(f"{name} {fmt(mean)} [{fmt(lo)}, {fmt(hi)}]")
    verdict = "pending" if min(ns, default=0) < min_n else threshold_verdict(intervals, limit, claimed)
    head = f"{describe}; " if describe else ""
    return {"claim": claim, "setting": setting, "experiment": experiment,
            "measurement": f"{head}{'; '.join(parts)} (claimed {'≤' if claimed == 'below' else '>'} {limit:g}"
                           f"{' at every one' if claimed == 'below' else ' at some'})",
            "n": "/".join(str(n) for n in sorted(set(ns))), "verdict": verdict,
            "estimate": math.nan, "low": math.nan, "high": math.nan, "intervals": labelled, "reference": limit}


def bound_claim(check: str, rows: pd.DataFrame, dataset: str, data: str, group: tuple[str, str, float],
                min_n: int, unit: str) -> dict:
    """The ledger row of one bound check (a key of :data:`BOUND_CHECKS`) on the runs of ``group`` (method, loss,
    K) on ``dataset`` (named ``data``), whose D was measured at ``unit`` ("points" or "images")."""
    trained, columns, limit, claimed, describe = BOUND_CHECKS[check]
    return threshold(cell_rows(rows, dataset, *group), check.split()[0], f"{data}; {method_label(*group)}, {trained}",
                     columns, limit, claimed, min_n, describe=describe.format(unit=unit))


def verdict_table(out: list[dict]) -> pd.DataFrame:
    """The ledger table of the rows made by :func:`comparison` and :func:`threshold`, with each claim's statement
    and source."""
    table = pd.DataFrame(out, columns=TABLE_COLUMNS)
    table.insert(1, "statement", [CLAIMS[c][0] for c in table.claim])
    table.insert(2, "source", [CLAIMS[c][1] for c in table.claim])
    return table
