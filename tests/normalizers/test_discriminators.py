import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from granlib.normalizers import NORMALIZERS, build_discriminator, gradient_norms
from tests.conftest import conv_net


def test_gradient_penalty_matches_hand_computation_on_linear_D():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 1)).double()
    disc = build_discriminator("gp", net, K=3.0, gp_weight=10.0)
    real, fake = torch.randn(5, 3, 2, 2, dtype=torch.float64), torch.randn(5, 3, 2, 2, dtype=torch.float64)
    w = net[1].weight.detach()
    expected = 10.0 * (w.norm() - 1) ** 2  # ∇f = w everywhere for a linear f
    torch.testing.assert_close(disc.penalty(real, fake), expected)
    # with injected α the interpolates are deterministic, and the penalty is still exact
    torch.testing.assert_close(disc.penalty(real, fake, alpha=torch.full((5,), 0.3, dtype=torch.float64)), expected)


def test_gradient_penalty_differentiates_to_parameters():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 1)).double()
    disc = build_discriminator("gp", net)
    real, fake = torch.randn(4, 12, dtype=torch.float64), torch.randn(4, 12, dtype=torch.float64)
    disc.penalty(real, fake).backward()
    w = net[1].weight.detach()
    torch.testing.assert_close(net[1].weight.grad, 10.0 * 2 * (w.norm() - 1) * w / w.norm())


def test_spectral_norm_on_every_layer_and_unit_norm():
    net = conv_net()
    disc = build_discriminator("sn", net)
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    linear = layers[-1]
    for _ in range(50):
        disc(torch.randn(2, 3, 8, 8, dtype=torch.float64))  # each training forward runs one power iteration
    assert torch.linalg.matrix_norm(linear.weight.detach(), ord=2).item() == pytest.approx(1.0, rel=1e-6)


def test_weight_clipping_after_step():
    net = conv_net()
    disc = build_discriminator("wc", net, clip=0.01)
    disc.after_step()
    assert max(p.abs().max().item() for p in net.parameters()) <= 0.01


@pytest.mark.parametrize("name", ["none", "sn", "gp", "wc"])
def test_K_scales_baseline_outputs(name):
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    one = build_discriminator(name, conv_net(seed=1), K=1.0).eval()
    five = build_discriminator(name, conv_net(seed=1), K=5.0).eval()
    with torch.no_grad():
        torch.testing.assert_close(five(x), 5 * one(x))


def test_every_normalizer_builds_and_scores():
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    for name in NORMALIZERS:
        disc = build_discriminator(name, conv_net())
        assert disc(x).shape == (4,) and disc.name == name


def test_unknown_normalizer():
    with pytest.raises(ValueError, match="unknown normalizer"):
        build_discriminator("layernorm", conv_net())


def test_gradient_norms_of_plain_D_are_K_times_f():
    disc = build_discriminator("none", conv_net(), K=2.0)
    grad_f, grad_d = gradient_norms(disc, torch.randn(6, 3, 8, 8, dtype=torch.float64))
    torch.testing.assert_close(grad_d, 2 * grad_f)
