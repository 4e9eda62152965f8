import dataclasses
import json

import pytest
import torch

from granlib import normalizers
from granlib.losses import LOSSES
from granlib.normalizers import NORMALIZERS
from granlib.training.checkpoint import load_checkpoint
from granlib.training.config import ConfigError, TrainConfig, preset, resolve_config
from granlib.training.loop import NonFiniteLossError, ensure_trained, train
from granlib.training.run_dir import ConfigMismatchError, FinishedRunMismatchError, run_is_finished
from granlib.training.trainer import Trainer


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("normalizer", NORMALIZERS)
def test_every_pair_trains_three_iterations(tmp_path, normalizer, loss):
    config = preset("tiny", normalizer=normalizer, loss=loss, iterations=3, log_every=1, sample_every=3)
    train(config, tmp_path, quiet=True)
    stats = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3]
    for s in stats:
        assert all(torch.isfinite(torch.tensor(v)) for v in s.values() if isinstance(v, (int, float)))
        assert {"loss_d", "loss_g", "grad_f_mean", "grad_d_max", "lr_d", "sec_per_it"} <= set(s)
        assert s["cuda_graph"] is False and "CUDA" in s["cuda_graph_fallback"]  # why no graph, in every line


def test_run_directory_is_self_describing(tmp_path):
    config = preset("tiny", iterations=10)
    train(config, tmp_path, quiet=True)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert TrainConfig.from_dict(saved) == resolve_config(config).replace(in_memory=True)
    # every open default is recorded as the value used; data_root (a location: $GRANLIB_DATA or ./data) stays open,
    # and so does the ResNet's upsampling for a CNN (an option it does not have)
    not_applicable = {"data_root", "resnet_upsample", "probe_dataset"}  # probes of the training set by default
    open_defaults = [f for f, v in dataclasses.asdict(TrainConfig()).items() if v is None and f not in not_applicable]
    assert open_defaults and not [f for f in open_defaults if saved[f] is None], "config.json must hold numbers"
    assert json.loads((tmp_path / "provenance.json").read_text())["device"] == "cpu"
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_0000010.png"]
    state = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")  # weights_only=True
    assert state["step"] == 10 and {"G", "D", "ema_G", "opt_g", "opt_d", "sched_g", "sched_d", "rng"} <= set(state)
    assert run_is_finished(tmp_path)


@pytest.mark.parametrize(("normalizer", "in_memory"), [("gran", True), ("sn", True), ("gp", True), ("gran", False)])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, normalizer, in_memory):
    config = preset("tiny", normalizer=normalizer, in_memory=in_memory, iterations=8, checkpoint_every=4, log_every=2)
    train(config, tmp_path / "straight", quiet=True)
    train(config, tmp_path / "resumed", quiet=True, max_steps=4)
    assert not run_is_finished(tmp_path / "resumed")
    train(config, tmp_path / "resumed", quiet=True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")
    for key in ("G", "D", "ema_G"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    stats = lambda d: [json.loads(x)["loss_d"] for x in (tmp_path / d / "stats.jsonl").read_text().splitlines()]  # noqa: E731
    assert stats("straight") == stats("resumed")


def test_time_limited_run_stops_with_a_checkpoint_and_resumes_bit_identically(tmp_path):
    config = preset("tiny", iterations=5, checkpoint_every=100, log_every=100, eval_every=2)
    evaluations = []
    evaluator = lambda ema_G, step: evaluations.append(step) or {"fd": float(step)}  # noqa: E731
    train(config, tmp_path / "straight", quiet=True, evaluator=evaluator)
    train(config, tmp_path / "limited", quiet=True, evaluator=evaluator, max_seconds=0)  # stops after one iteration
    assert json.loads((tmp_path / "limited" / "checkpoints" / "latest.json").read_text())["step"] == 1
    train(config, tmp_path / "limited", quiet=True, evaluator=evaluator)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "limited" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 5
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    metrics = [json.loads(x) for x in (tmp_path / "limited" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [2, 4, 5] and all(m["eval_seconds"] >= 0 for m in metrics)


def test_refuses_to_resume_with_changed_hyperparameters(tmp_path):
    train(preset("tiny", iterations=2), tmp_path, quiet=True)
    with pytest.raises(ConfigMismatchError, match=r"lr_d: 0.0002 -> 0.001") as info:
        train(preset("tiny", iterations=2, lr_d=1e-3, K=0.5), tmp_path, quiet=True)
    assert "K: 0.1 -> 0.5" in str(info.value)  # config.json holds the resolved K
    train(preset("tiny", iterations=2, log_every=1), tmp_path, quiet=True)  # execution-only change is fine


def test_a_changed_library_default_is_noticed_on_resume(tmp_path, monkeypatch):
    train(preset("tiny", iterations=4, checkpoint_every=2), tmp_path, quiet=True, max_steps=2)
    later = dataclasses.replace(normalizers.get_normalizer("gran"), default_K=0.5)  # a later granlib's GraN K
    monkeypatch.setitem(normalizers.registry._REGISTRY, "gran", later)
    with pytest.raises(ConfigMismatchError, match=r"K: 0.1 -> 0.5"):
        train(preset("tiny", iterations=4, checkpoint_every=2), tmp_path, quiet=True)
    train(preset("tiny", iterations=4, checkpoint_every=2, K=0.1), tmp_path, quiet=True)  # the saved K finishes it
    assert run_is_finished(tmp_path)


@pytest.mark.parametrize(("field", "value"), [("iterations", 0), ("iterations", -5), ("n_dis", 0),
                                              ("batch_size_d", 0), ("batch_size_g", -8), ("normalizer", "grann"),
                                              ("lr_d", "fast")])
def test_an_impossible_config_names_its_field_and_writes_nothing(tmp_path, field, value):
    with pytest.raises(ConfigError, match=field):
        train(preset("tiny", **{field: value}), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
    train(preset("tiny", iterations=2), tmp_path / "run", quiet=True)  # the corrected config then starts


def test_numbers_written_as_yaml_strings_are_numbers(tmp_path):
    (tmp_path / "c.yaml").write_text("preset: tiny\nlr_d: 2e-4\neps: 1e-3\ngp_weight: 1e1\niterations: 2\n")
    config = TrainConfig.load(tmp_path / "c.yaml")
    assert (config.lr_d, config.eps, config.gp_weight, config.iterations) == (2e-4, 1e-3, 10.0, 2)
    train(config, tmp_path / "run", quiet=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["gp_weight"] == 10.0


def test_non_finite_loss_at_the_first_iteration_says_no_checkpoint_exists(tmp_path, monkeypatch):
    original = Trainer.g_step

    def poisoned(self, z):
        return {"loss_g": original(self, z)["loss_g"] * float("nan")}

    monkeypatch.setattr(Trainer, "g_step", poisoned)
    with pytest.raises(NonFiniteLossError, match="iteration 1 .*no checkpoint was written"):
        train(preset("tiny", iterations=4, log_every=1), tmp_path, quiet=True)


def test_non_finite_loss_stops_with_the_step_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    original = Trainer.g_step
    calls = {"n": 0}

    def poisoned(self, z):
        calls["n"] += 1
        stats = original(self, z)
        return {"loss_g": stats["loss_g"] * (float("nan") if calls["n"] == 7 else 1.0)}

    monkeypatch.setattr(Trainer, "g_step", poisoned)
    with pytest.raises(NonFiniteLossError, match="iteration 7"):
        train(preset("tiny", iterations=20, checkpoint_every=5, log_every=10), tmp_path, quiet=True)
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt")["step"] == 5


def _sync_warnings(config, run_dir) -> int:
    """Host synchronisations that torch's sync debug mode reports during train()."""
    import warnings

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(config, run_dir, quiet=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing CUDA operation" in str(w.message) for w in caught)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("fast", "cuda_graph"), [(None, True), (None, False), (False, False)],
                         ids=["fast_graphed", "fast_eager", "reference"])
def test_the_training_loop_does_not_synchronise_between_logs(tmp_path, fast, cuda_graph):
    """A run twice as long, logged once at its end, synchronises no more often: nothing syncs per iteration."""
    counts = {}
    for iterations in (8, 16):
        config = preset("tiny", device="cuda", fast=fast, cuda_graph=cuda_graph, iterations=iterations,
                        log_every=iterations, sample_every=0, checkpoint_every=iterations)
        torch.backends.cudnn.benchmark = False
        counts[iterations] = _sync_warnings(config, tmp_path / str(iterations))
        assert torch.backends.cudnn.benchmark is False  # train() restores the process's cuDNN setting
    assert counts[8] > 0, counts  # the final log's reads are syncs: the detector sees them
    assert counts[16] == counts[8], counts
    records = [json.loads(line) for line in (tmp_path / "16" / "stats.jsonl").read_text().splitlines()]
    assert records[-1]["cuda_graph"] is (fast is None and cuda_graph)


@pytest.mark.parametrize(("normalizer", "in_memory"), [("gran", True), ("sn", True), ("gran", False)])
def test_logging_cadence_does_not_change_the_run(tmp_path, normalizer, in_memory):
    """log_every and sample_every are execution-only: the logged gradient norms must leave G's BatchNorm statistics
    and SN's power-iteration vectors as they were, so every weight and buffer matches a run logged only at its end."""
    finals = {}
    for log_every in (1, 6):
        config = preset("tiny", normalizer=normalizer, in_memory=in_memory, iterations=6, log_every=log_every,
                        sample_every=log_every)
        train(config, tmp_path / str(log_every), quiet=True)
        finals[log_every] = load_checkpoint(tmp_path / str(log_every) / "checkpoints" / "latest.pt")
    for key in ("G", "D", "ema_G"):
        a, b = finals[1][key], finals[6][key]
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), (key, [k for k in a if not torch.equal(a[k], b[k])])


def test_a_study_asks_for_a_run_once_a_finished_one_is_left_as_it_is_and_another_setting_is_refused(tmp_path):
    config = preset("tiny", iterations=2, log_every=1)
    assert ensure_trained(config, resolve_config(config), tmp_path) == tmp_path and run_is_finished(tmp_path)
    stats = (tmp_path / "stats.jsonl").read_text()
    ensure_trained(config, resolve_config(config), tmp_path)  # finished: checked, not trained again
    assert (tmp_path / "stats.jsonl").read_text() == stats
    longer = config.replace(iterations=3)
    with pytest.raises(FinishedRunMismatchError, match=r"iterations: 2 -> 3"):
        ensure_trained(longer, resolve_config(longer), tmp_path)
