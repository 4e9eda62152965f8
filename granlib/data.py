"""Datasets by name, as uint8 images, and the samplers that draw training batches: in memory, or streamed.

Names: ``cifar10``, ``cifar100`` (train split), ``stl10`` (train+unlabeled, resized to 48), ``lsun_bedroom``
(torchvision LSUN, or an ImageFolder export), ``celeba`` (all splits, centre crop 140 then resize),
``imagefolder:<path>`` (any folder of class subfolders) and ``synthetic`` (a tiny deterministic set made in
code, for tests and smoke runs). Batches come out as float in [-1, 1].

The data root is, in order: the ``root`` argument (a config's ``data_root``), the environment variable
``GRANLIB_DATA``, then ``./data``.

``python -m granlib.data unpack <archive>`` unpacks the CIFAR-10 JPEG copy into the project's ``data/`` and checks
it (:mod:`granlib.archives`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

DATA_ROOT_ENV = "GRANLIB_DATA"
NAMES = ("cifar10", "cifar100", "stl10", "lsun_bedroom", "celeba", "synthetic")
NATIVE_RESOLUTION = {"cifar10": 32, "cifar100": 32, "stl10": 48, "lsun_bedroom": 128, "celeba": 64, "synthetic": 32}
LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "stl10": "STL-10", "lsun_bedroom": "LSUN bedroom",
          "celeba": "CelebA", "synthetic": "synthetic (smoke data, not a result)"}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root``, else $GRANLIB_DATA, else ./data."""
    return Path(root or os.environ.get(DATA_ROOT_ENV) or "data").expanduser()


class DatasetIdentity(NamedTuple):
    """What a result was measured on: ``key`` joins rows with each other and with published anchors; ``label``
    is what a table shows (the variant included)."""

    key: str  # a granlib dataset name ("cifar10"), or "imagefolder:<absolute path>"
    label: str  # e.g. "CIFAR-10", "CIFAR-10 (JPEG-q75 copy)"


def dataset_identity(name: str, variant: str = "", stands_for: str | None = None) -> DatasetIdentity:
    """The identity of dataset ``name``: its canonical key and display label.

    ``variant`` is the display label of a copy (a profile's ``dataset_variant``, e.g. "CIFAR-10 (JPEG-q75 copy)");
    ``stands_for`` names the dataset that ``name`` stands in for (an image-folder copy of CIFAR-10, or the smoke
    profile's synthetic images), which then gives the key, so that the copy's rows meet that dataset's anchors and
    the label says what was really used.
    """
    base, _, path = name.partition(":")
    key = f"imagefolder:{Path(path).expanduser().resolve()}" if base == "imagefolder" else name
    label = variant or (f"image folder {key.split(':', 1)[1]}" if base == "imagefolder" else LABELS.get(name, name))
    if stands_for and stands_for != name:
        if not variant:
            label = f"{label} standing in for {LABELS.get(stands_for, stands_for)}"
        key = stands_for
    return DatasetIdentity(key, label)


def content_fingerprint(dataset: Dataset, samples: int = 64) -> str:
    """sha256 of the dataset's size and the pixels of a seeded choice of its images: two sets that share a name,
    a folder name or a size but not their images get different fingerprints (caches key on it)."""
    digest = hashlib.sha256(str(len(dataset)).encode())
    chosen = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:samples].sort().values
    for i in chosen.tolist():
        digest.update(dataset[i][0].contiguous().numpy().tobytes())
    return digest.hexdigest()


class SyntheticImages(Dataset):
    """A deterministic toy image set: coloured Gaussian blobs on gradients, 8 classes, made in code.

    Same images on every machine and torch version (float32 arithmetic on a seeded CPU generator).
    """

    def __init__(self, size: int = 512, resolution: int = 32, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        coords = torch.linspace(-1, 1, resolution)
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        labels = torch.arange(size) % 8
        palette = torch.rand(8, 3, generator=gen)
        centres = torch.rand(size, 2, generator=gen) * 1.2 - 0.6
        widths = 0.15 + 0.25 * torch.rand(size, 1, 1, generator=gen)
        blob = torch.exp(-((xx - centres[:, :1, None]) ** 2 + (yy - centres[:, 1:, None]) ** 2) / (2 * widths**2))
        angle = labels.float()[:, None, None] * (math.pi / 4)
        ramp = 0.5 + 0.25 * (xx * torch.cos(angle) + yy * torch.sin(angle))
        colour = palette[labels][:, :, None, None]
        images = ramp[:, None] * (1 - colour) + blob[:, None] * colour
        self.images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], int(self.labels[i])


def _transform(resolution: int, center_crop: int | None = None):
    from torchvision import transforms as T  # torchvision's import is slow; only file-backed sets need it

    steps = [T.CenterCrop(center_crop)] if center_crop else []
    steps += [T.Resize(resolution, antialias=True), T.CenterCrop(resolution), T.PILToTensor()]
    return T.Compose(steps)


def _how_to_provide(name: str, root: Path) -> str:
    hints = {
        "imagefolder": "check the path: an image folder is a directory of class subfolders holding the images "
                       "(e.g. the train/ folder of an unpacked archive); image folders are never downloaded",
        "lsun_bedroom": f"put LSUN's bedroom_train_lmdb under {root} (torchvision.datasets.LSUN), or export it to an "
                        f"image folder and use 'imagefolder:<path>'",
        "celeba": f"put torchvision's celeba/ folder (img_align_celeba and the list files) under {root}",
    }
    default = (f"run once with network access (download=True), or copy torchvision's files for {name} into {root}; "
               f"set the root with the config field data_root or ${DATA_ROOT_ENV}")
    return hints.get(name.split(":", 1)[0], default)


# what torchvision's RuntimeError says when a set's files are absent or fail their checksum (every set here)
_TORCHVISION_MISSING = "not found or corrupted"


def _open_dataset(name: str, root_path: Path, resolution: int, download: bool) -> Dataset:
    """The file-backed set ``name`` as torchvision opens it (raises whatever torchvision, os or lmdb raise)."""
    import torchvision.datasets as tvd  # slow to import; the synthetic set does not need it

    base = name.split(":", 1)[0]
    transform = _transform(resolution, center_crop=140 if name == "celeba" else None)
    if base == "imagefolder":
        return tvd.ImageFolder(str(Path(name.split(":", 1)[1]).expanduser()), transform=transform)
    if name == "cifar10":
        return tvd.CIFAR10(str(root_path), train=True, download=download, transform=transform)
    if name == "cifar100":
        return tvd.CIFAR100(str(root_path), train=True, download=download, transform=transform)
    if name == "stl10":
        return tvd.STL10(str(root_path), split="train+unlabeled", download=download, transform=transform)
    if name == "celeba":
        # torchvision downloads CelebA through gdown; without it the files must be on disk (else "not found")
        download = download and importlib.util.find_spec("gdown") is not None
        return tvd.CelebA(str(root_path), split="all", download=download, transform=transform)
    if name == "lsun_bedroom":
        database, export = root_path / "bedroom_train_lmdb", root_path / "lsun_bedroom"
        if export.is_dir() and not database.exists():
            return tvd.ImageFolder(str(export), transform=transform)
        if not database.is_dir():  # LSUN is never downloaded, and without a database lmdb need not be installed
            raise FileNotFoundError(f"no LMDB database at {database} and no image-folder export at {export}")
        return tvd.LSUN(str(root_path), classes=["bedroom_train"], transform=transform)
    raise ValueError(f"unknown dataset {name!r}; choose one of {NAMES} or 'imagefolder:<path>'")


def load_dataset(name: str, root: str | os.PathLike | None = None, resolution: int | None = None,
                 download: bool = True) -> Dataset:
    """The named dataset as (uint8 CHW image, label) pairs at ``resolution`` (default: the dataset's own).

    Raises DatasetNotFoundError, saying how to provide the set, when its files are absent or unreadable and
    cannot be downloaded; any other error (a bad argument, a bug in a transform) propagates as it is.
    """
    base = name.split(":", 1)[0]
    resolution = resolution or NATIVE_RESOLUTION.get(base, 32)
    root_path = data_root(root)
    if name == "synthetic":
        return SyntheticImages(resolution=resolution)
    try:
        return _open_dataset(name, root_path, resolution, download)
    except (OSError, RuntimeError) as error:
        # OSError: os on an absent or unreadable root or folder, urllib offline; a RuntimeError only from
        # torchvision's check of the set's files
        if isinstance(error, RuntimeError) and _TORCHVISION_MISSING not in str(error):
            raise
        where = (Path(name.split(":", 1)[1]) if base == "imagefolder" else root_path).expanduser().absolute()
        raise DatasetNotFoundError(
            f"dataset '{name}' is not available under {where} ({type(error).__name__}: {error}). "
            f"How to provide it: {_how_to_provide(name, root_path)}"
        ) from error


def to_float(images: Tensor) -> Tensor:
    """uint8 [0, 255] → float [-1, 1]."""
    return images.float() / 127.5 - 1.0


def real_images(name: str, n: int, seed: int = 0, root: str | os.PathLike | None = None,
                resolution: int | None = None) -> Tensor:
    """``n`` images of dataset ``name`` in [−1, 1], chosen by a permutation seeded by ``seed``: the one source of
    the real images a study measures and a figure shows. A set not on disk is not downloaded: DatasetNotFoundError
    says how to provide it."""
    images = load_dataset(name, root, resolution, download=False)
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    return to_float(torch.stack([images[i][0] for i in chosen]))


_DECODED: dict[tuple, Tensor] = {}  # per-process cache of decoded sets (see decoded_images)


def _dataset_key(dataset: Dataset) -> tuple | None:
    """What identifies a decoded set: its type, root and transform (None: do not cache)."""
    root = getattr(dataset, "root", None)
    if root is None:
        return None
    return type(dataset).__name__, str(root), len(dataset), repr(getattr(dataset, "transform", None))


def decoded_images(dataset: Dataset, num_workers: int | None = None) -> Tensor:
    """The whole dataset as one uint8 (N, C, H, W) CPU tensor, decoded once per process.

    A notebook that trains several runs on one set (a K sweep, a fast-vs-reference comparison) decodes the
    50k JPEGs once instead of once per run; the cache keeps the most recent set only.
    """
    if isinstance(dataset, SyntheticImages):
        return dataset.images
    key = _dataset_key(dataset)
    if key is not None and key in _DECODED:
        return _DECODED[key]
    workers = num_workers if num_workers is not None else min(8, os.cpu_count() or 1)
    loader = DataLoader(dataset, batch_size=500, num_workers=workers)
    images = torch.cat([batch for batch, _ in loader])
    if key is not None:
        _DECODED.clear()
        _DECODED[key] = images
    return images


class InMemorySampler:
    """The whole dataset decoded once into one uint8 tensor (on ``device``); batches by random indices.

    The indices come from the sampler's own ``torch.Generator`` on ``device``: a checkpoint restores the stream
    exactly, and on a GPU no index tensor crosses from the host (that copy would synchronise every step).
    """

    def __init__(self, dataset: Dataset, device: str | torch.device = "cpu", seed: int = 0):
        self.device = torch.device(device)
        self.images = decoded_images(dataset).to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch_size: int) -> Tensor:
        index = torch.randint(len(self.images), (batch_size,), generator=self.generator, device=self.device)
        return to_float(self.images[index])

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def reseed(self, seed: int) -> None:
        """Restart the index stream from ``seed`` (each rank's own stream when a run resumes under torchrun)."""
        self.generator.manual_seed(seed)


class StreamingSampler:
    """For sets too large for memory: each epoch a seeded permutation, read in order by a DataLoader.

    The state is (epoch, images of the epoch handed out), so a checkpoint resumes the stream exactly where it
    stopped: the loader restarts at that position of the same permutation.
    """

    def __init__(self, dataset: Dataset, device: str | torch.device = "cpu", seed: int = 0,
                 num_workers: int | None = None):
        if len(dataset) == 0:
            raise ValueError("cannot sample from an empty dataset")
        self.dataset, self.device, self.seed = dataset, torch.device(device), seed
        self.num_workers = min(4, os.cpu_count() or 1) if num_workers is None else num_workers  # decoding processes
        self.epoch, self.position = 0, 0  # position: images of this epoch's permutation handed out so far
        self._iterator, self._buffer = None, None  # loaded images not yet handed out

    def __len__(self) -> int:
        return len(self.dataset)

    def _next_images(self) -> Tensor:
        """The next loaded images of the stream (from the buffer, else the loader; a new epoch when it runs out)."""
        if self._buffer is not None:
            images, self._buffer = self._buffer, None
            return images
        if self.position == len(self.dataset):
            self.epoch, self.position, self._iterator = self.epoch + 1, 0, None
        if self._iterator is None:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(len(self.dataset), generator=generator)[self.position:].tolist()
            # the loader's own generator seeds its workers: the global RNG (G's noise) is never drawn from
            self._iterator = iter(DataLoader(Subset(self.dataset, order), batch_size=256, shuffle=False,
                                             generator=generator, num_workers=self.num_workers,
                                             pin_memory=self.device.type == "cuda"))
        return next(self._iterator)[0]

    def sample(self, batch_size: int) -> Tensor:
        parts, have = [], 0
        while have < batch_size:
            images = self._next_images()
            take = images[: batch_size - have]
            if len(take) < len(images):
                self._buffer = images[len(take):]
            parts.append(take)
            have += len(take)
            self.position += len(take)
        batch = torch.cat(parts)
        if self.device.type == "cuda":
            batch = batch.pin_memory()  # from pageable memory a "non-blocking" copy would still wait on the host
        return to_float(batch.to(self.device, non_blocking=True))

    def state_dict(self) -> dict:
        return {"epoch": torch.tensor(self.epoch), "position": torch.tensor(self.position)}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state.get("position", 0))
        self._iterator, self._buffer = None, None

    def reseed(self, seed: int) -> None:
        """Restart the stream from ``seed`` at the start of an epoch (as :meth:`InMemorySampler.reseed`)."""
        self.seed = seed
        self.load_state_dict({"epoch": 0, "position": 0})


IN_MEMORY_MAX_BYTES = 8 * 2**30  # decoded sets up to this size are held in memory when in_memory is None


def decoded_bytes(dataset: Dataset) -> int:
    """The size of the whole set as uint8 images (from its first image's shape)."""
    return len(dataset) * dataset[0][0].numel() if len(dataset) else 0


def holds_in_memory(dataset: Dataset, in_memory: bool | None = None, max_bytes: int = IN_MEMORY_MAX_BYTES) -> bool:
    """``in_memory`` resolved: None holds the set in memory when its decoded size is at most ``max_bytes`` (CIFAR,
    STL-10, CelebA at 64×64: 0.15-2.5 GB) and streams larger ones (LSUN bedroom at 128×128: about 150 GB)."""
    return decoded_bytes(dataset) <= max_bytes if in_memory is None else bool(in_memory)


def make_sampler(dataset: Dataset, device: str | torch.device, seed: int, in_memory: bool | None = None,
                 max_bytes: int = IN_MEMORY_MAX_BYTES):
    """InMemorySampler or StreamingSampler, as :func:`holds_in_memory` decides."""
    if holds_in_memory(dataset, in_memory, max_bytes):
        return InMemorySampler(dataset, device, seed)
    return StreamingSampler(dataset, device, seed)


def main(argv: list[str] | None = None) -> int:
    """``python -m granlib.data unpack ARCHIVE [--into DIR]``: the CIFAR-10 JPEG copy into the project's ``data/``."""
    import argparse

    from granlib.archives import CIFAR10_JPEG, ArchiveError, unpack
    from granlib.project import project_root

    parser = argparse.ArgumentParser(prog="python -m granlib.data", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("unpack", help="unpack and check the CIFAR-10 JPEG copy (cifar10-jpeg.tar.gz)")
    command.add_argument("archive", help="the path of cifar10-jpeg.tar.gz")
    command.add_argument("--into", help="the data folder (default: data/ of the project)")
    args = parser.parse_args(argv)
    into = Path(args.into) if args.into else project_root() / "data"
    try:
        folder, counts = unpack(args.archive, into, CIFAR10_JPEG)
    except (ArchiveError, FileNotFoundError) as error:
        print(f"granlib.data unpack: {error}", file=sys.stderr)
        return 1
    images = ", ".join(f"{split} {n:,}".replace(",", " ") for split, n in counts.items())
    root = project_root()
    named = folder.relative_to(root) if folder.is_relative_to(root) else folder  # as a profile names it
    print(f"{folder}: {images} images in {len(CIFAR10_JPEG.classes)} class folders each; profiles read it as "
          f"imagefolder:{named}/train and imagefolder:{named}/test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
