"""Does bf16 on the CPU fast path change results? The comparison of ``results/bench/bf16_rule.md``, computed from
the regime map's rows: SNGAN and GraND-GAN at D width 16, 3 seeds in fp32 and in bf16, paired by seed.

``python -m granlib.bench.precision_check`` prints the table and the verdict.
"""

from __future__ import annotations

import sys

import pandas as pd

from granlib.study.ledger import regime
from granlib.study.ledger.statistics import rank_p_value
from granlib.study.pipeline.results import load_rows

# (method, precision) -> (profile, cell) of its arm; GraND-GAN's fp32 arm is the regime map's own cell
ARMS = {("SNGAN", "fp32"): ("bf16_check", "w16-sn"), ("SNGAN", "bf16"): ("bf16_check", "w16-sn-bf16"),
        ("GraND-GAN", "fp32"): ("map", "w16"), ("GraND-GAN", "bf16"): ("bf16_check", "w16-bf16")}
MEASURES = {"fd": "FD-EffNetLite0 of EMA-G", "diversity_generated": "sample diversity of EMA-G"}
SEEDS = 3


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
    return "does not change results"


def main() -> int:
    rows = {profile: load_rows(regime.rows_path(profile), profile=regime.row_profile(profile))
            for profile in ("map", "bf16_check")}
    table = comparison(rows)
    print(table.to_string(index=False))
    print(f"verdict: bf16 {verdict(table)} (rule: results/bench/bf16_rule.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
