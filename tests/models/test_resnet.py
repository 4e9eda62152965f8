import pytest
import torch

from granlib.models import ResNetDiscriminator, ResNetGenerator, build_models
from tests.models.steps import one_training_step
from tests.models.test_cnn import n_params

COUNTS = {32: (4_276_739, 1_053_825), 48: (4_878_083, 10_141_441), 64: (12_220_675, 10_141_441),
          128: (32_150_787, 29_017_857)}


@pytest.mark.parametrize("resolution", [32, 48, 64, 128])
def test_tiny_resnet_trains_one_step(resolution):
    generator, d_net = build_models("resnet", resolution, nz=8, ngf=16, ndf=16)
    one_training_step(generator, d_net, resolution, nz=8, batch=2)


@pytest.mark.parametrize("resolution", [32, 48, 64, 128])
def test_full_width_parameter_counts(resolution):
    generator, d_net = build_models("resnet", resolution)
    assert (n_params(generator), n_params(d_net)) == COUNTS[resolution]


def test_discriminator_relu_without_batchnorm_generator_with():
    assert not any("BatchNorm" in type(m).__name__ for m in ResNetDiscriminator(32, ndf=8).modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in ResNetGenerator(32, ngf=8).modules())


def test_unknown_architecture():
    with pytest.raises(ValueError, match="no cnn model at 64"):
        build_models("cnn", 64)


def test_nearest_upsampling_has_the_same_weights_and_repeats_pixels():
    torch.manual_seed(0)
    bilinear, _ = build_models("resnet", 32, nz=8, ngf=16, ndf=16)
    torch.manual_seed(0)
    nearest, _ = build_models("resnet", 32, nz=8, ngf=16, ndf=16, resnet_upsample="nearest")
    assert all(torch.equal(a, b) for a, b in zip(bilinear.state_dict().values(), nearest.state_dict().values()))
    block = nearest.blocks[0]
    x = torch.arange(4.0).view(1, 1, 2, 2)
    assert torch.equal(block._up(x), x.repeat_interleave(2, 2).repeat_interleave(2, 3))
    z = torch.randn(2, 8)
    assert not torch.allclose(bilinear.eval()(z), nearest.eval()(z))
    with pytest.raises(ValueError, match="resnet_upsample applies to the resnet"):
        build_models("cnn", 32, resnet_upsample="nearest")
    with pytest.raises(ValueError, match="unknown upsampling"):
        build_models("resnet", 32, resnet_upsample="bicubic")
