"""Streaming statistics of image features: what every metric and every reference is computed from.

Images enter as uint8 (generator output is quantised as when saving PNGs); features and logits come from an
extractor of :mod:`granlib.evaluation.features`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

KID_FEATURES_KEPT = 10_000  # features per side kept for KID (a documented subset when N is larger)


def quantize(images: Tensor) -> Tensor:
    """Generator output in [-1, 1] → uint8, rounding as when saving PNGs (Mimicry, StudioGAN do the same)."""
    return ((images.float() + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8)


class FeatureStatistics:
    """Streaming float64 mean and covariance of features, plus logits (for IS) and a KID subset.

    The sums Σf and Σffᵀ accumulate in float64 on the features' device (no copy to the host per batch);
    :attr:`mu` and :attr:`sigma` are numpy arrays.
    """

    def __init__(self, keep_logits: bool = True, kid_features: int = KID_FEATURES_KEPT):
        self.n, self.total, self.outer = 0, None, None
        self.logits: list[Tensor] = []
        self.kid: list[Tensor] = []
        self.keep_logits, self.kid_features = keep_logits, kid_features

    def update(self, features: Tensor, logits: Tensor | None = None) -> None:
        f = features.detach().to(torch.float64)
        self.total = f.sum(0) if self.total is None else self.total + f.sum(0)  # Σ f
        self.outer = f.T @ f if self.outer is None else self.outer + f.T @ f  # Σ f fᵀ
        self.n += len(f)
        if self.keep_logits and logits is not None:
            self.logits.append(logits.detach().float().cpu())
        kept = sum(len(k) for k in self.kid)
        if kept < self.kid_features:
            self.kid.append(features[: self.kid_features - kept].detach().float().cpu())

    def cpu(self) -> FeatureStatistics:
        """These statistics with the sums moved to the CPU (before pickling them to another process)."""
        if self.total is not None:
            self.total, self.outer = self.total.cpu(), self.outer.cpu()
        return self

    @property
    def mu(self) -> np.ndarray:
        return (self.total / self.n).cpu().numpy()

    @property
    def sigma(self) -> np.ndarray:
        """Unbiased covariance (N − 1), as numpy.cov in pytorch-fid: (Σffᵀ − N μμᵀ) / (N − 1)."""
        mean = self.total / self.n
        return ((self.outer - self.n * torch.outer(mean, mean)) / (self.n - 1)).cpu().numpy()

    def merge(self, other: FeatureStatistics) -> None:
        """Add another process's statistics (the same extractor) into these."""
        if other.n == 0:
            return
        if self.total is None:
            self.total, self.outer = other.total, other.outer
        else:
            self.total = self.total + other.total.to(self.total.device)
            self.outer = self.outer + other.outer.to(self.outer.device)
        self.n += other.n
        self.logits += other.logits
        kept = sum(len(k) for k in self.kid)
        self.kid += [k[: max(0, self.kid_features - kept)] for k in other.kid]

    def kid_array(self) -> np.ndarray:
        return torch.cat(self.kid).numpy()

    def logits_array(self) -> np.ndarray:
        return torch.cat(self.logits).numpy()


def extract(extractor: nn.Module, batches: Iterable[Tensor], device, stats: FeatureStatistics | None = None
            ) -> FeatureStatistics:
    """Run uint8 image batches through ``extractor`` into streaming statistics."""
    stats = stats or FeatureStatistics()
    for images in batches:
        features, logits = extractor(images.to(device))
        stats.update(features, logits)
    return stats


def generated_batches(generator: nn.Module, n: int, batch_size: int, nz: int, device, seed: int = 0):
    """n quantised samples of ``generator`` from a seeded noise stream, in batches."""
    rng = torch.Generator(device="cpu").manual_seed(seed)
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, n, batch_size):
            z = torch.randn(min(batch_size, n - start), nz, generator=rng).to(device)
            with torch.no_grad():
                yield quantize(generator(z))
    finally:
        generator.train(was_training)


def latent_dim(generator: nn.Module) -> int:
    """The generator's latent dimension: its ``nz``, else the input width of its first linear layer."""
    if hasattr(generator, "nz"):
        return int(generator.nz)
    first = next(m for m in generator.modules() if isinstance(m, nn.Linear))
    return first.in_features
