import os
import warnings

import numpy as np
import pytest
from PIL import Image

from granlib.data import SyntheticImages, dataset_identity, load_dataset
from granlib.evaluation.metrics import evaluate
from granlib.evaluation.reference import CorruptCacheWarning, reference_statistics
from granlib.models import build_models


def test_evaluate_and_cached_reference(tmp_path, extractor):
    dataset = SyntheticImages(size=12)
    description = {"dataset": "synthetic", "split": "train", "resolution": 32}
    reference = reference_statistics(dataset, description, extractor, cache_dir=tmp_path, batch_size=6)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and "synthetic" in files[0].name and "n-12" in files[0].name
    again = reference_statistics(dataset, description, extractor, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.sigma, reference.sigma)
    assert reference_statistics(dataset, description, extractor, cache_dir=tmp_path) is again  # read once per process
    os.utime(files[0], ns=(files[0].stat().st_atime_ns, files[0].stat().st_mtime_ns + 1))  # a rewritten file ...
    assert reference_statistics(dataset, description, extractor, cache_dir=tmp_path) is not again  # ... is re-read
    subset = reference_statistics(dataset, description, extractor, cache_dir=tmp_path, n=8)  # another n: another file
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert subset.description["subset"] == "randperm-seed0"  # a random subset, not the first 8 (one class each)

    generator, _ = build_models("cnn", 32, nz=8, ngf=16)
    result = evaluate(generator, reference, n_samples=12, extractor=extractor, batch_size=6, splits=2,
                      kid_subsets=2, kid_subset_size=6)
    assert result["metric"] == "FID" and result["n_fake"] == 12 and result["n_real"] == 12
    assert result["fd"] > 0 and result["is_mean"] >= 1.0 and np.isfinite(result["kid_mean"])
    assert result["feature_extractor"] == "inception-v3-fid" and len(result["weights_sha256"]) == 64


def _png_folder(root, make_pixels, n=40):
    (root / "class0").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(make_pixels(i)).save(root / "class0" / f"{i:03d}.png")
    return root


def test_two_folders_of_one_name_and_size_never_share_a_cache_file(tmp_path, extractor):
    rng = np.random.default_rng(0)
    noise = _png_folder(tmp_path / "a" / "train", lambda i: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    flat = _png_folder(tmp_path / "b" / "train", lambda i: np.full((32, 32, 3), 100 + i, dtype=np.uint8))
    results = []
    for folder in (noise, flat):
        name = f"imagefolder:{folder}"
        description = {"dataset": dataset_identity(name).key, "split": "train", "resolution": 32}
        results.append(reference_statistics(load_dataset(name), description, extractor, cache_dir=tmp_path / "cache"))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    assert not np.allclose(results[0].mu, results[1].mu)
    # even under one description (say, a folder moved), different images get different files
    same = {"dataset": "imagefolder:/moved/train", "split": "train", "resolution": 32}
    first = reference_statistics(load_dataset(f"imagefolder:{noise}"), same, extractor, cache_dir=tmp_path / "c2")
    second = reference_statistics(load_dataset(f"imagefolder:{flat}"), same, extractor, cache_dir=tmp_path / "c2")
    assert not np.allclose(first.mu, second.mu) and len(list((tmp_path / "c2").glob("*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_an_unreadable_cache_file_is_recomputed_with_a_warning_naming_it(tmp_path, extractor, damage):
    dataset = SyntheticImages(size=12)
    description = {"dataset": "synthetic", "split": "train", "resolution": 32}
    good = reference_statistics(dataset, description, extractor, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    data = path.read_bytes()
    garbled = (np.frombuffer(data, np.uint8) ^ 0x5A).tobytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncate" else garbled)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10))
    with pytest.warns(CorruptCacheWarning, match=str(path)):
        again = reference_statistics(dataset, description, extractor, cache_dir=tmp_path)
    np.testing.assert_allclose(again.mu, good.mu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten: read without a warning now
        reference_statistics(dataset, description, extractor, cache_dir=tmp_path)
