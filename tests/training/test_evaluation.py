import json

import pytest
import torch

import granlib.training.evaluation as evaluation
from granlib.data import SyntheticImages
from granlib.evaluation.features import build_feature_extractor
from granlib.training.checkpoint import load_checkpoint
from granlib.training.config import preset
from granlib.training.evaluation import PeriodicEvaluator, evaluate_run
from granlib.training.loop import train
from granlib.training.run_dir import checkpoint_path

PROXY = "effnet_lite0"  # the offline proxy: real weights from pip, and much cheaper than Inception on a CPU


def test_building_and_running_the_evaluator_leaves_the_global_rng_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANLIB_CACHE", str(tmp_path))
    config = preset("tiny", eval_samples=8, eval_feature_extractor=PROXY)
    nn = torch.nn
    generator = nn.Sequential(nn.Linear(16, 3 * 32 * 32), nn.Tanh(), nn.Unflatten(1, (3, 32, 32)))
    before = torch.get_rng_state()
    evaluator = PeriodicEvaluator(config, SyntheticImages(size=16), torch.device("cpu"), n_real=16)
    metrics = evaluator(generator, step=1)
    assert torch.equal(torch.get_rng_state(), before)
    assert metrics["n_fake"] == 8 and metrics["n_real"] == 16 and metrics["fd"] > 0


def _weights(run_dir):
    state = load_checkpoint(checkpoint_path(run_dir))
    return {f"{net}.{k}": v for net in ("G", "D", "ema_G") for k, v in state[net].items()}


def test_periodic_evaluation_does_not_change_the_run_and_a_killed_run_resumes_bit_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANLIB_CACHE", str(tmp_path / "cache"))
    base = dict(iterations=6, checkpoint_every=2, log_every=2, eval_samples=8, eval_feature_extractor=PROXY)
    train(preset("tiny", **base, eval_every=0), tmp_path / "plain", quiet=True)
    train(preset("tiny", **base, eval_every=2), tmp_path / "evaluated", quiet=True)
    train(preset("tiny", **base, eval_every=2), tmp_path / "killed", quiet=True, max_steps=3)  # stops like a kill
    train(preset("tiny", **base, eval_every=2), tmp_path / "killed", quiet=True)
    plain, evaluated, killed = (_weights(tmp_path / d) for d in ("plain", "evaluated", "killed"))
    assert all(torch.equal(plain[k], evaluated[k]) for k in plain), "evaluating changed the weights"
    assert all(torch.equal(plain[k], killed[k]) for k in plain), "a resumed run with evaluation differs"
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]  # an interrupted run also evaluates where it stopped


def test_missing_inception_weights_fail_before_training_starts(tmp_path, monkeypatch):
    from granlib.evaluation.features import WeightsNotFoundError

    monkeypatch.setenv("GRANLIB_INCEPTION_WEIGHTS", str(tmp_path / "absent.pth"))
    with pytest.raises(WeightsNotFoundError):
        train(preset("tiny", iterations=4, eval_every=2), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()  # nothing written: fix the weights and start again


def test_a_finished_run_is_evaluated_from_its_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANLIB_CACHE", str(tmp_path / "cache"))
    train(preset("tiny", iterations=2), tmp_path / "run", quiet=True)
    metrics = evaluate_run(tmp_path / "run", n_samples=8, n_real=16, feature_extractor=PROXY)
    assert metrics["n_fake"] == 8 and metrics["metric"] == "FD-EffNetLite0"


def test_evaluating_many_runs_builds_the_feature_extractor_once(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluation, "_EXTRACTORS", {})
    built = []
    monkeypatch.setattr(evaluation, "build_feature_extractor",
                        lambda name: built.append(name) or build_feature_extractor(name))
    for seed in (0, 1):
        train(preset("tiny", iterations=1, seed=seed), tmp_path / f"run{seed}", quiet=True)
        evaluate_run(tmp_path / f"run{seed}", n_samples=8, n_real=16, feature_extractor=PROXY)
    assert built == [PROXY]
