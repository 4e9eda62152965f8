"""Time a full-length run with periodic evaluation: by default 100k iterations of the GN-GAN CNN protocol.

``python -m granlib.bench.long_run --dataset imagefolder:data/cifar10-jpeg/train`` trains GraND-GAN (GraN, NS loss,
n_dis=1, D batch 64, G batch 128) on the fast path, evaluating EMA-G every ``--eval-every`` iterations on
``--n-eval`` generated vs as many real images, and writes a report with the run's wall time.

A job whose time limit is shorter than the run passes ``--max-minutes``: the run then stops with a checkpoint
before the limit, and the same command resumes it. Every invocation appends a *segment* (its wall time from the
start of this module's import, the iterations it ran) to ``segments.jsonl`` in the run directory; the report sums
the segments. A run split in segments pays one start-up per segment (imports, data decoding, cuDNN autotuning,
graph capture), so the sum over-states what one uninterrupted run takes.
"""

from __future__ import annotations

import time

MODULE_START = time.perf_counter()  # before torch's import: the command line's segment includes it

import argparse  # noqa: E402
import statistics  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from granlib.bench.quality import run_config  # noqa: E402
from granlib.bench.report import write_report  # noqa: E402
from granlib.data import dataset_identity  # noqa: E402
from granlib.jsonl import append_jsonl, read_jsonl  # noqa: E402
from granlib.training.config import resolve_config  # noqa: E402
from granlib.training.devices import resolve_device  # noqa: E402
from granlib.training.loop import train  # noqa: E402
from granlib.training.provenance import device_name, git_commit  # noqa: E402
from granlib.training.run_dir import latest_step  # noqa: E402

TARGET_MINUTES = 15.0  # the speed target: a 100k-iteration CNN32 run with periodic evaluation on one H100/H200


def is_target_protocol(config) -> bool:
    """The run the 15-minute target is about: 100k iterations of the full-width CNN32 with n_dis=1."""
    return (config.iterations >= 100_000 and config.architecture == "cnn" and config.resolution == 32
            and config.n_dis == 1 and config.ngf is None and config.ndf is None and config.eval_every > 0)


def report_for(run_dir: Path, config, args: argparse.Namespace) -> dict:
    """The run's provenance, segments, evaluations and timings, from the files in its run directory."""
    segments = read_jsonl(run_dir / "segments.jsonl")
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    stats = read_jsonl(run_dir / "stats.jsonl")
    done = latest_step(run_dir)
    wall = sum(segment["wall_seconds"] for segment in segments)
    finished = done >= config.iterations
    device = resolve_device(config.device)
    return {
        "kind": "timed run" if finished else "timed run, not finished yet",
        "dataset": dataset_identity(args.dataset, args.dataset_variant).label, "resolution": config.resolution,
        "architecture": config.architecture, "method": config.normalizer, "loss": config.loss,
        "K": resolve_config(config).K, "n_dis": config.n_dis,
        "iterations": config.iterations, "seed": config.seed, "path": "fast" if config.fast else "reference",
        "eval_every": config.eval_every, "feature_extractor": config.eval_feature_extractor,
        "n_real": config.eval_samples, "n_fake": config.eval_samples, "gpu": device_name(device),
        "torch": torch.__version__, "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "run_dir": str(run_dir),
        "iterations_done": done, "finished": finished, "segments": segments,
        "wall_seconds": wall, "wall_minutes": wall / 60,
        "evaluations": len(metrics), "eval_seconds_total": sum(m.get("eval_seconds", 0.0) for m in metrics),
        "sec_per_it_median": statistics.median(s["sec_per_it"] for s in stats) if stats else None,
        "cuda_graph": bool(stats and stats[-1].get("cuda_graph")),
        "final_fd": metrics[-1]["fd"] if metrics else None, "metric": metrics[-1]["metric"] if metrics else None,
        "fd_curve": [{"step": m["step"], "fd": m["fd"]} for m in metrics],
        "target_minutes": TARGET_MINUTES,
        # a verdict only for a finished run of the target's protocol; the sum of segments over-states one
        # uninterrupted run (see above)
        "under_target": (wall / 60 < TARGET_MINUTES) if finished and is_target_protocol(config) else None,
    }


_calls = 0  # main() calls in this process; only the first one's wall time starts at the import


def main(argv: list[str] | None = None) -> dict:
    global _calls
    start = MODULE_START if _calls == 0 else time.perf_counter()
    _calls += 1
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="cifar10", help="a granlib.data name or imagefolder:<path>")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--dataset-variant", default="", help="provenance label (default: derived from the name)")
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument("--n-eval", type=int, default=10_000, help="generated and real images per evaluation")
    parser.add_argument("--extractor", default="effnet_lite0", help="inception (needs the weights) or effnet_lite0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--normalizer", default="gran")
    parser.add_argument("--loss", default="ns")
    parser.add_argument("--K", type=float, default=None, help="default: the normaliser's own")
    parser.add_argument("--path", choices=("fast", "reference"), default="fast")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (resumably) after this long")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--ngf", type=int, default=None, help="width overrides (CPU checks of this script)")
    parser.add_argument("--ndf", type=int, default=None)
    parser.add_argument("--nz", type=int, default=None)
    parser.add_argument("--run-dir", default="runs/bench_long")
    parser.add_argument("--out", default=None, help="JSON report (default <run-dir>/report.json)")
    args = parser.parse_args(argv)
    config = run_config(args.path, args.seed, args).replace(
        eval_every=args.eval_every, eval_samples=args.n_eval, checkpoint_every=args.eval_every,
        log_every=max(1, min(1000, args.iterations // 20)), sample_every=max(1, args.iterations // 10))
    run_dir = Path(args.run_dir)
    first = latest_step(run_dir)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if first < config.iterations:
        budget = None if args.max_minutes is None else args.max_minutes * 60 - (time.perf_counter() - start)
        train(config, run_dir, quiet=True, max_seconds=budget)
        segment = {"started": started, "first_step": first, "last_step": latest_step(run_dir),
                   "wall_seconds": time.perf_counter() - start, "max_minutes": args.max_minutes}
        append_jsonl(run_dir / "segments.jsonl", segment)
    report = report_for(run_dir, config, args)
    out = write_report(report, args.out or run_dir / "report.json")
    print(f"{report['iterations_done']} of {config.iterations} iterations in {report['wall_minutes']:.2f} min over "
          f"{len(report['segments'])} segment(s); {report['evaluations']} evaluations, last {report['metric']} "
          f"{report['final_fd']}")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
