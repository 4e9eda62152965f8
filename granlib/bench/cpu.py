"""CPU training speed worth quoting (``python -m granlib.bench --device cpu``).

At the widths the CPU study trains (G/D base widths 64/8 and 64/16, batch 32 for D and G) and at the published
CNN32 widths (512/64, GN-GAN's batches D 64 / G 128), all with n_dis 1, the NS loss, GraN and the reference-code CNN,
it times one generator iteration (D step + G step + EMA) of each path:

* ``reference``: eager fp32, double backprop in both steps (``fast=False``);
* ``fp32_fast``: channels_last and the cheap G step (``fast=True, precision="fp32"``), the CPU fast path before bf16;
* ``bf16_fast``: the same under bf16 autocast (``precision="bf16"``; ‖∇f‖ and g's division in float32);
* at the study widths, both fast paths without channels_last (``*_nchw``), to tell whether that layout pays here;
* at the published widths, the GN-GAN code's own step (:mod:`granlib.bench.peer`) on the same random images.

A setting's paths are built once and timed in interleaved rounds: each round runs one iteration of every path at
every thread count, back to back, so that load from other processes falls on all of them alike. A ratio is the
median over rounds of the per-round ratio of two paths' times (speed of A over speed of B); those, measured side by
side in one process, are the figures to quote, more than absolute times on a shared machine.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from granlib.bench.peer import PEER_SOURCE, GNGANStep, PeerCodeMissingError, peer_commit
from granlib.bench.random_images import RandomImages
from granlib.training.config import TrainConfig
from granlib.training.fast_path import FastPath, cpu_bf16_missing
from granlib.training.provenance import cpu_model
from granlib.training.trainer import Trainer

COMMON = dict(dataset="synthetic", architecture="cnn", resolution=32, cnn_variant="reference_code", n_dis=1,
              loss="ns", normalizer="gran", nz=128, device="cpu")
SETTINGS = {
    "study_64_8": dict(ngf=64, ndf=8, batch_size_d=32, batch_size_g=32),  # the CPU study's widths
    "study_64_16": dict(ngf=64, ndf=16, batch_size_d=32, batch_size_g=32),
    "published_cnn32": dict(ngf=512, ndf=64, batch_size_d=64, batch_size_g=128),  # GN-GAN's CNN32 and batches
}
PUBLISHED = "published_cnn32"  # the one setting the GN-GAN code's fixed-width nets can be timed at
ROUNDS = {"study_64_8": 15, "study_64_16": 15, PUBLISHED: 3}  # timed rounds per setting (published: ~1 min each)
# path -> (TrainConfig overrides, fast-path measures)
PATHS: dict[str, tuple[dict, FastPath | None]] = {
    "reference": (dict(fast=False), None),
    "fp32_fast": (dict(fast=True, precision="fp32"), FastPath()),
    "bf16_fast": (dict(fast=True, precision="bf16"), FastPath()),
    "fp32_fast_nchw": (dict(fast=True, precision="fp32"), FastPath().without("channels_last")),
    "bf16_fast_nchw": (dict(fast=True, precision="bf16"), FastPath().without("channels_last")),
}
PEER_PATH = "gngan_code"
# speed ratios reported per thread count: name -> (A, B), A's iterations/s over B's
RATIOS = {"bf16_fast_over_fp32_fast": ("bf16_fast", "fp32_fast"),
          "bf16_fast_over_reference": ("bf16_fast", "reference"),
          "fp32_fast_over_reference": ("fp32_fast", "reference"),
          "bf16_fast_over_gngan_code": ("bf16_fast", PEER_PATH),
          "fp32_fast_over_gngan_code": ("fp32_fast", PEER_PATH),
          "channels_last_gain_fp32": ("fp32_fast", "fp32_fast_nchw"),
          "channels_last_gain_bf16": ("bf16_fast", "bf16_fast_nchw")}


def cpu_bf16_flags() -> list[str]:
    """The bf16 instruction flags of /proc/cpuinfo (avx512_bf16, amx_bf16, amx_tile) this CPU has."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted({"avx512_bf16", "amx_bf16", "amx_tile"} & set(flags))


def paths_for(setting: str) -> list[str]:
    """The granlib paths timed at ``setting``: the channels_last ablation at the study's widths only."""
    return [path for path in PATHS if setting != PUBLISHED or not path.endswith("_nchw")]


def build(setting: str, peer_root: Path | None) -> tuple[dict[str, Callable[[], None]], dict, dict]:
    """(path -> one iteration, path -> what it runs, peer record) for ``setting``, every net seeded alike."""
    data = RandomImages(32, torch.device("cpu"))
    steps, described = {}, {}
    for path in paths_for(setting):
        overrides, fast_path = PATHS[path]
        torch.manual_seed(0)
        gan = Trainer(TrainConfig(**COMMON, **SETTINGS[setting], **overrides), torch.device("cpu"),
                      fast_path=fast_path)
        counter = iter(range(10**9))
        steps[path] = lambda gan=gan, counter=counter: gan.iteration(next(counter), *gan.sample_inputs(data))
        described[path] = {**overrides, "precision": gan.config.precision, "bf16_autocast": gan.bf16,
                           "channels_last": gan.fast_path.channels_last,
                           "cheap_generator_step": gan.fast_path.cheap_generator_step}
    peer = {}
    if setting == PUBLISHED and peer_root is not None:
        batches = SETTINGS[setting]["batch_size_d"], SETTINGS[setting]["batch_size_g"]
        try:
            torch.manual_seed(0)
            step = GNGANStep(peer_root, *batches)
        except PeerCodeMissingError as missing:
            peer = {"source": PEER_SOURCE, "missing": str(missing)}
        else:
            steps[PEER_PATH] = lambda: step.iteration(data.sample(batches[0]))
            described[PEER_PATH] = {"code": PEER_SOURCE, "precision": "fp32", "double_backprop_g_step": True}
            peer = {"source": PEER_SOURCE, "commit": peer_commit(peer_root), "path": str(peer_root),
                    "config": "GN-GAN_CIFAR10_CNN.txt (dcgan.32, bce, n_dis 1)"}
    return steps, described, peer


def time_setting(setting: str, threads: list[int], rounds: int, warmup: int, peer_root: Path | None) -> dict:
    """Interleaved rounds of every path of ``setting`` at every thread count: times, medians and ratios."""
    steps, described, peer = build(setting, peer_root)
    seconds = {t: {path: [] for path in steps} for t in threads}
    saved_threads = torch.get_num_threads()
    try:
        for round_ in range(warmup + rounds):
            for t in threads:
                torch.set_num_threads(t)
                for path, step in steps.items():
                    start = time.perf_counter()
                    step()
                    if round_ >= warmup:
                        seconds[t][path].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(saved_threads)
    by_threads = {}
    for t in threads:
        times = seconds[t]
        rows = {path: {"ms_per_iteration": 1000 * statistics.median(values), "it_per_s": 1 / statistics.median(values),
                       "ms_each_round": [round(1000 * v, 2) for v in values]} for path, values in times.items()}
        ratios = {name: statistics.median(b / a for a, b in zip(times[fast], times[slow]))
                  for name, (fast, slow) in RATIOS.items() if fast in times and slow in times}
        by_threads[str(t)] = {"paths": rows, "ratios": ratios}
    return {"config": {**COMMON, **SETTINGS[setting]}, "paths": described, "peer": peer, "rounds": rounds,
            "warmup_rounds": warmup, "threads": by_threads}


def run(settings: list[str], threads: list[int], rounds: int | None, warmup: int, peer_root: Path | None) -> dict:
    """The CPU report: every setting timed (:func:`time_setting`), with the machine it ran on."""
    load_before = os.getloadavg()
    results = {}
    for setting in settings:
        results[setting] = time_setting(setting, threads, rounds or ROUNDS[setting], warmup, peer_root)
        for t, row in results[setting]["threads"].items():
            rates = "  ".join(f"{path} {value['ms_per_iteration']:.0f} ms" for path, value in row["paths"].items())
            ratios = "  ".join(f"{name} {value:.2f}x" for name, value in row["ratios"].items())
            print(f"{setting} ({t} thread{'s' if t != '1' else ''}): {rates}\n    {ratios}", flush=True)
    return {"device": "cpu", "cpu_model": cpu_model(), "cpu_bf16_flags": cpu_bf16_flags(),
            "cpu_bf16_missing": cpu_bf16_missing(), "logical_cpus": os.cpu_count(), "threads": threads,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "data": "random tensors in memory", "ratio": "median over rounds of (time of B) / (time of A)",
            "results": results}


TABLE_HEADER = ("| setting: G/D widths, batch D/G | threads | reference ms/it | fp32 fast | bf16 fast | GN-GAN code "
                "| bf16 fast / fp32 fast | bf16 fast / GN-GAN code | channels_last gain fp32 / bf16 |\n"
                "|---|---|---|---|---|---|---|---|---|")


def markdown_rows(report: dict) -> list[str]:
    """One README row per setting and thread count of a CPU report; "–" where a path was not timed."""
    rows = []
    for result in report["results"].values():
        config = result["config"]
        label = f"{config['ngf']}/{config['ndf']}, {config['batch_size_d']}/{config['batch_size_g']}"
        for t, row in result["threads"].items():
            paths, ratios = row["paths"], row["ratios"]
            ms = [f"{paths[p]['ms_per_iteration']:.0f}" if p in paths else "–"
                  for p in ("reference", "fp32_fast", "bf16_fast", PEER_PATH)]
            ratio = [f"{ratios[r]:.2f}×" if r in ratios else "–"
                     for r in ("bf16_fast_over_fp32_fast", "bf16_fast_over_gngan_code")]
            gains = [f"{ratios[r]:.2f}×" for r in ("channels_last_gain_fp32", "channels_last_gain_bf16") if r in ratios]
            rows.append("| " + " | ".join([label, t, *ms, *ratio, " / ".join(gains) or "–"]) + " |")
    return rows
