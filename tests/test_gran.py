import pytest
import torch
from torch import nn

from granlib.gran import GraN, effective_eps, normalize
from tests.conftest import relu_mlp

VARIANTS = ["gran", "inverse", "gn", "floor", "scale_free"]


def per_sample_value_and_grad(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f and ∇ₓf one sample at a time, independently of GraN's batched trick."""
    values, grads = [], []
    for xi in x:
        xi = xi.unsqueeze(0).clone().requires_grad_(True)
        fi = net(xi).reshape(())
        (gi,) = torch.autograd.grad(fi, xi)
        values.append(fi.detach())
        grads.append(gi.flatten())
    return torch.stack(values), torch.stack(grads)


@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_formula(piecewise_net, variant):
    net, x = piecewise_net
    eps, K = 0.3, 1.5
    f, grad = per_sample_value_and_grad(net, x)
    n = grad.norm(dim=1)
    m, eps_t = n.clamp_min(eps**0.5), eps * (n**2).mean()  # the floored n; the scale-free ε_t = ε_rel · mean n²
    expected = {"gran": K * f * n / (n**2 + eps), "inverse": K * f / (n + eps), "gn": K * f / (n + f.abs()),
                "floor": K * f * m / (m**2 + eps), "scale_free": K * f * n / (n**2 + eps_t)}
    g = GraN(net, eps=eps, K=K, variant=variant)(x)
    assert g.shape == (x.shape[0],)
    torch.testing.assert_close(g, expected[variant], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradient_norm_bounded_by_K(piecewise_net, variant):
    net, x = piecewise_net
    eps, K = 1e-2, 2.0
    x = x.clone().requires_grad_(True)
    g = GraN(net, eps=eps, K=K, variant=variant)(x)
    (grad_g,) = torch.autograd.grad(g.sum(), x)
    norms = grad_g.flatten(1).norm(dim=1)
    assert (norms <= K * (1 + 1e-12)).all()
    if variant == "gran":
        assert (norms < K).all()
        _, grad_f = per_sample_value_and_grad(net, x.detach())
        n = grad_f.norm(dim=1)
        torch.testing.assert_close(norms, K * n**2 / (n**2 + eps), rtol=1e-10, atol=0)  # ‖∇g‖ = K n²/(n²+ε)


@pytest.mark.parametrize("variant", VARIANTS)
def test_finite_differences_agree_with_autograd(piecewise_net, variant):
    net, x = piecewise_net
    gran = GraN(net, eps=1e-2, K=0.5, variant=variant)
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(gran(x).sum(), x)
    direction = torch.randn_like(x)
    direction = direction / direction.flatten(1).norm(dim=1).view(-1, *[1] * (x.dim() - 1))
    h = 1e-6  # far below the size of a linear region of these nets
    with torch.no_grad():
        f_plus, f_minus, f_0 = net(x + h * direction).flatten(), net(x - h * direction).flatten(), net(x).flatten()
    # same linear region on both sides: f is exactly affine along the segment
    torch.testing.assert_close(f_plus - f_0, f_0 - f_minus, rtol=1e-6, atol=1e-12)
    fd = (gran(x.detach() + h * direction) - gran(x.detach() - h * direction)) / (2 * h)
    autograd = (grad * direction).flatten(1).sum(dim=1)
    torch.testing.assert_close(fd.detach(), autograd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_generator_step_gradient_equals_double_backprop(variant):
    torch.manual_seed(3)
    generator = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 6)).double()
    gran = GraN(relu_mlp(6, seed=5), eps=1e-3, K=2.0, variant=variant)
    z = torch.randn(64, 4, dtype=torch.float64)

    def generator_gradients(generator_step: bool) -> list[torch.Tensor]:
        loss = torch.nn.functional.softplus(-gran(generator(z), generator_step=generator_step)).mean()
        return torch.autograd.grad(loss, list(generator.parameters()))

    cheap, exact = generator_gradients(True), generator_gradients(False)
    for a, b in zip(cheap, exact):
        assert (a - b).norm() <= 1e-10 * b.norm()
    assert torch.equal(gran(generator(z), generator_step=True), gran(generator(z)))


def test_discriminator_gradient_flows_through_the_norm():
    """The D step must differentiate n = ‖∇f‖ w.r.t. D's parameters (double backprop)."""
    net = relu_mlp(6, seed=2)
    x = torch.randn(16, 6, dtype=torch.float64)
    gran = GraN(net, eps=1e-3, K=1.0)
    full = torch.autograd.grad(gran(x).sum(), list(net.parameters()))
    held = torch.autograd.grad(gran(x, generator_step=True).sum(), list(net.parameters()))
    assert max((a - b).abs().max().item() for a, b in zip(full, held)) > 1e-6


def test_reduced_precision_normalises_in_float32():
    net = relu_mlp(6).float()
    x = torch.randn(8, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = GraN(net, eps=1e-4, K=1.0)(x)
    assert g.dtype == torch.float32


def test_normalize_gn_value():
    f, n = torch.tensor([2.0, -1.0]), torch.tensor([3.0, 1.0])
    torch.testing.assert_close(normalize(f, n, 1e-4, 1.0, "gn"), torch.tensor([2 / 5, -1 / 2]))


@pytest.mark.parametrize("kwargs, message", [
    ({"variant": "spectral"}, "unknown GraN variant"),
    ({"eps": 0.0}, "eps must be > 0"),
    ({"eps": -1.0}, "eps must be > 0"),
    ({"K": 0.0}, "K must be > 0"),
])
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GraN(relu_mlp(6), **{"K": 1.0, **kwargs})


def test_rejects_non_scalar_output():
    net = nn.Sequential(nn.Linear(6, 2)).double()
    with pytest.raises(ValueError, match="one scalar per sample"):
        GraN(net, eps=1e-4, K=1.0)(torch.randn(4, 6, dtype=torch.float64))


@pytest.mark.parametrize("norm", [nn.BatchNorm1d(8), nn.SyncBatchNorm(8)])
def test_refuses_batchnorm(norm):
    net = nn.Sequential(nn.Linear(6, 8), norm, nn.ReLU(), nn.Linear(8, 1))
    with pytest.raises(ValueError, match="BatchNorm"):
        GraN(net, eps=1e-4, K=1.0)


def test_batchnorm_would_couple_samples():
    """Why BatchNorm is refused: the batched gradient trick then differs from per-sample gradients."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)).double().train()
    x = torch.randn(8, 6, dtype=torch.float64, requires_grad=True)
    (batched,) = torch.autograd.grad(net(x).sum(), x)
    _, single = per_sample_value_and_grad(net.eval(), x.detach())
    assert not torch.allclose(batched, single.view_as(batched))


def test_exposes_K():
    assert GraN(relu_mlp(6), eps=1e-4, K=0.25).K == 0.25


# --- the two forms of ours: the floored n and the scale-free ε


def scaled_net(net: nn.Module, c: float) -> nn.Module:
    """``net`` with its last layer multiplied by c: f → c·f and ∇ₓf → c·∇ₓf on every region."""
    import copy

    scaled = copy.deepcopy(net)
    last = [m for m in scaled.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(c)
        last.bias.mul_(c)
    return scaled


def test_floored_gran_keeps_the_bound_below_and_above_the_floor(piecewise_net):
    net, x = piecewise_net
    _, grad_f = per_sample_value_and_grad(net, x)
    n = grad_f.norm(dim=1)
    eps, K = float(n.median()) ** 2, 2.0  # about half of the points below √ε, half above
    below = n < eps**0.5
    assert 0 < below.sum() < len(n)
    x = x.clone().requires_grad_(True)
    (grad_g,) = torch.autograd.grad(GraN(net, eps=eps, K=K, variant="floor")(x).sum(), x)
    norms = grad_g.flatten(1).norm(dim=1)
    assert (norms < K).all() and (norms[below] < K / 2).all()
    torch.testing.assert_close(norms[below], K * n[below] / (2 * eps**0.5), rtol=1e-10, atol=0)  # K·n/(2√ε)
    torch.testing.assert_close(norms[~below], K * n[~below] ** 2 / (n[~below] ** 2 + eps), rtol=1e-10, atol=0)


def test_floored_gran_does_not_vanish_where_f_is_flat_while_gran_does(piecewise_net):
    net, x = piecewise_net
    eps, K = 1e-2, 1.0
    flat = scaled_net(net, 1e-8)  # n and f shrink 1e8-fold: n ≪ √ε everywhere
    f, grad_f = per_sample_value_and_grad(flat, x)
    assert (grad_f.norm(dim=1) < eps**0.5).all()
    gran, floored = GraN(flat, eps=eps, K=K)(x), GraN(flat, eps=eps, K=K, variant="floor")(x)
    torch.testing.assert_close(floored, K * f / (2 * eps**0.5), rtol=1e-10, atol=0)  # g = K·f/(2√ε) below √ε
    n = grad_f.norm(dim=1)
    torch.testing.assert_close(gran, floored * 2 * eps**0.5 * n / (n**2 + eps), rtol=1e-10, atol=0)
    assert (floored.abs() > 0).all() and (gran.abs() < 1e-3 * floored.abs()).all()  # GraN's g ∝ n·f/ε → 0


def test_the_floored_r_is_continuous_at_the_floor_where_r_peaks():
    eps, K = 1e-4, 1.0
    f = torch.ones(5, dtype=torch.float64)
    n = eps**0.5 * torch.tensor([1 - 1e-9, 1 - 1e-12, 1.0, 1 + 1e-12, 1 + 1e-9], dtype=torch.float64)
    r = normalize(f, n, eps, K, "floor")
    torch.testing.assert_close(r, torch.full_like(r, 1 / (2 * eps**0.5)), rtol=1e-8, atol=0)  # R(√ε) = 1/(2√ε)
    assert torch.equal(normalize(f[3:], n[3:], eps, K, "floor"), normalize(f[3:], n[3:], eps, K, "gran"))


def test_scale_free_gran_is_invariant_to_the_scale_of_f(piecewise_net):
    net, x = piecewise_net
    g = GraN(net, eps=1.68, K=0.1, variant="scale_free")(x)
    for c in (1e-6, 1e-2, 1e3):
        torch.testing.assert_close(GraN(scaled_net(net, c), eps=1.68, K=0.1, variant="scale_free")(x), g,
                                   rtol=1e-9, atol=0)
    plain = GraN(scaled_net(net, 1e-6), eps=1.68, K=0.1)(x)  # GraN with a fixed ε is not: it shrinks with f
    assert (plain.abs() < 1e-3 * g.abs()).all()
    _, grad_f = per_sample_value_and_grad(net, x)
    n = grad_f.norm(dim=1)
    torch.testing.assert_close(effective_eps(n, 1.68, "scale_free"), 1.68 * (n**2).mean())
