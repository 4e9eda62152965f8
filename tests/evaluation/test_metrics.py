
import numpy as np
import pytest
import torch
from PIL import Image

from granlib.evaluation.metrics import frechet_distance, inception_score, kernel_inception_distance
from granlib.evaluation.statistics import FeatureStatistics


def random_spd(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_closed_form_diagonal():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    s1, s2 = rng.uniform(0.1, 2, 8), rng.uniform(0.1, 2, 8)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_closed_form_commuting_and_identical():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    l1, l2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    s1, s2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T  # commuting: tr√(Σ1Σ2) = Σ√(λ1λ2)
    expected = (l1 + l2 - 2 * np.sqrt(l1 * l2)).sum()
    assert frechet_distance(np.zeros(6), s1, np.zeros(6), s2) == pytest.approx(expected, rel=1e-6)
    assert abs(frechet_distance(np.ones(6), s1, np.ones(6), s1)) < 1e-9


def test_frechet_distance_matches_pytorch_fid_and_is_real():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(32), rng.standard_normal(32)
    s1, s2 = random_spd(32, rng), random_spd(32, rng)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(ours, float)
    assert ours == pytest.approx(float(calculate_frechet_distance(mu1, s1, mu2, s2)), rel=1e-6)
    singular = np.diag(np.r_[np.ones(16), np.zeros(16)])  # rank-deficient: still a finite real number
    assert np.isfinite(frechet_distance(mu1, singular, mu2, singular))


def test_inception_score_uniform_and_one_hot():
    assert inception_score(np.zeros((100, 1008)), splits=10)[0] == pytest.approx(1.0)
    classes = 10
    logits = np.full((200, 1008), -1e4)
    logits[np.arange(200), np.arange(200) % classes] = 0.0  # balanced one-hot within every split
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(classes, rel=1e-9) and std < 1e-9


def test_inception_score_with_fewer_samples_than_splits_is_finite():
    mean, std = inception_score(np.random.default_rng(0).standard_normal((4, 1008)), splits=10)
    assert np.isfinite(mean) and np.isfinite(std)


def test_kid_identical_sets_near_zero_and_shifted_positive():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((400, 16))
    mean, _ = kernel_inception_distance(a, a, subsets=20, subset_size=100)
    assert abs(mean) < 0.05
    shifted, _ = kernel_inception_distance(a, a + 1.0, subsets=20, subset_size=100)
    assert shifted > 1.0


def test_kid_matches_direct_unbiased_mmd():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 5)) + 0.5
    k = lambda a, b: (a @ b.T / 5 + 1) ** 3  # noqa: E731
    m = 30
    direct = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1)) + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1))
              - 2 * k(x, y).mean())
    assert kernel_inception_distance(x, y, subsets=3, subset_size=30)[0] == pytest.approx(direct, rel=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kid_and_statistics_on_the_gpu_equal_the_cpu():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((300, 32)), rng.standard_normal((300, 32)) + 0.2
    on_cpu = kernel_inception_distance(x, y, subsets=5, subset_size=100)
    on_gpu = kernel_inception_distance(x, y, subsets=5, subset_size=100, device="cuda")
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-9)
    cpu_stats, gpu_stats = FeatureStatistics(), FeatureStatistics()
    cpu_stats.update(torch.from_numpy(x).float())
    gpu_stats.update(torch.from_numpy(x).float().cuda())
    np.testing.assert_allclose(gpu_stats.mu, cpu_stats.mu, rtol=1e-12)
    np.testing.assert_allclose(gpu_stats.sigma, cpu_stats.sigma, rtol=1e-9, atol=1e-12)


@pytest.mark.reference_tool
def test_fid_equals_pytorch_fid_on_png_folders(tmp_path, stub_weights, extractor, monkeypatch):
    """Same stubbed weights in both tools; pytorch-fid reads PNGs, granlib reads uint8 tensors of the same pixels."""
    import pytorch_fid.inception as pf_inception
    from pytorch_fid.fid_score import calculate_fid_given_paths

    rng = np.random.default_rng(6)
    folders = []
    for name, shift in (("a", 0), ("b", 60)):
        folder = tmp_path / name
        folder.mkdir()
        pixels = np.clip(rng.integers(0, 196, (10, 32, 32, 3)) + shift, 0, 255).astype(np.uint8)
        for i, p in enumerate(pixels):
            Image.fromarray(p).save(folder / f"{i}.png")
        folders.append((folder, torch.from_numpy(pixels).permute(0, 3, 1, 2)))
    state = torch.load(stub_weights, weights_only=True)
    monkeypatch.setattr(pf_inception, "load_state_dict_from_url", lambda *a, **k: state)
    theirs = calculate_fid_given_paths([str(f) for f, _ in folders], batch_size=10, device="cpu", dims=2048,
                                       num_workers=0)
    stats = [FeatureStatistics() for _ in folders]
    for s, (_, images) in zip(stats, folders):
        s.update(extractor(images)[0])
    ours = frechet_distance(stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma)
    assert ours == pytest.approx(theirs, rel=1e-3)
