import pytest
import torch

from granlib.models import CNNDiscriminator, CNNGenerator, build_models
from granlib.normalizers import build_discriminator
from tests.models.steps import one_training_step


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("resolution", [32, 48])
def test_tiny_cnn_trains_one_step(resolution):
    generator, d_net = build_models("cnn", resolution, nz=8, ngf=16, ndf=4)
    one_training_step(generator, d_net, resolution, nz=8)


@pytest.mark.parametrize("resolution, g_count, d_count", [(32, 3_813_379, 2_935_873), (48, 5_134_339, 2_946_113)])
def test_full_width_parameter_counts(resolution, g_count, d_count):
    generator, d_net = build_models("cnn", resolution)
    assert (n_params(generator), n_params(d_net)) == (g_count, d_count)


def test_discriminator_uses_leaky_relu_and_no_batchnorm():
    d_net = CNNDiscriminator()
    kinds = {type(m).__name__ for m in d_net.modules()}
    assert "LeakyReLU" in kinds and not any("BatchNorm" in k for k in kinds)
    assert all(m.negative_slope == 0.1 for m in d_net.modules() if isinstance(m, torch.nn.LeakyReLU))
    build_discriminator("gran", d_net)  # accepted by GraN


def test_generator_uses_batchnorm():
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in CNNGenerator().modules())
