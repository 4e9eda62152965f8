"""2-D Gaussian mixtures, exact sample-quality metrics, and the 2-D GAN trained on them with any normaliser.

Two mixtures with known modes:

* ``8gaussians``: 8 modes on a ring of radius 2, σ = 0.02 (as :func:`granlib.study.instruments.toy.eight_gaussians`);
* ``25gaussians``: 25 modes on the grid {−2, −1, 0, 1, 2}², σ = 0.025 (the classic grid of spacing 2 and σ = 0.05,
  scaled by 1/2.828, rescaled to spacing 1).

Metrics of generated points against the known mixture:

* high-quality share: points within 3σ of their nearest mode;
* modes covered: modes holding at least ``min_share``·n high-quality points (VEEGAN's 20 of 2,500 = 0.8 %);
* energy distance to fresh samples of the mixture, 2·E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ (U-statistics within each set;
  0 iff the distributions agree).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from granlib.study.instruments.gan2d import train_2d_gan
from granlib.study.instruments.seeds import StudySeeds
from granlib.study.instruments.toy import eight_gaussians
from granlib.training.trainer import Trainer

DATASET_LABEL = {"8gaussians": "8 Gaussians (2-D)", "25gaussians": "25 Gaussians (2-D)"}
STD = {"8gaussians": 0.02, "25gaussians": 0.025}
BOX = {"8gaussians": 3.0, "25gaussians": 3.0}  # off-data points are uniform on [−BOX, BOX]²


def mixture_centres(name: str) -> Tensor:
    """The modes of a mixture, [modes, 2]."""
    if name == "8gaussians":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    if name == "25gaussians":
        axis = torch.arange(-2, 3, dtype=torch.float32)
        return torch.cartesian_prod(axis, axis)
    raise ValueError(f"unknown mixture {name!r}; choose one of {sorted(DATASET_LABEL)}")


def sample_mixture(name: str, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n points of an equal-weight mixture, [n, 2]."""
    if name == "8gaussians":
        return eight_gaussians(n, std=STD[name], generator=generator)
    centres = mixture_centres(name)
    k = torch.randint(len(centres), (n,), generator=generator)
    return centres[k] + STD[name] * torch.randn(n, 2, generator=generator)


class MixtureSampler:
    """``sample(n)`` from a mixture with its own generator (what :meth:`Trainer.sample_inputs` calls)."""

    def __init__(self, name: str, seed: int):
        self.name, self.generator = name, torch.Generator().manual_seed(seed)

    def sample(self, n: int) -> Tensor:
        return sample_mixture(self.name, n, self.generator)


def energy_distance(x: Tensor, y: Tensor) -> float:
    """2·E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ on samples (within-set means over distinct pairs)."""
    x, y = x.double(), y.double()
    cross = torch.cdist(x, y).mean()
    within_x = torch.cdist(x, x).sum() / (len(x) * (len(x) - 1))  # the zero diagonal is left out of the count
    within_y = torch.cdist(y, y).sum() / (len(y) * (len(y) - 1))
    return float(2 * cross - within_x - within_y)


def mixture_metrics(points: Tensor, name: str, reference: Tensor, min_share: float = 0.008) -> dict[str, float]:
    """modes_covered, high_quality (share within 3σ of a mode) and energy_distance to ``reference`` samples."""
    centres, std = mixture_centres(name).to(points), STD[name]
    distance, nearest = torch.cdist(points, centres).min(dim=1)
    good = distance <= 3 * std  # high quality: within 3σ of its nearest mode
    counts = torch.bincount(nearest[good], minlength=len(centres))
    finite = bool(torch.isfinite(points).all())
    return {"modes_covered": int((counts >= min_share * len(points)).sum()) if finite else 0,
            "modes_total": len(centres), "high_quality": float(good.float().mean()) if finite else 0.0,
            "energy_distance": energy_distance(points, reference) if finite else float("nan")}


@dataclass
class MixtureRun:
    """A trained 2-D GAN and its per-step trace."""

    trainer: Trainer
    grad_norm_g: Tensor  # ‖∇_θ L_G‖ per generator step
    grad_norm_d: Tensor  # ‖∇_θ L_D‖ of the last D step of each iteration
    max_abs_d: Tensor  # max |D(x)| over each D step's batch (the sigmoid saturates when large)
    seconds: float


def parameter_grad_norm(module: nn.Module) -> float:
    """‖∇_θ‖₂ over all parameters that hold a gradient."""
    grads = [p.grad.flatten() for p in module.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def train_mixture_gan(name: str, normalizer: str, loss: str = "ns", K: float | None = None,  # noqa: N803
                      eps: float | None = None, steps: int = 1500, seed: int = 0, lr: float = 2e-4, width: int = 64,
                      depth: int = 3, batch_size: int = 128) -> MixtureRun:
    """Train the 2-D GAN (:func:`granlib.study.instruments.gan2d.train_2d_gan`, at lr 2e-4) on a mixture, recording
    the gradient norms of every step. (The toy's lr 1e-3 oscillated on the ring in 2,000-step probes; 2e-4
    settled.)"""
    grad_g, grad_d, max_abs_d = [], [], []

    def record(step: int, gan: Trainer, stats: dict | None) -> None:
        if stats is not None:
            grad_g.append(parameter_grad_norm(gan.G))
            grad_d.append(parameter_grad_norm(gan.D))  # still the last D step's gradient: the G step leaves it
            max_abs_d.append(float(stats["max_abs_d"]))

    start = time.perf_counter()
    gan = train_2d_gan(normalizer, MixtureSampler(name, StudySeeds(seed).data), steps, loss, K, seed=seed, lr=lr,
                       width=width, depth=depth, batch_size=batch_size, record=record, eps=eps)
    return MixtureRun(gan, torch.tensor(grad_g), torch.tensor(grad_d), torch.tensor(max_abs_d),
                      time.perf_counter() - start)


def train_toy_gan(normalizer: str, loss: str = "ns", K: float | None = None, steps: int = 600,  # noqa: N803
                  snapshot_every: int = 200, n_points: int = 512, seed: int = 0, **config_overrides) -> dict:
    """The 2-D GAN (:func:`granlib.study.instruments.gan2d.train_2d_gan`, at lr 1e-3) on the ring of 8 Gaussians
    with ``normalizer``; returns {step: G's points of ``n_points`` fixed codes [n_points, 2]} every
    ``snapshot_every`` steps."""
    fixed_z = torch.randn(n_points, 2, generator=torch.Generator().manual_seed(StudySeeds(seed).fixed_codes))
    snapshots = {}

    def record(step: int, gan: Trainer, stats: dict | None) -> None:
        if step % snapshot_every == 0:
            with torch.no_grad():
                snapshots[step] = gan.G(fixed_z)

    train_2d_gan(normalizer, MixtureSampler("8gaussians", StudySeeds(seed).data), steps, loss, K, seed=seed,
                 record=record, **config_overrides)
    return snapshots
