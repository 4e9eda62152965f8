import hashlib
import urllib.error
from pathlib import Path

import pytest
import torch

from granlib.evaluation import features as features_module
from granlib.evaluation.features import (
    INCEPTION_ENV,
    INCEPTION_SHA256_PREFIX,
    EffNetLite0Features,
    InceptionFeatures,
    WeightsMismatchError,
    WeightsNotFoundError,
    build_feature_extractor,
    find_inception_weights,
    hub_weights_path,
    metric_label,
)


def test_features_shape_and_batch_size_independence(extractor):
    torch.manual_seed(0)
    images = torch.randint(0, 256, (70, 3, 32, 32), dtype=torch.uint8)
    small = torch.cat([extractor(chunk)[0] for chunk in images.split(7)])
    large = torch.cat([extractor(chunk)[0] for chunk in images.split(64)])
    logits = extractor(images[:5])[1]
    assert large.shape == (70, 2048) and logits.shape == (5, 1008)
    assert large.std() > 0.1  # the calibrated stub gives O(1) features, so the comparison is meaningful
    # float32 convolutions sum in an order that depends on the batch size and the thread count (about 1e-4 relative
    # with one thread); a sample leaking into another's features would move them by O(std)
    torch.testing.assert_close(small, large, rtol=1e-3, atol=1e-3)


def test_uint8_and_unit_float_images_give_the_same_features(extractor):
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    from_uint8, from_float = extractor(images)[0], extractor(images.float() / 255)[0]
    torch.testing.assert_close(from_uint8, from_float, rtol=0, atol=0)


def test_missing_weights_error_is_actionable(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("GRANLIB_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(WeightsNotFoundError) as info:
        InceptionFeatures(download=False)
    message = str(info.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in message and str(tmp_path) in message
    assert "GRANLIB_INCEPTION_WEIGHTS" in message


def test_weights_found_through_env_and_hash_checked(stub_weights, monkeypatch):
    monkeypatch.setenv("GRANLIB_INCEPTION_WEIGHTS", str(stub_weights))
    with pytest.raises(WeightsMismatchError, match="not the FID Inception weights"):
        InceptionFeatures()  # the stub's sha256 is not the real file's
    features = InceptionFeatures(verify=False)
    assert features.weights_sha256 == hashlib.sha256(stub_weights.read_bytes()).hexdigest()


def test_a_file_that_is_not_the_weights_is_a_mismatch_not_a_missing_file(tmp_path, monkeypatch):
    wrong = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    wrong.write_bytes(b"an html error page saved under the weights' name")
    monkeypatch.setenv(INCEPTION_ENV, str(wrong))
    with pytest.raises(WeightsMismatchError) as info:
        InceptionFeatures()
    message = str(info.value)
    assert f"{wrong} exists but is not the FID Inception weights file" in message
    assert hashlib.sha256(wrong.read_bytes()).hexdigest() in message and INCEPTION_SHA256_PREFIX in message
    assert isinstance(info.value, ValueError) and not isinstance(info.value, WeightsNotFoundError)


def _use_empty_hub(tmp_path, monkeypatch, download):
    """An empty torch hub cache under tmp_path, whose download is ``download(url, destination)``."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, **kwargs: download(url, dst))


def test_a_download_that_is_not_the_weights_is_discarded_and_reported_as_a_mismatch(tmp_path, monkeypatch):
    _use_empty_hub(tmp_path, monkeypatch, lambda url, dst: Path(dst).write_bytes(b"a captive portal's page"))
    with pytest.raises(WeightsMismatchError, match="downloaded from .* is not the FID Inception weights") as info:
        find_inception_weights()
    assert hashlib.sha256(b"a captive portal's page").hexdigest() in str(info.value)
    assert list(hub_weights_path().parent.iterdir()) == []  # nothing left for the next lookup to take


def test_a_download_lands_in_the_hub_cache(tmp_path, monkeypatch):
    _use_empty_hub(tmp_path, monkeypatch, lambda url, dst: Path(dst).write_bytes(b"weights"))
    monkeypatch.setattr(features_module, "INCEPTION_SHA256_PREFIX", hashlib.sha256(b"weights").hexdigest()[:8])
    assert find_inception_weights() == hub_weights_path() and hub_weights_path().read_bytes() == b"weights"


def test_offline_is_weights_not_found_and_other_download_errors_propagate(tmp_path, monkeypatch):
    def offline(url, dst):
        raise urllib.error.URLError("no route to host")

    _use_empty_hub(tmp_path, monkeypatch, offline)
    with pytest.raises(WeightsNotFoundError, match="URLError.*no route to host"):
        find_inception_weights()

    def broken(url, dst):
        raise TypeError("a bug, not a missing file")

    _use_empty_hub(tmp_path, monkeypatch, broken)
    with pytest.raises(TypeError, match="a bug"):
        find_inception_weights()


def test_lookup_order_argument_then_environment_then_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = hub_weights_path()
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"hub")
    from_env, from_argument = tmp_path / "env.pth", tmp_path / "argument.pth"
    from_env.write_bytes(b"env")
    from_argument.write_bytes(b"argument")
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    assert find_inception_weights(download=False) == hub
    monkeypatch.setenv(INCEPTION_ENV, str(from_env))
    assert find_inception_weights(download=False) == from_env
    assert find_inception_weights(from_argument, download=False) == from_argument
    # a named file that is missing is an error, not a reason to take another one
    with pytest.raises(WeightsNotFoundError, match=r"missing.pth \(from weights_path\) does not exist"):
        find_inception_weights(tmp_path / "missing.pth", download=False)
    monkeypatch.setenv(INCEPTION_ENV, str(tmp_path / "moved.pth"))
    with pytest.raises(WeightsNotFoundError, match=r"moved.pth \(from \$GRANLIB_INCEPTION_WEIGHTS\)"):
        find_inception_weights(download=False)


def test_extractor_names_and_metric_labels():
    assert metric_label("inception") == metric_label(InceptionFeatures.name) == "FID"
    assert metric_label("effnet_lite0") == "FD-EffNetLite0"
    with pytest.raises(ValueError, match="choose one of"):
        build_feature_extractor("vgg")


def test_proxy_extractor_shapes_and_label():
    proxy = build_feature_extractor("effnet_lite0")
    assert isinstance(proxy, EffNetLite0Features) and metric_label(proxy) == "FD-EffNetLite0"
    pooled, logits = proxy(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert pooled.shape == (2, proxy.dims) == (2, 1280) and logits.shape == (2, 1000)
    assert torch.isfinite(pooled).all() and pooled.std() > 0


def test_building_the_proxy_prints_nothing(capfd):
    """Its package announces the weights it loads on stdout; a notebook's output should not carry that line."""
    pytest.importorskip("efficientnet_lite_pytorch")
    build_feature_extractor("effnet_lite0")
    assert capfd.readouterr().out == ""
