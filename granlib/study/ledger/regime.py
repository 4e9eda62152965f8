"""The regime map: where GraND-GAN collapses on CIFAR-10 at CPU scale, and which cause the runs support.

**Protocol** (``params/ledger/regime.yaml``, profile ``map``): the image study's CPU protocol
(:mod:`granlib.study.ledger.images`) with GraND-GAN's loss, in *cells*: one method at one D base width with the
settings it changes. The paper's GraN at widths 8, 12 and 16 (ε = 1e-4); at width 8 with the width-matched ε (the
published width's initial n₀²/ε); two forms of ours, not the paper's, that remove a candidate cause each: the
scale-free ε (ε_t = ε_rel·mean n², widths 8 and 16) and the floored n (R(max(n, √ε)), widths 8 and 12); and the
paper's ablation R(n) = 1/(n + ε) (widths 8 and 12), which has no flat-region trap either.

**A row** per run (the result row's run key and provenance, :mod:`granlib.study.pipeline.results`): its cell,
FD-EffNetLite0 of EMA-G against held-out images, the sample diversity of EMA-G and of real images (the collapse
criterion of the image study), and the run's probe summary (:func:`probe_summary`) read from its stats lines:
n = ‖∇ₓf‖, n²/ε, g and the trap share on fixed real and generated probes every 250 iterations
(:mod:`granlib.training.probes`). The rule that turns rows into a verdict on the cause is
``results/ledger/regime/RULE.md``, committed before the first row.

Run ``python -m granlib.study.ledger.regime --profile smoke|map|bf16_check [--shard i/n] [--plan]``: trains what has no
row yet (a run with a row is never trained again; an unfinished one resumes from its checkpoint), every cell of seed 0
first, then seed 1, …; ``--plan`` prints the runs, which have rows, and the time estimate; ``--collect`` copies the
probe logs of every run with a row into ``probe_curves.jsonl`` beside the rows (run directories are not in git).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from granlib.data import real_images
from granlib.evaluation.features import metric_label
from granlib.jsonl import read_jsonl
from granlib.normalizers import method_label
from granlib.study.instruments.seeds import StudySeeds
from granlib.study.ledger.curves import copy_logged_points
from granlib.study.ledger.estimate import Estimate, PlannedCost, estimate, plan_line, run_kind
from granlib.study.ledger.images.measures import collapsed, pixel_std, train_seconds
from granlib.study.ledger.profiles import DATASET, anchored_params
from granlib.study.ledger.regime_profiles import profiles, row_profile, rows_path
from granlib.study.pipeline.experiments import PlannedRun, plan_run, provenance, run_and_evaluate
from granlib.study.pipeline.results import append_row, load_rows
from granlib.study.pipeline.row_store import RowSchema, RowStore, study_lock
from granlib.study.pipeline.study_cli import parse_study_args, show_plan, study_parser, train_shard
from granlib.training.loop import NonFiniteLossError
from granlib.training.probes import PROBE_FIELDS, PROBE_SETS, sample_diversity
from granlib.training.run_dir import load_ema_generator, saved_config

TRAPPED_SHARE = 0.5  # a run is trapped at a log when either probe set's trap share exceeds one half (RULE.md)
SETTLE_ITERATIONS = 1000  # a run's collapse status on the probes must hold over its last 1 000 iterations

@dataclass(frozen=True)
class Cell:
    """One cell of the map: a method at a D base width, with the settings it changes."""

    name: str
    method: str  # "normaliser/loss"
    ndf: int  # D base width
    eps: float | None = None  # GraN's ε; None: the normaliser's default
    precision: str | None = None  # "fp32" | "bf16"; None: the training config's default (fp32 on a CPU)

    @property
    def label(self) -> str:
        eps = "" if self.eps is None else f", ε = {self.eps:.3g}"
        precision = "" if self.precision is None else f", {self.precision}"
        return f"{method_label(self.method)}, D width {self.ndf}{eps}{precision}"


def cells(settings: dict) -> list[Cell]:
    return [Cell(**cell) for cell in settings["cells"]]


def cell_params(settings: dict, cell: Cell, profile: str, root: Path | None = None, **where: str | Path) -> dict:
    """The run parameters of one cell: the profile's, D's width (and ε) among the model settings, the cell's own
    runs folder, and the held-out images as the real probes."""
    params = anchored_params(settings, row_profile(profile), root, where.get("results_dir"), where.get("runs_dir"))
    overrides = {**params["model_overrides"], "ndf": cell.ndf, "probe_dataset": params["eval_dataset_override"]}
    for name in ("eps", "precision"):
        if getattr(cell, name) is not None:
            overrides[name] = getattr(cell, name)
    return {**params, "model_overrides": overrides, "runs_dir": str(Path(params["runs_dir"]) / cell.name)}


def plan(settings: dict) -> list[tuple[Cell, int]]:
    """(cell, seed) in protocol order: every cell of seed 0 first, then seed 1, …"""
    return [(cell, seed) for seed in range(settings["seeds"]) for cell in cells(settings)]


def measured_runs(profile: str, root: Path | None = None, **where: str | Path) -> set[tuple[str, int]]:
    """The (cell name, seed) of the plan whose row exists: what a run of the map skips without training."""
    settings = profiles()[profile]
    path = rows_path(profile, root, **where)
    return {(cell.name, seed) for cell, seed in plan(settings)
            if plan_run(DATASET, cell.method, seed, cell_params(settings, cell, profile, root, **where),
                        rows_file=path).measured}


def estimated(profile: str, skipped: set[tuple[str, int]] = frozenset(), rows: pd.DataFrame | None = None,
              root: Path | None = None, **where: str | Path) -> Estimate:
    """Training and evaluation time of the runs other than ``skipped`` (one process), at the rates that ``rows``
    measured (default: the profile's committed rows), reference rates for kinds without one."""
    settings = profiles()[profile]
    evaluated = settings["n_eval"] + settings["pixel_images"]  # the FD's samples and the diversity's
    runs = [PlannedCost(run_kind(settings["device"], cell.method, cell.ndf, cell.precision), settings["iterations"],
                        evaluated) for cell, seed in plan(settings) if (cell.name, seed) not in skipped]
    if rows is None:
        rows = load_rows(rows_path(profile, root, **where), profile=row_profile(profile))
    return estimate(runs, rows)


def probe_summary(records: list[dict], iterations: int) -> dict:
    """A run's probe measures as the rule reads them: the final values per set, the first iteration where D was
    trapped (either set's trap share > :data:`TRAPPED_SHARE`), where the generated probes had collapsed
    (:func:`~granlib.study.ledger.images.measures.collapsed` against the real probes), and where D had left n² ≪ ε
    (both sets' median n²/ε ≥ 1); and whether the probes' collapse status held over the last
    :data:`SETTLE_ITERATIONS` iterations."""
    logged = [r for r in records if "trap_share[real]" in r]
    if not logged:
        return {}

    def trapped(r: dict) -> bool:
        return max(r["trap_share[real]"], r["trap_share[generated]"]) > TRAPPED_SHARE

    def probes_collapsed(r: dict) -> bool:
        return collapsed(r["diversity[generated]"], r["diversity[real]"])

    def escaped(r: dict) -> bool:
        ratios = [r[f"n2_over_eps_median[{s}]"] for s in PROBE_SETS]
        return None not in ratios and min(ratios) >= 1

    def first(test) -> int | None:
        return next((r["step"] for r in logged if test(r)), None)

    last = logged[-1]
    tail = [probes_collapsed(r) for r in logged if r["step"] >= iterations - SETTLE_ITERATIONS]
    summary = {f"{name}_{s}_final": last[f"{name}[{s}]"] for s in PROBE_SETS
               for name in ("n_median", "n2_over_eps_median", "g_mean", "g_abs_mean", "f_abs_mean", "grad_g_mean",
                            "trap_share", "diversity")}
    summary.update(trapped_final=trapped(last), first_trapped_step=first(trapped),
                   probe_collapsed_final=probes_collapsed(last), first_probe_collapse_step=first(probes_collapsed),
                   first_escape_step=first(escaped), settled=len(set(tail)) == 1, probe_logs=len(logged))
    return summary


def measure_run(run_dir: Path, settings: dict, params: dict, seed: int, cell: Cell, samples_dir: Path) -> dict:
    """What a map row adds to the result row: the cell, training time, diversity and pixel spread of EMA-G and of
    held-out images, the collapse verdict, the probe summary; the run's last sample grid is copied beside the rows."""
    config = saved_config(run_dir)
    n = settings["pixel_images"]
    seeds = StudySeeds(seed)
    real = real_images(params.get("eval_dataset_override") or config.dataset, n, seed=seeds.real_images,
                       root=config.data_root, resolution=config.resolution)
    with torch.no_grad():
        codes = torch.randn(n, config.nz, generator=torch.Generator().manual_seed(seeds.generated_images))
        fake = load_ema_generator(run_dir)(codes)
    row = {"cell": cell.name, "cell_label": cell.label, "train_seconds": train_seconds(run_dir),
           "pixel_std_generated": pixel_std(fake), "pixel_std_real": pixel_std(real),
           "diversity_generated": sample_diversity(fake), "diversity_real": sample_diversity(real)}
    row["collapsed"] = collapsed(row["diversity_generated"], row["diversity_real"])
    row.update(probe_summary(read_jsonl(run_dir / "stats.jsonl"), config.iterations))
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    if grids:
        samples_dir.mkdir(parents=True, exist_ok=True)
        name = f"{cell.name}-s{seed}-{grids[-1].stem}.png"
        shutil.copyfile(grids[-1], samples_dir / name)
        row["sample_grid"] = f"samples/{name}"  # relative to the rows file
    return row


def run_map(profile: str, shard: tuple[int, int] = (0, 1), root: Path | None = None, log=print,
            **where: str | Path) -> Path:
    """Train, evaluate and summarise every run of ``profile`` (this shard's share) that has no row; returns the
    rows file."""
    settings = profiles()[profile]
    path = rows_path(profile, root, **where)
    todo = plan(settings)
    index, count = shard
    with study_lock(path, shard):
        for i, (cell, seed) in enumerate(todo):
            if i % count != index:
                continue
            params = cell_params(settings, cell, profile, root, **where)
            log(f"[{i + 1}/{len(todo)}] {cell.name} ({cell.label}) seed={seed}")
            try:
                run_and_evaluate(DATASET, cell.method, seed, params, rows_file=path,
                                 measure=lambda run_dir, cell=cell, seed=seed, params=params: measure_run(
                                     run_dir, settings, params, seed, cell, path.parent / "samples"))
            except NonFiniteLossError as error:  # a result of the cell, not a failure of the study
                log(f"    diverged: {error}")
                append_row(path, diverged_row(plan_run(DATASET, cell.method, seed, params, rows_file=path), params,
                                              cell, error.step))
    return path


def diverged_row(planned: PlannedRun, params: dict, cell: Cell, step: int) -> dict:
    """The row of a run whose loss became non-finite at iteration ``step``: its run key and provenance, no
    measurement of a generator it never finished (FD and the rest null), ``diverged_at``, and the probe summary of
    the iterations before it (``outcome`` "diverged" in :mod:`granlib.study.ledger.regime_rule`)."""
    blank = dict.fromkeys(("fd", "is_mean", "is_std", "kid_mean", "kid_std", "weights_sha256"))
    return {**planned.key, "metric": metric_label(planned.key["feature_extractor"]), **blank,
            **provenance(planned, params), "cell": cell.name, "cell_label": cell.label, "diverged_at": step,
            "collapsed": None, **probe_summary(read_jsonl(planned.run_dir / "stats.jsonl"), step)}


# One point of a probe curve: a map run's probe measures at one log (all of them, granlib.training.probes), with the
# run's cell, protocol and commit.
PROBE_IDENTITY = ("profile", "cell", "seed", "method", "loss", "K", "ndf", "eps", "iterations", "precision",
                  "git_commit")
PROBE_POINTS = RowSchema(key=("profile", "cell", "seed", "iterations", "step"),
                         required=(*PROBE_IDENTITY, "step", *PROBE_FIELDS),
                         numeric=("seed", "K", "ndf", "eps", "iterations", "step"))
PROBE_CURVES_FILE = "probe_curves.jsonl"


def collect_probe_curves(profile: str, root: Path | None = None, **where: str | Path) -> Path:
    """Append to ``probe_curves.jsonl`` (beside the rows) every probe log of each map row's run directory that is
    not there yet: the curves behind the trajectory and trap figures, kept in git where run directories are not."""
    path = rows_path(profile, root, **where).with_name(PROBE_CURVES_FILE)
    project = Path(anchored_params(profiles()[profile], profile, root)["project_root"])
    rows = load_rows(rows_path(profile, root, **where), profile=row_profile(profile)).to_dict("records")
    copy_logged_points(rows, project, RowStore(path, PROBE_POINTS), PROBE_IDENTITY, PROBE_FIELDS)
    return path


def load_probe_curves(profile: str, root: Path | None = None, **where: str | Path) -> pd.DataFrame:
    """The committed probe curves of ``profile`` (an empty frame before any)."""
    path = rows_path(profile, root, **where).with_name(PROBE_CURVES_FILE)
    return RowStore(path, PROBE_POINTS).frame(PROBE_POINTS.required, profile=row_profile(profile))


def main(argv: list[str] | None = None) -> int:
    known = profiles()
    parser = study_parser("python -m granlib.study.ledger.regime", __doc__, known,
                          "add the probe curves of every run with a row to probe_curves.jsonl")
    args, shard = parse_study_args(parser, argv)
    settings = known[args.profile]
    todo = plan(settings)
    measured = measured_runs(args.profile)
    show_plan(plan_line(args.profile, f"{len(todo)} runs ({len(cells(settings))} cells × {settings['seeds']} seeds) "
                        f"of {settings['iterations']} iterations", len(measured), len(todo),
                        estimated(args.profile, measured), settings["device"]),
              [(f"{cell.name}: {cell.label}, seed {seed}", (cell.name, seed) in measured) for cell, seed in todo],
              shard, listed=args.plan)
    if args.plan:
        return 0
    if not args.collect:
        status = train_shard(settings["device"],
                             lambda: run_map(args.profile, shard, log=lambda line: print(line, flush=True)))
        if status:
            return status
    print(f"probe curves: {collect_probe_curves(args.profile)}")
    rows = load_rows(rows_path(args.profile), profile=row_profile(args.profile))
    print(f"rows: {rows_path(args.profile)} ({len(rows)} of {len(todo)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
