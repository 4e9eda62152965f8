from pathlib import Path

import pytest
import torch
import yaml
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


@pytest.fixture(scope="session")
def stub_weights(tmp_path_factory):
    """A seeded random FID-Inception state dict; BatchNorm statistics calibrated so features are O(1)."""
    torch.manual_seed(0)
    from granlib.evaluation.features import fid_inception_architecture

    net = fid_inception_architecture()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batch
    net.train()
    with torch.no_grad():
        x = torch.rand(6, 3, 299, 299) * 2 - 1
        h = net.maxpool1(net.Conv2d_2b_3x3(net.Conv2d_2a_3x3(net.Conv2d_1a_3x3(x))))
        h = net.maxpool2(net.Conv2d_4a_3x3(net.Conv2d_3b_1x1(h)))
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                     "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            h = getattr(net, name)(h)
    path = tmp_path_factory.mktemp("weights") / "stub_inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def extractor(stub_weights):
    """pytorch-fid's FID Inception network with the stub weights (no sha256 check)."""
    from granlib.evaluation.features import InceptionFeatures

    return InceptionFeatures(stub_weights, verify=False)


@pytest.fixture
def smoke_profile(tmp_path):
    """A factory: the smoke profile with results and runs under tmp_path and ``changes`` applied; returns its path."""
    from granlib.study.pipeline.experiments import load_profile

    def write(**changes) -> Path:
        params = load_profile("smoke")
        params.update(results_dir=str(tmp_path / "results"), runs_dir=str(tmp_path / "runs"), **changes)
        path = tmp_path / "smoke.yaml"
        path.write_text(yaml.safe_dump(params))
        return path

    return write
