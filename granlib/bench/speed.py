"""Training-speed benchmark: reference (eager fp32, double backprop in both steps) against the fast path.

``python -m granlib.bench`` prints, per configuration, generator iterations/s of each path (``PATHS``: reference,
typical = reference plus a host read per D step, fast without and with a CUDA graph), fast/reference ratios, peak
GPU memory and achieved TFLOP/s (FLOPs of one iteration counted with ``torch.utils.flop_counter``) with the
fraction of the device's peak, and writes the same as JSON (default ``results/bench/<date>_<device>.json``). Data
are random tensors already on the device, so the figure is the training step alone; each path is timed for at
least ``--min-seconds`` after its warm-up. ``--device cpu`` times the CPU settings of :mod:`granlib.bench.cpu`
instead (the study's and the published widths; reference, fp32 fast and bf16 fast at one and two threads, beside the
GN-GAN code's own step). ``--tiny`` runs the configurations below at tiny widths on any device: a check that the
script works, not a measurement worth quoting.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from granlib.bench import cpu as cpu_bench
from granlib.bench.peer import PEER_DIR
from granlib.bench.random_images import RandomImages
from granlib.bench.report import report_path, write_report
from granlib.training.config import TrainConfig
from granlib.training.devices import cudnn_autotuning, synchronize
from granlib.training.fast_path import MEASURES, FastPath
from granlib.training.graphs import GraphedIteration
from granlib.training.provenance import device_name, git_commit
from granlib.training.trainer import Trainer

CONFIGS = {
    "cnn32_ndis1_ns": dict(architecture="cnn", resolution=32, n_dis=1, batch_size_d=64, batch_size_g=128, loss="ns"),
    "resnet32_ndis5_hinge": dict(architecture="resnet", resolution=32, n_dis=5, batch_size_d=64, batch_size_g=128,
                                 loss="hinge"),
    # the same with the nearest-neighbour upsampling of SNGAN's and GN-GAN's code (Mimicry's is bilinear)
    "resnet32_ndis5_hinge_nearest": dict(architecture="resnet", resolution=32, n_dis=5, batch_size_d=64,
                                         batch_size_g=128, loss="hinge", resnet_upsample="nearest"),
    "cnn48_ndis1_ns": dict(architecture="cnn", resolution=48, n_dis=1, batch_size_d=64, batch_size_g=128, loss="ns"),
    "resnet128_ndis5_hinge": dict(architecture="resnet", resolution=128, n_dis=5, batch_size_d=64, batch_size_g=64,
                                  loss="hinge"),
}
TINY = dict(ngf=16, ndf=16, nz=16, batch_size_d=4, batch_size_g=4)
# Dense bf16 matrix-product rates measured with one large matmul on one H100 and one H200, TFLOP/s.
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


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_TFLOPS.items() if key in name), None)


# The paths compared; each is a TrainConfig override plus whether to read a loss on the host after every D step.
PATHS = {
    "reference": (dict(fast=False), False),  # eager fp32, double backprop in the D and G steps
    "typical": (dict(fast=False), True),  # the reference plus a host read of the loss per D step (common practice)
    "fast_eager": (dict(fast=True, cuda_graph=False), False),  # bf16, channels_last, cheap G step, fused Adam
    "fast": (dict(fast=True, cuda_graph=True), False),  # the default on CUDA: fast_eager replayed from a CUDA graph
}
# The ablation (``--ablation``): the fast path with one measure of granlib.training.fast_path switched off.
ABLATION_PATHS = {f"fast_without_{measure}": measure for measure in MEASURES}


def path_setup(path: str) -> tuple[dict, bool, FastPath | None]:
    """(TrainConfig overrides, host read per D step, fast-path measures) of a path or an ablation path."""
    if path in ABLATION_PATHS:
        return dict(fast=True, cuda_graph=True), False, FastPath().without(ABLATION_PATHS[path])
    overrides, host_read = PATHS[path]
    return overrides, host_read, None


def describe_path(path: str) -> dict:
    overrides, host_read, fast_path = path_setup(path)
    return {**overrides, "host_read_per_d_step": host_read,
            **({"fast_path": asdict(fast_path)} if fast_path is not None else {})}


def _read_loss_after_each_d_step(gan: Trainer) -> None:
    d_step = gan.d_step

    def synced(*args, **kwargs):
        stats = d_step(*args, **kwargs)
        stats["loss_d"].item()  # what a per-step ``print``/logger does: the host waits for the device
        return stats

    gan.d_step = synced


def measure(config: TrainConfig, device: torch.device, warmup: int, min_seconds: float, max_iterations: int,
            host_read: bool = False, fast_path: FastPath | None = None) -> dict:
    """Iterations/s (timed for at least ``min_seconds`` or ``max_iterations``), FLOPs per iteration, peak memory."""
    torch.manual_seed(0)
    gan = Trainer(config, device, fast_path=fast_path)
    with cudnn_autotuning(gan.fast_path.cudnn_benchmark, device):  # as in training: on the fast path only
        return _timed(gan, config, device, warmup, min_seconds, max_iterations, host_read)


def _timed(gan: Trainer, config: TrainConfig, device: torch.device, warmup: int, min_seconds: float,
           max_iterations: int, host_read: bool) -> dict:
    if host_read:
        _read_loss_after_each_d_step(gan)
    run_iteration = GraphedIteration(gan, enabled=config.cuda_graph)
    data = RandomImages(config.resolution, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with CountFlops() as counter:  # one eager iteration (a replayed graph runs the same kernels)
        gan.iteration(0, *gan.sample_inputs(data))
    step = 1
    for _ in range(warmup):  # includes the graph's own warm-up and its capture
        run_iteration(step, *gan.sample_inputs(data))
        step += 1
    synchronize(device)
    timed, seconds, chunk = 0, 0.0, 1
    while timed == 0 or (seconds < min_seconds and timed < max_iterations):
        chunk = min(chunk, max_iterations - timed)
        start = time.perf_counter()
        for _ in range(chunk):
            run_iteration(step, *gan.sample_inputs(data))
            step += 1
        synchronize(device)
        seconds += time.perf_counter() - start
        timed, chunk = timed + chunk, chunk * 2
    flops = counter.total
    peak = peak_tflops(device)
    achieved = flops * timed / seconds / 1e12
    return {"it_per_s": timed / seconds, "timed_iterations": timed, "seconds": seconds,
            "flops_per_iteration": flops, "tflops": achieved,
            "fraction_of_peak": achieved / peak if peak else None, "cuda_graph": run_iteration.active,
            "fast_path": asdict(gan.fast_path), "fused_adam": gan.fused_adam,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "graph_fallback_reason": run_iteration.fallback_reason,
            "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


SHORT_KERNEL_US = 10.0  # kernels shorter than this are dominated by launch/scheduling gaps, not by arithmetic


def kernel_summary(events, iterations: int) -> dict:
    """Per iteration: device kernels, their summed time, and how many (and how much time) are short.

    Compared with the replayed graph's time per iteration, the summed kernel time says whether the GPU is busy
    (sum ≈ iteration time: make kernels faster) or waits between kernels (many short ones: launch fewer).
    """
    durations = [event.time_range.elapsed_us() for event in events
                 if event.device_type == torch.autograd.DeviceType.CUDA]
    short = [us for us in durations if us < SHORT_KERNEL_US]
    return {"kernels_per_iteration": len(durations) / iterations,
            "kernel_ms_per_iteration": sum(durations) / 1000 / iterations,
            "short_kernels_per_iteration": len(short) / iterations,
            "short_kernel_ms_per_iteration": sum(short) / 1000 / iterations,
            "short_kernel_threshold_us": SHORT_KERNEL_US}


def profile_fast_path(config: TrainConfig, device: torch.device, iterations: int = 5, top: int = 15) -> dict:
    """The ops with the most self time (device time on CUDA) per iteration of the eager fast path, and
    :func:`kernel_summary`.

    A replayed CUDA graph runs the same kernels but shows as one launch, so the eager path is what is profiled.
    """
    from torch.profiler import ProfilerActivity, profile  # heavy; only --profile needs it

    torch.manual_seed(0)
    gan = Trainer(config.replace(fast=True, cuda_graph=False), device)
    data = RandomImages(config.resolution, device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with cudnn_autotuning(True, device):
        for step in range(3):
            gan.iteration(step, *gan.sample_inputs(data))
        synchronize(device)
        with profile(activities=activities) as prof:
            for step in range(3, 3 + iterations):
                gan.iteration(step, *gan.sample_inputs(data))
            synchronize(device)
    field = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda event: getattr(event, field), reverse=True)[:top]
    top_ops = [{"op": event.key, "self_ms_per_iteration": getattr(event, field) / 1000 / iterations,
                "calls_per_iteration": event.count / iterations} for event in events]
    return {"top_ops": top_ops, "kernels": kernel_summary(prof.events(), iterations)}


def run(names: list[str], device: torch.device, warmup: int, min_seconds: float, max_iterations: int,
        normalizer: str = "gran", tiny: bool = False, paths: list[str] | None = None) -> dict:
    results = {}
    for name in names:
        base = {**CONFIGS[name], **(TINY if tiny else {})}
        row = {}
        for path in paths or list(PATHS):
            overrides, host_read, fast_path = path_setup(path)
            config = TrainConfig(dataset="synthetic", normalizer=normalizer, device=str(device), ema_decay=0.999,
                                 **base, **overrides)
            row[path] = measure(config, device, warmup, min_seconds, max_iterations, host_read, fast_path)
        if "fast" in row:  # what each measure is worth: the fast path's rate over its rate without that measure
            gains = {measure: row["fast"]["it_per_s"] / row[path]["it_per_s"]
                     for path, measure in ABLATION_PATHS.items() if path in row}
            if gains:
                row["measure_gain"] = gains
        if "reference" in row and "fast" in row:
            row["speedup"] = row["fast"]["it_per_s"] / row["reference"]["it_per_s"]
        if "typical" in row and "fast" in row:
            row["speedup_vs_typical"] = row["fast"]["it_per_s"] / row["typical"]["it_per_s"]
        results[name] = row
        rates = "   ".join(f"{path} {row[path]['it_per_s']:8.2f}" for path in paths or list(PATHS))
        fast = row.get("fast")
        print(f"{name:22s} it/s: {rates}" + (f"   ×{row['speedup']:.2f} vs reference" if "speedup" in row else "")
              + (f"   {fast['tflops']:.2f} TFLOP/s" if fast else "")
              + (f" ({100 * fast['fraction_of_peak']:.1f}% of peak)" if fast and fast["fraction_of_peak"] else ""),
              flush=True)
    return results


TABLE_HEADER = ("| config (G batch) | reference it/s | typical | fast, eager | fast (CUDA graph) | fast / reference "
                "| fast TFLOP/s (share of bf16 peak) |\n|---|---|---|---|---|---|---|")


def config_label(config: dict) -> str:
    """'CNN32, n_dis=1, NS (128)': architecture, resolution, D steps, loss and G batch of a bench configuration."""
    architecture = {"cnn": "CNN", "resnet": "ResNet"}[config["architecture"]]
    loss = {"ns": "NS", "hinge": "hinge", "wasserstein": "Wasserstein"}[config["loss"]]
    return f"{architecture}{config['resolution']}, n_dis={config['n_dis']}, {loss} ({config['batch_size_g']})"


def format_rate(it_per_s: float) -> str:
    """Iterations/s as the tables print them: one decimal from 20 it/s on, two below."""
    return f"{it_per_s:.1f}" if it_per_s >= 20 else f"{it_per_s:.2f}"


def markdown_rows(report: dict, label: str = "") -> list[str]:
    """One README table row per configuration of a bench report; "–" for paths it did not time."""
    def rate(row: dict | None) -> str:
        if row is None:
            return "–"
        few = row["timed_iterations"] < 5  # a rate from so few iterations is rough: say how many
        return format_rate(row["it_per_s"]) + (f" ({row['timed_iterations']} it)" if few else "")

    rows = []
    for name, row in report["results"].items():
        fast = row.get("fast")
        share = f" ({100 * fast['fraction_of_peak']:.1f}%)" if fast and fast.get("fraction_of_peak") else ""
        cells = [config_label(report["configs"][name]) + (f" — {label}" if label else ""),
                 *(rate(row.get(path)) for path in ("reference", "typical", "fast_eager", "fast")),
                 f"{row['speedup']:.2f}×" if "speedup" in row else "–",
                 f"{fast['tflops']:.1f}{share}" if fast else "–"]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


ABLATION_HEADER = ("| config (G batch) | measure switched off | fast it/s without it | gain (fast / without) |\n"
                   "|---|---|---|---|")


def ablation_rows(report: dict, label: str = "") -> list[str]:
    """One row per measure of each configuration that ``--ablation`` timed (none for other reports)."""
    rows = []
    for name, row in report["results"].items():
        for measure, gain in row.get("measure_gain", {}).items():
            without = format_rate(row[f"fast_without_{measure}"]["it_per_s"])
            rows.append(f"| {config_label(report['configs'][name])}{f' — {label}' if label else ''} | {measure} | "
                        f"{without} | {gain:.2f}× |")
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--normalizer", default="gran")
    parser.add_argument("--paths", nargs="*", default=list(PATHS), choices=[*PATHS, *ABLATION_PATHS])
    parser.add_argument("--ablation", action="store_true",
                        help="also the fast path with each measure of granlib.training.fast_path switched off in turn")
    parser.add_argument("--min-seconds", type=float, default=None, help="time each path this long (default 2 GPU)")
    parser.add_argument("--iterations", type=int, default=None, help="at most this many timed iterations")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations (graph warm-up and capture)")
    parser.add_argument("--profile", action="store_true", help="also list the costliest ops of the fast path")
    parser.add_argument("--tiny", action="store_true", help="tiny widths: check that the script works (any device)")
    parser.add_argument("--settings", nargs="*", default=list(cpu_bench.SETTINGS), choices=list(cpu_bench.SETTINGS),
                        help="CPU: the settings to time")
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2], help="CPU: torch thread counts")
    parser.add_argument("--rounds", type=int, default=None, help="CPU: timed rounds per setting (default per setting)")
    parser.add_argument("--peer", default=str(PEER_DIR), help="CPU: the fetched GN-GAN code ('' to leave it out)")
    parser.add_argument("--out", default=None, help="JSON path (default results/bench/<date>_<device>.json)")
    parser.add_argument("--table", nargs="+", metavar="JSON[=LABEL]",
                        help="measure nothing: print bench JSON files as README table rows, e.g. x.json='run 3'")
    args = parser.parse_args(argv)
    if args.table:
        reports = [(json.loads(Path(path).read_text()), label) for path, _, label in
                   (item.partition("=") for item in args.table)]
        cpu_reports = [report for report, _ in reports if report.get("device") == "cpu"]  # granlib.bench.cpu's layout
        reports = [(report, label) for report, label in reports if report.get("device") != "cpu"]
        if cpu_reports:
            print("\n".join([cpu_bench.TABLE_HEADER, *(row for report in cpu_reports
                                                      for row in cpu_bench.markdown_rows(report))]))
        if reports:
            print("\n".join([TABLE_HEADER, *(row for report, label in reports
                                              for row in markdown_rows(report, label))]))
        ablations = [row for report, label in reports for row in ablation_rows(report, label)]
        if ablations:
            print("\n" + "\n".join([ABLATION_HEADER, *ablations]))
        return {}
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if device.type == "cpu" and not args.tiny:
        return save(cpu_report(args), args.out, "cpu")
    tiny = args.tiny
    iterations = args.iterations or (10_000 if not tiny else 2)
    min_seconds = args.min_seconds if args.min_seconds is not None else (2.0 if not tiny else 0.0)
    warmup = args.warmup if args.warmup is not None else (6 if not tiny else 1)
    name = device_name(device)
    paths = [*args.paths, *(p for p in ABLATION_PATHS if args.ablation and p not in args.paths)]
    results = run(args.configs, device, warmup, min_seconds, iterations, args.normalizer, tiny, paths)
    report = {"device": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "git_commit": git_commit(), "normalizer": args.normalizer,
              "tiny_widths": tiny,
              "paths": {path: describe_path(path) for path in paths},
              "max_iterations": iterations, "min_seconds": min_seconds, "warmup": warmup,
              "cudnn_benchmark": "on the fast paths only, as granlib.training.loop" if device.type == "cuda" else None,
              "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
              "data": "random tensors on the device", "peak_tflops_reference": peak_tflops(device),
              "configs": {k: {**CONFIGS[k], **(TINY if tiny else {})} for k in args.configs}, "results": results}
    if args.profile:
        report["profile"] = {}
        for config_name in args.configs:
            config = TrainConfig(dataset="synthetic", normalizer=args.normalizer, device=str(device),
                                 **{**CONFIGS[config_name], **(TINY if tiny else {})})
            report["profile"][config_name] = found = profile_fast_path(config, device)
            kernels = found["kernels"]
            print(f"{config_name}: costliest ops of the fast path (ms per iteration); "
                  f"{kernels['kernels_per_iteration']:.0f} kernels, {kernels['kernel_ms_per_iteration']:.2f} ms, of "
                  f"which {kernels['short_kernels_per_iteration']:.0f} under {SHORT_KERNEL_US:g} µs "
                  f"({kernels['short_kernel_ms_per_iteration']:.2f} ms)")
            for row in found["top_ops"][:8]:
                print(f"  {row['self_ms_per_iteration']:8.3f}  ×{row['calls_per_iteration']:<5g} {row['op'][:90]}")
    return save(report, args.out, name)


def cpu_report(args: argparse.Namespace) -> dict:
    """The CPU measurement (:func:`granlib.bench.cpu.run`) with the date, versions and commit of every report."""
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    found = cpu_bench.run(args.settings, args.threads, args.rounds, warmup=1 if args.warmup is None else args.warmup,
                          peer_root=Path(args.peer) if args.peer else None)
    return {"date": date, "torch": torch.__version__, "git_commit": git_commit(), **found}


def save(report: dict, out: str | None, name: str) -> dict:
    """``report`` as JSON at ``out`` (default ``results/bench/<date>_<name>.json``); returns it."""
    print(f"wrote {write_report(report, report_path(out, report['date'], name))}")
    return report


if __name__ == "__main__":
    main()
