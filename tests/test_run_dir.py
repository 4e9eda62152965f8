import json
import os

import pytest
import torch

from granlib import run_dir as run_dir_module
from granlib.config import preset
from granlib.run_dir import (
    ConfigMismatchError,
    append_jsonl,
    checkpoint_path,
    latest_step,
    prepare_run_dir,
    read_jsonl,
    run_is_finished,
    save_checkpoint,
    truncate_jsonl,
    write_provenance,
)


def test_a_new_directory_gets_the_exact_config(tmp_path):
    config = preset("tiny", K=0.5)
    prepare_run_dir(config, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == json.loads(json.dumps(config.to_dict()))


def test_an_existing_directory_refuses_other_hyperparameters_but_not_execution_changes(tmp_path):
    prepare_run_dir(preset("tiny"), tmp_path)
    prepare_run_dir(preset("tiny", device="cuda", log_every=1, eval_every=5, fast=True), tmp_path)  # execution only
    with pytest.raises(ConfigMismatchError, match=r"(?s)refusing to resume.*lr_d: 0.0002 -> 0.001.*seed: 0 -> 1"):
        prepare_run_dir(preset("tiny", lr_d=1e-3, seed=1), tmp_path)


def test_json_lines_append_read_and_truncate(tmp_path):
    path = tmp_path / "stats.jsonl"
    assert read_jsonl(path) == []
    for step in (5, 10, 15):
        append_jsonl(path, {"step": step, "loss": step / 10})
    assert [r["step"] for r in read_jsonl(path)] == [5, 10, 15]
    truncate_jsonl(path, 10)  # a resume from step 10 logs step 15 again
    assert read_jsonl(path) == [{"step": 5, "loss": 0.5}, {"step": 10, "loss": 1.0}]
    truncate_jsonl(tmp_path / "missing.jsonl", 10)
    assert not (tmp_path / "missing.jsonl").exists()


def test_checkpoint_and_its_step(tmp_path):
    assert latest_step(tmp_path) == 0 and not run_is_finished(tmp_path)
    prepare_run_dir(preset("tiny", iterations=4), tmp_path)
    save_checkpoint(tmp_path, {"step": 2, "weights": torch.ones(3)})
    assert latest_step(tmp_path) == 2 and not run_is_finished(tmp_path)
    save_checkpoint(tmp_path, {"step": 4, "weights": torch.ones(3)})
    assert latest_step(tmp_path) == 4 and run_is_finished(tmp_path)
    assert json.loads(checkpoint_path(tmp_path).with_suffix(".json").read_text()) == {"step": 4}


def test_the_step_sidecar_is_read_unless_it_is_stale(tmp_path, monkeypatch):
    prepare_run_dir(preset("tiny", iterations=4), tmp_path)
    save_checkpoint(tmp_path, {"step": 4})
    checkpoint, sidecar = checkpoint_path(tmp_path), checkpoint_path(tmp_path).with_suffix(".json")

    def no_loading(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded")

    with monkeypatch.context() as patch:
        patch.setattr(run_dir_module, "load_checkpoint", no_loading)
        assert run_is_finished(tmp_path)
    sidecar.write_text(json.dumps({"step": 2}))  # older than the checkpoint: not trusted
    os.utime(sidecar, ns=(checkpoint.stat().st_mtime_ns - 10**9,) * 2)
    assert latest_step(tmp_path) == 4 and run_is_finished(tmp_path)  # read from the checkpoint itself


def test_provenance_names_versions_device_and_dataset(tmp_path):
    write_provenance(tmp_path, preset("tiny", dataset="imagefolder:/data/cifar10-jpeg/train"), torch.device("cpu"))
    record = json.loads((tmp_path / "provenance.json").read_text())
    assert record["device"] == "cpu" and record["torch"] == torch.__version__
    assert record["dataset"] == "CIFAR-10 (JPEG-q75 copy)" and record["started"][:4].isdigit()
    assert {"granlib", "git_commit"} <= set(record)
