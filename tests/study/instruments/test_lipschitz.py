import pytest
import torch
from torch import nn

from granlib.models import build_models
from granlib.study.instruments.lipschitz import (
    affine_residual,
    empirical_lipschitz,
    jumps_along_line,
    layerwise_bound,
    resnet_bound,
    spectral_bound,
)
from granlib.study.instruments.toy import relu_mlp


def test_empirical_lipschitz_of_a_linear_map_is_its_norm():
    torch.manual_seed(0)
    w = torch.randn(5, dtype=torch.float64)
    x = torch.randn(64, 5, dtype=torch.float64)
    estimate = empirical_lipschitz(lambda v: v @ w, x, pairs=4096)
    assert estimate <= w.norm().item() * (1 + 1e-12) and estimate > 0.8 * w.norm().item()


def test_spectral_bound_of_single_layers():
    torch.manual_seed(0)
    linear = nn.Linear(6, 4).double()
    assert spectral_bound(nn.Sequential(linear), (6,)) == pytest.approx(
        torch.linalg.matrix_norm(linear.weight.detach(), ord=2).item(), rel=1e-6)
    conv = nn.Conv2d(1, 1, 1, bias=False).double()  # a 1×1 conv with one channel scales by |w|
    assert spectral_bound(nn.Sequential(conv), (1, 4, 4)) == pytest.approx(abs(conv.weight.item()), rel=1e-6)


def test_affine_residual_zero_for_relu_nets_and_not_for_smooth_ones():
    x = torch.randn(8, 2, dtype=torch.float64)
    assert affine_residual(relu_mlp(2, seed=1).double(), x, step=1e-3).max() < 1e-12
    smooth = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    assert affine_residual(smooth, x, step=1e-3).max() > 1e-9


def test_jumps_along_a_line_find_a_step_function():
    t, jumps = jumps_along_line(lambda v: (v[:, 0] > 1.0).double(), torch.zeros(2, dtype=torch.float64),
                                torch.tensor([1.0, 0.0], dtype=torch.float64), length=2.0, points=201)
    assert int((jumps > 0.5).sum()) == 1 and t[jumps.argmax()].item() == pytest.approx(1.0, abs=0.011)


def test_initial_gradient_norm_of_the_cnn_under_each_initialisation():
    from granlib.study.instruments.lipschitz import initial_gradient_norm

    small = dict(ngf=16, ndf=8)
    normal = initial_gradient_norm("cnn", 32, init="normal_0.02", **small)
    default = initial_gradient_norm("cnn", 32, init="pytorch", **small)
    assert normal > 0 and default > 0 and normal != default
    assert initial_gradient_norm("cnn", 32, init="normal_0.02", **small) == normal  # seeded


def test_the_resnet_bound_holds_and_is_what_a_chain_product_misses():
    """granlib's ResNet D: ‖∇ₓf‖ at random inputs lies within resnet_bound (shortcuts added, √(HW) for the sum
    pooling), and layerwise_bound picks it for a net with blocks and the chain product for the CNN."""
    torch.manual_seed(0)
    resnet = build_models("resnet", 32, ndf=16)[1].double()
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(resnet(x).sum(), x)
    bound = resnet_bound(resnet, (3, 32, 32))
    assert grad.flatten(1).norm(dim=1).max().item() <= bound == layerwise_bound(resnet, (3, 32, 32))
    cnn = build_models("cnn", 32, ndf=8)[1].double()
    assert layerwise_bound(cnn, (3, 32, 32)) == spectral_bound(cnn, (3, 32, 32))
