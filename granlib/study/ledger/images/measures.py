"""What a study row adds to a run's result row: training time, the raw G's FD, the FD estimate's own noise, the
spread of the samples against real images, and the trained D measured in float64 (P1–P3, C3)."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from granlib.data import real_images
from granlib.jsonl import read_jsonl
from granlib.normalizers import get_normalizer
from granlib.study.instruments.measurements import measure_discriminator
from granlib.study.instruments.seeds import StudySeeds
from granlib.training.evaluation import evaluate_run
from granlib.training.probes import sample_diversity
from granlib.training.run_dir import load_discriminator, load_ema_generator, saved_config

NOISE_SAMPLE_SEED = 1  # the second, disjoint noise stream of the FD-noise evaluation
COLLAPSE_RATIO = 0.25  # a generator whose samples vary less than this share of the real images' variation collapsed


def collapsed(diversity_generated, diversity_real):
    """Whether a generator collapsed: its samples vary less than :data:`COLLAPSE_RATIO` × as much as real images do
    (numbers or, element-wise, Series)."""
    return diversity_generated < COLLAPSE_RATIO * diversity_real


def ema_initial_share(iterations: int, decay: float) -> float:
    """The weight EMA-G still gives the initial G after ``iterations`` updates: decayⁿ."""
    return decay**iterations


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


def grid_pixel_std(path: str | Path, resolution: int, padding: int = 2) -> float:
    """:func:`pixel_std` of the images of a sample grid PNG as the training loop saves them (8 columns, ``padding``
    pixels between tiles, values mapped from [−1, 1] to [0, 255])."""
    grid = torch.from_numpy(plt.imread(str(path))[..., :3].copy()).permute(2, 0, 1) * 2 - 1  # [0, 1] → [−1, 1]
    step = resolution + padding
    tiles = [grid[:, top:top + resolution, left:left + resolution]
             for top in range(padding, grid.shape[1] - resolution + 1, step)
             for left in range(padding, grid.shape[2] - resolution + 1, step)]
    return pixel_std(torch.stack(tiles))


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
    real = real_images(params.get("eval_dataset_override") or config.dataset, max(n, settings.get("n_points", 0)),
                       seed=seeds.real_images, root=config.data_root, resolution=config.resolution)
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
