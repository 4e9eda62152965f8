import pytest
import torch

from granlib.study.instruments.mixtures import (
    DATASET_LABEL,
    STD,
    MixtureSampler,
    energy_distance,
    mixture_centres,
    mixture_metrics,
    sample_mixture,
    train_mixture_gan,
    train_toy_gan,
)


@pytest.mark.parametrize(("name", "modes"), [("8gaussians", 8), ("25gaussians", 25)])
def test_samples_lie_near_the_known_modes(name, modes):
    centres = mixture_centres(name)
    assert centres.shape == (modes, 2) and name in DATASET_LABEL
    points = sample_mixture(name, 4000, torch.Generator().manual_seed(0))
    distance = torch.cdist(points, centres).min(dim=1).values
    assert (distance < 5 * STD[name]).all()
    assert len(torch.unique(torch.cdist(points, centres).argmin(dim=1))) == modes


def test_modes_covered_on_samples_exactly_at_the_modes():
    centres = mixture_centres("25gaussians")
    at_modes = centres.repeat(40, 1)  # 40 points on each of the 25 modes
    m = mixture_metrics(at_modes, "25gaussians", sample_mixture("25gaussians", 500))
    assert m["modes_covered"] == m["modes_total"] == 25 and m["high_quality"] == 1.0
    half = centres[:12].repeat(80, 1)  # 12 modes only
    assert mixture_metrics(half, "25gaussians", at_modes)["modes_covered"] == 12
    far = mixture_metrics(at_modes + 10.0, "25gaussians", at_modes)
    assert far["modes_covered"] == 0 and far["high_quality"] == 0.0


def test_energy_distance_of_point_masses_and_of_one_distribution():
    a, b = torch.zeros(50, 2), torch.tensor([[3.0, 4.0]]).repeat(60, 1)
    assert energy_distance(a, b) == pytest.approx(2 * 5.0)  # 2‖a − b‖ − 0 − 0
    gen = torch.Generator().manual_seed(0)
    same = energy_distance(sample_mixture("8gaussians", 1500, gen), sample_mixture("8gaussians", 1500, gen))
    assert abs(same) < 0.01 and energy_distance(a, a) == 0.0


def test_non_finite_samples_score_as_failures():
    m = mixture_metrics(torch.full((10, 2), float("nan")), "8gaussians", sample_mixture("8gaussians", 10))
    assert m["modes_covered"] == 0 and m["high_quality"] == 0.0 and m["energy_distance"] != m["energy_distance"]


def test_sampler_is_seeded():
    assert torch.equal(MixtureSampler("25gaussians", 3).sample(7), MixtureSampler("25gaussians", 3).sample(7))


def test_training_records_one_gradient_norm_per_step():
    run = train_mixture_gan("25gaussians", "gran", "ns", K=1.0, steps=5, seed=0, width=8, depth=2, batch_size=16)
    assert len(run.grad_norm_g) == len(run.grad_norm_d) == len(run.max_abs_d) == 5
    assert (run.grad_norm_g > 0).all() and (run.grad_norm_d > 0).all() and run.trainer.config.K == 1.0


def test_toy_gan_returns_snapshots_and_learns_the_scale_of_the_ring():
    snapshots = train_toy_gan("gran", K=1.0, steps=200, snapshot_every=100, n_points=256)
    assert sorted(snapshots) == [0, 100, 200] and all(s.shape == (256, 2) for s in snapshots.values())
    radius = {step: points.norm(dim=1).median().item() for step, points in snapshots.items()}
    assert abs(radius[200] - 2.0) < abs(radius[0] - 2.0)  # G's points move towards the ring of radius 2
    assert torch.isfinite(snapshots[200]).all()


@pytest.mark.parametrize("normalizer", ["none", "sn", "gn"])
def test_toy_gan_runs_with_other_normalizers(normalizer):
    snapshots = train_toy_gan(normalizer, steps=4, snapshot_every=2, n_points=8)
    assert sorted(snapshots) == [0, 2, 4] and not torch.equal(snapshots[0], snapshots[4])
