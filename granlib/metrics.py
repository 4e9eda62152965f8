r"""FID, Inception Score and KID, computed like the standard tools (pytorch-fid, torch-fidelity).

Fréchet distance between Gaussians $\mathcal N(\mu_1,\Sigma_1)$ and $\mathcal N(\mu_2,\Sigma_2)$:

$$d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
        - 2\operatorname{tr}\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}.$$

$\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}$ is symmetric PSD and has the eigenvalues of $\Sigma_1\Sigma_2$, so the trace
of its square root is $\sum_i\sqrt{\lambda_i}$ from a symmetric eigen-decomposition: real by construction,
never complex (pytorch-fid's ``sqrtm`` can return complex parts it must then discard).

Public API: :func:`frechet_distance`, :func:`inception_score`, :func:`kernel_inception_distance`,
:class:`InceptionFeatures`, :class:`FeatureStatistics`, :func:`evaluate`, :func:`reference_statistics`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from granlib.features import InceptionFeatures, build_feature_extractor, metric_label

__all__ = ["frechet_distance", "inception_score", "kernel_inception_distance", "InceptionFeatures",
           "FeatureStatistics", "evaluate", "reference_statistics", "quantize", "evaluate_against_dataset"]

KID_FEATURES_KEPT = 10_000  # features per side kept for KID (a documented subset when N is larger)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance of two Gaussians, float64, via the symmetric form above."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    values, vectors = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    sqrt_sigma1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T  # Σ₁^{1/2}
    middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()  # tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    """IS = exp E_x KL(p(y|x) ‖ p(y)), mean and std over ``splits`` consecutive splits.

    p(y|x) is the softmax over all 1008 logits of the FID Inception network's fc layer *without its bias*, as
    torch-fidelity and pytorch-gan-metrics compute it (the classic TF code used the 1008-way softmax with bias).
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    if len(logits) == 0:
        raise ValueError("inception_score needs at least one sample")
    log_p = torch.log_softmax(logits, dim=1)
    scores = []
    for part in torch.tensor_split(log_p, min(splits, len(log_p))):  # never an empty split
        log_marginal = torch.logsumexp(part, dim=0) - np.log(len(part))  # log p(y) over the split
        kl = (part.exp() * (part - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def kernel_inception_distance(feats1, feats2, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0, device: str | torch.device = "cpu") -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): unbiased MMD² with k(x, y) = (xᵀy/d + 1)³, mean and std over subsets.

    float64 on ``device``: 100 subsets of 1000 at d = 1280 are 0.8 TFLOP of kernel matrices (11.7 s on the 2-core
    CPU machine this was written on), so periodic evaluation on a GPU computes them there. The subsets are drawn
    with numpy's generator (``seed``) whatever the device, so the value does not depend on it beyond rounding.
    """
    x = torch.as_tensor(np.asarray(feats1), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(feats2), dtype=torch.float64, device=device)
    m = min(subset_size, len(x), len(y))
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.as_tensor(rng.choice(len(x), m, replace=False), device=x.device)]
        b = y[torch.as_tensor(rng.choice(len(y), m, replace=False), device=y.device)]
        k_aa, k_bb, k_ab = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3  # k = (xᵀy/d + 1)³
        # MMD²_u = Σ_{i≠j} k(aᵢ,aⱼ)/(m(m−1)) + Σ_{i≠j} k(bᵢ,bⱼ)/(m(m−1)) − 2 Σ_{i,j} k(aᵢ,bⱼ)/m²
        mmd = ((k_aa.sum() - k_aa.trace()) / (m * (m - 1)) + (k_bb.sum() - k_bb.trace()) / (m * (m - 1))
               - 2 * k_ab.mean())
        values.append(mmd)
    values = torch.stack(values).cpu().numpy()  # one host read for all subsets
    return float(np.mean(values)), float(np.std(values))


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


_LOADED_REFERENCES: dict[Path, tuple[int, ReferenceStatistics]] = {}  # cache file -> (its mtime, its contents)


@dataclass
class ReferenceStatistics:
    mu: np.ndarray
    sigma: np.ndarray
    kid_features: np.ndarray
    n: int
    description: dict


def reference_statistics(dataset, description: dict, extractor: nn.Module, cache_dir: str | Path | None = None,
                         n: int | None = None, batch_size: int = 250, device="cpu") -> ReferenceStatistics:
    """Statistics of a dataset's uint8 images, cached on disk under a name that encodes everything they depend on.

    ``description`` names the data (e.g. dataset, split, resolution); the cache key adds the resize method,
    n, the extractor's name and its weights' sha256. A changed key means a different file (recomputed);
    the file is written atomically.
    """
    n = min(n or len(dataset), len(dataset))
    # a seeded random subset when n < len(dataset): image folders are sorted by class, so a prefix would be one class
    subset = (torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n].sort().values.tolist()
              if n < len(dataset) else list(range(n)))
    key = {**description, "n": n, "subset": "all" if n == len(dataset) else "randperm-seed0",
           "extractor": extractor.name, "resize": "bilinear-in-extractor", "weights_sha256": extractor.weights_sha256}
    name = "_".join(f"{k}-{v}" for k, v in sorted(key.items()) if k != "weights_sha256")
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) + f"_{extractor.weights_sha256[:12]}"
    cache = Path(cache_dir or os.environ.get("GRANLIB_CACHE", Path.home() / ".cache" / "granlib")) / f"{name}.npz"
    if cache.exists():
        remembered = _LOADED_REFERENCES.get(cache)
        if remembered is not None and remembered[0] == cache.stat().st_mtime_ns and remembered[1].description == key:
            return remembered[1]  # periodic evaluation: read the file once per process
        with np.load(cache) as saved:
            if json.loads(str(saved["key"])) == key:
                result = ReferenceStatistics(saved["mu"], saved["sigma"], saved["kid"], n, key)
                _LOADED_REFERENCES[cache] = (cache.stat().st_mtime_ns, result)
                return result

    def batches():
        for start in range(0, n, batch_size):
            yield torch.stack([dataset[i][0] for i in subset[start: start + batch_size]])

    stats = extract(extractor, batches(), device)
    result = ReferenceStatistics(stats.mu, stats.sigma, stats.kid_array(), n, key)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, mu=result.mu, sigma=result.sigma, kid=result.kid_features, key=json.dumps(key))
    os.replace(tmp, cache)
    return result


def evaluate(generator: nn.Module, reference: ReferenceStatistics, n_samples: int = 50_000,
             extractor: nn.Module | None = None, batch_size: int = 250, device=None, seed: int = 0,
             splits: int = 10, kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict:
    """FID (or the proxy's FD), IS over ``splits`` splits and KID of ``generator``.

    ``generator`` may be a :class:`granlib.train.GAN`, whose EMA copy is then evaluated (the default protocol).
    Returns a dict with the metric values and their provenance: n_real, n_fake, feature extractor, weights sha256.
    """
    from granlib.distributed import all_gather_statistics, context

    generator = getattr(generator, "ema_G", generator)
    device = device or next(generator.parameters()).device
    extractor = (extractor or InceptionFeatures()).to(device)
    nz = _latent_dim(generator)
    ctx = context()  # under torchrun every rank generates its share; the statistics are gathered
    n_local = n_samples // ctx.world_size + (1 if ctx.rank < n_samples % ctx.world_size else 0)
    stats = extract(extractor, generated_batches(generator, n_local, batch_size, nz, device,
                                                 seed * 100_003 + ctx.rank), device)
    stats = all_gather_statistics(stats)
    fd = frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma)
    is_mean, is_std = inception_score(stats.logits_array(), splits)
    kid_mean, kid_std = kernel_inception_distance(stats.kid_array(), reference.kid_features, kid_subsets,
                                                  kid_subset_size, device=device)
    return {"fd": fd, "metric": metric_label(extractor), "is_mean": is_mean, "is_std": is_std,
            "kid_mean": kid_mean, "kid_std": kid_std, "n_real": reference.n, "n_fake": n_samples,
            "feature_extractor": extractor.name, "weights_sha256": extractor.weights_sha256}


def _latent_dim(generator: nn.Module) -> int:
    if hasattr(generator, "nz"):
        return int(generator.nz)
    first = next(m for m in generator.modules() if isinstance(m, nn.Linear))
    return first.in_features


_EXTRACTORS: dict[tuple[str, str], nn.Module] = {}


def evaluate_against_dataset(generator: nn.Module, config, n_samples: int, device, n_real: int | None = None,
                             extractor: nn.Module | None = None) -> dict:
    """evaluate() against the training set of ``config`` (reference statistics cached); for periodic evaluation."""
    from granlib.data import dataset_label, load_dataset

    if extractor is None:
        key = (config.eval_feature_extractor, str(device))
        if key not in _EXTRACTORS:
            _EXTRACTORS[key] = build_feature_extractor(config.eval_feature_extractor).to(device)
        extractor = _EXTRACTORS[key]
    dataset = load_dataset(config.dataset, config.data_root, config.resolution)
    description = {"dataset": config.dataset_variant or dataset_label(config.dataset), "split": "train",
                   "resolution": config.resolution}
    reference = reference_statistics(dataset, description, extractor, n=n_real or n_samples, device=device)
    return evaluate(generator, reference, n_samples=n_samples, extractor=extractor, device=device)
