"""The CIFAR-10 JPEG copy unpacked by ``python -m granlib.data unpack`` on a small archive built here."""

import io
import tarfile

import pytest
from PIL import Image

import granlib.archives
from granlib.archives import ArchiveError, Layout, unpack
from granlib.data import load_dataset, main
from granlib.project import PROJECT_ENV

SMALL = Layout("cifar10-jpeg", granlib.archives.CIFAR10_CLASSES, {"train": 20, "test": 10})


def archive(path, per_class={"train": 2, "test": 1}, extra=()):  # noqa: B006
    """A .tar.gz laid out like the CIFAR-10 JPEG copy: cifar10-jpeg/<split>/<class>/NNNN.jpg."""
    image = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(image, "JPEG", quality=75)
    with tarfile.open(path, "w:gz") as tar:
        names = [f"cifar10-jpeg/{split}/{cls}/{i:04d}.jpg" for split, n in per_class.items()
                 for cls in granlib.archives.CIFAR10_CLASSES for i in range(n)]
        for name in [*names, *extra]:
            info = tarfile.TarInfo(name)
            info.size = len(image.getvalue())
            tar.addfile(info, io.BytesIO(image.getvalue()))
    return path


def test_unpack_makes_data_checks_the_counts_and_is_read_by_a_profile(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    (project / "params").mkdir(parents=True)
    (project / "notebooks").mkdir()
    monkeypatch.setenv(PROJECT_ENV, str(project))
    monkeypatch.setattr(granlib.archives, "CIFAR10_JPEG", SMALL)  # the command's layout, at this archive's size
    assert main(["unpack", str(archive(tmp_path / "cifar10-jpeg.tar.gz"))]) == 0  # data/ does not exist yet
    assert "train 20, test 10 images in 10 class folders" in capsys.readouterr().out
    folder = project / "data" / "cifar10-jpeg"
    assert len(load_dataset(f"imagefolder:{folder / 'train'}")) == 20
    assert sorted(p.name for p in (project / "data").iterdir()) == ["cifar10-jpeg"]  # no staging folder left
    assert main(["unpack", str(tmp_path / "gone.tar.gz")]) == 0  # in place and checked: nothing to unpack


def test_unpack_refuses_an_archive_that_is_not_the_dataset(tmp_path, capsys):
    short = archive(tmp_path / "short.tar.gz")
    assert main(["unpack", str(short), "--into", str(tmp_path / "data")]) == 1  # the real layout: 50 000 / 10 000
    assert "20 images, expected 50000" in capsys.readouterr().err
    assert list((tmp_path / "data").iterdir()) == []  # nothing half-unpacked where a profile looks
    with pytest.raises(ArchiveError, match="class folders"):
        unpack(archive(tmp_path / "nine.tar.gz", {"train": 2, "test": 1}, extra=["cifar10-jpeg/test/extra/0.jpg"]),
               tmp_path / "nine", SMALL)
    with pytest.raises(ArchiveError, match="refusing archive member"):
        unpack(archive(tmp_path / "escape.tar.gz", extra=["../outside.jpg"]), tmp_path / "escape", SMALL)
    assert not (tmp_path / "outside.jpg").exists()
    assert main(["unpack", str(tmp_path / "missing.tar.gz"), "--into", str(tmp_path / "d")]) == 1
    assert "no archive at" in capsys.readouterr().err
