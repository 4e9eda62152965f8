import numpy as np
import torch

from granlib.evaluation.statistics import FeatureStatistics, latent_dim, quantize
from granlib.models import build_models


def test_streaming_statistics_equal_numpy():
    rng = np.random.default_rng(5)
    feats = rng.standard_normal((103, 7))
    stats = FeatureStatistics(kid_features=50)
    for chunk in np.array_split(feats, 5):
        stats.update(torch.from_numpy(chunk).float())
    as_float32 = feats.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(stats.mu, as_float32.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(as_float32, rowvar=False), rtol=1e-9, atol=1e-12)
    assert stats.kid_array().shape == (50, 7)


def test_merged_statistics_equal_one_pass():
    rng = np.random.default_rng(6)
    feats = torch.from_numpy(rng.standard_normal((90, 6))).float()
    whole, first, second = FeatureStatistics(kid_features=40), FeatureStatistics(kid_features=40), FeatureStatistics()
    whole.update(feats)
    first.update(feats[:50])
    second.update(feats[50:])
    first.merge(second.cpu())
    assert first.n == 90
    np.testing.assert_allclose(first.mu, whole.mu, rtol=1e-12)
    np.testing.assert_allclose(first.sigma, whole.sigma, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(first.kid_array(), whole.kid_array())  # the first 40 features, in order


def test_quantize_matches_png_rounding():
    x = torch.tensor([-1.0, -0.99, 0.0, 0.999, 1.0, 1.5])
    assert quantize(x).tolist() == [0, 1, 128, 255, 255, 255]


def test_latent_dim_from_the_attribute_or_the_first_linear_layer():
    generator, _ = build_models("cnn", 32, nz=8, ngf=16)
    assert latent_dim(generator) == 8
    assert latent_dim(torch.nn.Sequential(torch.nn.Linear(5, 3))) == 5
