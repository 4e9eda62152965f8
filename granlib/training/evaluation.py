"""Evaluation during and after training: EMA-G against the run's own training images.

:class:`PeriodicEvaluator` is what ``eval_every`` calls. It reuses the dataset the run has already loaded, builds
its feature extractor before training starts (missing weights fail at once, not at the first evaluation), and runs
with its own RNG state, so evaluating never moves the run's random streams: a run is the same with or without it.
Under torchrun every rank generates its share of the images and the statistics are gathered.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import granlib.training.distributed as distributed
from granlib.data import dataset_identity, load_dataset
from granlib.evaluation.features import build_feature_extractor
from granlib.evaluation.metrics import scores
from granlib.evaluation.reference import ReferenceStatistics, reference_statistics
from granlib.evaluation.statistics import extract, generated_batches, latent_dim
from granlib.training.config import TrainConfig
from granlib.training.devices import resolve_device
from granlib.training.run_dir import latest_step, load_generator, saved_config
from granlib.training.seeds import evaluation_noise


def own_rng(device: torch.device):
    """A context in which torch's global RNG (and the device's) may be drawn from without changing it after."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def evaluate_generator(generator: nn.Module, reference: ReferenceStatistics, n_samples: int, extractor: nn.Module,
                       device: torch.device, seed: int = 0, batch_size: int = 250) -> dict:
    """FD, IS and KID of ``n_samples`` images of ``generator``; under torchrun each rank makes its share."""
    ctx = distributed.context()
    n_local = n_samples // ctx.world_size + (1 if ctx.rank < n_samples % ctx.world_size else 0)
    batches = generated_batches(generator, n_local, batch_size, latent_dim(generator), device,
                                evaluation_noise(seed, ctx.rank))
    stats = distributed.all_gather_statistics(extract(extractor, batches, device))
    return scores(stats, reference, extractor, device=device)


class PeriodicEvaluator:
    """``evaluator(ema_G, step) -> metrics``: EMA-G against ``n_real`` images of ``dataset`` (the run's own)."""

    def __init__(self, config: TrainConfig, dataset, device: torch.device, n_real: int | None = None,
                 extractor: nn.Module | None = None):
        self.config, self.dataset, self.device = config, dataset, device
        self.n_real = n_real or config.eval_samples
        with own_rng(device):  # building a network initialises weights from the global RNG before loading
            self.extractor = (extractor or build_feature_extractor(config.eval_feature_extractor)).to(device)
        self._reference: ReferenceStatistics | None = None

    @property
    def reference(self) -> ReferenceStatistics:
        """The training set's statistics, computed (or read from the cache) at first use."""
        if self._reference is None:
            identity = dataset_identity(self.config.dataset)
            description = {"dataset": identity.key, "split": "train", "resolution": self.config.resolution}
            self._reference = reference_statistics(self.dataset, description, self.extractor, n=self.n_real,
                                                   device=self.device)
        return self._reference

    def __call__(self, ema_G: nn.Module, step: int, n_samples: int | None = None,  # noqa: N803
                 sample_seed: int = 0) -> dict:
        """Metrics of ``n_samples`` images drawn from the noise stream ``sample_seed`` (another seed: a disjoint
        sample set of the same generator)."""
        with own_rng(self.device):
            return evaluate_generator(ema_G, self.reference, n_samples or self.config.eval_samples, self.extractor,
                                      self.device, seed=sample_seed)


_EXTRACTORS: dict[tuple[str, str], nn.Module] = {}  # per process: evaluating many runs builds each network once


def shared_extractor(name: str, device: torch.device) -> nn.Module:
    """The feature extractor ``name`` on ``device``, built once per process (it is frozen, so runs may share it)."""
    key = (name, str(device))
    if key not in _EXTRACTORS:
        with own_rng(device):
            _EXTRACTORS[key] = build_feature_extractor(name).to(device)
    return _EXTRACTORS[key]


def evaluate_run(run_dir: str | Path, n_samples: int, n_real: int | None = None,
                 feature_extractor: str | None = None, device: str | torch.device | None = None,
                 reference_dataset: str | None = None, generator: str = "ema_G", sample_seed: int = 0) -> dict:
    """FD, IS and KID of a run directory's EMA generator (latest checkpoint; ``generator="G"``: the raw one) against
    its training images, or against ``reference_dataset`` (a dataset name, e.g. an image folder of the test split)
    at the run's resolution; the images come from the noise stream ``sample_seed``."""
    config = saved_config(run_dir)
    device = resolve_device(device or config.device)
    if feature_extractor:
        config = config.replace(eval_feature_extractor=feature_extractor)
    if reference_dataset:
        config = config.replace(dataset=reference_dataset)
    dataset = load_dataset(config.dataset, config.data_root, config.resolution)
    evaluator = PeriodicEvaluator(config, dataset, device, n_real=n_real or n_samples,
                                  extractor=shared_extractor(config.eval_feature_extractor, device))
    return evaluator(load_generator(run_dir, device, generator), latest_step(run_dir), n_samples=n_samples,
                     sample_seed=sample_seed)
