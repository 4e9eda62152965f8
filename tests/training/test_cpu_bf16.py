"""bf16 autocast on the CPU fast path (``precision="bf16"``): gradients against fp32, GraN's bound, resuming.

Each test needs a CPU with bf16 instructions (AVX-512 BF16 or AMX) and is skipped, with the reason, elsewhere.
"""

import copy
import json

import pytest
import torch

from granlib.data import load_dataset, make_sampler
from granlib.training.checkpoint import load_checkpoint
from granlib.training.config import preset, resolve_config, run_settings
from granlib.training.fast_path import cpu_bf16_missing
from granlib.training.loop import train
from granlib.training.trainer import Trainer

pytestmark = pytest.mark.skipif(cpu_bf16_missing() is not None, reason=f"no bf16 on this CPU: {cpu_bf16_missing()}")

CPU = torch.device("cpu")
SMALL = dict(ngf=32, ndf=8, nz=16, batch_size_d=16, batch_size_g=16)  # a small D and G, fast=True on the CPU


def trained_state(normalizer: str, loss: str, steps: int = 5) -> tuple[dict, object]:
    """The state of an fp32 fast-path trainer after ``steps`` iterations on the synthetic images, and the sampler."""
    torch.manual_seed(0)
    gan = Trainer(preset("tiny", normalizer=normalizer, loss=loss, fast=True, precision="fp32", **SMALL), CPU)
    sampler = make_sampler(load_dataset("synthetic", None, 32), CPU, 0, True)
    for step in range(steps):
        gan.iteration(step, *gan.sample_inputs(sampler))
    return copy.deepcopy(gan.training_state()), sampler  # state_dict tensors are the live ones: copy


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0).item()


@pytest.mark.parametrize(("normalizer", "loss"), [("gran", "ns"), ("sn", "ns"), ("gp", "wasserstein"), ("gn", "ns")])
def test_bf16_step_gradients_point_where_fp32_ones_do(normalizer, loss):
    state, sampler = trained_state(normalizer, loss)
    gen = torch.Generator().manual_seed(1)
    real, alpha = sampler.sample(16), torch.rand(16, generator=gen)
    z_d, z_g = torch.randn(16, 16, generator=gen), torch.randn(16, 16, generator=gen)
    gradients = {}
    for precision in ("fp32", "bf16"):
        gan = Trainer(preset("tiny", normalizer=normalizer, loss=loss, fast=True, precision=precision, **SMALL), CPU)
        assert gan.bf16 is (precision == "bf16")
        gan.load_training_state(copy.deepcopy(state))  # the same weights, buffers and inputs for both
        gan.d_step(real, z_d, gp_alpha=alpha)
        d_grad = torch.cat([p.grad.flatten() for p in gan.D.parameters()])
        gan.load_training_state(copy.deepcopy(state))
        gan.g_step(z_g)
        gradients[precision] = d_grad, torch.cat([p.grad.flatten() for p in gan.G.parameters()])
    for step, fp32, bf16 in zip(("D step", "G step"), gradients["fp32"], gradients["bf16"]):
        assert fp32.norm() > 0 and not torch.equal(fp32, bf16), step  # bf16 did run, and differently
        assert cosine(fp32, bf16) >= 0.99, step


# bf16's unit roundoff is u = 2⁻⁸. Under autocast ‖∇ₓg‖/K = ‖∇̃f‖·ñ/(ñ² + ε) with ‖∇̃f‖ and ñ two bf16 backward passes
# through f (the outer one scaled by K·R(ñ), so rounded differently), each within about u of the exact ‖∇f‖: their
# ratio is within 2u. Measured on this test's net: at most 1 + 4.1e-3 (about u).
BF16_SLOPE_TOLERANCE = 2 * 2.0**-8


def test_gran_under_bf16_keeps_its_slope_within_K():
    K = 1.0  # noqa: N806
    # ε far below n² (n ≈ 4e-6 for this net), so that the bound is nearly tight: slope K·n²/(n²+ε) ≈ K
    config = preset("tiny", normalizer="gran", K=K, eps=1e-16, fast=True, precision="bf16", **SMALL)
    torch.manual_seed(0)
    gan = Trainer(config, CPU)
    sampler = make_sampler(load_dataset("synthetic", None, 32), CPU, 0, True)
    for step in range(5):  # trained in bf16
        gan.iteration(step, *gan.sample_inputs(sampler))
    with torch.no_grad(), gan.autocast():
        fake = gan.G(torch.randn(128, 16)).float()
    x = gan.layout(torch.cat([sampler.sample(128), fake])).requires_grad_(True)
    with gan.autocast():
        g, f, n = gan.D.gran.forward_with_stats(x)  # as the D step computes it, double backprop through n
    assert f.dtype == torch.bfloat16 and g.dtype == n.dtype == torch.float32  # ‖∇f‖ and g's division stay fp32
    (grad,) = torch.autograd.grad(g.sum(), x)  # fp32 autograd through the bf16 graph: the slope G's step sees
    slope = grad.flatten(1).norm(dim=1) / K
    assert slope.min() > 0.9  # the bound is nearly tight here, so the check has teeth
    assert slope.max() <= 1 + BF16_SLOPE_TOLERANCE
    x32 = x.detach().requires_grad_(True)  # the same weights' g in fp32: GraN's bound, exactly
    (grad32,) = torch.autograd.grad(gan.D(x32).sum(), x32)
    assert (grad32.flatten(1).norm(dim=1) / K).max() <= 1 + 1e-5


def test_a_bf16_run_says_so_everywhere_and_resumes_bit_identically(tmp_path):
    config = preset("tiny", fast=True, precision="bf16", iterations=6, checkpoint_every=3, log_every=2)
    train(config, tmp_path / "straight", quiet=True)
    train(config, tmp_path / "resumed", quiet=True, max_steps=3)
    train(config, tmp_path / "resumed", quiet=True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")
    for key in ("G", "D", "ema_G"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    for name in ("config.json", "provenance.json"):
        assert json.loads((tmp_path / "straight" / name).read_text())["precision"] == "bf16"
    assert "precision_note" not in json.loads((tmp_path / "straight" / "provenance.json").read_text())
    assert run_settings(resolve_config(config))["precision"] == "bf16" and Trainer(config, CPU).bf16
