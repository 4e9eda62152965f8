"""The image study's protocol: its profiles, the plan (every method of seed 0 first, then seed 1, …), the time
estimate behind ``--plan``, where its rows live, and the loop that trains, evaluates and measures what is missing."""

from __future__ import annotations

from pathlib import Path

from granlib.normalizers import method_label, parse_method
from granlib.study.ledger.images.measures import measure_run
from granlib.study.ledger.precision_check import require_proven
from granlib.study.ledger.profiles import DATASET, anchored_params, load_profiles
from granlib.study.pipeline.experiments import plan_run, run_and_evaluate
from granlib.study.pipeline.row_store import study_lock

# The paper's comparison: GraN with both losses against each baseline it names, at each normaliser's default K.
METHODS = ("gran/ns", "gran/wasserstein", "sn/ns", "gp/wasserstein", "gn/ns", "none/ns")
ROWS_FILE = "ledger_images.jsonl"

# Seconds per iteration behind --plan's estimate. CPU: the pilot's medians (seed 1, two processes sharing the two
# cores); WGAN-GP and GN-GAN take GraN's rate (their D step is a double backprop too; not timed separately). GPU:
# the CNN32 fast path at published widths on one H200 (results/bench/2026-11-27_H200_run1_bench_32x32.json).
SECONDS_PER_ITERATION = {("cpu", "gran"): 0.100, ("cpu", "gn"): 0.100, ("cpu", "gp"): 0.100, ("cpu", "sn"): 0.061,
                         ("cpu", "none"): 0.056, ("cuda", None): 1 / 168.98}
SECONDS_PER_EVALUATED_IMAGE = {"cpu": 0.1, "cuda": 0.001}
BASE_NDF = 8  # the D width of the measured rates above; a wider D scales them by (ndf / 8)^WIDTH_EXPONENT
WIDTH_EXPONENT = 1.1  # GraN at D widths 8, 12, 16 on one idle core: 0.10, 0.165, 0.21 s per iteration
# training-time speed-up of a precision over the rates above: the bf16 fast path over the fp32 one at G/D 64/16, one
# idle thread (results/bench/2026-12-07_cpu_bench_idle.json)
PRECISION_SPEEDUP = {("cpu", "bf16"): 1.47}


def profiles() -> dict[str, dict]:
    """The study's profiles (``params/ledger/images.yaml``), read when asked for."""
    return load_profiles("images")


def row_profile(profile: str) -> str:
    """What a row of ``profile`` records as its profile: 'ledger-cpu'."""
    return f"ledger-{profile}"


def study_params(profile: str, root: Path | None = None, results_dir: str | Path | None = None,
                 runs_dir: str | Path | None = None) -> dict:
    """A profile's settings as :func:`granlib.study.pipeline.experiments.run_and_evaluate` takes them
    (:func:`granlib.study.ledger.profiles.anchored_params`)."""
    return anchored_params(profiles()[profile], row_profile(profile), root, results_dir, runs_dir)


def rows_path(profile: str, root: Path | None = None, **where: str | Path) -> Path:
    """The rows file of ``profile`` (``where``: the ``results_dir``/``runs_dir`` overrides of :func:`study_params`);
    read it with :func:`granlib.study.pipeline.results.load_rows`."""
    return Path(study_params(profile, root, **where)["results_dir"]) / ROWS_FILE


def methods_of(profile: str) -> tuple[str, ...]:
    return profiles()[profile].get("methods", METHODS)


def plan(seeds: int, methods: tuple[str, ...] = METHODS) -> list[tuple[str, int]]:
    """(method, seed) in protocol order: every method of seed 0 first, then seed 1, …"""
    return [(method, seed) for seed in range(seeds) for method in methods]


def measured_runs(profile: str, root: Path | None = None, **where: str | Path) -> set[tuple[str, int]]:
    """The (method, seed) of ``profile``'s plan whose row exists: what a run of the study skips without training."""
    params = study_params(profile, root, **where)
    path = rows_path(profile, root, **where)
    return {(method, seed) for method, seed in plan(profiles()[profile]["seeds"], methods_of(profile))
            if plan_run(DATASET, method, seed, params, rows_file=path).measured}


def estimated_seconds(profile: str, skipped: set[tuple[str, int]] = frozenset()) -> float:
    """Training and evaluation time of a profile's runs other than ``skipped`` from the measured rates (one
    process)."""
    settings = profiles()[profile]
    device = settings["device"]
    width = (settings["model_overrides"].get("ndf", BASE_NDF) / BASE_NDF) ** WIDTH_EXPONENT if device == "cpu" else 1
    width /= PRECISION_SPEEDUP.get((device, settings["model_overrides"].get("precision", "fp32")), 1.0)
    total = 0.0
    for method, seed in plan(settings["seeds"], methods_of(profile)):
        if (method, seed) in skipped:
            continue
        normalizer, _ = parse_method(method)
        rate = SECONDS_PER_ITERATION.get((device, normalizer), SECONDS_PER_ITERATION.get((device, None), 0.1))
        evaluations = 2 + (seed in settings.get("noise_seeds", ()))  # EMA-G, raw G (and the noise repeat)
        total += (settings["iterations"] * rate * width
                  + evaluations * settings["n_eval"] * SECONDS_PER_EVALUATED_IMAGE[device])
    return total


def run_study(profile: str, shard: tuple[int, int] = (0, 1), root: Path | None = None, log=print,
              **where: str | Path) -> Path:
    """Train, evaluate and measure every missing run of ``profile`` (this shard's share); returns the rows file.
    ``where``: ``results_dir``/``runs_dir`` overrides (:func:`study_params`)."""
    settings = profiles()[profile]
    require_proven(settings["model_overrides"].get("precision", "fp32"), settings["device"], root)
    params = study_params(profile, root, **where)
    path = rows_path(profile, root, **where)
    index, count = shard
    todo = plan(settings["seeds"], methods_of(profile))
    with study_lock(path, shard):
        for i, (method, seed) in enumerate(todo):
            if i % count != index:
                continue
            run_dir = plan_run(DATASET, method, seed, params, rows_file=path).run_dir
            log(f"[{i + 1}/{len(todo)}] {method_label(method)} seed={seed}: {run_dir}")
            run_and_evaluate(DATASET, method, seed, params, rows_file=path,
                             measure=lambda run, seed=seed: measure_run(run, settings, params, seed,
                                                                       path.parent / "samples"))
    return path
