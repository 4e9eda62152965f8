import pytest
import torch
from PIL import Image

from granlib.data import (
    DatasetNotFoundError,
    InMemorySampler,
    StreamingSampler,
    SyntheticImages,
    content_fingerprint,
    data_root,
    dataset_identity,
    decoded_images,
    load_dataset,
    make_sampler,
    real_images,
    to_float,
)


def test_synthetic_is_deterministic_uint8():
    a, b = SyntheticImages(size=64), SyntheticImages(size=64)
    assert a.images.dtype == torch.uint8 and a.images.shape == (64, 3, 32, 32)
    assert torch.equal(a.images, b.images)
    assert a.images.float().std() > 20  # not a constant image
    assert SyntheticImages(size=8, resolution=48).images.shape == (8, 3, 48, 48)


def test_in_memory_sampler_range_and_resume():
    sampler = InMemorySampler(SyntheticImages(size=64))
    batch = sampler.sample(16)
    assert batch.shape == (16, 3, 32, 32) and batch.min() >= -1 and batch.max() <= 1
    state = sampler.state_dict()
    first = sampler.sample(8)
    sampler.load_state_dict(state)
    assert torch.equal(first, sampler.sample(8))


def make_image_folder(root, n_per_class=3, size=20):
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(n_per_class):
            colour = (i * 40, 100, 200 if label == "cat" else 0)
            Image.new("RGB", (size, size), color=colour).save(root / label / f"{i}.png")


def test_imagefolder_resized_uint8(tmp_path):
    make_image_folder(tmp_path)
    dataset = load_dataset(f"imagefolder:{tmp_path}", resolution=16)
    image, label = dataset[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 16, 16) and label in (0, 1)
    assert len(InMemorySampler(dataset)) == 6
    streaming = StreamingSampler(dataset, num_workers=0)
    assert streaming.sample(10).shape == (10, 3, 16, 16)  # spans more than one epoch


def _images_as_keys(batch):
    return [tuple(image.flatten().tolist()) for image in batch]


def test_streaming_sampler_hands_out_each_image_once_per_epoch():
    dataset = SyntheticImages(size=40)
    sampler = StreamingSampler(dataset, num_workers=0)
    first_epoch = torch.cat([sampler.sample(16), sampler.sample(16), sampler.sample(8)])
    assert sorted(_images_as_keys(first_epoch)) == sorted(_images_as_keys(to_float(dataset.images)))
    assert (sampler.epoch, sampler.position) == (0, 40)
    second_epoch = torch.cat([sampler.sample(25), sampler.sample(15)])
    assert sorted(_images_as_keys(second_epoch)) == sorted(_images_as_keys(first_epoch))
    assert not torch.equal(second_epoch, first_epoch)  # a new permutation each epoch


@pytest.mark.parametrize("consumed", [3, 16, 40, 57])  # mid-batch, on a batch edge, at and past an epoch's end
def test_streaming_sampler_resumes_exactly(consumed):
    dataset = SyntheticImages(size=40)
    straight = StreamingSampler(dataset, seed=3, num_workers=0)
    straight.sample(consumed)
    state = {key: value.clone() for key, value in straight.state_dict().items()}
    expected = straight.sample(50)
    resumed = StreamingSampler(dataset, seed=3, num_workers=0)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.sample(50), expected)


def test_make_sampler_holds_small_sets_in_memory_and_streams_large_ones():
    dataset = SyntheticImages(size=10)  # 10 × 3×32×32 bytes decoded
    assert isinstance(make_sampler(dataset, "cpu", 0), InMemorySampler)
    assert isinstance(make_sampler(dataset, "cpu", 0, max_bytes=10 * 3 * 32 * 32 - 1), StreamingSampler)
    assert isinstance(make_sampler(dataset, "cpu", 0, in_memory=True, max_bytes=0), InMemorySampler)  # as asked
    assert isinstance(make_sampler(dataset, "cpu", 0, in_memory=False), StreamingSampler)


def test_a_folder_is_decoded_once_per_process(tmp_path):
    make_image_folder(tmp_path / "a")
    make_image_folder(tmp_path / "b", n_per_class=2)
    first = decoded_images(load_dataset(f"imagefolder:{tmp_path / 'a'}", resolution=16), num_workers=0)
    again = decoded_images(load_dataset(f"imagefolder:{tmp_path / 'a'}", resolution=16), num_workers=0)
    assert again is first and first.shape == (6, 3, 16, 16) and first.dtype == torch.uint8
    other_size = decoded_images(load_dataset(f"imagefolder:{tmp_path / 'a'}", resolution=8), num_workers=0)
    assert other_size.shape == (6, 3, 8, 8)  # another transform is another set
    assert decoded_images(load_dataset(f"imagefolder:{tmp_path / 'b'}", resolution=16), num_workers=0).shape[0] == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_samplers_on_cuda_give_the_cpu_batches(tmp_path):
    make_image_folder(tmp_path)
    dataset = load_dataset(f"imagefolder:{tmp_path}", resolution=16)
    on_gpu, on_cpu = StreamingSampler(dataset, "cuda", num_workers=0), StreamingSampler(dataset, num_workers=0)
    batch = on_gpu.sample(10)
    assert batch.device.type == "cuda" and torch.equal(batch.cpu(), on_cpu.sample(10))
    memory = InMemorySampler(dataset, "cuda")
    assert memory.images.device.type == "cuda" and memory.sample(4).device.type == "cuda"


def test_missing_dataset_error_names_dataset_root_and_remedy(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", root=tmp_path, download=False)
    message = str(info.value)
    assert "cifar10" in message and str(tmp_path) in message and "GRANLIB_DATA" in message
    with pytest.raises(DatasetNotFoundError, match="lsun_bedroom"):
        load_dataset("lsun_bedroom", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="no_such_folder") as info:
        load_dataset(f"imagefolder:{tmp_path / 'no_such_folder'}")
    assert "class subfolders" in str(info.value) and "download=True" not in str(info.value)


def test_a_missing_image_folder_is_named_by_its_absolute_path(tmp_path, monkeypatch):
    """A relative folder is looked for from the current directory, and the error says which folder that was."""
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("imagefolder:data/cifar10-jpeg/train")
    assert f"under {tmp_path / 'notebooks' / 'data' / 'cifar10-jpeg' / 'train'} " in str(info.value)


def test_missing_celeba_and_lsun_errors_name_their_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="celeba") as info:
        load_dataset("celeba", root=tmp_path)  # download=True: a download through gdown, if installed, fails offline
    assert str(tmp_path) in str(info.value) and "img_align_celeba" in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="bedroom_train_lmdb") as info:
        load_dataset("lsun_bedroom", root=tmp_path)
    assert "imagefolder:<path>" in str(info.value)


def test_a_folder_without_images_or_an_unreadable_root_is_a_missing_dataset(tmp_path, monkeypatch):
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DatasetNotFoundError, match="class subfolders"):
        load_dataset(f"imagefolder:{tmp_path}")

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr("torchvision.datasets.CIFAR10", unreadable)
    with pytest.raises(DatasetNotFoundError, match="Permission denied"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_errors_other_than_missing_files_propagate_unchanged(tmp_path, monkeypatch):
    make_image_folder(tmp_path)

    def broken_transform(*args, **kwargs):
        raise ValueError("a bug in the transform")

    with monkeypatch.context() as patch:
        patch.setattr("granlib.data._transform", broken_transform)
        with pytest.raises(ValueError, match="a bug in the transform"):
            load_dataset(f"imagefolder:{tmp_path}")

    def broken_set(*args, **kwargs):
        raise RuntimeError("CUDA error: an unrelated failure")  # a RuntimeError that does not say "not found"

    monkeypatch.setattr("torchvision.datasets.CIFAR10", broken_set)
    with pytest.raises(RuntimeError, match="unrelated failure") as info:
        load_dataset("cifar10", root=tmp_path, download=False)
    assert not isinstance(info.value, DatasetNotFoundError)


def test_a_decoding_error_is_not_a_missing_dataset(tmp_path):
    make_image_folder(tmp_path)
    (tmp_path / "cat" / "9.png").write_bytes(b"not a png")
    dataset = load_dataset(f"imagefolder:{tmp_path}", resolution=16)  # the files are there: opening succeeds
    broken = [i for i, (path, _) in enumerate(dataset.samples) if path.endswith("9.png")][0]
    with pytest.raises(OSError, match="cannot identify image file") as info:
        dataset[broken]
    assert not isinstance(info.value, DatasetNotFoundError)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GRANLIB_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert str(data_root("/elsewhere")) == "/elsewhere"
    monkeypatch.delenv("GRANLIB_DATA")
    assert str(data_root()) == "data"


def test_identity_keys_and_labels(tmp_path):
    assert dataset_identity("stl10") == ("stl10", "STL-10")
    folder = dataset_identity(f"imagefolder:{tmp_path}/a/../train")
    assert folder.key == f"imagefolder:{(tmp_path / 'train').resolve()}"  # canonical: absolute, resolved
    copy = dataset_identity(f"imagefolder:{tmp_path}/train", variant="CIFAR-10 (JPEG-q75 copy)", stands_for="cifar10")
    assert copy == ("cifar10", "CIFAR-10 (JPEG-q75 copy)")  # the copy's rows meet CIFAR-10's anchors
    smoke = dataset_identity("synthetic", stands_for="cifar10")
    assert smoke.key == "cifar10" and smoke.label == "synthetic (smoke data, not a result) standing in for CIFAR-10"
    assert dataset_identity("imagefolder:/x/cifar10-jpeg/train").label == "image folder /x/cifar10-jpeg/train"


def test_content_fingerprint_tells_sets_of_one_size_apart():
    a, b = SyntheticImages(size=40, seed=0), SyntheticImages(size=40, seed=1)
    assert content_fingerprint(a) == content_fingerprint(SyntheticImages(size=40, seed=0))
    assert content_fingerprint(a) != content_fingerprint(b)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("mnist")


def test_reseeding_a_sampler_restarts_it_as_a_new_one():
    dataset = SyntheticImages(size=40)
    for make in (lambda seed: InMemorySampler(dataset, seed=seed),
                 lambda seed: StreamingSampler(dataset, seed=seed, num_workers=0)):
        sampler = make(1)
        sampler.sample(13)
        sampler.reseed(7)
        assert torch.equal(sampler.sample(30), make(7).sample(30))


def test_real_images_are_a_seeded_choice_in_the_signed_range_and_a_missing_set_says_how_to_provide_it(tmp_path):
    chosen = real_images("synthetic", 16, seed=3, resolution=8)
    assert chosen.shape == (16, 3, 8, 8) and chosen.min() >= -1 and chosen.max() <= 1
    assert torch.equal(chosen, real_images("synthetic", 16, seed=3, resolution=8))
    assert not torch.equal(chosen, real_images("synthetic", 16, seed=4, resolution=8))
    every = to_float(SyntheticImages(resolution=8).images)
    order = torch.randperm(len(every), generator=torch.Generator().manual_seed(3))[:16]
    assert torch.equal(chosen, every[order])  # the seeded permutation's first n images
    with pytest.raises(DatasetNotFoundError, match="How to provide it"):
        real_images(f"imagefolder:{tmp_path / 'absent'}", 4)
