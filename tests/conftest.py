import pytest
import torch
from torch import nn


def relu_mlp(d_in: int, width: int = 16, depth: int = 3, leaky: bool = True, seed: int = 0) -> nn.Module:
    """A random piecewise-linear MLP with biases, float64."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.LeakyReLU(0.2) if leaky else nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, 1))
    net = nn.Sequential(*layers).double()
    for p in net.parameters():  # non-zero biases so regions do not all meet at the origin
        nn.init.normal_(p, std=0.5)
    return net


def conv_net(seed: int = 0, leaky: bool = True) -> nn.Module:
    """A random piecewise-linear conv net on [B, 3, 8, 8], float64."""
    torch.manual_seed(seed)
    act = nn.LeakyReLU(0.1) if leaky else nn.ReLU()
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 1, 1), act, nn.Conv2d(8, 8, 4, 2, 1), act, nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 1),
    ).double()


@pytest.fixture(params=["mlp_leaky", "mlp_relu", "conv_leaky", "conv_relu"])
def piecewise_net(request):
    """(net, input batch) pairs covering MLPs and conv nets with ReLU and LeakyReLU."""
    torch.manual_seed(1)
    if request.param.startswith("mlp"):
        return relu_mlp(6, leaky=request.param.endswith("leaky")), torch.randn(32, 6, dtype=torch.float64)
    return conv_net(leaky=request.param.endswith("leaky")), torch.randn(16, 3, 8, 8, dtype=torch.float64)
