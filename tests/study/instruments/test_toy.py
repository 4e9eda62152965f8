import torch

from granlib.study.instruments.toy import (
    activation_pattern,
    eight_gaussians,
    grid,
    input_gradient_norm,
    relu_mlp,
)


def test_activation_patterns_separate_regions():
    net = relu_mlp(2, width=4, depth=1, seed=0)
    points = torch.randn(500, 2)
    ids = activation_pattern(net, points)
    with torch.no_grad():
        pre = net[0](points)
    same = (pre > 0).eq(pre[:1] > 0).all(dim=1)
    assert torch.equal(ids == ids[0], same)


def test_eight_gaussians_on_the_ring():
    points = eight_gaussians(800, std=0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(points.norm(dim=1), torch.full((800,), 2.0))
    assert len(torch.unique(points.round(decimals=4), dim=0)) == 8


def test_grid_covers_the_square_row_by_row():
    xx, yy, points = grid(limit=1.0, resolution=3)
    assert xx.shape == yy.shape == (3, 3) and points.shape == (9, 2)
    assert points[0].tolist() == [-1.0, -1.0] and points[1].tolist() == [0.0, -1.0] and points[-1].tolist() == [1, 1]


def test_input_gradient_norm_of_closed_forms():
    x = torch.randn(16, 2, dtype=torch.float64)
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(input_gradient_norm(lambda v: v @ w, x), torch.full((16,), 5.0, dtype=torch.float64))
    torch.testing.assert_close(input_gradient_norm(lambda v: 0.5 * (v**2).sum(dim=1), x), x.norm(dim=1))


def test_a_seeded_mlp_is_drawn_from_its_seed_alone_and_leaves_the_global_rng_as_it_was():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = relu_mlp(width=8, depth=2, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(7)
    again = relu_mlp(width=8, depth=2, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    torch.manual_seed(5)
    from_stream = relu_mlp(width=8, depth=2, seed=None)  # the caller's stream: the same draws as seed 5
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), from_stream.parameters()))
