"""The one trainer of a GAN on 2-D points: ReLU-MLP generator and discriminator, any normaliser and loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from granlib.study.instruments.seeds import StudySeeds
from granlib.study.instruments.toy import relu_mlp
from granlib.training.config import TrainConfig
from granlib.training.devices import resolve_device
from granlib.training.trainer import Trainer


class PointSampler(Protocol):
    def sample(self, n: int) -> Tensor:
        """n training points, [n, 2]."""


Record = Callable[[int, Trainer, dict[str, Tensor] | None], None]  # (iterations done, trainer, their last stats)


def train_2d_gan(normalizer: str, sampler: PointSampler, steps: int, loss: str = "ns", K: float | None = None,  # noqa: N803
                 seed: int = 0, lr: float = 1e-3, width: int = 64, depth: int = 3, batch_size: int = 128,
                 record: Record | None = None, **config_overrides) -> Trainer:
    """Train G (2-D latent) and D, ReLU MLPs of ``depth`` hidden layers of ``width``, on ``sampler``'s points for
    ``steps`` iterations: Adam (``lr``, β = (0.5, 0.9)), no lr decay, one D step per G step, batches of
    ``batch_size``, on the CPU (2-D nets are fastest there); ``config_overrides`` go to the config (e.g. ε).

    ``record(step, trainer, stats)`` sees the nets before the first iteration (step 0, stats None) and after each
    (step = iterations done, stats of that iteration); returns the trained :class:`Trainer`.
    """
    seeds = StudySeeds(seed)
    config = TrainConfig(normalizer=normalizer, loss=loss, K=K, nz=2, batch_size_d=batch_size, batch_size_g=batch_size,
                         lr_d=lr, lr_g=lr, betas_d=(0.5, 0.9), betas_g=(0.5, 0.9), lr_decay="none", iterations=steps,
                         seed=seed, device="cpu", **config_overrides)
    generator = relu_mlp(d_in=2, width=width, depth=depth, d_out=2, seed=seeds.generator_weights)
    generator.nz = 2  # the latent size Trainer.sample_inputs reads from G
    # one explicit stream: D's initial weights, then everything the training draws (latent codes, Trainer's set-up)
    torch.manual_seed(seeds.discriminator_weights)
    d_net = relu_mlp(2, width=width, depth=depth, seed=None)
    gan = Trainer(config, resolve_device(config.device), models=(generator, d_net))
    record = record or (lambda step, trainer, stats: None)
    record(0, gan, None)
    for step in range(steps):
        stats = gan.iteration(step, *gan.sample_inputs(sampler))
        record(step + 1, gan, stats)
    return gan
