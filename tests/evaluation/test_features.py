import hashlib

import pytest
import torch

from granlib.evaluation.features import (
    INCEPTION_ENV,
    EffNetLite0Features,
    InceptionFeatures,
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
    assert large.std() > 1e-3  # the calibrated stub gives O(1) features, so the comparison is meaningful
    torch.testing.assert_close(small, large, rtol=1e-5, atol=1e-5)


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
    with pytest.raises(ValueError, match="not the FID Inception weights"):
        InceptionFeatures()  # the stub's sha256 is not the real file's
    features = InceptionFeatures(verify=False)
    assert features.weights_sha256 == hashlib.sha256(stub_weights.read_bytes()).hexdigest()


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
