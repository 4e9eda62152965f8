"""Does bf16 on the CPU fast path change results? The comparison of ``results/bench/bf16_rule.md``, computed from
the regime map's rows: SNGAN and GraND-GAN at D width 16, 3 seeds in fp32 and in bf16, paired by seed.

``python -m granlib.study.ledger.precision_check`` prints the table and the verdict; :func:`require_proven` is the
gate through which a CPU study profile trains in bf16 (only after the verdict "does not change results").
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from granlib.study.ledger import regime_profiles as regime
from granlib.study.ledger.statistics import rank_p_value
from granlib.study.pipeline.results import load_rows

# (method, precision) -> (profile, cell) of its arm; GraND-GAN's fp32 arm is the regime map's own cell
ARMS = {("SNGAN", "fp32"): ("bf16_check", "w16-sn"), ("SNGAN", "bf16"): ("bf16_check", "w16-sn-bf16"),
        ("GraND-GAN", "fp32"): ("map", "w16"), ("GraND-GAN", "bf16"): ("bf16_check", "w16-bf16")}
MEASURES = {"fd": "FD-EffNetLite0 of EMA-G", "diversity_generated": "sample diversity of EMA-G"}
SEEDS = 3
PASSED = "does not change results"  # the verdict that lets a CPU study train in bf16


def arms(rows_by_profile: dict[str, pd.DataFrame]) -> dict[tuple[str, str], pd.DataFrame]:
    """Each arm's rows, indexed by seed."""
    out = {}
    for (method, precision), (profile, cell) in ARMS.items():
        rows = rows_by_profile.get(profile, pd.DataFrame())
        part = rows[rows.cell == cell] if len(rows) else rows
        out[method, precision] = part.set_index("seed").sort_index() if len(part) else part
    return out


def comparison(rows_by_profile: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One line per method and measure: the arms' means, the mean paired difference, the fp32 seed spread, the rank
    test's p, the collapses per arm, and whether the rule's conditions hold ("pending" before every row)."""
    found = arms(rows_by_profile)
    lines = []
    for method in dict.fromkeys(m for m, _ in ARMS):
        fp32, bf16 = found[method, "fp32"], found[method, "bf16"]
        for measure, title in MEASURES.items():
            line = {"method": method, "measure": title, "seeds": f"{len(fp32)} fp32 / {len(bf16)} bf16"}
            if len(fp32) < SEEDS or len(bf16) < SEEDS:
                lines.append({**line, "holds": "pending"})
                continue
            paired = (bf16[measure] - fp32[measure]).dropna()
            spread = float(fp32[measure].std())
            same_collapses = bool((fp32.collapsed == bf16.collapsed).all())
            lines.append({**line, "fp32 mean": float(fp32[measure].mean()), "bf16 mean": float(bf16[measure].mean()),
                          "mean paired difference": float(paired.mean()), "fp32 seed spread": spread,
                          "rank test p": rank_p_value(fp32[measure], bf16[measure]),
                          "collapsed fp32 / bf16": f"{int(fp32.collapsed.sum())} / {int(bf16.collapsed.sum())}",
                          "holds": "yes" if abs(float(paired.mean())) <= spread and same_collapses else "no"})
    return pd.DataFrame(lines)


def verdict(table: pd.DataFrame) -> str:
    """The rule's verdict from :func:`comparison`."""
    if (table.holds == "no").any():
        return "changes results"
    if (table.holds == "pending").any():
        return "pending"
    return PASSED


class UnprovenPrecisionError(RuntimeError):
    """A CPU study asked for bf16 before the fp32-against-bf16 comparison passed."""


def committed_rows(root: Path | None = None) -> dict[str, pd.DataFrame]:
    """The rows the comparison reads: the regime map's (GraND-GAN's fp32 arm) and the check's own."""
    return {profile: load_rows(regime.rows_path(profile, root), profile=regime.row_profile(profile))
            for profile in ("map", "bf16_check")}


def require_proven(precision: str, device: str, root: Path | None = None) -> None:
    """Refuse to train a study in bf16 on the CPU unless the committed comparison's verdict is "does not change
    results". Other precisions and devices pass: the comparison was made for the CPU's bf16 only."""
    if precision != "bf16" or device != "cpu":
        return
    found = verdict(comparison(committed_rows(root)))
    if found != PASSED:
        raise UnprovenPrecisionError(
            f"this study trains in bf16 on the CPU, but the fp32-against-bf16 comparison's verdict is {found!r} "
            "(rule: results/bench/bf16_rule.md; `python -m granlib.study.ledger.regime --profile bf16_check` runs "
            "it): train in fp32 until it passes")


def markdown(table: pd.DataFrame) -> str:
    """The comparison as results/bench/README.md shows it, then its verdict."""
    columns = ["method", "measure", "seeds", "fp32 mean", "bf16 mean", "mean paired difference", "fp32 seed spread",
               "rank test p", "collapsed fp32 / bf16", "holds"]
    table = table.reindex(columns=columns)  # the same columns while some arms are pending ("–")
    table = table.astype(object).where(table.notna(), None)  # tabulate writes missingval for None, not for NaN
    return (table.to_markdown(index=False, floatfmt=".4g", missingval="–") + "\n\n"
            + f"Verdict: bf16 **{verdict(table)}** (rule: `results/bench/bf16_rule.md`).")


def main() -> int:
    print(markdown(comparison(committed_rows())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
