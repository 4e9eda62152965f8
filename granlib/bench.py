"""Training-speed benchmark: reference (eager fp32, double backprop in both steps) against the fast path.

``python -m granlib.bench`` prints, per configuration, generator iterations/s of both paths, their ratio, peak GPU
memory and achieved TFLOP/s (FLOPs of one iteration counted with ``torch.utils.flop_counter``) with the fraction of
the device's peak, and writes the same as JSON (default ``results/bench/<date>_<device>.json``). Data are random
tensors already on the device, so the figure is the training step alone. On CPU it runs tiny widths: a check that
the script works, not a measurement worth quoting.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from granlib.config import TrainConfig
from granlib.train import GAN

CONFIGS = {
    "cnn32_ndis1_ns": dict(architecture="cnn", resolution=32, n_dis=1, batch_size_d=64, batch_size_g=128, loss="ns"),
    "resnet32_ndis5_hinge": dict(architecture="resnet", resolution=32, n_dis=5, batch_size_d=64, batch_size_g=128,
                                 loss="hinge"),
    "cnn48_ndis1_ns": dict(architecture="cnn", resolution=48, n_dis=1, batch_size_d=64, batch_size_g=128, loss="ns"),
    "resnet128_ndis5_hinge": dict(architecture="resnet", resolution=128, n_dis=5, batch_size_d=64, batch_size_g=64,
                                  loss="hinge"),
}
TINY = dict(ngf=16, ndf=16, nz=16, batch_size_d=4, batch_size_g=4)
# Dense bf16 matrix-product rates measured on this workplace's lent machines (device tool, KINDS.md), TFLOP/s.
PEAK_TFLOPS = {"H100": 798.0, "H200": 788.0}


class CountFlops(TorchDispatchMode):
    """Sum of FLOPs of every op that torch.utils.flop_counter knows (matmuls, convolutions, attention).

    FlopCounterMode itself tracks modules with backward hooks, which autograd.grad (GraN, WGAN-GP) does not
    support; its per-op formulas (``flop_registry``) are used here directly.
    """

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


class RandomImages:
    """A fixed pool of random images on the device, served in order: no data-loading cost in the benchmark."""

    def __init__(self, resolution: int, device: torch.device, pool: int = 1024):
        self.images = torch.rand(pool, 3, resolution, resolution, device=device) * 2 - 1
        self.position = 0

    def sample(self, n: int) -> torch.Tensor:
        if self.position + n > len(self.images):
            self.position = 0
        self.position += n
        return self.images[self.position - n: self.position]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_TFLOPS.items() if key in name), None)


def measure(config: TrainConfig, device: torch.device, iterations: int, warmup: int) -> dict:
    """Iterations/s, FLOPs per iteration and peak memory of one path (config.fast decides which)."""
    torch.manual_seed(0)
    gan = GAN(config, device)
    data = RandomImages(config.resolution, device)
    for step in range(warmup):
        gan.iteration(step, *gan.sample_inputs(data))
    with CountFlops() as counter:
        gan.iteration(warmup, *gan.sample_inputs(data))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    synchronize(device)
    start = time.perf_counter()
    for step in range(iterations):
        gan.iteration(warmup + 1 + step, *gan.sample_inputs(data))
    synchronize(device)
    seconds = time.perf_counter() - start
    flops = counter.total
    peak = peak_tflops(device)
    achieved = flops * iterations / seconds / 1e12
    return {"it_per_s": iterations / seconds, "flops_per_iteration": flops, "tflops": achieved,
            "fraction_of_peak": achieved / peak if peak else None,
            "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


def run(names: list[str], device: torch.device, iterations: int, warmup: int, normalizer: str = "gran",
        tiny: bool = False) -> dict:
    results = {}
    for name in names:
        base = {**CONFIGS[name], **(TINY if tiny else {})}
        row = {}
        for path, fast in (("reference", False), ("fast", True)):
            config = TrainConfig(dataset="synthetic", normalizer=normalizer, fast=fast, device=str(device),
                                 ema_decay=0.999, **base)
            row[path] = measure(config, device, iterations, warmup)
        row["speedup"] = row["fast"]["it_per_s"] / row["reference"]["it_per_s"]
        results[name] = row
        ref, fast = row["reference"], row["fast"]
        print(f"{name:24s} reference {ref['it_per_s']:8.2f} it/s   fast {fast['it_per_s']:8.2f} it/s"
              f"   ×{row['speedup']:.2f}   fast {fast['tflops']:.2f} TFLOP/s"
              + (f" ({100 * fast['fraction_of_peak']:.1f}% of peak)" if fast["fraction_of_peak"] else ""),
              flush=True)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--normalizer", default="gran")
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations (default 50 GPU, 2 CPU)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--out", default=None, help="JSON path (default results/bench/<date>_<device>.json)")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    tiny = device.type == "cpu"
    iterations = args.iterations or (50 if not tiny else 2)
    warmup = args.warmup if args.warmup is not None else (10 if not tiny else 1)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    results = run(args.configs, device, iterations, warmup, args.normalizer, tiny)
    report = {"device": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "normalizer": args.normalizer, "tiny_widths": tiny,
              "iterations": iterations, "warmup": warmup, "peak_tflops_reference": peak_tflops(device),
              "configs": {k: {**CONFIGS[k], **(TINY if tiny else {})} for k in args.configs}, "results": results}
    out = Path(args.out or f"results/bench/{report['date'][:10]}_{name.replace(' ', '_')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
