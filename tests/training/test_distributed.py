"""DDP on CPU (gloo, 2 processes): equivalence with one process, and resuming across process counts."""

import json

import pytest
import torch
import torch.multiprocessing as mp

from granlib.training.checkpoint import load_checkpoint
from granlib.training.config import preset
from granlib.training.loop import train
from granlib.training.run_dir import run_is_finished
from tests.training import distributed_workers as workers

pytestmark = pytest.mark.slow


def max_relative_difference(a: dict, b: dict) -> float:
    worst = 0.0
    for part in ("G", "D"):
        for key, value in a[part].items():
            if value.is_floating_point():
                worst = max(worst, ((value - b[part][key]).norm() / (b[part][key].norm() + 1e-12)).item())
    return worst


@pytest.mark.parametrize("normalizer, tolerance", [("none", 1e-5), ("sn", 1e-5), ("gran", 1e-5), ("gp", 1e-4)])
def test_two_processes_with_half_batches_equal_one_process(tmp_path, normalizer, tolerance):
    steps, batch = 3, 8
    single = workers.run_injected(normalizer, steps, batch)
    out = tmp_path / "two.pt"
    mp.spawn(workers.injected_worker, args=(2, str(tmp_path / "init"), normalizer, steps, batch, str(out)),
             nprocs=2, join=True)
    double = torch.load(out, weights_only=True)
    assert single["G"].keys() == double["G"].keys()  # unwrapped state dicts: no "module." prefix
    assert max_relative_difference(double, single) < tolerance
    moved = max_relative_difference(single, workers.run_injected(normalizer, 0, batch))
    assert moved > 1e-3  # the comparison is not vacuous: training changed the parameters


@pytest.mark.parametrize("in_memory", [True, False])
def test_two_processes_resume_a_one_process_checkpoint(tmp_path, in_memory):
    config = preset("tiny", in_memory=in_memory, iterations=8, checkpoint_every=4, log_every=2)
    run_dir = tmp_path / "run"
    train(config, run_dir, quiet=True, max_steps=4)
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == 4
    mp.spawn(workers.train_worker, args=(2, str(tmp_path / "init"), config.to_dict(), str(run_dir)), nprocs=2,
             join=True)
    assert run_is_finished(run_dir)
    steps = [json.loads(line)["step"] for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]  # rank 0 alone wrote the log, no duplicated lines


def test_every_rank_runs_g_in_training_mode_equally_often(tmp_path):
    """Logging's gradient-norm probe runs G on every rank: on GPUs G's SyncBatchNorm is a collective, and a G
    forward on rank 0 alone would deadlock the run at its first log."""
    config = preset("tiny", iterations=4, log_every=2, sample_every=2, checkpoint_every=4)
    mp.spawn(workers.counting_train_worker, args=(2, str(tmp_path / "init"), config.to_dict(), str(tmp_path / "run"),
                                                  str(tmp_path)), nprocs=2, join=True)
    counts = [int((tmp_path / f"{rank}.txt").read_text()) for rank in (0, 1)]
    assert counts[0] == counts[1] > 8, counts  # 4 D-step fakes + 4 G steps + the probes, on both ranks


def test_uneven_batch_split_is_refused(tmp_path, monkeypatch):
    from granlib.training import distributed

    monkeypatch.setattr(distributed, "context", lambda: distributed.Context(rank=0, world_size=3))
    with pytest.raises(ValueError, match="does not split evenly across 3 processes"):
        train(preset("tiny", iterations=1), tmp_path, quiet=True)
