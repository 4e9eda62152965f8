import pytest
import torch
from torch import nn

from granlib.normalizers import build_discriminator
from granlib.study.instruments.measurements import (
    POINT_KINDS,
    finite_difference_slopes,
    frozen_float64,
    gradient_report,
    input_gradient_norms,
    measure_discriminator,
    plateau_share,
    point_kinds,
    segment_jumps,
    spectral_report,
)
from granlib.study.instruments.toy import relu_mlp


def unit_linear(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    net = nn.Linear(2, 1).double()
    with torch.no_grad():
        net.weight /= net.weight.norm()  # ‖w‖ = 1: a 1-Lipschitz linear f
    return net


def kinds(seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(32, 2, generator=gen, dtype=torch.float64)
    return point_kinds(real, real + 1.0, box=3.0, seed=seed)


def test_point_kinds_are_real_generated_interpolated_and_in_the_box():
    k = kinds()
    assert tuple(k) == POINT_KINDS and all(v.shape == (32, 2) for v in k.values())
    t = (k["interpolated"] - k["generated"])[:, 0] / (k["real"] - k["generated"])[:, 0]
    assert ((t >= 0) & (t <= 1)).all() and (k["off-data"].abs() <= 3.0).all()


def test_a_one_lipschitz_linear_D_has_gradient_norm_one_everywhere():
    disc = frozen_float64(build_discriminator("none", unit_linear(), K=1.0))
    for x in kinds().values():
        torch.testing.assert_close(input_gradient_norms(disc, x), torch.ones(len(x), dtype=torch.float64))
        assert (finite_difference_slopes(disc, x) <= 1 + 1e-6).all()
    report = gradient_report(disc, kinds(), K=1.0)
    assert all(report[f"grad_above_K[{k}]"] == 0 and report[f"fd_above_K[{k}]"] == 0 for k in POINT_KINDS)
    assert report["grad_max_over_K[real]"] == pytest.approx(1.0)


def test_gran_stays_below_K_and_a_scaled_D_does_not():
    gran = frozen_float64(build_discriminator("gran", relu_mlp(2, width=16, depth=2, seed=0), K=0.5))
    report = gradient_report(gran, kinds(), K=0.5)
    assert all(report[f"grad_above_K[{k}]"] == 0 for k in POINT_KINDS)
    loud = frozen_float64(build_discriminator("none", unit_linear(), K=3.0))
    assert gradient_report(loud, kinds(), K=1.0)["grad_above_K[real]"] == 1.0


def test_sn_bound_of_a_two_layer_net_by_hand():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))  # σ₁ = 3
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[0.5, 0.0, 0.0]]))  # σ₂ = 0.5
    disc = frozen_float64(build_discriminator("none", net, K=2.0))
    right = {"real": torch.tensor([[1.0, 0.3], [2.0, -1.0]], dtype=torch.float64)}  # unit 1 on: ∇D = 2·0.5·3·e₁
    report = spectral_report(disc, right)
    assert report["sn_bound"] == pytest.approx(2.0 * 3.0 * 0.5)  # K·σ₁·σ₂
    assert report["sigma_product"] == pytest.approx(1.5) and report["sigma_max_dev"] == pytest.approx(2.0)
    assert report["grad_max_over_bound"] == pytest.approx(1.0)  # tight on this region
    left = {"real": torch.tensor([[-1.0, 0.3]], dtype=torch.float64)}  # unit 1 off: ∇D = 0
    assert spectral_report(disc, left)["grad_max_over_bound"] == 0.0


def test_a_linear_D_has_no_jumps_and_a_step_has_one():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, 2, generator=gen, dtype=torch.float64), torch.randn(8, 2, generator=gen, dtype=torch.float64)
    gran_linear = frozen_float64(build_discriminator("gran", unit_linear(), K=1.0))  # g = f·n/(n²+ε), linear too
    for disc in (frozen_float64(build_discriminator("none", unit_linear(), K=1.0)), gran_linear):
        report = segment_jumps(disc, a, b, K=1.0, points=201)
        assert report["jump_share"] == report["jumps_per_segment"] == report["end_to_end_above_K"] == 0.0
    step = segment_jumps(lambda v: (v[:, 0] > 0.5).double(), torch.zeros(1, 2, dtype=torch.float64),
                         torch.tensor([[1.0, 0.0]], dtype=torch.float64), K=1.0, points=101)
    assert step["jump_share"] == 1.0 and step["jumps_per_segment"] == 1.0
    assert step["jump_max_over_K_length"] == pytest.approx(1.0) and step["end_to_end_above_K"] == 0.0


def test_gran_of_a_relu_net_jumps_and_breaks_global_lipschitz():
    disc = frozen_float64(build_discriminator("gran", relu_mlp(2, width=16, depth=2, seed=3), K=1.0))
    gen = torch.Generator().manual_seed(1)
    a, b = 2 * torch.randn(16, 2, generator=gen, dtype=torch.float64), 2 * torch.randn(16, 2, generator=gen,
                                                                                      dtype=torch.float64)
    assert segment_jumps(disc, a, b, K=1.0, points=501)["jump_share"] > 0


def test_plateau_share_is_the_share_of_small_gradients():
    norms = torch.cat([torch.ones(90), torch.full((10,), 1e-3)])
    assert plateau_share(norms) == pytest.approx(0.1)
    assert plateau_share(10.0 * norms) == pytest.approx(0.1)  # scale-free
    assert plateau_share(torch.tensor([float("nan")])) != plateau_share(torch.tensor([float("nan")]))


def test_one_measurement_of_a_trained_D_holds_every_report():
    disc = build_discriminator("gran", relu_mlp(2, width=8, depth=2, seed=0), K=1.0)
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, 2, generator=gen), torch.randn(16, 2, generator=gen)
    row = measure_discriminator(disc, real, fake, box=3.0, seed=0, segments=4, segment_points=51)
    kinds = point_kinds(real.double(), fake.double(), 3.0, seed=0)
    expected = {**gradient_report(frozen_float64(disc), kinds, 1.0), **spectral_report(frozen_float64(disc), kinds)}
    assert {k: row[k] for k in expected} == expected and "jump_share" in row
    assert next(disc.parameters()).dtype == torch.float32  # measured on a float64 copy
    assert "jump_share" not in measure_discriminator(disc, real, fake, 3.0, 0, segments=None, segment_points=51)
    assert measure_discriminator(disc, real, torch.full_like(fake, float("nan")), 3.0, 0, 4, 51) == {}
