r"""FID, Inception Score and KID, computed like the standard tools (pytorch-fid, torch-fidelity).

Fréchet distance between Gaussians $\mathcal N(\mu_1,\Sigma_1)$ and $\mathcal N(\mu_2,\Sigma_2)$:

$$d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
        - 2\operatorname{tr}\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}.$$

$\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}$ is symmetric PSD and has the eigenvalues of $\Sigma_1\Sigma_2$, so the trace
of its square root is $\sum_i\sqrt{\lambda_i}$ from a symmetric eigen-decomposition: real by construction,
never complex (pytorch-fid's ``sqrtm`` can return complex parts it must then discard).

Public API: :func:`frechet_distance`, :func:`inception_score`, :func:`kernel_inception_distance`,
:class:`FeatureStatistics`, :func:`extract`, :func:`scores`, :func:`evaluate`; the cached statistics of real
images are :mod:`granlib.evaluation.reference`. Nothing here knows about training configs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from granlib.evaluation.features import InceptionFeatures, metric_label
from granlib.evaluation.reference import ReferenceStatistics
from granlib.evaluation.statistics import FeatureStatistics, extract, generated_batches, latent_dim

__all__ = ["frechet_distance", "inception_score", "kernel_inception_distance", "scores", "evaluate"]

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


def scores(stats: FeatureStatistics, reference: ReferenceStatistics, extractor: nn.Module, device="cpu",
           splits: int = 10, kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict:
    """FD (FID with Inception features), IS over ``splits`` splits and KID of generated ``stats`` against
    ``reference``, with their provenance: n_real, n_fake, the feature extractor and its weights' sha256."""
    fd = frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma)
    is_mean, is_std = inception_score(stats.logits_array(), splits)
    kid_mean, kid_std = kernel_inception_distance(stats.kid_array(), reference.kid_features, kid_subsets,
                                                  kid_subset_size, device=device)
    return {"fd": fd, "metric": metric_label(extractor), "is_mean": is_mean, "is_std": is_std,
            "kid_mean": kid_mean, "kid_std": kid_std, "n_real": reference.n, "n_fake": stats.n,
            "feature_extractor": extractor.name, "weights_sha256": extractor.weights_sha256}


def evaluate(generator: nn.Module, reference: ReferenceStatistics, n_samples: int = 50_000,
             extractor: nn.Module | None = None, batch_size: int = 250, device=None, seed: int = 0,
             **score_options) -> dict:
    """:func:`scores` of ``n_samples`` images of ``generator`` (noise from ``seed``), in this process.

    Training evaluates through :func:`granlib.training.evaluation.evaluate_generator`, which splits the sampling
    across the processes of a torchrun job.
    """
    device = device or next(generator.parameters()).device
    extractor = (extractor or InceptionFeatures()).to(device)
    stats = extract(extractor, generated_batches(generator, n_samples, batch_size, latent_dim(generator), device,
                                                 seed), device)
    return scores(stats, reference, extractor, device=device, **score_options)
