"""How long a ledger study's missing runs take, as ``--plan`` prints it: seconds per iteration measured by the rows
the study already has (their ``train_seconds`` over their iterations, the median per kind of run), else reference
rates scaled to D's width and the precision; plus the evaluation of each run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from granlib.normalizers import parse_method
from granlib.study.pipeline.runner import FAST_IT_PER_S

# Reference seconds per iteration, fp32 at D base width BASE_NDF, where no row of the kind exists yet. CPU: the
# image study's pilot medians (one thread per process, two processes sharing the two cores); WGAN-GP, GN-GAN and the
# forms of GraN take GraN's rate (their D step is a double backprop too). GPU: the CNN32 fast path at published
# widths on one H200 (granlib.study.pipeline.runner.FAST_IT_PER_S).
GRAN_CPU = 0.100
REFERENCE_SECONDS_PER_ITERATION = {
    **{("cpu", normalizer): GRAN_CPU for normalizer in ("gran", "gran_floor", "gran_inverse", "gran_scalefree", "gn",
                                                        "gp")},
    ("cpu", "sn"): 0.061, ("cpu", "none"): 0.056, ("cuda", None): 1 / FAST_IT_PER_S[32][0]}
FALLBACK_SECONDS_PER_ITERATION = GRAN_CPU  # a normaliser or device without a reference rate: the slowest CPU step
BASE_NDF = 8  # the D width of the CPU reference rates; a wider D scales them by (ndf / 8)^WIDTH_EXPONENT
WIDTH_EXPONENT = 1.1  # GraN at D widths 8, 12, 16 on one idle core: 0.10, 0.165, 0.21 s per iteration
# training-time speed-up of a precision over fp32: the bf16 fast path at G/D 64/16, one idle thread
# (results/bench/2026-12-07_cpu_bench_idle.json)
PRECISION_SPEEDUP = {("cpu", "bf16"): 1.47}
# evaluation: the FD proxy extracts ~10 images/s on one CPU core
SECONDS_PER_EVALUATED_IMAGE = {"cpu": 0.1, "cuda": 0.001}


@dataclass(frozen=True)
class RunKind:
    """What a run's seconds per iteration depend on."""

    device: str  # "cpu" | "cuda"
    normalizer: str  # the method's normaliser: "gran", "sn", …
    ndf: int  # D base width
    precision: str  # "fp32" | "bf16"


@dataclass(frozen=True)
class PlannedCost:
    """One run still to train: its kind, length and the images its evaluation extracts features of."""

    kind: RunKind
    iterations: int
    evaluated_images: int


@dataclass(frozen=True)
class Estimate:
    """A study's estimated time, and how much of it rests on the study's own measured rates."""

    seconds: float  # one process
    measured_kinds: int  # kinds of run whose rate comes from rows
    kinds: int  # kinds of run among the runs to train

    def describe(self, device: str) -> str:
        """'estimated H h of cpu time for one process (rates measured by this study's rows for …)'."""
        source = ("reference rates" if not self.measured_kinds else "rates measured by this study's rows"
                  if self.measured_kinds == self.kinds else f"rates measured by this study's rows for "
                  f"{self.measured_kinds} of {self.kinds} kinds of run, reference rates for the rest")
        return (f"estimated {self.seconds / 3600:.1f} h of {device} time for one process ({source}; n processes: "
                "about 1/n each)")


def run_kind(device: str, method: str, ndf: int, precision: str | None) -> RunKind:
    return RunKind(device, parse_method(method)[0], int(ndf), precision if isinstance(precision, str) else "fp32")


def measured_rates(rows: pd.DataFrame) -> dict[RunKind, float]:
    """Median seconds per iteration of each kind of run among ``rows`` (a row's ``gpu``: its GPU's name, or "cpu")."""
    needed = {"method", "ndf", "iterations", "train_seconds"}
    if rows.empty or not needed <= set(rows.columns):
        return {}
    timed = rows[rows.train_seconds.notna() & (rows.iterations > 0)]
    precisions = timed.precision if "precision" in timed else pd.Series("fp32", timed.index)  # rows from before bf16
    device = timed.gpu.map(lambda name: "cpu" if pd.isna(name) or name == "cpu" else "cuda") if "gpu" in timed else \
        pd.Series("cpu", timed.index)
    rates: dict[RunKind, list[float]] = {}
    for d, method, ndf, precision, seconds, iterations in zip(device, timed.method, timed.ndf, precisions,
                                                              timed.train_seconds, timed.iterations):
        rates.setdefault(run_kind(d, method, ndf, precision), []).append(seconds / iterations)
    return {kind: float(np.median(values)) for kind, values in rates.items()}


def reference_rate(kind: RunKind) -> float:
    """Seconds per iteration of a kind of run no row has measured: the reference rate at D width 8 and fp32, scaled."""
    rate = REFERENCE_SECONDS_PER_ITERATION.get((kind.device, kind.normalizer),
                                               REFERENCE_SECONDS_PER_ITERATION.get((kind.device, None),
                                                                                   FALLBACK_SECONDS_PER_ITERATION))
    width = (kind.ndf / BASE_NDF) ** WIDTH_EXPONENT if kind.device == "cpu" else 1.0
    return rate * width / PRECISION_SPEEDUP.get((kind.device, kind.precision), 1.0)


def estimate(runs: list[PlannedCost], rows: pd.DataFrame) -> Estimate:
    """Training and evaluation time of ``runs`` in one process: each at its kind's rate measured by ``rows`` where
    some row has it, else at :func:`reference_rate`."""
    measured = measured_rates(rows)
    kinds = {run.kind for run in runs}
    seconds = sum(run.iterations * measured.get(run.kind, reference_rate(run.kind))
                  + run.evaluated_images * SECONDS_PER_EVALUATED_IMAGE.get(run.kind.device, 0.1) for run in runs)
    return Estimate(seconds, len(kinds & measured.keys()), len(kinds))


def plan_line(name: str, runs: str, measured: int, total: int, cost: Estimate, device: str) -> str:
    """The first line of a study's ``--plan`` and of its runs: what it trains, what has a row, and the estimate."""
    line = f"{name}: {runs}, {measured} with a row already (nothing to train), {total - measured} to train"
    return f"{line}; {cost.describe(device)}" if total > measured else line
