import math

import pytest
import torch
from torch import nn

from granlib.models import (
    CONSTRUCTOR_INIT,
    DEFAULT_INIT,
    INITS,
    CNNDiscriminator,
    CNNGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
    build_models,
    initialize,
)

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def weighted_layers(*modules: nn.Module) -> list[nn.Module]:
    return [m for module in modules for m in module.modules() if isinstance(m, WEIGHTED)]


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_inits_in_one_place():
    assert INITS == ("pytorch", "normal_0.02", "xavier_sngan")
    assert DEFAULT_INIT == {"cnn": "normal_0.02", "resnet": "xavier_sngan"}
    assert CONSTRUCTOR_INIT == {"cnn": "pytorch", "resnet": "xavier_sngan"}


def test_normal_init_statistics_full_width_cnn():
    torch.manual_seed(0)
    generator, d_net = build_models("cnn", 32, init="normal_0.02")
    layers = weighted_layers(generator, d_net)
    assert len(layers) == 5 + 8  # G: linear, 3 transposed convs, conv; D: 7 convs, linear
    weights = torch.cat([m.weight.detach().flatten() for m in layers]).double()
    assert weights.numel() > 9_000_000
    assert abs(weights.std().item() / 0.02 - 1) < 0.01  # std error of the std ≈ 0.02 / √(2n) ≈ 0.02 · 2e-4
    assert abs(weights.mean().item()) < 1e-4  # std error of the mean ≈ 0.02 / √n ≈ 7e-6
    for m in layers:  # each layer within 5 standard errors
        w, n = m.weight.detach().double(), m.weight.numel()
        assert abs(w.std().item() / 0.02 - 1) < 5 / math.sqrt(2 * n), m
        assert abs(w.mean().item()) < 5 * 0.02 / math.sqrt(n), m
        assert torch.count_nonzero(m.bias) == 0, m
    for bn in (m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)):  # untouched
        assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(bn.bias, torch.zeros_like(bn.bias))


def test_cnn_default_is_normal_init():
    torch.manual_seed(1)
    default = build_models("cnn", 32, nz=8, ngf=16, ndf=4)
    torch.manual_seed(1)
    explicit = build_models("cnn", 32, nz=8, ngf=16, ndf=4, init="normal_0.02")
    assert all(same_weights(a, b) for a, b in zip(default, explicit))


@pytest.mark.parametrize("variant", ["reference_code", "paper_table"])
def test_pytorch_init_leaves_the_constructors_default(variant):
    torch.manual_seed(2)
    generator, d_net = build_models("cnn", 32, nz=8, ngf=16, ndf=4, cnn_variant=variant, init="pytorch")
    torch.manual_seed(2)
    plain_g = CNNGenerator(nz=8, ngf=16, bottom_width=4)
    plain_d = CNNDiscriminator(ndf=4, resolution=32, variant=variant)
    assert same_weights(generator, plain_g) and same_weights(d_net, plain_d)
    first = d_net.body[0]  # PyTorch default: U(±1/√fan_in), fan_in = 3·3·3, so std = 1/√(3·27) ≈ 0.11
    assert abs(first.weight.std().item() - 1 / math.sqrt(81)) < 0.02
    assert torch.count_nonzero(first.bias) == first.bias.numel()


def test_initialize_returns_the_module_and_rejects_unknown_names():
    d_net = CNNDiscriminator(ndf=4)
    assert initialize(d_net, "normal_0.02") is d_net
    with pytest.raises(ValueError, match="unknown init"):
        initialize(d_net, "xavier")
    with pytest.raises(ValueError, match="cnn takes init 'pytorch' or 'normal_0.02', got 'xavier'"):
        build_models("cnn", 32, nz=8, ngf=16, ndf=4, init="xavier")
    with pytest.raises(ValueError, match="cnn takes init"):  # the ResNet's own init is not drawn for the CNN
        build_models("cnn", 32, nz=8, ngf=16, ndf=4, init="xavier_sngan")


@pytest.mark.parametrize("init", [None, "xavier_sngan"])
def test_resnet_keeps_its_own_init_by_default(init):
    torch.manual_seed(3)
    generator, d_net = build_models("resnet", 32, nz=8, ngf=16, ndf=16, init=init)
    torch.manual_seed(3)
    assert same_weights(generator, ResNetGenerator(32, nz=8, ngf=16))
    assert same_weights(d_net, ResNetDiscriminator(32, ndf=16))


def test_resnet_takes_normal_init_when_asked_and_refuses_pytorch():
    torch.manual_seed(4)
    generator, d_net = build_models("resnet", 32, ngf=64, ndf=64, init="normal_0.02")
    layers = weighted_layers(generator, d_net)
    weights = torch.cat([m.weight.detach().flatten() for m in layers]).double()
    assert abs(weights.std().item() / 0.02 - 1) < 0.02
    assert all(torch.count_nonzero(m.bias) == 0 for m in layers if m.bias is not None)
    with pytest.raises(ValueError, match="resnet takes init 'xavier_sngan' or 'normal_0.02', got 'pytorch'"):
        build_models("resnet", 32, nz=8, ngf=16, ndf=16, init="pytorch")
