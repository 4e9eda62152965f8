import pytest
import torch
from torch import nn

from granlib.models import (
    CNN_VARIANTS,
    DEFAULT_CNN_VARIANT,
    DISCRIMINATOR_WIDTHS,
    CNNDiscriminator,
    CNNGenerator,
    build_models,
)
from granlib.normalizers import build_discriminator
from tests.models.steps import one_training_step

# Full-width parameter counts: G is the same for both variants.
G_COUNTS = {32: 3_813_379, 48: 5_134_339}
D_COUNTS = {("reference_code", 32): 5_860_865, ("reference_code", 48): 5_871_105,
            ("paper_table", 32): 2_935_873, ("paper_table", 48): 2_946_113}

# (in, out, kernel, stride) of the seven D convs at ndf = 64, as written in the sources.
REFERENCE_CODE_CONVS = [(3, 64, 3, 1), (64, 128, 4, 2), (128, 128, 3, 1), (128, 256, 4, 2), (256, 256, 3, 1),
                        (256, 512, 4, 2), (512, 512, 3, 1)]  # GN-GAN / pytorch-gan-collections Discriminator32
PAPER_TABLE_CONVS = [(3, 64, 3, 1), (64, 64, 4, 2), (64, 128, 3, 1), (128, 128, 4, 2), (128, 256, 3, 1),
                     (256, 256, 4, 2), (256, 512, 3, 1)]  # SNGAN paper, Table 3


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_shapes(d_net: nn.Module) -> list[tuple[int, int, int, int]]:
    return [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0])
            for m in d_net.modules() if isinstance(m, nn.Conv2d)]


def execution_order(module: nn.Module, *inputs) -> list[nn.Module]:
    """The leaf modules in the order ``module``'s forward runs them."""
    ran: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, _i, _o: ran.append(m))
             for m in module.modules() if not list(m.children())]
    try:
        module(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return ran


def test_variants_in_one_place():
    assert CNN_VARIANTS == ("reference_code", "paper_table") == tuple(DISCRIMINATOR_WIDTHS)
    assert DEFAULT_CNN_VARIANT == "reference_code"
    assert build_models("cnn", 32, nz=8, ngf=16, ndf=4)[1].variant == DEFAULT_CNN_VARIANT
    assert build_models("cnn", 32, nz=8, ngf=16, ndf=4, cnn_variant=None)[1].variant == DEFAULT_CNN_VARIANT


@pytest.mark.parametrize("variant", CNN_VARIANTS)
@pytest.mark.parametrize("resolution", [32, 48])
def test_tiny_cnn_trains_one_step(resolution, variant):
    generator, d_net = build_models("cnn", resolution, nz=8, ngf=16, ndf=4, cnn_variant=variant)
    one_training_step(generator, d_net, resolution, nz=8)


@pytest.mark.parametrize("variant", CNN_VARIANTS)
@pytest.mark.parametrize("resolution", [32, 48])
def test_full_width_parameter_counts(resolution, variant):
    generator, d_net = build_models("cnn", resolution, cnn_variant=variant)
    assert (n_params(generator), n_params(d_net)) == (G_COUNTS[resolution], D_COUNTS[variant, resolution])


@pytest.mark.parametrize("variant, convs",
                         [("reference_code", REFERENCE_CODE_CONVS), ("paper_table", PAPER_TABLE_CONVS)])
@pytest.mark.parametrize("resolution", [32, 48])
def test_discriminator_layers_match_the_sources(variant, convs, resolution):
    d_net = CNNDiscriminator(resolution=resolution, variant=variant)
    assert conv_shapes(d_net) == convs
    assert (d_net.fc.in_features, d_net.fc.out_features) == ((resolution // 8) ** 2 * 512, 1)
    kinds = [type(m) for m in execution_order(d_net, torch.zeros(1, 3, resolution, resolution))]
    assert kinds == [nn.Conv2d, nn.LeakyReLU] * 7 + [nn.Linear]


def test_ndf_is_the_base_width():
    assert [c[1] for c in conv_shapes(CNNDiscriminator(ndf=4, variant="reference_code"))] == [4, 8, 8, 16, 16, 32, 32]
    assert [c[1] for c in conv_shapes(CNNDiscriminator(ndf=4, variant="paper_table"))] == [4, 4, 8, 8, 16, 16, 32]


@pytest.mark.parametrize("variant", CNN_VARIANTS)
def test_discriminator_uses_leaky_relu_and_no_batchnorm(variant):
    d_net = CNNDiscriminator(ndf=4, variant=variant)
    kinds = {type(m).__name__ for m in d_net.modules()}
    assert "LeakyReLU" in kinds and not any("BatchNorm" in k for k in kinds)
    assert all(m.negative_slope == 0.1 for m in d_net.modules() if isinstance(m, torch.nn.LeakyReLU))
    build_discriminator("gran", d_net)  # accepted by GraN


def test_unknown_variant_or_resolution():
    with pytest.raises(ValueError, match="unknown CNN variant"):
        CNNDiscriminator(variant="wide")
    with pytest.raises(ValueError, match="unknown CNN variant"):
        build_models("cnn", 32, cnn_variant="wide")
    with pytest.raises(ValueError, match="divisible by 8"):
        CNNDiscriminator(resolution=36)
    with pytest.raises(ValueError, match="cnn_variant applies to the cnn architecture only"):
        build_models("resnet", 32, nz=8, ngf=16, ndf=16, cnn_variant="paper_table")


@pytest.mark.parametrize("resolution", [32, 48])
def test_generator_runs_linear_batchnorm_relu_then_three_upsampling_blocks(resolution):
    generator = CNNGenerator(bottom_width=resolution // 8)
    ran = execution_order(generator.eval(), torch.zeros(2, 128))
    assert [type(m) for m in ran] == ([nn.Linear, nn.BatchNorm2d, nn.ReLU]
                                      + [nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU] * 3 + [nn.Conv2d, nn.Tanh])
    linear, norm = ran[0], ran[1]
    assert (linear.in_features, linear.out_features) == (128, (resolution // 8) ** 2 * 512)
    assert norm.num_features == 512  # per channel after the reshape to 512×M×M, as in the PyTorch codes
    deconvs = [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in ran
               if isinstance(m, nn.ConvTranspose2d)]
    assert deconvs == [(512, 256, 4, 2), (256, 128, 4, 2), (128, 64, 4, 2)]
    assert (ran[-2].in_channels, ran[-2].out_channels, ran[-2].kernel_size[0]) == (64, 3, 3)
