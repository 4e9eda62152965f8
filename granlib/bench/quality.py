"""Does the fast path train as well as the reference? Same runs on both paths, one feature distance each.

``python -m granlib.bench.quality --dataset imagefolder:data/cifar10-jpeg/train --iterations 2500 --seeds 0 1``
trains the GN-GAN CNN protocol (GraND-GAN: GraN, non-saturating loss, n_dis=1) once per seed on the reference
path (eager fp32, double backprop in both steps) and once on the fast path (bf16, channels_last, cheap G step,
CUDA graph), evaluates each EMA generator against the training set with the same extractor and sample counts, and
writes every run (with full provenance) and a summary to JSON (default
``results/bench/quality_<date>_<device>.json``).

The summary compares the mean distance of the two paths with the spread between seeds of one path (the
run-to-run noise) and, with two or more seeds per path, gives Welch's 95% interval of the difference and its p.
It also projects the time of a 100k-iteration run with periodic evaluation from the fast runs' measured parts:
start-up, seconds per iteration (the median over logging windows) and one evaluation. That projection is labelled
as such; it is not a timed 100k run (``granlib.bench.long_run`` times one).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from granlib.bench.report import report_path, write_report
from granlib.data import dataset_identity
from granlib.jsonl import read_jsonl
from granlib.training.config import TrainConfig, preset, resolve_config
from granlib.training.devices import resolve_device
from granlib.training.evaluation import evaluate_run
from granlib.training.loop import train
from granlib.training.provenance import device_name, git_commit

PATH_FLAGS = {"reference": False, "fast": True}  # TrainConfig.fast for each path


def run_config(path: str, seed: int, args: argparse.Namespace) -> TrainConfig:
    overrides = {k: v for k, v in (("ngf", args.ngf), ("ndf", args.ndf), ("nz", args.nz)) if v is not None}
    return preset("gngan_cnn", dataset=args.dataset, data_root=args.data_root, dataset_variant=args.dataset_variant,
                  resolution=32, normalizer=args.normalizer, loss=args.loss, K=args.K, seed=seed,
                  iterations=args.iterations, fast=PATH_FLAGS[path], device=args.device,
                  log_every=max(1, args.iterations // 20), sample_every=args.iterations,
                  checkpoint_every=args.iterations, eval_every=0, eval_feature_extractor=args.extractor, **overrides)


def train_and_evaluate(config: TrainConfig, run_dir: Path, n_eval: int) -> dict:
    """Train from scratch in ``run_dir``, evaluate EMA-G once; timings and the metrics."""
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    train(config, run_dir, quiet=True)
    train_seconds = time.perf_counter() - start
    stats = read_jsonl(run_dir / "stats.jsonl")
    start = time.perf_counter()
    metrics = evaluate_run(run_dir, n_eval, device=device)
    eval_seconds = time.perf_counter() - start
    windows = [record["sec_per_it"] for record in stats[1:]] or [stats[0]["sec_per_it"]]  # first window: warm-up
    logged = sum(record["sec_per_it"] * config.log_every for record in stats)
    return {"train_seconds": train_seconds, "sec_per_it": statistics.median(windows),
            "startup_seconds": max(0.0, train_seconds - logged), "eval_seconds": eval_seconds,
            "cuda_graph": bool(stats[-1].get("cuda_graph", False)), "final_loss_d": stats[-1]["loss_d"],
            "final_loss_g": stats[-1]["loss_g"], **metrics}


def welch(fast: list[dict], reference: list[dict]) -> dict | None:
    """Welch's t-test of the two paths' distances: the difference's 95% interval and p (None below 2 seeds each)."""
    from scipy import stats  # scipy.stats is slow to import; only the summary needs it

    a, b = [row["fd"] for row in fast], [row["fd"] for row in reference]
    if min(len(a), len(b)) < 2:
        return None
    var_a, var_b = statistics.variance(a) / len(a), statistics.variance(b) / len(b)  # s²/n per path
    standard_error = (var_a + var_b) ** 0.5
    if standard_error == 0:
        return None
    dof = (var_a + var_b) ** 2 / (var_a ** 2 / (len(a) - 1) + var_b ** 2 / (len(b) - 1))  # Welch–Satterthwaite
    difference = statistics.fmean(a) - statistics.fmean(b)
    half_width = stats.t.ppf(0.975, dof) * standard_error
    p = 2 * stats.t.sf(abs(difference) / standard_error, dof)
    return {"difference": difference, "ci95": [difference - half_width, difference + half_width], "p": float(p),
            "dof": dof, "seeds": [len(a), len(b)]}


def summarize(runs: list[dict], eval_every: int, eval_samples: int) -> dict:
    by_path = {path: [run for run in runs if run["path"] == path] for path in PATH_FLAGS}
    summary: dict = {}
    for path, rows in by_path.items():
        values = [row["fd"] for row in rows]
        summary[path] = {"fd_mean": statistics.fmean(values), "fd_values": values,
                         "seed_spread": max(values) - min(values), "it_per_s": 1 / statistics.median(
                             [row["sec_per_it"] for row in rows])}
    difference = summary["fast"]["fd_mean"] - summary["reference"]["fd_mean"]
    noise = max(summary["reference"]["seed_spread"], summary["fast"]["seed_spread"])
    fast = by_path["fast"]
    per_it = statistics.median(row["sec_per_it"] for row in fast)
    startup = statistics.median(row["startup_seconds"] for row in fast)
    eval_seconds = statistics.median(row["eval_seconds"] for row in fast)
    evals = 100_000 // eval_every
    summary.update(
        fd_difference_fast_minus_reference=difference, run_to_run_noise=noise,
        welch=welch(by_path["fast"], by_path["reference"]),
        # the seed spread estimates the noise only with two or more seeds per path; with one there is no verdict
        within_noise=abs(difference) <= noise if min(map(len, by_path.values())) > 1 else None,
        speedup_training=summary["fast"]["it_per_s"] / summary["reference"]["it_per_s"],
        projected_100k_run={"kind": "projection from measured parts, not a timed 100k run",
                            "startup_seconds": startup, "sec_per_it": per_it,
                            "evaluations": evals, "eval_samples": eval_samples, "seconds_per_evaluation": eval_seconds,
                            "minutes": (startup + 100_000 * per_it + evals * eval_seconds) / 60})
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="cifar10", help="a granlib.data name or imagefolder:<path>")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--dataset-variant", default="", help="provenance label (default: derived from the name)")
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--normalizer", default="gran")
    parser.add_argument("--loss", default="ns")
    parser.add_argument("--K", type=float, default=None, help="default: the normaliser's own")
    parser.add_argument("--extractor", default="effnet_lite0", help="inception (needs the weights) or effnet_lite0")
    parser.add_argument("--n-eval", type=int, default=10_000, help="generated and real images per evaluation")
    parser.add_argument("--eval-every", type=int, default=5000, help="evaluation cadence assumed by the projection")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--ngf", type=int, default=None, help="width overrides (CPU checks of this script)")
    parser.add_argument("--ndf", type=int, default=None)
    parser.add_argument("--nz", type=int, default=None)
    parser.add_argument("--runs-dir", default="runs/bench_quality")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    gpu = device_name(device)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out = report_path(args.out, date, gpu, prefix="quality_")
    report = {"device": gpu, "date": date, "torch": torch.__version__, "git_commit": git_commit(),
              "protocol": "gngan_cnn", "iterations": args.iterations, "seeds": args.seeds, "n_eval": args.n_eval,
              "runs": [], "summary": None}
    for seed in args.seeds:
        for path in PATH_FLAGS:
            config = run_config(path, seed, args)
            run_dir = Path(args.runs_dir) / date.replace(":", "") / f"{path}-s{seed}"
            result = train_and_evaluate(config, run_dir, args.n_eval)
            K = resolve_config(config).K
            report["runs"].append({"path": path, "dataset": dataset_identity(args.dataset, args.dataset_variant).label,
                                   "resolution": config.resolution, "architecture": config.architecture,
                                   "method": config.normalizer, "loss": config.loss, "K": K, "eps": config.eps,
                                   "iterations": config.iterations, "seed": seed, "gpu": gpu, "date": date[:10],
                                   "run_dir": str(run_dir), **result})
            print(f"{path:9s} seed {seed}: {result['metric']} {result['fd']:.2f}  "
                  f"{1 / result['sec_per_it']:.1f} it/s  graph={result['cuda_graph']}", flush=True)
            write_report(report, out)  # partial results survive an interruption
    report["summary"] = summarize(report["runs"], args.eval_every, args.n_eval)
    write_report(report, out)
    summary = report["summary"]
    print(f"fast − reference: {summary['fd_difference_fast_minus_reference']:+.2f} (seed spread "
          f"{summary['run_to_run_noise']:.2f}; within noise: {summary['within_noise']}); training ×"
          f"{summary['speedup_training']:.2f}; projected 100k run: {summary['projected_100k_run']['minutes']:.1f} min")
    if summary["welch"]:
        low, high = summary["welch"]["ci95"]
        print(f"Welch: fast − reference in [{low:+.2f}, {high:+.2f}] (95%), p = {summary['welch']['p']:.3f}")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
