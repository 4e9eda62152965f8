import pytest
import torch
from torch import nn

from granlib.data import SyntheticImages
from granlib.evaluation.effnet_lite0 import FoldedEffNetLite0, fold_batchnorm
from granlib.evaluation.features import build_feature_extractor
from granlib.evaluation.metrics import frechet_distance
from granlib.evaluation.reference import reference_statistics
from granlib.evaluation.statistics import FeatureStatistics, generated_batches

pytest.importorskip("efficientnet_lite_pytorch")


@pytest.fixture(scope="module")
def proxy():
    return build_feature_extractor("effnet_lite0")


def tiny_generator(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 3 * 32 * 32), nn.Tanh(), nn.Unflatten(1, (3, 32, 32)))


def test_folded_batchnorm_is_conv_then_batchnorm():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(4, 6, 3, bias=False).double(), nn.BatchNorm2d(6, eps=1e-3).double()
    for tensor in (bn.weight, bn.bias, bn.running_mean):
        nn.init.normal_(tensor)
    bn.running_var.uniform_(0.5, 2.0)
    bn.eval()
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    weight, bias = fold_batchnorm(conv, bn)
    torch.testing.assert_close(nn.functional.conv2d(x, weight.double(), bias.double()), bn(conv(x)),
                               rtol=1e-6, atol=1e-6)  # float32 weights: rounding only


def test_folded_network_gives_the_packages_features_and_logits(proxy):
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    fast, reference = proxy(images), proxy.forward_reference(images)
    assert reference[0].std() > 0.1  # real features, not a degenerate network
    for new, old in zip(fast, reference, strict=True):
        assert (new - old).abs().max() <= 1e-4 * old.abs().max()  # float32 rounding across 50 layers


def test_fd_of_the_folded_path_equals_the_reference_fd(proxy):
    generator = tiny_generator()
    fake = torch.cat(list(generated_batches(generator, 24, 8, 16, "cpu", seed=0)))
    real = SyntheticImages(size=24).images
    fds = []
    for forward in (proxy.forward, proxy.forward_reference):
        stats = [FeatureStatistics(), FeatureStatistics()]
        for s, images in zip(stats, (fake, real), strict=True):
            s.update(*forward(images))
        fds.append(frechet_distance(stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma))
    fast, reference = fds
    assert reference > 1.0  # two different image sets
    assert abs(fast - reference) <= 1e-3 * reference


def test_the_folded_network_is_what_evaluation_runs(proxy, tmp_path, monkeypatch):
    from granlib.training.evaluation import evaluate_generator

    def package_network(*args, **kwargs):
        raise AssertionError("evaluation ran the package's network")

    monkeypatch.setattr(proxy.net, "extract_features", package_network)
    seen = []
    hook = proxy.folded.register_forward_hook(lambda module, args, out: seen.append(len(out)))
    try:
        reference = reference_statistics(SyntheticImages(size=10), {"dataset": "synthetic"}, proxy,
                                         cache_dir=tmp_path, batch_size=5)
        result = evaluate_generator(tiny_generator(), reference, n_samples=6, extractor=proxy,
                                    device=torch.device("cpu"), batch_size=3)
    finally:
        hook.remove()
    assert sum(seen) == 10 + 6 and result["metric"] == "FD-EffNetLite0"
    assert isinstance(proxy.folded, FoldedEffNetLite0)
