import pytest

from granlib.models import ARCHITECTURES, build_models, published_widths

PUBLISHED = {("cnn", 32): (512, 64), ("cnn", 48): (512, 64), ("resnet", 32): (256, 128), ("resnet", 48): (512, 1024),
             ("resnet", 64): (1024, 1024), ("resnet", 128): (1024, 1024)}


def test_published_widths():
    assert {key: published_widths(*key) for key in ARCHITECTURES} == PUBLISHED
    with pytest.raises(ValueError, match="no cnn model at 64"):
        published_widths("cnn", 64)


@pytest.mark.parametrize("architecture, resolution", [("cnn", 32), ("resnet", 32)])
def test_explicit_published_widths_build_the_default_models(architecture, resolution):
    default = build_models(architecture, resolution)
    explicit = build_models(architecture, resolution, 128, *published_widths(architecture, resolution))
    for a, b in zip(default, explicit):
        assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
