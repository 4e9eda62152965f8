"""Fill a results table a few whole runs at a time, inside a fixed time budget (a short slot on a GPU machine).

``python -m granlib.study.pipeline.slots --profile gpu_cifar10 --budget-minutes 9`` plans the profile's runs in protocol
order (every method of seed 0, then seed 1, ...; then the K sweep), skips runs whose row is already in
``results/rows``, measures the step rate on the spot with a short probe run once per distinct step (the resolved
config but the fields that do not change a step's cost: :func:`rate_key`), and starts a run only when
its estimate (training at the measured rate, plus one evaluation, plus a safety margin) fits in what is left of
the budget. The estimate is printed before each run; each finished run leaves its row (appended whole), its last
sample grid and its training curves under ``results/``. Checkpoints stay in ``runs/`` (not needed afterwards).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import yaml

from granlib.jsonl import read_jsonl
from granlib.normalizers import parse_method
from granlib.study.pipeline.experiments import (
    make_config,
    resolve_params,
    run_and_evaluate,
    run_key,
)
from granlib.study.pipeline.plots import last_samples, run_label, sample_grids, training_curves
from granlib.study.pipeline.results import RESULT_ROWS, rows_files
from granlib.study.pipeline.row_store import RowStore
from granlib.training.config import resolve_config
from granlib.training.loop import train

SAFETY = 1.15  # estimates are scaled by this before they are compared with the time left


@dataclass(frozen=True)
class PlannedRun:
    dataset: str
    method: str  # "normalizer/loss"
    K: float | None
    seed: int
    results_name: str  # rows file under results/rows/

    def describe(self) -> str:
        K = "" if self.K is None else f", K={self.K:g}"
        return f"{self.dataset} {self.method}{K}, seed {self.seed}"


def protocol_runs(params: dict) -> list[PlannedRun]:
    """Every run of a profile in the order slots fill them: seed-major over methods, then the K sweep."""
    runs = [PlannedRun(dataset, method, params.get("K"), seed, dataset)
            for seed in params["seeds"] for dataset in params["datasets"] for method in params["methods"]]
    runs += [PlannedRun(params["sweep_dataset"], method, K, seed, "k_sweep")
             for seed in params["seeds"] for K in params.get("K_values", []) for method in params["sweep_methods"]
             if params.get("sweep_methods")]
    return runs


def is_committed(run: PlannedRun, params: dict) -> bool:
    """True when the run's row (its whole run key: protocol, length, evaluation) is already in the results."""
    normalizer, loss = parse_method(run.method)
    config = make_config(run.dataset, normalizer, loss, run.K, run.seed, params)
    key = run_key(resolve_config(config), params, run.dataset)
    return RowStore(rows_files(params["results_dir"]), RESULT_ROWS).has(key)


def measure_seconds_per_iteration(run: PlannedRun, params: dict, iterations: int = 40) -> float:
    """Seconds per iteration of ``run``'s configuration, timed on a throw-away run of ``iterations`` (the last
    half, after warm-up and CUDA-graph capture)."""
    normalizer, loss = parse_method(run.method)
    config = make_config(run.dataset, normalizer, loss, run.K, run.seed, params)
    probe = config.replace(iterations=iterations, log_every=iterations // 2, sample_every=0,
                           checkpoint_every=iterations, eval_every=0)
    with tempfile.TemporaryDirectory(prefix="granlib-rate-") as folder:
        train(probe, Path(folder) / "probe", quiet=True)
        return float(read_jsonl(Path(folder) / "probe" / "stats.jsonl")[-1]["sec_per_it"])


# Config fields that do not change what one training step costs. Every other field of the resolved config keys the
# measured rate (dataset and resolution, architecture, widths, batch sizes, n_dis, normaliser, loss, fast path,
# device...), so a field added to TrainConfig keys it too until it is listed here.
RATE_FREE_FIELDS = frozenset({
    "seed", "iterations", "K", "eps", "gp_weight", "clip", "lr_d", "lr_g", "betas_d", "betas_g", "lr_decay",
    "ema_decay", "ema_start", "log_every", "sample_every", "checkpoint_every", "eval_every", "eval_samples",
    "eval_feature_extractor", "dataset_variant", "data_root"})


def rate_key(run: PlannedRun, params: dict) -> tuple:
    """What sets the cost of one training step of ``run``: its resolved config but :data:`RATE_FREE_FIELDS`."""
    normalizer, loss = parse_method(run.method)
    config = resolve_config(make_config(run.dataset, normalizer, loss, run.K, run.seed, params))
    # a mapping field (a normaliser's options) keys the rate by its JSON text: dicts cannot key a dict
    return tuple((name, json.dumps(value, sort_keys=True) if isinstance(value, dict) else value)
                 for name, value in config.to_dict().items() if name not in RATE_FREE_FIELDS)


@dataclass
class SlotReport:
    finished: list[PlannedRun]
    already_committed: list[PlannedRun]
    not_started: list[PlannedRun]  # the first run that did not fit and every run after it


def fill_slot(params: dict, budget_seconds: float, eval_seconds: float,
              seconds_per_iteration: Callable[[PlannedRun], float] | None = None,
              run: Callable[[PlannedRun], None] | None = None, clock: Callable[[], float] = time.monotonic,
              log: Callable[[str], None] = print) -> SlotReport:
    """Run the profile's runs in order while each one's estimate fits in the budget left; stop at the first that
    does not (later runs are not started out of order). ``seconds_per_iteration`` is measured once per
    :func:`rate_key`."""
    started = clock()
    rates: dict[tuple, float] = {}
    measure = seconds_per_iteration or (lambda planned: measure_seconds_per_iteration(planned, params))
    execute = run or (lambda planned: run_and_record(planned, params))
    report = SlotReport([], [], [])
    pending = protocol_runs(params)
    for index, planned in enumerate(pending):
        if is_committed(planned, params):
            report.already_committed.append(planned)
            continue
        key = rate_key(planned, params)
        if key not in rates:
            rates[key] = measure(planned)
        estimate = SAFETY * (int(params["iterations"]) * rates[key] + eval_seconds)
        left = budget_seconds - (clock() - started)
        if estimate > left:
            log(f"stop: {planned.describe()} needs ~{estimate / 60:.1f} min, {left / 60:.1f} min left")
            report.not_started = pending[index:]
            break
        log(f"start: {planned.describe()} (~{estimate / 60:.1f} min of {left / 60:.1f} left)")
        execute(planned)
        report.finished.append(planned)
    return report


def run_and_record(planned: PlannedRun, params: dict) -> None:
    """Train and evaluate one run (its row is appended whole), then keep its last sample grid, a captioned figure
    of it and its training curves under ``results/`` (checkpoints stay in the run directory)."""
    run_dir = run_and_evaluate(planned.dataset, planned.method, planned.seed, params, K=planned.K,
                               results_name=planned.results_name)
    figures = Path(params["results_dir"]) / "figures" / "runs" / planned.results_name
    figures.mkdir(parents=True, exist_ok=True)
    grids = sorted((run_dir / "samples").glob("*.png"))
    if grids:
        shutil.copy(grids[-1], figures / f"{run_dir.name}_samples.png")
        sample_grids(last_samples([run_dir])).savefig(figures / f"{run_dir.name}_samples_captioned.png")
    curves = training_curves({run_label(run_dir): run_dir}, title=f"Training curves: {run_label(run_dir)}")
    curves.savefig(figures / f"{run_dir.name}_curves.png")
    plt.close("all")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m granlib.study.pipeline.slots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True, help="a params/*.yaml name or path")
    parser.add_argument("--budget-minutes", type=float, required=True, help="the slot's time for runs")
    parser.add_argument("--eval-seconds", type=float, default=60.0,
                        help="one evaluation's time for the estimate (default 60: 10k images, with reference "
                             "statistics computed once)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile parameter (value read as YAML), e.g. results_dir=out/results")
    args = parser.parse_args(argv)
    overrides = {key: yaml.safe_load(value) for key, _, value in (item.partition("=") for item in args.set)}
    params = resolve_params(args.profile, **overrides)
    report = fill_slot(params, args.budget_minutes * 60, args.eval_seconds)
    print(f"finished {len(report.finished)}, already committed {len(report.already_committed)}, "
          f"not started {len(report.not_started)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
