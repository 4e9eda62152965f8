"""The image study's verdicts: the bound claims (P1–P3, C3) on the trained discriminators by the ledger's rule, and
the FD comparisons (P4 ×4, C1 ×2; P7 where the profile trains the ablation) as one family (Welch and Mann–Whitney,
Holm-adjusted over the family). Where the profile trains the floored form of ours, its comparisons (F1 against
GraND-GAN, F2 against SNGAN) are a family of their own under the same rule, so the paper's family keeps its size
and its committed verdicts."""

from __future__ import annotations

import pandas as pd

from granlib.normalizers import default_K, parse_method
from granlib.study.ledger.claims import bound_claim, cell_rows, comparison, verdict_table
from granlib.study.ledger.images.protocol import DATASET, METHODS
from granlib.study.ledger.verdicts import FAMILY_RULE, RULE, decide_family

IMAGE_RULE = f"{RULE} {FAMILY_RULE}"


def group(method: str) -> tuple[str, str, float]:
    """(normaliser, loss, K) of a method as the study trains it (each normaliser's default K)."""
    normalizer, loss = parse_method(method)
    return normalizer, loss, default_K(normalizer)


def evaluate_claims(rows: pd.DataFrame, min_n: int, methods: tuple[str, ...] = METHODS) -> pd.DataFrame:
    """Every image-scale ledger row, its verdict computed from ``rows`` (FD: lower is better): bound claims by the
    ledger's rule, the FD comparisons as one Holm-controlled family."""
    if not len(rows):
        return verdict_table([])
    rows = rows.rename(columns={"fd": "fd_effnet"})
    # a ledger holds one setting: its verdicts are labelled with the D width and, where not fp32, the precision
    for column in ("ndf", "precision"):
        if column in rows and rows[column].nunique(dropna=False) > 1:
            raise ValueError(f"rows of several {column} values ({sorted(map(str, rows[column].unique()))}): "
                             "a ledger's verdicts hold at one setting; evaluate each apart")
    width = rows.ndf.iloc[0] if "ndf" in rows else None
    precision = str(rows.precision.iloc[0]) if "precision" in rows else "fp32"
    setting = (str(rows.dataset.iloc[0]) + ("" if pd.isna(width) else f", D width {int(width)}")
               + ("" if precision == "fp32" else f", {precision}"))

    def bound(check: str, method: str) -> dict:
        return bound_claim(check, rows, DATASET, setting, group(method), min_n, unit="images")

    family: list[dict] = []  # the paper's comparisons
    ours: list[dict] = []  # the floored form's: a family of its own
    samples: dict[str, tuple[pd.Series, pd.Series]] = {}

    def compare(claim: str, a: str, b: str, into: list[dict] = family) -> None:  # Δ FD = a − b > 0: b better
        if a in methods and b in methods:
            row = comparison(rows, claim, DATASET, setting, group(a), group(b), +1, min_n, metric="fd_effnet")
            samples[row["setting"]] = (cell_rows(rows, DATASET, *group(a)).fd_effnet,
                                       cell_rows(rows, DATASET, *group(b)).fd_effnet)
            into.append(row)

    out = [bound("P1", method) for method in ("gran/ns", "gran/wasserstein")]
    out += [bound("P2 bound", "sn/ns"), bound("P2 layers", "gran/ns"), bound("P3", "gp/wasserstein")]
    for base in ("sn/ns", "gn/ns", "none/ns"):
        compare("P4", base, "gran/ns")  # GraND-GAN better than each baseline of the non-saturating loss
    compare("P4", "gp/wasserstein", "gran/wasserstein")
    compare("P7", "gran_inverse/ns", "gran/ns")
    for method in ("gran/ns", "gran/wasserstein"):
        compare("C1", method, "gp/wasserstein")  # "did not beat": GraN's FD above WGAN-GP's
    out += [bound("C3", method) for method in ("gran/ns", "gran/wasserstein")]
    compare("F1", "gran/ns", "gran_floor/ns", ours)  # Δ FD = GraN − floored > 0: the floored form better
    compare("F2", "sn/ns", "gran_floor/ns", ours)
    out += decide_family(family, samples) + decide_family(ours, samples)
    return verdict_table(out)
