import torch

from granlib.bench.random_images import RandomImages


def test_random_images_come_from_one_fixed_pool_in_order_and_wrap_around():
    data = RandomImages(8, torch.device("cpu"), pool=10)
    first, second = data.sample(4), data.sample(4)
    assert first.shape == (4, 3, 8, 8) and torch.equal(second, data.images[4:8])
    assert torch.equal(data.sample(4), data.images[:4])  # 12 > 10: starts again at the pool's start
    assert data.images.min() >= -1 and data.images.max() <= 1
