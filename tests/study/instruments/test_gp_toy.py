import torch

from granlib.study.instruments.gp_toy import fit_gradient_penalty
from granlib.study.instruments.toy import grid, input_gradient_norm, relu_mlp


def test_the_penalty_pulls_gradient_norms_towards_the_target_and_leaves_the_net_alone():
    net = relu_mlp(d_in=2, width=12, depth=3, seed=0)
    before = [p.clone() for p in net.parameters()]
    _, _, points = grid(limit=2.0, resolution=40)
    fitted = fit_gradient_penalty(net, steps=200)
    error_before = (input_gradient_norm(net, points) - 1).abs().mean()
    error_after = (input_gradient_norm(fitted, points) - 1).abs().mean()
    assert error_after < 0.5 * error_before
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # a copy was trained


def test_seeded():
    net = relu_mlp(d_in=2, width=8, depth=2, seed=1)
    a, b = fit_gradient_penalty(net, steps=5, seed=3), fit_gradient_penalty(net, steps=5, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
