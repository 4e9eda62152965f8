"""The claims ledger at image scale: CIFAR-10 (the JPEG-q75 copy) with the standard CNN at a width and length a
CPU allows, every method at one budget, the verdicts computed by the rule of :mod:`granlib.study.ledger`.

Every method trains with the same protocol (GN-GAN's CNN settings: n_dis = 1, Adam 2e-4 (0, 0.9), linear decay;
the same widths, batch, iterations and seeds) and each normaliser's default K; only the normaliser and the loss
differ. A run's row is a result row (full provenance, FD-EffNetLite0 of the EMA generator against held-out test
images) plus measurements of its trained discriminator: ‖∇ₓD‖ and finite-difference slopes at real, generated,
interpolated and off-data images (P1, P3), the layers' spectral norms against the measured slope (P2), and, for
the discriminators built on ∇ₓf, jumps of D along real→generated segments (C3).

Run ``python -m granlib.study.ledger_images --profile smoke|cpu|gpu [--shard i/n]``: trains what is missing
(resumable: a finished run is evaluated, an unfinished one resumed, a row that exists skipped), in protocol order
(every method of seed 0, then seed 1, …, so a study cut short leaves whole seeds); ``--shard i/n`` takes every n-th
run from the i-th, so n processes can share the plan. Then writes ``ledger_images.md``/``.html``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

from granlib.data import load_dataset, to_float
from granlib.normalizers import default_K
from granlib.study.claims import (
    POINT_KINDS,
    frozen_float64,
    gradient_report,
    point_kinds,
    segment_jumps,
    spectral_report,
)
from granlib.study.experiments import make_config, project_root, run_and_evaluate, run_dir_for
from granlib.study.ledger import comparison, evaluate_verdict_table, read_rows, render, threshold
from granlib.training.run_dir import load_discriminator, load_ema_generator, read_jsonl, saved_config

# Every (normaliser, loss) of the library, as the paper and its baselines pair them.
METHODS = ("none/ns", "sn/ns", "wc/wasserstein", "gp/wasserstein", "gn/ns", "gran/ns", "gran/wasserstein",
           "gran_inverse/ns", "equivalent/ns")
JUMP_NORMALIZERS = ("gn", "gran", "gran_inverse", "equivalent")  # D built on ∇ₓf: where C3's jumps can occur
DATASET = "cifar10"  # what the image folder stands for (rows carry its variant label)
ROWS_FILE = "ledger_images.jsonl"
_CPU = dict(
    dataset_override="imagefolder:data/cifar10-jpeg/train",  # tar xzf cifar10-jpeg.tar.gz -C data
    eval_dataset_override="imagefolder:data/cifar10-jpeg/test",  # FD against held-out images
    dataset_variant="CIFAR-10 (JPEG-q75 copy)",
    feature_extractor="effnet_lite0",  # FD-EffNetLite0: a proxy, never FID
    data_root=None, device="cpu",
)
PROFILES = {
    # a miniature of every experiment on the embedded synthetic images: checks the code path, measures nothing
    "smoke": dict(dataset_override="synthetic", eval_dataset_override=None, dataset_variant="",
                  feature_extractor="effnet_lite0", data_root=None, device="cpu", iterations=2, n_eval=16, n_real=16,
                  seeds=2, min_n=2, n_points=4, segments=2, segment_points=21,
                  model_overrides=dict(ngf=32, ndf=8, nz=16, batch_size_d=8, batch_size_g=8, fast=True),
                  runs_dir="runs/smoke/ledger_images", out_dir="results/smoke/ledger",
                  tables_dir="results/smoke/ledger", figures_dir="results/smoke/ledger"),
    # the committed study: ~2.5 CPU-hours (reduced-width standard CNN, 600 iterations, batch 32; 1000-image FD)
    "cpu": dict(**_CPU, iterations=600, n_eval=1000, n_real=2000, seeds=3, min_n=3, n_points=64, segments=16,
                segment_points=501, model_overrides=dict(ngf=64, ndf=16, batch_size_d=32, batch_size_g=32, fast=True),
                runs_dir="runs/ledger_cifar10_cpu", out_dir="results/ledger", tables_dir="results/tables",
                figures_dir="results/figures"),
    # the pilot that chose the study's length: no normalisation, SNGAN and GraND-GAN, 2 seeds, 12 000 iterations,
    # FD-EffNetLite0 of 250 EMA samples against 250 training images every 1 000 iterations (metrics.jsonl; the
    # proxy extracts ~10 images/s on one core here, so a curve point costs ~25 s). Widths measured on the 2-core
    # CPU, one thread per process, batch 32 (ms per iteration): G/D 64/8: GraN 91, none 69, WGAN-GP 108;
    # 128/8: GraN 134, SN 105, none 98; 64/16: GraN 245, SN 129 (D's width dominates).
    "pilot": dict(**_CPU, methods=("none/ns", "sn/ns", "gran/ns"), iterations=12_000, n_eval=1000, n_real=2000,
                  seeds=2, min_n=2, measure=False,
                  model_overrides=dict(ngf=64, ndf=8, batch_size_d=32, batch_size_g=32, fast=True, eval_every=1000,
                                       eval_samples=250, sample_every=1000, checkpoint_every=1000, log_every=250),
                  runs_dir="runs/ledger_cifar10_pilot", out_dir="results/ledger/pilot",
                  tables_dir="results/ledger/pilot", figures_dir="results/figures"),
    # the same study on one GPU: full widths, GN-GAN's batches, 10k iterations, 10k-image FD
    "gpu": dict(**{**_CPU, "device": "cuda"}, iterations=10_000, n_eval=10_000, n_real=10_000, seeds=3, min_n=3,
                n_points=256, segments=64, segment_points=1001, model_overrides={},
                runs_dir="runs/ledger_cifar10_gpu", out_dir="results/ledger_gpu", tables_dir="results/ledger_gpu",
                figures_dir="results/ledger_gpu"),
}


def study_params(profile: str, root: Path | None = None, results_dir: str | Path | None = None,
                 runs_dir: str | Path | None = None) -> dict:
    """A profile's settings as :func:`granlib.study.experiments.run_and_evaluate` takes them (paths made absolute
    in the project ``root``); ``results_dir`` (where the rows go) and ``runs_dir`` replace the profile's."""
    root = Path(root or project_root())
    params = {**PROFILES[profile], "profile": f"ledger-{profile}", "project_root": str(root)}
    for key in ("dataset_override", "eval_dataset_override"):
        value = params.get(key)
        if value and value.startswith("imagefolder:") and not Path(value.split(":", 1)[1]).is_absolute():
            params[key] = f"imagefolder:{root / value.split(':', 1)[1]}"
    params["runs_dir"] = str(root / (runs_dir or params["runs_dir"]))  # an absolute path stays as it is
    params["results_dir"] = str(root / (results_dir or params["out_dir"]))
    return params


def plan(seeds: int, methods: tuple[str, ...] = METHODS) -> list[tuple[str, int]]:
    """(method, seed) in protocol order: every method of seed 0 first, then seed 1, …"""
    return [(method, seed) for seed in range(seeds) for method in methods]


def train_seconds(run_dir: Path) -> float:
    """Training time of a run from its stats lines (seconds per iteration × iterations of each window)."""
    total, previous = 0.0, 0
    for record in read_jsonl(run_dir / "stats.jsonl"):
        total += record["sec_per_it"] * (record["step"] - previous)
        previous = record["step"]
    return round(total, 1)


def measure_discriminator(run_dir: Path, settings: dict, seed: int) -> dict:
    """P1/P3 (‖∇ₓD‖ and finite-difference slopes at four kinds of images), P2 (layer spectral norms against the
    measured slope) and C3 (jumps along real→generated segments) on the run's trained D, in float64."""
    config = saved_config(run_dir)
    disc = frozen_float64(load_discriminator(run_dir))
    generator = load_ema_generator(run_dir)
    n = settings["n_points"]
    images = load_dataset(config.dataset, config.data_root, config.resolution)
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(20_000 + seed))[:n].tolist()
    real = to_float(torch.stack([images[i][0] for i in chosen])).double()
    with torch.no_grad():
        fake = generator(torch.randn(n, config.nz, generator=torch.Generator().manual_seed(30_000 + seed))).double()
    row = {"train_seconds": train_seconds(run_dir), "n_points": n}
    if not torch.isfinite(fake).all():
        return row
    kinds = point_kinds(real, fake, box=1.0, seed=seed)  # off-data: uniform noise over the pixel cube [−1, 1]^d
    row.update(gradient_report(disc, kinds, disc.K))
    row.update(spectral_report(disc, kinds))
    if config.normalizer in JUMP_NORMALIZERS:  # C3 is about g; the segments cost a minute of CPU per run
        segments = settings["segments"]
        row.update(segment_jumps(disc, real[:segments], fake[:segments], disc.K, points=settings["segment_points"]))
    return row


def run_study(profile: str, shard: tuple[int, int] = (0, 1), root: Path | None = None, log=print,
              **where: str | Path) -> Path:
    """Train, evaluate and measure every missing run of ``profile`` (this shard's share); returns the rows file.
    ``where``: ``results_dir``/``runs_dir`` overrides (:func:`study_params`)."""
    settings = PROFILES[profile]
    params = study_params(profile, root, **where)
    rows_path = Path(params["results_dir"]) / ROWS_FILE
    index, count = shard
    todo = plan(settings["seeds"], settings.get("methods", METHODS))
    for i, (method, seed) in enumerate(todo):
        if i % count != index:
            continue
        normalizer, _, loss = method.partition("/")
        run_dir = run_dir_for(make_config(DATASET, normalizer, loss, None, seed, params), params, DATASET)
        log(f"[{i + 1}/{len(todo)}] {method} seed={seed}: {run_dir}")
        measure = settings.get("measure", True)
        run_and_evaluate(DATASET, method, seed, params, rows_file=rows_path,
                         measure=(lambda path, seed=seed: measure_discriminator(path, settings, seed)) if measure
                         else (lambda path: {"train_seconds": train_seconds(path)}))
    return rows_path


# --- the claims at image scale
def group(method: str) -> tuple[str, str, float]:
    """(normaliser, loss, K) of a method as the study trains it (each normaliser's default K)."""
    normalizer, _, loss = method.partition("/")
    return normalizer, loss, default_K(normalizer)


def evaluate_claims(rows: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Every image-scale ledger row, its verdict computed from ``rows`` (FD: lower is better) by the ledger's rule."""
    out: list[dict] = []
    if len(rows):
        rows = rows.rename(columns={"fd": "fd_effnet"})
        setting = str(rows.dataset.iloc[0])

        def by(method: str) -> pd.DataFrame:
            normalizer, loss, K = group(method)  # noqa: N806
            return rows[(rows.method == normalizer) & (rows.loss == loss) & ((rows.K - K).abs() <= 1e-12)]

        def compare(claim: str, a: str, b: str, side: int) -> None:
            out.append(comparison(rows, claim, DATASET, group(a), group(b), side, min_n, metric="fd_effnet",
                                  setting_label=setting))

        for method in ("gran/ns", "gran/wasserstein"):
            out.append(threshold(by(method), "P1", f"{setting}; {method}, trained D",
                                 [f"fd_above_K[{k}]" for k in POINT_KINDS], 0.01, "below", min_n,
                                 describe="share of images with |Δg|/h > K(1+1e-3), h = 1e-6"))
        out.append(threshold(by("sn/ns"), "P2", f"{setting}; sn/ns, trained D", ["grad_max_over_bound"], 0.9,
                             "below", min_n, describe="largest ‖∇ₓD‖ over the four kinds of images / (K·∏σᵢ)"))
        out.append(threshold(by("gran/ns"), "P2", f"{setting}; gran/ns, trained f", ["sigma_max_dev"], 0.1, "above",
                             min_n, describe="max over layers of |σᵢ − 1|"))
        out.append(threshold(by("gp/wasserstein"), "P3", f"{setting}; gp/wasserstein, trained D",
                             [f"grad_above_K[{k}]" for k in POINT_KINDS], 0.01, "above", min_n,
                             describe="share of images with ‖∇ₓD‖ > K·(1+1e-3)"))
        for base in ("sn/ns", "gn/ns", "none/ns"):
            compare("P4", base, "gran/ns", +1)  # Δ FD = base − GraND > 0: GraND better
        for base in ("gp/wasserstein", "wc/wasserstein"):
            compare("P4", base, "gran/wasserstein", +1)
        compare("P7", "gran_inverse/ns", "gran/ns", +1)
        for method in ("gran/ns", "gran/wasserstein"):
            compare("C1", method, "gp/wasserstein", +1)  # "did not beat": GraN's FD above WGAN-GP's
        for method in ("gran/ns", "gran/wasserstein"):
            out.append(threshold(by(method), "C3", f"{setting}; {method}, trained D", ["jump_share"], 0.01, "above",
                                 min_n, describe="share of real→generated segments where |Δg| > K·h·(1+1e-3)"))
        compare("C4", "equivalent/ns", "gran/ns", +1)
    return evaluate_verdict_table(out)


def fd_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """FD-EffNetLite0 per method: mean, standard deviation, n, and training seconds per run."""
    if not len(rows):
        return pd.DataFrame(columns=["method", "fd_mean", "fd_std", "n", "train_seconds_mean"])
    keyed = rows.assign(method_loss=rows.method + "/" + rows.loss)
    summary = keyed.groupby("method_loss").agg(fd_mean=("fd", "mean"), fd_std=("fd", "std"), n=("fd", "count"),
                                               train_seconds_mean=("train_seconds", "mean"))
    order = [m for m in METHODS if m in summary.index]
    return summary.loc[order].reset_index(names="method")


def load_rows(profile: str, root: Path | None = None, **where: str | Path) -> pd.DataFrame:
    """The study's rows of ``profile`` (an empty frame before any run)."""
    params = study_params(profile, root, **where)
    rows = pd.DataFrame(read_rows(Path(params["results_dir"]) / ROWS_FILE))
    return rows[rows.profile == params["profile"]].reset_index(drop=True) if len(rows) else rows


def describe(rows: pd.DataFrame, profile: str) -> str:
    """One sentence of what the rows are (scale, protocol, metric, device, commits)."""
    if not len(rows):
        return "no runs yet"
    first = rows.iloc[0]
    model = PROFILES[profile]["model_overrides"]
    widths = (f"G/D base widths {model['ngf']}/{model['ndf']}, batch {model['batch_size_d']}" if "ngf" in model
              else "published widths and batches")
    reference = str(first.reference_images).replace(f"{project_root()}/", "")  # the project's own path is noise
    commits = ", ".join(sorted({str(c)[:12] for c in rows.git_commit}))
    return (f"{len(rows)} runs: {first.dataset}, {first.resolution}×{first.resolution}, standard CNN "
            f"({first.cnn_variant}, init {first.init}; {widths}), {int(first.iterations)} iterations, seeds "
            f"{sorted(set(rows.seed))}; {first.metric} of {int(first.n_fake)} generated vs {int(first.n_real)} "
            f"images of {reference}; device {first.gpu}; commits {commits}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m granlib.study.ledger_images", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--shard", default="0/1", help="i/n: this process takes runs i, i+n, i+2n, … of the plan")
    parser.add_argument("--render-only", action="store_true", help="write the tables from the rows so far")
    args = parser.parse_args(argv)
    index, _, count = args.shard.partition("/")
    if PROFILES[args.profile]["device"] == "cpu":
        torch.set_num_threads(1)  # one process per core: two shards share the two cores without contention
    if not args.render_only:
        run_study(args.profile, (int(index), int(count or 1)), log=lambda line: print(line, flush=True))
    settings = PROFILES[args.profile]
    rows = load_rows(args.profile)
    table = evaluate_claims(rows, settings["min_n"])
    for path in render(table, rows, project_root() / settings["tables_dir"], args.profile == "smoke",
                       settings["min_n"], title="Claims ledger — images", summary=describe(rows, args.profile),
                       name="ledger_images"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
