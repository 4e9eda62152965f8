"""Evaluation-speed benchmark: feature-extraction images/s, a 50k-sample FID + IS, and one periodic evaluation.

``python -m granlib.bench.metrics_speed [--extractor inception|effnet_lite0] [--n 50000]`` generates ``--n`` images with
a full-width CNN32 generator (random weights: speed does not depend on them), quantises them, extracts features
and logits in fp32 and computes FID against a same-sized reference statistic and IS. On CPU the default ``--n``
is 200 and the 50k time is extrapolated from the measured rate (marked ``"extrapolated": true``). It then times
what training's periodic evaluation does (:func:`granlib.evaluation.metrics.evaluate`: generation, extraction,
FD, IS and KID's 100 subsets) on min(n, 10k) samples.
Writes JSON to ``results/bench/metrics_<date>_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone

import torch

from granlib.bench.report import report_path, write_report
from granlib.evaluation.features import build_feature_extractor
from granlib.evaluation.metrics import evaluate, frechet_distance, inception_score
from granlib.evaluation.reference import ReferenceStatistics
from granlib.evaluation.statistics import extract, generated_batches
from granlib.models import build_models
from granlib.training.provenance import device_name, git_commit


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--extractor", default="inception", help="inception (needs the weights) or effnet_lite0")
    parser.add_argument("--n", type=int, default=None, help="images (default 50000 on GPU, 200 on CPU)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    n = args.n or (50_000 if device.type == "cuda" else 200)
    extractor = build_feature_extractor(args.extractor).to(device)
    generator = build_models("cnn", 32)[0].to(device).eval()

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return result, time.perf_counter() - start

    pool = torch.randint(0, 256, (min(n, 2000), 3, 32, 32), dtype=torch.uint8)
    extract(extractor, [pool[: args.batch_size]], device)  # warm-up
    _, extract_seconds = timed(lambda: extract(extractor, pool.split(args.batch_size), device))
    images_per_s = len(pool) / extract_seconds

    def fid_and_is():
        stats = extract(extractor, generated_batches(generator, n, args.batch_size, 128, device), device)
        # against a reference of the same shape (a shifted copy): the 2048×2048 linear algebra is what costs
        frechet_distance(stats.mu, stats.sigma, stats.mu + 1.0, stats.sigma), inception_score(stats.logits_array())
        return stats

    stats, seconds = timed(fid_and_is)
    reference = ReferenceStatistics(stats.mu + 1.0, stats.sigma, stats.kid_array(), stats.n, {"kind": "shifted copy"})
    n_periodic = min(n, 10_000)
    _, periodic_seconds = timed(lambda: evaluate(generator, reference, n_samples=n_periodic, extractor=extractor,
                                                 batch_size=args.batch_size, device=device))
    name = device_name(device)
    report = {"device": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "git_commit": git_commit(),
              "extractor": extractor.name, "precision": "fp32", "images_per_s_extraction": images_per_s,
              "n": n, "seconds_generation_extraction_fid_is": seconds,
              "seconds_for_50k": seconds * 50_000 / n, "extrapolated": n != 50_000,
              "periodic_evaluation": {"n_samples": n_periodic, "seconds": periodic_seconds,
                                      "includes": "generation, extraction, FD, IS, KID (100 subsets, on the device)"}}
    print(json.dumps(report, indent=2))
    write_report(report, report_path(args.out, report["date"], name, prefix="metrics_"))
    return report


if __name__ == "__main__":
    main()
