"""The claims ledger at image scale: CIFAR-10 (the JPEG-q75 copy) with the standard CNN at a size a 2-core CPU trains
far enough to learn, the paper's six methods at one budget, verdicts computed by a rule fixed before the runs.

**Protocol** (profile ``cpu``): GraND-GAN, GraNC-GAN, SNGAN, WGAN-GP, GN-GAN and no normalisation, each normaliser at
its default K, 5 seeds; GN-GAN's CNN settings (n_dis = 1, Adam 2e-4 (0, 0.9), linear decay to 0) on the standard CNN
of the published code (N(0, 0.02) init) at G/D base widths 64/8, batch 32 for D and G, and the length the pilot
chose (``pilot`` profile: none, SNGAN, GraND-GAN at 2 seeds with FD every 1 000 iterations; :func:`pilot_curves`).
EMA-G with the published decay 0.999 from the first iteration: after n iterations the initial weights keep a share
0.999ⁿ of EMA-G (< 1 % once n ≥ 4 603; :func:`ema_initial_share`).

**A row** per run: full provenance (:mod:`granlib.study.pipeline.results`), FD-EffNetLite0 (a proxy, never FID), IS
and KID of EMA-G against held-out test images; the same FD of the raw G; for seed 0 of each method a second FD of
EMA-G from a disjoint noise stream (the estimate's own noise); the per-image pixel standard deviation of EMA-G's
samples and of real images (flat samples show at once); and the trained D measured in float64
(:func:`granlib.study.instruments.measurements.measure_discriminator`): ‖∇ₓD‖ and finite-difference slopes at real,
generated, interpolated and uniform-noise images (P1, P3), the layers' spectral norms against the measured slope (P2,
power iteration seeded by the run's seed) and, for D built on ∇ₓf, jumps along real→generated segments (C3).
Each run's last sample grid is kept under ``samples/`` beside the rows.

**Verdicts**: the bound claims by :data:`granlib.study.ledger.verdicts.RULE`; the FD comparisons (P4 ×4, C1 ×2; P7
where the profile trains the ablation) as one family by :data:`granlib.study.ledger.verdicts.FAMILY_RULE` (Welch and
Mann–Whitney, Holm-adjusted over the family).

Run ``python -m granlib.study.ledger.images --profile smoke|pilot|cpu|gpu [--shard i/n]`` (profiles:
``params/ledger/images.yaml``): trains what is missing
(resumable: a finished run is evaluated, an unfinished one resumed, a row that exists skipped), in protocol order
(every method of seed 0, then seed 1, …, so a study cut short leaves whole seeds); ``--shard i/n`` takes every n-th
run from the i-th, so n processes share the plan; one process per shard (a second is refused, naming the first).
``--plan`` prints the plan and its time estimate without training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from torchvision.utils import make_grid

from granlib.data import DatasetNotFoundError, load_dataset, to_float
from granlib.jsonl import read_jsonl
from granlib.normalizers import default_K, get_normalizer, parse_method
from granlib.project import project_root
from granlib.study.instruments.measurements import measure_discriminator
from granlib.study.instruments.seeds import StudySeeds
from granlib.study.ledger.claims import bound_claim, cell_rows, comparison, verdict_table
from granlib.study.ledger.profiles import anchored_params, load_profiles
from granlib.study.ledger.render import NO_VERDICT, Section, render, stamp_sentences
from granlib.study.ledger.verdicts import FAMILY_RULE, RULE, decide_family
from granlib.study.pipeline.experiments import make_config, plan_run, run_and_evaluate, run_dir_for
from granlib.study.pipeline.plots import stamp
from granlib.study.pipeline.results import (
    RESULT_ROWS,
    ROW_KEYS,
    SOURCE,
    caveats,
    compact_table,
    spec_name,
    summary_table,
    to_html,
    to_markdown,
)
from granlib.study.pipeline.row_store import RowSchema, RowStore, parse_shard, print_plan, study_lock
from granlib.training.evaluation import evaluate_run
from granlib.training.run_dir import load_discriminator, load_ema_generator, saved_config

# The paper's comparison: GraN with both losses against each baseline it names, at each normaliser's default K.
METHODS = ("gran/ns", "gran/wasserstein", "sn/ns", "gp/wasserstein", "gn/ns", "none/ns")
DATASET = "cifar10"  # what the image folder stands for (rows carry its variant label)
ROWS_FILE = "ledger_images.jsonl"
PILOT_CURVES_FILE = "pilot_curves.jsonl"
IMAGE_RULE = f"{RULE} {FAMILY_RULE}"
NOISE_SAMPLE_SEED = 1  # the second, disjoint noise stream of the FD-noise evaluation
COLLAPSE_RATIO = 0.25  # a generator whose samples vary less than this share of the real images' variation collapsed
PROFILES = load_profiles("images")
EMA_DECAY = PROFILES["cpu"]["model_overrides"]["ema_decay"]  # the published decay, which the study keeps

# Seconds per iteration behind --plan's estimate. CPU: the pilot's medians (seed 1, two processes sharing the two
# cores); WGAN-GP and GN-GAN take GraN's rate (their D step is a double backprop too; not timed separately). GPU:
# the CNN32 fast path at published widths on one H200 (results/bench/2026-11-27_H200_run1_bench_32x32.json).
SECONDS_PER_ITERATION = {("cpu", "gran"): 0.100, ("cpu", "gn"): 0.100, ("cpu", "gp"): 0.100, ("cpu", "sn"): 0.061,
                         ("cpu", "none"): 0.056, ("cuda", None): 1 / 168.98}
SECONDS_PER_EVALUATED_IMAGE = {"cpu": 0.1, "cuda": 0.001}


def ema_initial_share(iterations: int, decay: float = EMA_DECAY) -> float:
    """The weight EMA-G still gives the initial G after ``iterations`` updates: decayⁿ."""
    return decay**iterations


def study_params(profile: str, root: Path | None = None, results_dir: str | Path | None = None,
                 runs_dir: str | Path | None = None) -> dict:
    """A profile's settings as :func:`granlib.study.pipeline.experiments.run_and_evaluate` takes them
    (:func:`granlib.study.ledger.profiles.anchored_params`)."""
    return anchored_params(PROFILES[profile], f"ledger-{profile}", root, results_dir, runs_dir)


def methods_of(profile: str) -> tuple[str, ...]:
    return PROFILES[profile].get("methods", METHODS)


def plan(seeds: int, methods: tuple[str, ...] = METHODS) -> list[tuple[str, int]]:
    """(method, seed) in protocol order: every method of seed 0 first, then seed 1, …"""
    return [(method, seed) for seed in range(seeds) for method in methods]


def measured_runs(profile: str, root: Path | None = None, **where: str | Path) -> set[tuple[str, int]]:
    """The (method, seed) of ``profile``'s plan whose row exists: what a run of the study skips without training."""
    params = study_params(profile, root, **where)
    rows_path = Path(params["results_dir"]) / ROWS_FILE
    return {(method, seed) for method, seed in plan(PROFILES[profile]["seeds"], methods_of(profile))
            if plan_run(DATASET, method, seed, params, rows_file=rows_path).measured}


def estimated_seconds(profile: str, skipped: set[tuple[str, int]] = frozenset()) -> float:
    """Training and evaluation time of a profile's runs other than ``skipped`` from the measured rates (one
    process)."""
    settings = PROFILES[profile]
    device = settings["device"]
    total = 0.0
    for method, seed in plan(settings["seeds"], methods_of(profile)):
        if (method, seed) in skipped:
            continue
        normalizer, _ = parse_method(method)
        rate = SECONDS_PER_ITERATION.get((device, normalizer), SECONDS_PER_ITERATION.get((device, None), 0.1))
        evaluations = 2 + (seed in settings.get("noise_seeds", ()))  # EMA-G, raw G (and the noise repeat)
        total += settings["iterations"] * rate + evaluations * settings["n_eval"] * SECONDS_PER_EVALUATED_IMAGE[device]
    return total


def train_seconds(run_dir: Path) -> float:
    """Training time of a run from its stats lines (seconds per iteration × iterations of each window)."""
    total, previous = 0.0, 0
    for record in read_jsonl(run_dir / "stats.jsonl"):
        total += record["sec_per_it"] * (record["step"] - previous)
        previous = record["step"]
    return round(total, 1)


def pixel_std(images: torch.Tensor) -> float:
    """Mean over images of each image's pixel standard deviation (images in [−1, 1]): 0 for flat tiles."""
    return float(images.flatten(1).std(dim=1).mean())


def sample_diversity(images: torch.Tensor) -> float:
    """Mean over pixels of the standard deviation across images (images in [−1, 1]): 0 when every image is the same
    (a collapsed generator), however textured that one image is."""
    return float(images.flatten(1).std(dim=0).mean())


def grid_pixel_std(path: str | Path, resolution: int, padding: int = 2) -> float:
    """:func:`pixel_std` of the images of a sample grid PNG as the training loop saves them (8 columns, ``padding``
    pixels between tiles, values mapped from [−1, 1] to [0, 255])."""
    grid = torch.from_numpy(plt.imread(str(path))[..., :3].copy()).permute(2, 0, 1) * 2 - 1  # [0, 1] → [−1, 1]
    step = resolution + padding
    tiles = [grid[:, top:top + resolution, left:left + resolution]
             for top in range(padding, grid.shape[1] - resolution + 1, step)
             for left in range(padding, grid.shape[2] - resolution + 1, step)]
    return pixel_std(torch.stack(tiles))


def real_images(config, n: int, seed: int, dataset: str | None = None) -> torch.Tensor:
    """``n`` images of the run's training set (or ``dataset``) in [−1, 1], a choice seeded by ``seed``."""
    images = load_dataset(dataset or config.dataset, config.data_root, config.resolution)
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    return to_float(torch.stack([images[i][0] for i in chosen]))


def measure_run(run_dir: Path, settings: dict, params: dict, seed: int, samples_dir: Path) -> dict:
    """Everything a study row adds to the result row: training time, raw-G FD, FD noise, pixel spread, the trained
    D's measurements; the run's last sample grid is copied to ``samples_dir``."""
    config = saved_config(run_dir)
    row: dict = {"train_seconds": train_seconds(run_dir), "ema_decay": config.ema_decay,
                 "ema_initial_share": ema_initial_share(config.iterations, config.ema_decay)}
    evaluate = dict(n_samples=int(params["n_eval"]), n_real=int(params["n_real"]),
                    feature_extractor=params["feature_extractor"],
                    reference_dataset=params.get("eval_dataset_override"))
    raw = evaluate_run(run_dir, generator="G", **evaluate)
    row.update(fd_raw=raw["fd"], is_raw=raw["is_mean"], kid_raw=raw["kid_mean"])
    if seed in settings.get("noise_seeds", ()):
        row["fd_repeat"] = evaluate_run(run_dir, sample_seed=NOISE_SAMPLE_SEED, **evaluate)["fd"]
    n = settings["pixel_images"]
    seeds = StudySeeds(seed)
    real = real_images(config, max(n, settings.get("n_points", 0)), seed=seeds.real_images,
                       dataset=params.get("eval_dataset_override"))
    generator = load_ema_generator(run_dir)
    with torch.no_grad():
        codes = torch.randn(len(real), config.nz, generator=torch.Generator().manual_seed(seeds.generated_images))
        fake = generator(codes)
    row.update(pixel_std_generated=pixel_std(fake[:n]), pixel_std_real=pixel_std(real[:n]),
               diversity_generated=sample_diversity(fake[:n]), diversity_real=sample_diversity(real[:n]))
    if settings.get("measure", True):  # P1-P3 and C3 on the trained D; C3 only where D is built on ∇ₓf
        points = settings["n_points"]
        jumps = get_normalizer(config.normalizer).input_gradient  # D built on ∇ₓf: where C3's jumps can occur
        segments = settings["segments"] if jumps else None  # the segments cost a minute of CPU a run
        measured = measure_discriminator(load_discriminator(run_dir), real[:points], fake[:points], box=1.0,
                                         seed=seeds.measurement, segments=segments,
                                         segment_points=settings["segment_points"])
        row.update({"n_points": points, **measured} if measured else {})  # off-data: noise over the pixel cube
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    if grids:
        samples_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grids[-1], samples_dir / f"{run_dir.name}-{grids[-1].stem}.png")
        row["sample_grid"] = f"samples/{run_dir.name}-{grids[-1].stem}.png"  # relative to the rows file
    return row


def run_study(profile: str, shard: tuple[int, int] = (0, 1), root: Path | None = None, log=print,
              **where: str | Path) -> Path:
    """Train, evaluate and measure every missing run of ``profile`` (this shard's share); returns the rows file.
    ``where``: ``results_dir``/``runs_dir`` overrides (:func:`study_params`)."""
    settings = PROFILES[profile]
    params = study_params(profile, root, **where)
    rows_path = Path(params["results_dir"]) / ROWS_FILE
    index, count = shard
    todo = plan(settings["seeds"], methods_of(profile))
    with study_lock(rows_path, shard):
        for i, (method, seed) in enumerate(todo):
            if i % count != index:
                continue
            normalizer, loss = parse_method(method)
            run_dir = run_dir_for(make_config(DATASET, normalizer, loss, None, seed, params), params, DATASET)
            log(f"[{i + 1}/{len(todo)}] {spec_name(method)} seed={seed}: {run_dir}")
            run_and_evaluate(DATASET, method, seed, params, rows_file=rows_path,
                             measure=lambda path, seed=seed: measure_run(path, settings, params, seed,
                                                                        rows_path.parent / "samples"))
    return rows_path


def load_rows(profile: str, root: Path | None = None, **where: str | Path) -> pd.DataFrame:
    """The study's rows of ``profile``, validated, one per run (an empty frame before any run)."""
    params = study_params(profile, root, **where)
    rows = RowStore(Path(params["results_dir"]) / ROWS_FILE, RESULT_ROWS).frame(ROW_KEYS)
    return rows[rows.profile == params["profile"]].reset_index(drop=True)


# --- the claims at image scale
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
    setting = str(rows.dataset.iloc[0])

    def bound(check: str, method: str) -> dict:
        return bound_claim(check, rows, DATASET, setting, group(method), min_n, unit="images")

    family: list[dict] = []
    samples: dict[str, tuple[pd.Series, pd.Series]] = {}

    def compare(claim: str, a: str, b: str) -> None:  # Δ FD = a − b > 0: b better
        if a in methods and b in methods:
            row = comparison(rows, claim, DATASET, setting, group(a), group(b), +1, min_n, metric="fd_effnet")
            samples[row["setting"]] = (cell_rows(rows, DATASET, *group(a)).fd_effnet,
                                       cell_rows(rows, DATASET, *group(b)).fd_effnet)
            family.append(row)

    out = [bound("P1", method) for method in ("gran/ns", "gran/wasserstein")]
    out += [bound("P2 bound", "sn/ns"), bound("P2 layers", "gran/ns"), bound("P3", "gp/wasserstein")]
    for base in ("sn/ns", "gn/ns", "none/ns"):
        compare("P4", base, "gran/ns")  # GraND-GAN better than each baseline of the non-saturating loss
    compare("P4", "gp/wasserstein", "gran/wasserstein")
    compare("P7", "gran_inverse/ns", "gran/ns")
    for method in ("gran/ns", "gran/wasserstein"):
        compare("C1", method, "gp/wasserstein")  # "did not beat": GraN's FD above WGAN-GP's
    out += [bound("C3", method) for method in ("gran/ns", "gran/wasserstein")]
    out += decide_family(family, samples)
    return verdict_table(out)


def fd_summary(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> pd.DataFrame:
    """FD-EffNetLite0 per method (named as the paper names it): EMA-G's and raw G's mean and std over seeds, n,
    the samples' pixel spread and diversity against the real images', training seconds per run."""
    columns = ["method", "fd_mean", "fd_std", "fd_raw_mean", "n", "pixel_std_ratio", "diversity_ratio",
               "train_seconds_mean"]
    if not len(rows):
        return pd.DataFrame(columns=columns)
    def ratio(generated: str, real: str) -> pd.Series:
        return rows.get(generated, pd.Series(dtype=float)) / rows.get(real, pd.Series(dtype=float))

    keyed = rows.assign(spec=rows.method + "/" + rows.loss,
                        pixel_std_ratio=ratio("pixel_std_generated", "pixel_std_real"),
                        diversity_ratio=ratio("diversity_generated", "diversity_real"))
    keyed = keyed.reindex(columns=list(dict.fromkeys([*keyed.columns, "fd_raw", "train_seconds"])))
    summary = keyed.groupby("spec").agg(fd_mean=("fd", "mean"), fd_std=("fd", "std"), fd_raw_mean=("fd_raw", "mean"),
                                        n=("fd", "count"), pixel_std_ratio=("pixel_std_ratio", "mean"),
                                        diversity_ratio=("diversity_ratio", "mean"),
                                        train_seconds_mean=("train_seconds", "mean"))
    order = [m for m in methods if m in summary.index] + [m for m in summary.index if m not in methods]
    summary = summary.loc[order].reset_index(names="spec")
    summary.insert(0, "method", [spec_name(s) for s in summary.spec])
    return summary.drop(columns="spec")


def fd_noise(rows: pd.DataFrame) -> dict[str, float]:
    """The FD estimate's own noise against the seeds' spread: |FD − FD of a disjoint sample set| of one EMA-G
    (median and max over the runs that measured it) and the std of FD over seeds (median and range over methods)."""
    repeat = rows.get("fd_repeat", pd.Series(dtype=float))
    noise = (rows.fd - repeat).abs().dropna()
    spread = rows.groupby(["method", "loss"]).fd.std().dropna()
    return {"noise_median": float(noise.median()) if len(noise) else float("nan"),
            "noise_max": float(noise.max()) if len(noise) else float("nan"), "noise_n": int(len(noise)),
            "spread_median": float(spread.median()) if len(spread) else float("nan"),
            "spread_min": float(spread.min()) if len(spread) else float("nan"),
            "spread_max": float(spread.max()) if len(spread) else float("nan")}


def describe(rows: pd.DataFrame, profile: str) -> str:
    """What the rows are (scale, protocol, metric, device, commits) and the FD's noise against the seeds' spread."""
    if not len(rows):
        return "no runs yet"
    return stamp_sentences([_describe(rows, profile)], profile == "smoke")[0]


def _describe(rows: pd.DataFrame, profile: str) -> str:
    first = rows.iloc[0]
    model = PROFILES[profile]["model_overrides"]
    widths = (f"G/D base widths {model['ngf']}/{model['ndf']}, batch {model['batch_size_d']}" if "ngf" in model
              else "published widths and batches")
    commits = ", ".join(sorted({str(c)[:12] for c in rows.git_commit}))
    noise = fd_noise(rows)
    return (f"{len(rows)} runs: {first.dataset}, {first.resolution}×{first.resolution}, standard CNN "
            f"({first.cnn_variant}, init {first.init}; {widths}), {int(first.iterations)} iterations, EMA decay "
            f"{EMA_DECAY} (initial weights' share at the end {ema_initial_share(int(first.iterations)):.1e}), seeds "
            f"{sorted(set(rows.seed))}; {first.metric} of {int(first.n_fake)} generated vs {int(first.n_real)} "
            f"images of {first.reference_images}; device {first.gpu}; commits {commits}. FD noise (two disjoint "
            f"sample sets of one EMA generator, {noise['noise_n']} runs): median {noise['noise_median']:.2f}, max "
            f"{noise['noise_max']:.2f}; seed spread (std of FD over seeds): median {noise['spread_median']:.2f} over "
            f"methods (range {noise['spread_min']:.2f}–{noise['spread_max']:.2f})")


# One point of a pilot curve: a run's FD at one step, with the run's protocol and provenance.
PILOT_POINTS = RowSchema(key=("method", "loss", "K", "seed", "step", "ngf", "ndf", "iterations", "n_fake", "n_real"),
                         required=("method", "loss", "K", "seed", "step", "fd", "metric", "dataset", "ngf", "ndf",
                                   "iterations", "batch_size", "n_fake", "n_real", "reference_images", "device",
                                   "git_commit", "started", "source"),
                         numeric=("K", "seed", "step", "fd", "ngf", "ndf", "iterations", "n_fake", "n_real"))


def pilot_curves(root: Path | None = None, **where: str | Path) -> pd.DataFrame:
    """The pilot's FD against iterations from its run directories: every metrics line with the run's method, seed,
    protocol and provenance (``provenance.json``)."""
    params = study_params("pilot", root, **where)
    lines = []
    for method, seed in plan(PROFILES["pilot"]["seeds"], methods_of("pilot")):
        normalizer, loss = parse_method(method)
        run_dir = run_dir_for(make_config(DATASET, normalizer, loss, None, seed, params), params, DATASET)
        if not (run_dir / "config.json").exists():
            continue
        config = saved_config(run_dir)
        provenance = json.loads((run_dir / "provenance.json").read_text())
        for record in read_jsonl(run_dir / "metrics.jsonl"):
            lines.append({"method": normalizer, "loss": loss, "K": config.K, "seed": seed, "step": record["step"],
                          "fd": record["fd"], "metric": record["metric"], "kid_mean": record["kid_mean"],
                          "is_mean": record["is_mean"], "dataset": config.dataset_variant, "ngf": config.ngf,
                          "ndf": config.ndf, "iterations": config.iterations, "batch_size": config.batch_size_d,
                          "n_fake": record["n_fake"], "n_real": record["n_real"], "reference_images": "training set",
                          "eval_seconds": record["eval_seconds"], "device": provenance["device"],
                          "git_commit": provenance["git_commit"], "started": provenance["started"], "source": SOURCE})
    return pd.DataFrame(lines)


def save_pilot_curves(curves: pd.DataFrame, path: str | Path) -> Path:
    """Append the curves' points that are not in ``path`` yet (one validated line each)."""
    store = RowStore(path, PILOT_POINTS)
    for point in curves.to_dict("records"):
        store.append(point)
    return Path(path)


def read_pilot_curves(path: str | Path) -> pd.DataFrame:
    """The committed pilot curves (an empty frame when there are none)."""
    return RowStore(path, PILOT_POINTS).frame()


def real_sample(profile: str, n: int = 64, root: Path | None = None, **where: str | Path) -> torch.Tensor:
    """``n`` images in [−1, 1] of what the profile's FD is measured against (held-out images where it names them)."""
    params = study_params(profile, root, **where)
    dataset = load_dataset(params.get("eval_dataset_override") or params["dataset_override"], None, 32)
    chosen = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n].tolist()
    return to_float(torch.stack([dataset[i][0] for i in chosen]))


def reference_caption(profile: str) -> str:
    """What :func:`real_sample` gives under ``profile``, as a panel names it: never "real" for synthetic images."""
    settings = PROFILES[profile]
    if settings.get("eval_dataset_override"):
        return "real images (held-out test split)"
    if settings["dataset_override"] == "synthetic":
        return "synthetic training images (smoke data, not real images)"
    return "real images (training set)"


def samples_panel(profile: str, rows: pd.DataFrame, rows_dir: Path, path: Path, root: Path | None = None,
                  **where: str | Path) -> plt.Figure | None:
    """The samples figure (:func:`samples_figure`, stamped under smoke) saved to ``path``. Where the reference
    images are not on disk (a clone without ``data/``) the figure is not redrawn: the one at ``path`` (committed)
    is shown as it is, with a note saying how to provide the images; returns None then."""
    from IPython.display import Image, display

    try:
        real = real_sample(profile, 64, root, **where)
    except DatasetNotFoundError as missing:
        if not path.is_file():
            raise
        where = str(missing).split(" (")[0]
        print(f"Showing the committed {path.name}: its real images are not on disk here ({where}; to provide them: "
              f"./run_all.sh --unpack <path to>/cifar10-jpeg.tar.gz, README 'Data').")
        display(Image(filename=str(path)))
        return None
    fig = stamp(samples_figure(rows, rows_dir, real, real_caption=reference_caption(profile)), profile == "smoke")
    fig.savefig(path)
    return fig


# The rule that turns the pilot's curves into the study's length, fixed before the pilot ended: the shortest length
# the budget allows (≥ 10 000 iterations, ≤ 25 min per run on one core) at which every pilot method's mean FD over
# seeds has come within LENGTH_TOLERANCE of the lowest mean FD on its curve.
LENGTH_CANDIDATES = (10_000, 11_000, 12_000)
LENGTH_TOLERANCE = 0.05


def choose_length(curves: pd.DataFrame, candidates: tuple[int, ...] = LENGTH_CANDIDATES,
                  tolerance: float = LENGTH_TOLERANCE) -> int:
    """The study's length from the pilot's curves (rule above); :class:`NoLengthError` when no candidate qualifies
    (the rule then has no answer: the budget or the candidates must change, which is a decision, not a default)."""
    means = curves.groupby(["method", "loss", "step"]).fd.mean()
    for length in candidates:
        if all(means[method][loss].get(length, float("inf")) <= (1 + tolerance) * means[method][loss].min()
               for method, loss in means.index.droplevel("step").unique()):
            return length
    raise NoLengthError(f"no length among {list(candidates)} has every pilot method's mean FD within "
                        f"{tolerance:.0%} of its lowest; the pilot's curves do not settle within the budget")


class NoLengthError(ValueError):
    """The pilot's curves satisfy the length rule at none of the candidate lengths."""


def pilot_figure(curves: pd.DataFrame, chosen: int | None = None) -> plt.Figure:
    """FD against iterations, one band (the seeds' range) and line (their mean) per pilot method."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for (method, loss), part in curves.groupby(["method", "loss"], sort=False):
        by_step = part.groupby("step").fd
        line = ax.plot(by_step.mean().index, by_step.mean(), marker="o", ms=3,
                       label=f"{spec_name(f'{method}/{loss}')} (mean of {part.seed.nunique()} seeds)")[0]
        ax.fill_between(by_step.min().index, by_step.min(), by_step.max(), color=line.get_color(), alpha=0.2)
    if chosen is not None:
        ax.axvline(chosen, color="k", ls="--", lw=1, label=f"the study's length: {chosen:,}".replace(",", " "))
    first = curves.iloc[0]
    ax.set_xlabel("generator iterations")
    ax.set_ylabel(f"{first.metric} (lower is better)")
    ax.set_title(f"Pilot on {first.dataset}: FD of {int(first.n_fake)} EMA samples vs {int(first.n_real)} training "
                 f"images\n(G/D widths {int(first.ngf)}/{int(first.ndf)}, batch {int(first.batch_size)}; band: range "
                 "over seeds)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fd_figure(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> plt.Figure:
    """FD of every run by method (points: seeds; bars: the mean), EMA-G beside raw G."""
    summary = fd_summary(rows, methods)
    fig, ax = plt.subplots(figsize=(8, 4))
    positions = {name: i for i, name in enumerate(summary.method)}
    ax.bar([p - 0.2 for p in positions.values()], summary.fd_mean, width=0.4, alpha=0.5, label="EMA-G, mean")
    ax.bar([p + 0.2 for p in positions.values()], summary.fd_raw_mean, width=0.4, alpha=0.5, label="raw G, mean")
    if len(rows):
        names = [spec_name(f"{m}/{l}") for m, l in zip(rows.method, rows.loss)]
        ax.scatter([positions[n] - 0.2 for n in names], rows.fd, color="k", s=12, label="EMA-G, one seed")
    ax.set_xticks(list(positions.values()), list(positions), rotation=20, fontsize=9)
    metric = rows.metric.iloc[0] if len(rows) else "FD"
    ax.set_ylabel(f"{metric} (lower is better)")
    ax.set_xlabel("method (each normaliser at its default K)")
    dataset = rows.dataset.iloc[0] if len(rows) else ""
    ax.set_title(f"{dataset}, CPU scale: generation by method ({len(rows)} runs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def samples_figure(rows: pd.DataFrame, rows_dir: Path, real: torch.Tensor, seed: int = 0,
                   methods: tuple[str, ...] = METHODS, real_caption: str = "real images (held-out test split)"
                   ) -> plt.Figure:
    """Each method's committed sample grid of ``seed`` (captioned with method, seed, iteration), after a grid of
    the reference images ``real`` (captioned ``real_caption``: :func:`reference_caption`)."""
    chosen = rows[rows.seed == seed] if len(rows) else rows
    order = {m: i for i, m in enumerate(methods)}
    runs = sorted(chosen.itertuples(), key=lambda r: order.get(f"{r.method}/{r.loss}", len(order)))
    real_grid = make_grid(real[:64] * 0.5 + 0.5, nrow=8, padding=2, pad_value=1.0).permute(1, 2, 0).clamp(0, 1)
    def caption(r) -> str:
        iterations = f"{int(r.iterations):,}".replace(",", " ")
        return f"{spec_name(f'{r.method}/{r.loss}')}\nseed {r.seed}, iteration {iterations}"

    panels = [(real_caption, real_grid.numpy())] + [
        (caption(r), plt.imread(str(rows_dir / r.sample_grid)))
        for r in runs if isinstance(getattr(r, "sample_grid", None), str)]
    columns = min(4, len(panels))
    lines = -(-len(panels) // columns)
    # constrained layout leaves room for every panel's two-line title above its grid (tight_layout let the second
    # row's titles run under the first row's grids)
    fig, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 3.8 * lines), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, (caption, image) in zip(axes.flat, panels):
        ax.imshow(image)
        ax.set_title(caption, fontsize=9)
    fig.suptitle(f"EMA-generator samples at the end of training, beside {real_caption.split(' (')[0]}", fontsize=11)
    return fig


def findings(rows: pd.DataFrame, table: pd.DataFrame, methods: tuple[str, ...] = METHODS, smoke: bool = False
             ) -> list[str]:
    """What the rows say, computed: runs per method, the lowest mean FD, flat or collapsed samples, and the
    verdicts per claim; under ``smoke`` every sentence stamped and no verdict stated
    (:func:`granlib.study.ledger.render.stamp_sentences`)."""
    if not len(rows):
        return stamp_sentences(["No run of this profile has finished yet."], smoke)
    summary = fd_summary(rows, methods)
    best = summary.sort_values("fd_mean").iloc[0]
    per_method = ", ".join(f"{m}: {n}" for m, n in zip(summary.method, summary.n))
    spread = "" if pd.isna(best.fd_std) else f" ± {best.fd_std:.1f}"
    reference = "synthetic reference images" if smoke else "real images"  # smoke data is never called real
    sentences = [f"{len(rows)} runs of {len(summary)} methods (seeds per method: {per_method}).",
                 f"The lowest mean {rows.metric.iloc[0]} is {best.method}'s, {best.fd_mean:.1f}{spread}."]
    if "pixel_std_generated" in rows:
        flat = summary[summary.pixel_std_ratio < 0.5]
        sentences.append(f"Samples flatter than half the {reference}' pixel spread: "
                         + (", ".join(flat.method) if len(flat) else "none") + ".")
    if "diversity_generated" in rows:  # per run: one collapsed seed is a failure even where the mean is not
        runs = rows[rows.diversity_generated < COLLAPSE_RATIO * rows.diversity_real]
        named = {spec_name(f"{m}/{l}"): part.seed for (m, l), part in runs.groupby(["method", "loss"], sort=False)}
        listed = "; ".join(f"{name} seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}"
                           for name, seeds in named.items())
        sentences.append(f"Collapsed runs (samples varying less than {COLLAPSE_RATIO:g}× as much as {reference} do): "
                         + (listed or "none") + ".")
    counts = table.groupby("verdict").size() if len(table) else pd.Series(dtype=int)
    sentences.append(NO_VERDICT if smoke else "Verdicts: " + ", ".join(
        f"{v} {int(counts.get(v, 0))}" for v in ("supported", "contradicted", "inconclusive", "pending")) + ".")
    return stamp_sentences(sentences, smoke)


def results_table(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> tuple[pd.DataFrame, dict[str, int],
                                                                                  str, list[str]]:
    """The study as the dataset tables show one (:func:`granlib.study.pipeline.results.compact_table`): per method,
    in the order of ``methods``, FD, IS and KID as mean ± std over seeds and the seeds counted, the published FID of
    the same dataset, resolution, network, method and loss in its own column headed by its source and protocol;
    then the caption and the reasons the two are not comparable (:func:`~granlib.study.pipeline.results.caveats`).
    Returns (table, {column: row of its best value}, caption, caveats)."""
    summary = summary_table(rows)
    position = {spec: i for i, spec in enumerate(methods)}
    summary = (summary.assign(order=[position.get(f"{m}/{loss}", len(position))
                                     for m, loss in zip(summary.method, summary.loss)])
               .sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True))
    table, best, caption = compact_table(summary)
    return table, best, caption, caveats(summary)


def results_section(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> Section:
    """:func:`results_table` as a section of the rendered ledger: the table, then its caption and caveats."""
    table, best, caption, notes = results_table(rows, methods)
    text = " ".join([caption, *notes])
    return Section("FD by method, with the published FID apart", f"{to_markdown(table, best)}\n\n*{text}*",
                   to_html(table, best, text))


def render_ledger(table: pd.DataFrame, rows: pd.DataFrame, profile: str, out_dir: str | Path) -> list[Path]:
    """ledger_images.md and ledger_images.html of the image study's ``profile``
    (:func:`granlib.study.ledger.render.render`): the results table (:func:`results_section`) before the verdicts."""
    sections = (results_section(rows, methods_of(profile)),) if len(rows) else ()
    return render(table, out_dir, profile == "smoke", PROFILES[profile]["min_n"], title="Claims ledger — images",
                  summary=describe(rows, profile), name="ledger_images", rule=IMAGE_RULE, sections=sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m granlib.study.ledger.images", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--shard", default="0/1", help="i/n: this process takes runs i, i+n, i+2n, … of the plan")
    parser.add_argument("--render-only", action="store_true", help="write the tables from the rows so far")
    parser.add_argument("--plan", action="store_true", help="print the plan and its time estimate; train nothing")
    args = parser.parse_args(argv)
    try:
        shard = parse_shard(args.shard)
    except ValueError as error:
        parser.error(str(error))
    settings = PROFILES[args.profile]
    todo = plan(settings["seeds"], methods_of(args.profile))
    measured = measured_runs(args.profile)
    hours = estimated_seconds(args.profile, measured) / 3600
    print(f"{args.profile}: {len(todo)} runs of {settings['iterations']} iterations, {len(measured)} with a row "
          f"already (nothing to train), {len(todo) - len(measured)} to train; estimated {hours:.1f} h of "
          f"{settings['device']} time for one process at measured rates (n processes: about 1/n each)", flush=True)
    if args.plan:
        print_plan([(f"{spec_name(method)}, seed {seed}", (method, seed) in measured) for method, seed in todo], shard)
        return 0
    if settings["device"] == "cpu":
        torch.set_num_threads(1)  # one process per core: shards share the cores without contention
    if not args.render_only:
        run_study(args.profile, shard, log=lambda line: print(line, flush=True))
    rows = load_rows(args.profile)
    table = evaluate_claims(rows, settings["min_n"], methods_of(args.profile))
    for path in render_ledger(table, rows, args.profile, project_root() / settings["tables_dir"]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
