"""The claims ledger at 2-D scale: each claim, its source, the experiment that tests it, the measured evidence
(mean and 95 % CI over seeds, n) and a verdict computed from the rows by a rule fixed before the runs.

**Verdict rule** (:data:`RULE`; :func:`comparative_verdict`, :func:`threshold_verdict`):

* comparative claims ("A is better than B"): the Welch 95 % CI of the difference of the two groups' means
  lies wholly on the claimed side of 0: *supported*; wholly on the other side: *contradicted*; else *inconclusive*.
  Two-sided claims ("K matters"): *supported* when the CI excludes 0, *contradicted* when it lies within ±10 % of
  the reference group's mean (a practical null), else *inconclusive*;
* bound claims, on per-seed shares or ratios with a t-interval over seeds: "below" claims (P1: the share of points
  with ‖∇ₓg‖ > K·(1 + 1e-3) is ≤ 1 % at every kind of point) are *supported* when every upper CI bound is ≤ the
  threshold, *contradicted* when some lower bound is above it; "above" claims (P3, C3) the mirror image;
* fewer than ``min_n`` seeds in a group: *pending*.

Run ``python -m granlib.study.ledger --profile smoke|cpu``: trains the missing runs (one JSON line each, with full
provenance, appended as it finishes; a re-run skips the rows that exist) and writes the ledger as Markdown and HTML.
The smoke profile is a miniature of every experiment under ``results/smoke/ledger/``, stamped "smoke — not a result".
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
from scipy import stats

from granlib.study.claims import (
    POINT_KINDS,
    frozen_float64,
    gradient_report,
    plateau_share,
    point_kinds,
    segment_jumps,
    spectral_report,
)
from granlib.study.experiments import project_root
from granlib.study.mixtures import BOX, DATASET_LABEL, mixture_metrics, sample_mixture, train_mixture_gan
from granlib.study.results import SMOKE_STAMP, SOURCE, method_name
from granlib.study.row_store import RowSchema, RowStore, study_lock
from granlib.training.provenance import git_commit

PAPER = "Bhaskara et al., WACV 2022 (arXiv 2111.03162)"
SU_REVIEW = "Su Jianlin, 2021 review (spaces.ac.cn/archives/8757)"
RULE = ("Comparative: Welch 95 % CI of the difference on the claimed side of 0 → supported, wholly on the other side "
        "→ contradicted, else inconclusive; two-sided ('K matters'): CI excludes 0 → supported, CI within ±10 % of the "
        "reference mean → contradicted. Bound: t-interval (95 %) over seeds of per-seed shares/ratios against the "
        "stated threshold ('below': every upper bound ≤ threshold → supported, some lower bound > threshold → "
        "contradicted; 'above': the mirror). Fewer than min_n seeds → pending.")
FAMILY_RULE = ("Comparisons of one family (the image study's FD comparisons): Welch's t-test and the Mann–Whitney "
               "rank test, each two-sided and Holm-adjusted over the family's m comparisons at α = 0.05; supported "
               "(or contradicted, by the estimate's side) only when both reject, else inconclusive; Welch's 95 % CI "
               "shown unadjusted. Fewer than min_n seeds → pending.")
VERDICTS = ("supported", "contradicted", "inconclusive", "pending")
LEVEL = 0.95
PRACTICAL_NULL = 0.10  # two-sided claims: |Δ| within 10 % of the reference mean counts as "no effect"

PROFILES = {
    "smoke": dict(steps=15, seeds=2, n_eval=256, n_points=64, segments=4, segment_points=101, min_n=2,
                  out_dir="results/smoke/ledger", tables_dir="results/smoke/ledger",
                  figures_dir="results/smoke/ledger"),
    "cpu": dict(steps=1500, steps_for={"25gaussians": 1000}, seeds=10, n_eval=2500, n_points=512, segments=64,
                segment_points=1001, min_n=10,
                out_dir="results/ledger", tables_dir="results/tables", figures_dir="results/figures"),
}
ROWS_FILE = "ledger_2d.jsonl"
BASELINE_LOSSES = ("ns", "wasserstein")
# losses of the generation cells per mixture: both on the ring and on the grid
LOSSES_FOR = {"8gaussians": BASELINE_LOSSES, "25gaussians": BASELINE_LOSSES}
ABLATION_DATASETS = ("8gaussians", "25gaussians")  # where P7 (R(n)) and C4 (the "equivalent" D) run
P5_K = (10.0, 0.1)  # K of SN/ns and WGAN-GP/wasserstein against their K = 1 cells (P5)
P6_K = (10.0, 0.1)  # K of GraN/ns against its K = 1 cell (P6)
BASELINES = ("sn", "gp", "gn")
# K of every generation cell, fixed before the runs: the baselines' published form (D = f) and GraN's bound ‖∇g‖ ≤ 1.
# (GraN's image default K = 0.1 did not move the ring in 2,000-step probes; it is one of P6's K values.)
STUDY_K = 1.0


@dataclass(frozen=True)
class Cell:
    """One training configuration; ``experiment`` names the study that planned it first."""

    experiment: str
    dataset: str
    method: str
    loss: str
    K: float  # noqa: N815 - the paper's name


def plan() -> list[Cell]:
    """Every cell of the study, most central first (a study cut short leaves whole cells, not thin ones)."""
    cells: list[Cell] = []

    def add(experiment: str, dataset: str, method: str, loss: str, K: float = STUDY_K) -> None:  # noqa: N803
        cell = Cell(experiment, dataset, method, loss, float(K))
        if not any((c.dataset, c.method, c.loss, c.K) == (cell.dataset, cell.method, cell.loss, cell.K) for c in cells):
            cells.append(cell)

    for dataset in ("8gaussians", "25gaussians"):
        for loss in LOSSES_FOR[dataset]:
            for method in ("gran", *BASELINES):
                add("generation", dataset, method, loss)  # P4, C1, and the trained D of P1-P3, C3
        if dataset in ABLATION_DATASETS:
            add("generation", dataset, "gran_inverse", "ns")  # P7
            add("generation", dataset, "equivalent", "ns")  # C4
    for method, loss in (("sn", "ns"), ("gp", "wasserstein")):
        for K in P5_K:
            add("K for baselines", "8gaussians", method, loss, K)  # P5
    for K in P6_K:
        add("K and plateaus", "8gaussians", "gran", "ns", K)  # P6
    return cells


def steps_for(settings: dict, dataset: str) -> int:
    """Generator steps of a profile's runs on ``dataset``."""
    return int(settings.get("steps_for", {}).get(dataset, settings["steps"]))


# --- rows
# One 2-D run: its cell (mixture, method, loss, K), length, seed, evaluation size and profile.
LEDGER_ROWS = RowSchema(key=("dataset_key", "method", "loss", "K", "steps", "seed", "n_eval", "profile"),
                        required=("experiment", "dataset", "dataset_key", "method", "loss", "K", "eps", "steps", "seed",
                                  "n_eval", "device", "date", "git_commit", "profile", "source"),
                        numeric=("K", "eps", "steps", "seed", "n_eval", "energy_distance", "high_quality"))


def rows_store(path: str | Path) -> RowStore:
    """The 2-D ledger's rows file."""
    return RowStore(path, LEDGER_ROWS)


def measure_run(cell: Cell, seed: int, profile: str, settings: dict) -> dict:
    """Train one cell's run and measure it: the generation metrics, then D's gradients, bound, jumps and plateaus."""
    steps = steps_for(settings, cell.dataset)
    run = train_mixture_gan(cell.dataset, cell.method, cell.loss, K=cell.K, steps=steps, seed=seed)
    gan = run.trainer
    eval_gen = torch.Generator().manual_seed(10_000 + seed)
    with torch.no_grad():
        fake = gan.G(torch.randn(settings["n_eval"], 2, generator=eval_gen))
    reference = sample_mixture(cell.dataset, settings["n_eval"], eval_gen)
    row = {"experiment": cell.experiment, "dataset": DATASET_LABEL[cell.dataset], "dataset_key": cell.dataset,
           "method": cell.method, "loss": cell.loss, "K": gan.config.K, "eps": gan.config.eps,
           "steps": steps, "seed": seed, "n_eval": settings["n_eval"],
           **mixture_metrics(fake, cell.dataset, reference)}
    disc = frozen_float64(gan.D)
    n = settings["n_points"]
    real = sample_mixture(cell.dataset, n, eval_gen).double()
    generated = fake[:n].double()
    if torch.isfinite(generated).all():
        kinds = point_kinds(real, generated, BOX[cell.dataset], seed=seed)
        row.update(gradient_report(disc, kinds, gan.config.K))
        row.update(spectral_report(disc, kinds, seed=seed))
        segments = settings["segments"]
        row.update(segment_jumps(disc, real[:segments], generated[:segments], gan.config.K,
                                 points=settings["segment_points"]))
    row.update({"plateau_share_g": plateau_share(run.grad_norm_g), "plateau_share_d": plateau_share(run.grad_norm_d),
                "grad_norm_g_median": float(run.grad_norm_g.nanmedian()),
                "grad_norm_d_median": float(run.grad_norm_d.nanmedian()),
                "max_abs_d_median": float(run.max_abs_d.nanmedian()), "train_seconds": round(run.seconds, 2),
                "device": "cpu", "torch": torch.__version__,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "git_commit": git_commit(), "profile": profile, "source": SOURCE})
    return row


def run_study(profile: str, rows_path: str | Path | None = None, log=print) -> Path:
    """Train and measure every missing (cell, seed) of ``profile``, one appended row each; returns the rows file."""
    settings = PROFILES[profile]
    rows_path = Path(rows_path) if rows_path else project_root() / settings["out_dir"] / ROWS_FILE
    store = rows_store(rows_path)
    todo = [(cell, seed) for cell in plan() for seed in range(settings["seeds"])]
    with study_lock(rows_path):  # a second process would train every run again
        done = store.keys()
        for i, (cell, seed) in enumerate(todo):
            key = {"dataset_key": cell.dataset, "method": cell.method, "loss": cell.loss, "K": cell.K,
                   "steps": steps_for(settings, cell.dataset), "seed": seed, "n_eval": settings["n_eval"],
                   "profile": profile}
            if LEDGER_ROWS.key_of(key) in done:
                continue
            row = measure_run(cell, seed, profile, settings)
            store.append(row)
            log(f"[{i + 1}/{len(todo)}] {cell.dataset} {cell.method}/{cell.loss} K={cell.K:g} seed={seed}: "
                f"ED={row['energy_distance']:.4f} modes={row['modes_covered']}/{row['modes_total']} "
                f"HQ={row['high_quality']:.2f} ({row['train_seconds']:.1f} s training)")
    return rows_path


# --- statistics and the verdict rule
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


def decide_family(rows: list[dict], groups: dict[str, tuple[pd.Series, pd.Series]], alpha: float = 1 - LEVEL
                  ) -> list[dict]:
    """Verdicts of a family of comparative rows (:func:`comparison`) under :data:`FAMILY_RULE`: each row's Welch
    and rank p-values, Holm-adjusted over the family, decide together; ``groups`` maps a row's setting to its two
    samples. Rows already pending stay pending; the measurement text gains the tests."""
    decided = [r for r in rows if r["verdict"] != "pending"]
    welch = holm([welch_p_value(*groups[r["setting"]]) for r in decided])
    rank = holm([rank_p_value(*groups[r["setting"]]) for r in decided])
    for row, p_welch, p_rank in zip(decided, welch, rank):
        side = 1 if row["estimate"] > 0 else -1
        if p_welch < alpha and p_rank < alpha:
            row["verdict"] = "supported" if side == row["side"] else "contradicted"
        else:
            row["verdict"] = "inconclusive"
        disagree = (p_welch < alpha) != (p_rank < alpha)
        row["measurement"] += (f"; Holm-adjusted over {len(decided)}: Welch p = {fmt(p_welch)}, Mann–Whitney "
                               f"p = {fmt(p_rank)}" + (" (the tests disagree: a diverged seed?)" if disagree else ""))
    return rows


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


# --- the claims
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
}
KINDS_TEXT = "real, generated, interpolated, off-data"


def fmt(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def cell_rows(rows: pd.DataFrame, dataset: str, method: str, loss: str, K: float = STUDY_K) -> pd.DataFrame:  # noqa: N803
    return rows[(rows.dataset_key == dataset) & (rows.method == method) & (rows.loss == loss)
                & ((rows.K - K).abs() <= 1e-12 * max(1.0, K))]


def column(rows: pd.DataFrame, name: str) -> pd.Series:
    """rows[name], or an empty column where no row measured it."""
    return rows[name] if name in rows else pd.Series(dtype=float)


def label(method: str, loss: str, K: float = STUDY_K) -> str:  # noqa: N803
    """A method as the paper names it, with its K: 'GraND-GAN (K=1)'."""
    return f"{method_name(method, loss)} (K={K:g})"


def comparison(rows: pd.DataFrame, claim: str, dataset: str, a: tuple, b: tuple, side: int, min_n: int,
               metric: str = "energy_distance", experiment: str = "generation", two_sided_null: bool = False,
               setting_label: str | None = None) -> dict:
    """A ledger row for Δ = mean_a(metric) − mean_b(metric), a and b as (method, loss[, K]) (named as the paper
    names them); ``setting_label`` names the data (default: the mixture's label)."""
    ra, rb = (column(cell_rows(rows, dataset, *group), metric) for group in (a, b))
    diff, lo, hi = welch_interval(ra, rb)
    na, nb = int(ra.notna().sum()), int(rb.notna().sum())
    mean_a, mean_b = (float(ra.mean()) if na else math.nan), (float(rb.mean()) if nb else math.nan)
    margin = PRACTICAL_NULL * abs(float(rb.mean())) if two_sided_null and nb else None
    verdict = "pending" if min(na, nb) < min_n else comparative_verdict(lo, hi, side, margin)
    sign = {1: "> 0", -1: "< 0", 0: "≠ 0"}[side]
    return {"claim": claim, "setting": f"{setting_label or DATASET_LABEL[dataset]}; {label(*a)} − {label(*b)}",
            "experiment": experiment,
            "measurement": f"Δ {metric} = {fmt(diff)} [{fmt(lo)}, {fmt(hi)}] (claimed {sign}; "
                           f"{fmt(mean_a)} vs {fmt(mean_b)})",
            "n": f"{na} vs {nb}", "verdict": verdict, "estimate": diff, "low": lo, "high": hi,
            "intervals": [(f"{label(*a)} − {label(*b)}", diff, lo, hi)], "reference": 0.0, "side": side}


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


def evaluate_claims(rows: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Every ledger row, its verdict computed from ``rows`` by the rule in :data:`RULE`."""
    out: list[dict] = []
    datasets = [d for d in ("8gaussians", "25gaussians") if (rows.dataset_key == d).any()] if len(rows) else []
    for d in datasets:
        name = DATASET_LABEL[d]
        for loss in LOSSES_FOR[d]:
            gran = cell_rows(rows, d, "gran", loss)
            out.append(threshold(gran, "P1", f"{name}; {label('gran', loss)}, trained D",
                                 [f"fd_above_K[{k}]" for k in POINT_KINDS], 0.01, "below", min_n,
                                 describe="share of points with |Δg|/h > K(1+1e-3), h = 1e-6"))
        sn = cell_rows(rows, d, "sn", "ns")
        out.append(threshold(sn, "P2", f"{name}; {label('sn', 'ns')}, trained D", ["grad_max_over_bound"], 0.9,
                             "below", min_n, describe="largest ‖∇ₓD‖ over the four kinds of points / (K·∏σᵢ)"))
        out.append(threshold(cell_rows(rows, d, "gran", "ns"), "P2", f"{name}; {label('gran', 'ns')}, trained f",
                             ["sigma_max_dev"], 0.1, "above", min_n, describe="max over layers of |σᵢ − 1|"))
        for loss in LOSSES_FOR[d]:
            out.append(threshold(cell_rows(rows, d, "gp", loss), "P3", f"{name}; {label('gp', loss)}, trained D",
                                 [f"grad_above_K[{k}]" for k in POINT_KINDS], 0.01, "above", min_n,
                                 describe="share of points with ‖∇ₓD‖ > K·(1+1e-3)"))
        for loss in LOSSES_FOR[d]:
            for base in BASELINES:
                out.append(comparison(rows, "P4", d, (base, loss), ("gran", loss), +1, min_n))
        if d == "8gaussians":
            for method, loss in (("sn", "ns"), ("gp", "wasserstein")):
                for K in P5_K:
                    out.append(comparison(rows, "P5", d, (method, loss, K), (method, loss, 1.0), 0, min_n,
                                          experiment="K for baselines", two_sided_null=True))
            for metric in ("plateau_share_g", "plateau_share_d"):
                for K in P6_K:
                    out.append(comparison(rows, "P6", d, ("gran", "ns", K), ("gran", "ns", STUDY_K), 0,
                                          min_n, metric=metric, experiment="K and plateaus", two_sided_null=True))
        if d in ABLATION_DATASETS:
            out.append(comparison(rows, "P7", d, ("gran_inverse", "ns"), ("gran", "ns"), +1, min_n))
        for loss in LOSSES_FOR[d]:
            out.append(comparison(rows, "C1", d, ("gran", loss), ("gp", loss), +1, min_n))
        for loss in LOSSES_FOR[d]:
            out.append(threshold(cell_rows(rows, d, "gran", loss), "C3",
                                 f"{name}; {label('gran', loss)}, trained D",
                                 ["jump_share"], 0.01, "above", min_n,
                                 describe="share of real→generated segments where |Δg| > K·h·(1+1e-3) on some step h"))
        if d in ABLATION_DATASETS:
            out.append(comparison(rows, "C4", d, ("equivalent", "ns"), ("gran", "ns"), +1, min_n))
    return evaluate_verdict_table(out)


def evaluate_verdict_table(out: list[dict]) -> pd.DataFrame:
    """The ledger table of the rows made by :func:`comparison` and :func:`threshold`, with each claim's statement
    and source."""
    table = pd.DataFrame(out, columns=["claim", "setting", "experiment", "measurement", "n", "verdict", "estimate",
                                       "low", "high", "intervals", "reference"])
    table.insert(1, "statement", [CLAIMS[c][0] for c in table.claim])
    table.insert(2, "source", [CLAIMS[c][1] for c in table.claim])
    return table


NUMERIC_COLUMNS = ("estimate", "low", "high", "intervals", "reference")  # for figures; not in the rendered table


def load_ledger_rows(path: str | Path) -> pd.DataFrame:
    """The 2-D ledger's rows, validated, one per run."""
    return rows_store(path).frame()


def render(table: pd.DataFrame, rows: pd.DataFrame, out_dir: str | Path, smoke: bool, min_n: int,
           title: str = "Claims ledger — 2-D mixtures", summary: str | None = None, name: str = "ledger",
           rule: str = RULE) -> list[Path]:
    """<name>.md and <name>.html: the rule, then one line per claim setting with its computed verdict; ``summary``
    says what the rows are (default: the 2-D study's runs)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = table.drop(columns=list(NUMERIC_COLUMNS))
    counts = pd.crosstab(shown.claim, pd.Categorical(shown.verdict, categories=VERDICTS), dropna=False)
    counts.columns.name = "verdicts"
    if summary is None:
        steps = sorted(set(rows.steps)) if len(rows) else []
        summary = (f"{len(rows)} runs ({', '.join(sorted(set(rows.dataset))) if len(rows) else 'none'}; steps "
                   f"{steps}; device cpu; rows from `{ROWS_FILE}`)")
    head = (f"# {title}\n\n{'**' + SMOKE_STAMP + '**' + chr(10) * 2 if smoke else ''}"
            f"{summary}. Verdicts need ≥ {min_n} seeds per group.\n\n"
            f"**Rule (fixed before the runs).** {rule}\n\n")
    escaped = shown.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v)  # a | would split a cell
    md = head + "## Verdicts per claim\n\n" + counts.to_markdown() + "\n\n## Ledger\n\n" + escaped.to_markdown(
        index=False) + "\n"
    (out_dir / f"{name}.md").write_text(md)
    html = (f"<h1>{title}</h1>{'<p><b>' + SMOKE_STAMP + '</b></p>' if smoke else ''}"
            f"<p>{summary}; verdicts need ≥ {min_n} seeds per group.</p><p><b>Rule.</b> {rule}</p>"
            f"<h2>Verdicts per claim</h2>{counts.to_html()}<h2>Ledger</h2>{shown.to_html(index=False)}")
    (out_dir / f"{name}.html").write_text(html)
    return [out_dir / f"{name}.md", out_dir / f"{name}.html"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m granlib.study.ledger", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--render-only", action="store_true", help="write the tables from the rows so far")
    args = parser.parse_args(argv)
    settings = PROFILES[args.profile]
    torch.set_num_threads(1)  # 2-D nets: one thread is fastest, and leaves the other cores alone
    rows_path = project_root() / settings["out_dir"] / ROWS_FILE
    if not args.render_only:
        run_study(args.profile, rows_path, log=lambda line: print(line, flush=True))
    rows = load_ledger_rows(rows_path)
    rows = rows[rows.profile == args.profile] if len(rows) else rows
    table = evaluate_claims(rows, settings["min_n"])
    tables_dir = project_root() / settings["tables_dir"]
    for path in render(table, rows, tables_dir, args.profile == "smoke", settings["min_n"]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
