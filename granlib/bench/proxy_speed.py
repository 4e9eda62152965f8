"""The EffNet-lite0 proxy on a CPU: the folded path against the package's network, side by side in one process.

``python -m granlib.bench.proxy_speed [--threads 1] [--n 250] [--rounds 3]`` extracts the same ``--n`` quantised
images of a seeded, full-width CNN32 generator (random weights: speed does not depend on them) in one batch, as
evaluation passes them, through :meth:`EffNetLite0Features.forward_reference` and :meth:`EffNetLite0Features.forward`,
alternating, ``--rounds`` times each after a warm-up. It reports images per second of wall-clock time and per
CPU-second of the thread (the second does not count time the thread waits for a core other processes hold), and
the FD of those images against as many of the synthetic set's through each path. Writes JSON to
``results/bench/<date>_proxy_speed_<cpu>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime, timezone

import torch

from granlib.bench.report import report_path, write_report
from granlib.data import SyntheticImages
from granlib.evaluation.features import EffNetLite0Features
from granlib.evaluation.metrics import frechet_distance
from granlib.evaluation.statistics import FeatureStatistics, generated_batches
from granlib.models import build_models
from granlib.training.provenance import cpu_model, git_commit


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=250, help="images per round, one batch (evaluation's batch size)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    extractor = EffNetLite0Features()
    torch.manual_seed(0)
    generator = build_models("cnn", 32)[0].eval()
    fake = torch.cat(list(generated_batches(generator, args.n, args.n, 128, "cpu", seed=0)))
    real = SyntheticImages(size=args.n).images
    paths = {"reference": extractor.forward_reference, "folded": extractor.forward}

    for forward in paths.values():
        forward(fake[:4])  # warm-up: first-call allocations and oneDNN's kernel selection
    wall: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    fake_stats = {}
    for _ in range(args.rounds):
        for name, forward in paths.items():  # alternating, so that both see the same load on the machine
            wall_start, cpu_start = time.perf_counter(), time.thread_time()
            features, logits = forward(fake)
            cpu[name].append(args.n / (time.thread_time() - cpu_start))
            wall[name].append(args.n / (time.perf_counter() - wall_start))
            fake_stats[name] = FeatureStatistics(keep_logits=False)
            fake_stats[name].update(features)
    fd = {}
    for name, forward in paths.items():
        real_stats = FeatureStatistics(keep_logits=False)
        real_stats.update(forward(real)[0])
        fd[name] = frechet_distance(fake_stats[name].mu, fake_stats[name].sigma, real_stats.mu, real_stats.sigma)

    def summary(rates: dict[str, list[float]]) -> dict:
        ratios = [new / old for new, old in zip(rates["folded"], rates["reference"], strict=True)]
        return {"reference": statistics.median(rates["reference"]), "folded": statistics.median(rates["folded"]),
                "speedup_median_of_rounds": statistics.median(ratios), "per_round": rates}

    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
              "cpu_count": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg()),
              "torch": torch.__version__, "git_commit": git_commit(), "threads": args.threads,
              "precision": "fp32", "n_images": args.n, "batch_size": args.n, "rounds": args.rounds,
              "images_per_s_wall": summary(wall), "images_per_cpu_s": summary(cpu),
              "fd_against_synthetic": {**fd, "relative_difference": abs(fd["folded"] / fd["reference"] - 1)}}
    print(json.dumps(report, indent=2))
    write_report(report, report_path(args.out, report["date"], f"proxy_speed_{cpu_model()}"))
    return report


if __name__ == "__main__":
    main()
