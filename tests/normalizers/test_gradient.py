import pytest
import torch
from torch import nn

from granlib.normalizers import build_discriminator, gradient_norms
from tests.conftest import conv_net


@pytest.mark.parametrize("name", ["gran", "gran_inverse", "gn"])
def test_K_bounds_gradient_normalizers(name):
    disc = build_discriminator(name, conv_net(), K=0.25, **({} if name == "gn" else {"eps": 1e-3}))
    _, grad_d = gradient_norms(disc, torch.randn(8, 3, 8, 8, dtype=torch.float64))
    assert (grad_d <= 0.25 * (1 + 1e-12)).all()
    assert disc.K == 0.25 and disc.gran.K == 0.25


def test_equivalent_on_a_linear_f_is_K_w_x_over_norm_w():
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    disc = build_discriminator("equivalent", net, K=0.5)
    x = torch.randn(7, 3, dtype=torch.float64)
    w = net.weight.detach().flatten()
    expected = 0.5 * (x @ w) / w.norm()  # K·w·x/‖w‖: the bias drops out
    torch.testing.assert_close(disc(x), expected)
    torch.testing.assert_close(disc(x, generator_step=True), expected)
    _, grad_d = gradient_norms(disc, x)
    torch.testing.assert_close(grad_d, torch.full((7,), 0.5, dtype=torch.float64))


def test_equivalent_d_step_differentiates_through_the_input_gradient():
    net = nn.Linear(3, 1, bias=False).double()
    disc = build_discriminator("equivalent", net, K=1.0)
    x = torch.randn(5, 3, dtype=torch.float64)
    disc(x).sum().backward()
    w = net.weight.detach().flatten()
    s = x.sum(dim=0)  # d/dw Σ_b w·x_b/‖w‖ = s/‖w‖ − (w·s) w/‖w‖³
    torch.testing.assert_close(net.weight.grad.flatten(), s / w.norm() - (w @ s) * w / w.norm() ** 3)
    assert disc.name == "equivalent" and disc.K == 1.0
