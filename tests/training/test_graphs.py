"""CUDA-graph capture of the training iteration: refusals and lr plumbing on CPU; replay = eager on a GPU."""

import io
import json

import pytest
import torch

from granlib.training.config import preset
from granlib.training.fast_path import MEASURES, FastPath
from granlib.training.graphs import GraphedIteration
from granlib.training.loop import train
from granlib.training.trainer import Trainer, portable_optimizer_state

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_graphs_are_refused_off_cuda_or_when_disabled():
    gan = Trainer(preset("tiny", fast=True), torch.device("cpu"))
    assert "CUDA" in GraphedIteration(gan).fallback_reason
    assert "disabled" in GraphedIteration(gan, enabled=False).fallback_reason
    runner = GraphedIteration(gan)
    stats = runner(0, *gan.sample_inputs(gan_sampler(gan)))
    assert not runner.active and torch.isfinite(stats["loss_d"])


def gan_sampler(gan):
    from granlib.data import InMemorySampler, SyntheticImages

    return InMemorySampler(SyntheticImages(size=32), gan.device)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_lr_tensors_follow_the_schedule_and_go_back_to_floats():
    gan = Trainer(preset("tiny", iterations=10), torch.device("cpu"))
    runner = GraphedIteration(gan)
    runner._use_lr_tensors()
    tensors = [group["lr"] for group in runner._optimizer_groups()]
    assert all(isinstance(t, torch.Tensor) for t in tensors)
    for _ in range(3):
        gan.advance_schedules()
        runner._refresh_lr_tensors()
    for group, tensor in zip(runner._optimizer_groups(), tensors):
        assert group["lr"] is tensor  # the recorded Adam kernels read this very tensor
        assert tensor.item() == pytest.approx(2e-4 * (1 - 3 / 10))
        assert group["capturable"] is True
    state = portable_optimizer_state(gan.opt_d)  # what a checkpoint stores
    assert all(type(g["lr"]) is float and g["capturable"] is False for g in state["param_groups"])
    runner._use_float_lrs()
    assert all(type(g["lr"]) is float and g["capturable"] is False for g in runner._optimizer_groups())


# --- on a GPU


def random_inputs(gen: torch.Generator, n_dis: int, device: torch.device):
    reals = [torch.rand(8, 3, 32, 32, generator=gen, device=device) * 2 - 1 for _ in range(n_dis)]
    d_noises = [torch.randn(8, 16, generator=gen, device=device) for _ in range(n_dis)]
    alphas = [torch.rand(8, generator=gen, device=device) for _ in range(n_dis)]
    return reals, d_noises, torch.randn(8, 16, generator=gen, device=device), alphas


def train_steps(normalizer: str, graph: bool, steps: int = 8, sabotage: bool = False, fast_path=None):
    device = torch.device("cuda")
    torch.manual_seed(0)
    config = preset("tiny", device="cuda", fast=True, normalizer=normalizer, n_dis=2, iterations=10,
                    K=1.0 if normalizer == "gran" else None)
    gan = Trainer(config, device, fast_path=fast_path)
    if sabotage:  # a host read inside the iteration makes capture impossible
        updates = gan.captured_updates

        def with_host_read(*args, **kwargs):
            stats = updates(*args, **kwargs)
            stats["loss_d"].item()
            return stats

        gan.captured_updates = with_host_read
    runner = GraphedIteration(gan, enabled=graph, warmup=2)
    gen = torch.Generator(device=device).manual_seed(1)
    for step in range(steps):
        stats = runner(step, *random_inputs(gen, config.n_dis, device))
    torch.cuda.synchronize()
    return gan, runner, stats


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().float().flatten() for p in module.parameters()])


@cuda
@pytest.mark.parametrize("normalizer", ["gran", "sn", "gp", "wc", "none"])
def test_replayed_iterations_equal_eager_ones(normalizer, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)  # the same kernels in both runs
    eager, eager_runner, eager_stats = train_steps(normalizer, graph=False)
    graphed, runner, stats = train_steps(normalizer, graph=True)
    assert runner.active and not eager_runner.active
    for name in ("G", "D", "ema_G"):
        ref, out = flat(getattr(eager, name)), flat(getattr(graphed, name))
        assert (out - ref).norm() <= 1e-3 * ref.norm(), name
    assert stats["loss_d"].item() == pytest.approx(eager_stats["loss_d"].item(), rel=1e-2, abs=1e-3)
    assert float(graphed.opt_g.param_groups[0]["lr"]) == pytest.approx(2e-4 * (1 - 8 / 10), rel=1e-6)


@cuda
@pytest.mark.parametrize("measure", MEASURES)
def test_every_ablated_fast_path_is_captured_and_replays_like_eager(measure, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    fast_path = FastPath().without(measure)
    eager, _, _ = train_steps("gran", graph=False, fast_path=fast_path)
    graphed, runner, _ = train_steps("gran", graph=True, fast_path=fast_path)
    assert runner.active and graphed.fast_path == fast_path
    for name in ("G", "D"):
        ref, out = flat(getattr(eager, name)), flat(getattr(graphed, name))
        assert (out - ref).norm() <= 1e-3 * ref.norm(), name


@cuda
def test_a_failed_capture_falls_back_to_eager_without_changing_the_run(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    eager, _, _ = train_steps("gran", graph=False, sabotage=True)
    with pytest.warns(UserWarning, match="capture failed"):
        fallen, runner, _ = train_steps("gran", graph=True, sabotage=True)
    assert not runner.active and "capture failed" in runner.fallback_reason
    for name in ("G", "D"):
        ref, out = flat(getattr(eager, name)), flat(getattr(fallen, name))
        assert (out - ref).norm() <= 1e-3 * ref.norm(), name


@cuda
def test_a_graphed_run_checkpoints_portably_and_resumes(tmp_path):
    gan, runner, _ = train_steps("gran", graph=True)
    assert runner.active
    buffer = io.BytesIO()
    torch.save(gan.training_state(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, map_location="cpu", weights_only=True)
    cpu_gan = Trainer(preset("tiny", n_dis=2, iterations=10, K=1.0), torch.device("cpu"))
    cpu_gan.load_training_state(state)
    cpu_gan.iteration(8, *random_inputs(torch.Generator().manual_seed(2), 2, torch.device("cpu"))[:3])

    config = preset("tiny", device="cuda", iterations=12, log_every=4, checkpoint_every=4)
    train(config, tmp_path / "run", quiet=True, max_steps=8)
    train(config, tmp_path / "run", quiet=True)  # resumes, captures again
    records = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [4, 8, 12]
    assert records[-1]["cuda_graph"] is True and all(abs(r["loss_d"]) < 1e6 for r in records)
