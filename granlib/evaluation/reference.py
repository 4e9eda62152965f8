"""Feature statistics of real images, cached on disk under a key of everything they depend on."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from granlib.data import content_fingerprint
from granlib.evaluation.statistics import extract

_LOADED_REFERENCES: dict[Path, tuple[int, ReferenceStatistics]] = {}  # cache file -> (its mtime, its contents)


@dataclass
class ReferenceStatistics:
    mu: np.ndarray
    sigma: np.ndarray
    kid_features: np.ndarray
    n: int
    description: dict


class CorruptCacheWarning(UserWarning):
    """A cached statistics file could not be read; it is recomputed."""


def reference_statistics(dataset, description: dict, extractor: nn.Module, cache_dir: str | Path | None = None,
                         n: int | None = None, batch_size: int = 250, device="cpu") -> ReferenceStatistics:
    """Statistics of a dataset's uint8 images, cached on disk under a name that encodes everything they depend on.

    ``description`` identifies the data: its canonical key (``granlib.data.dataset_identity``: an image folder by
    its absolute path), split and resolution. The cache key adds a fingerprint of the images themselves
    (:func:`granlib.data.content_fingerprint`), so two folders of one name and size never share a file; then n,
    the resize method, the extractor's name and its weights' sha256. A file that cannot be read is recomputed
    with a warning naming it; files are written atomically.
    """
    n = min(n or len(dataset), len(dataset))
    # a seeded random subset when n < len(dataset): image folders are sorted by class, so a prefix would be one class
    subset = (torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n].sort().values.tolist()
              if n < len(dataset) else list(range(n)))
    key = {**description, "content_sha256": content_fingerprint(dataset), "n": n,
           "subset": "all" if n == len(dataset) else "randperm-seed0", "extractor": extractor.name,
           "resize": "bilinear-in-extractor", "weights_sha256": extractor.weights_sha256}
    readable = {k: v for k, v in sorted(key.items()) if k not in ("weights_sha256", "content_sha256")}
    name = "_".join(f"{k}-{v}" for k, v in readable.items())[:120]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) + f"_{digest}"
    cache = Path(cache_dir or os.environ.get("GRANLIB_CACHE", Path.home() / ".cache" / "granlib")) / f"{name}.npz"
    if cache.exists():
        remembered = _LOADED_REFERENCES.get(cache)
        if remembered is not None and remembered[0] == cache.stat().st_mtime_ns and remembered[1].description == key:
            return remembered[1]  # periodic evaluation: read the file once per process
        try:
            with np.load(cache) as saved:
                if json.loads(str(saved["key"])) == key:
                    result = ReferenceStatistics(saved["mu"], saved["sigma"], saved["kid"], n, key)
                    _LOADED_REFERENCES[cache] = (cache.stat().st_mtime_ns, result)
                    return result
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(f"reference statistics cache {cache} is unreadable ({type(error).__name__}: {error}); "
                          f"recomputing it", CorruptCacheWarning, stacklevel=2)

    def batches():
        for start in range(0, n, batch_size):
            yield torch.stack([dataset[i][0] for i in subset[start: start + batch_size]])

    stats = extract(extractor, batches(), device)
    result = ReferenceStatistics(stats.mu, stats.sigma, stats.kid_array(), n, key)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, mu=result.mu, sigma=result.sigma, kid=result.kid_features, key=json.dumps(key))
    os.replace(tmp, cache)
    _LOADED_REFERENCES[cache] = (cache.stat().st_mtime_ns, result)
    return result
