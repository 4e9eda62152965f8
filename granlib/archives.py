"""Dataset archives unpacked into the project's ``data/`` and checked: what ``python -m granlib.data unpack`` does.

An archive is unpacked into a hidden folder beside its destination and moved into place only once its contents
check out (:class:`Layout`: the splits, their class folders and image counts), so an interrupted or wrong archive
never leaves a half-filled dataset folder where a profile looks for it. Members that would land outside the
destination (absolute paths, ``..``, links) are refused.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class ArchiveError(ValueError):
    """An archive that does not hold the dataset it should, or a member that would land outside its folder."""


@dataclass(frozen=True)
class Layout:
    """What an unpacked dataset holds: ``folder`` (the archive's top folder) with one folder per split, each with
    the same class folders and ``images[split]`` images in all."""

    folder: str
    classes: tuple[str, ...]
    images: dict[str, int]


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The JPEG-q75 copy of CIFAR-10 the CPU profiles train on: cifar10-jpeg/{train,test}/<class>/NNNN.jpg
CIFAR10_JPEG = Layout("cifar10-jpeg", CIFAR10_CLASSES, {"train": 50_000, "test": 10_000})


def check_layout(folder: Path, layout: Layout) -> dict[str, int]:
    """The image count per split of ``folder``; :class:`ArchiveError` naming the first thing that differs from
    ``layout``."""
    counts = {}
    for split, expected in layout.images.items():
        where = folder / split
        classes = sorted(p.name for p in where.iterdir() if p.is_dir()) if where.is_dir() else []
        if classes != sorted(layout.classes):
            raise ArchiveError(f"{where}: class folders {classes or 'none'}, expected {sorted(layout.classes)}")
        counts[split] = sum(1 for p in where.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if counts[split] != expected:
            raise ArchiveError(f"{where}: {counts[split]} images, expected {expected}")
    return counts


def _safe_members(archive: tarfile.TarFile, into: Path) -> list[tarfile.TarInfo]:
    """Every member, refusing one that is not a plain file or folder or would land outside ``into``."""
    members = archive.getmembers()
    for member in members:
        target = (into / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(into.resolve()):
            raise ArchiveError(f"refusing archive member {member.name!r}: not a file or folder inside the archive")
    return members


def unpack(archive: str | Path, data_dir: str | Path, layout: Layout = CIFAR10_JPEG) -> tuple[Path, dict[str, int]]:
    """Unpack ``archive`` (a .tar.gz holding ``layout.folder``) into ``data_dir`` (made when missing) and check it;
    returns the dataset folder and its image counts. A folder already in place that checks out is kept as it is."""
    archive, data_dir = Path(archive).expanduser().absolute(), Path(data_dir).expanduser().absolute()
    destination = data_dir / layout.folder
    if destination.exists():
        return destination, check_layout(destination, layout)
    if not archive.is_file():
        raise FileNotFoundError(f"no archive at {archive}")
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{layout.folder}.unpacking-", dir=data_dir))
    try:
        with tarfile.open(archive) as opened:
            opened.extractall(staging, members=_safe_members(opened, staging))
        if not (staging / layout.folder).is_dir():
            found = sorted(p.name for p in staging.iterdir())
            raise ArchiveError(f"{archive} holds {found or 'nothing'}, not a folder {layout.folder}/")
        counts = check_layout(staging / layout.folder, layout)
        (staging / layout.folder).rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination, counts
