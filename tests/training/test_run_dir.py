import json
import os
import subprocess
import sys

import pytest
import torch

from granlib.files import sha256_of
from granlib.jsonl import append_jsonl, read_jsonl
from granlib.training import run_dir as run_dir_module
from granlib.training.checkpoint import CheckpointError, load_checkpoint
from granlib.training.config import preset
from granlib.training.loop import train
from granlib.training.run_dir import (
    ConfigMismatchError,
    RunDirectoryBusyError,
    check_checkpoint_config,
    checkpoint_path,
    hold_run_dir,
    latest_step,
    load_discriminator,
    load_ema_generator,
    load_latest_checkpoint,
    prepare_run_dir,
    run_is_finished,
    save_checkpoint,
    saved_config,
    truncate_jsonl,
)


def test_a_new_directory_gets_the_exact_config(tmp_path):
    config = preset("tiny", K=0.5)
    prepare_run_dir(config, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == json.loads(json.dumps(config.to_dict()))


def test_an_existing_directory_refuses_other_hyperparameters_but_not_execution_changes(tmp_path):
    prepare_run_dir(preset("tiny"), tmp_path)
    prepare_run_dir(preset("tiny", device="cuda", log_every=1, eval_every=5, fast=True), tmp_path)  # execution only
    assert json.loads((tmp_path / "config.json").read_text())["log_every"] == 1  # config.json says what runs now
    with pytest.raises(ConfigMismatchError, match=r"(?s)refusing to resume.*lr_d: 0.0002 -> 0.001.*seed: 0 -> 1"):
        prepare_run_dir(preset("tiny", lr_d=1e-3, seed=1), tmp_path)


def test_a_checkpoint_with_another_config_is_refused_even_without_config_json(tmp_path):
    save_checkpoint(tmp_path, {"step": 2, "config": preset("tiny", eps=1e-3).to_dict()})
    with pytest.raises(ConfigMismatchError, match=r"(?s)checkpoint .*latest.pt.*eps: 0.001 -> 0.0001"):
        check_checkpoint_config(load_checkpoint(checkpoint_path(tmp_path)), preset("tiny", eps=1e-4),
                                checkpoint_path(tmp_path))
    check_checkpoint_config(load_checkpoint(checkpoint_path(tmp_path)), preset("tiny", eps=1e-3, log_every=1),
                            checkpoint_path(tmp_path))  # execution-only differences pass


def test_the_ema_generator_of_a_run_directory_loads_from_its_config(tmp_path):
    from granlib.training import train

    train(preset("tiny", iterations=2), tmp_path, quiet=True)
    generator = load_ema_generator(tmp_path)
    state = load_checkpoint(checkpoint_path(tmp_path))["ema_G"]
    assert not generator.training and all(torch.equal(generator.state_dict()[k], state[k]) for k in state)


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
    sidecar = json.loads(checkpoint_path(tmp_path).with_suffix(".json").read_text())
    assert sidecar["step"] == 4 and sidecar["sha256"] == sha256_of(checkpoint_path(tmp_path))
    assert load_checkpoint(checkpoint_path(tmp_path, "previous"))["step"] == 2  # kept until the next one


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


def _two_checkpoints(tmp_path):
    prepare_run_dir(preset("tiny", iterations=8), tmp_path)
    save_checkpoint(tmp_path, {"step": 2, "w": torch.arange(1000.0)})
    save_checkpoint(tmp_path, {"step": 4, "w": torch.arange(1000.0) * 2})
    return checkpoint_path(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip 64 bytes"])
def test_a_damaged_checkpoint_falls_back_to_the_previous_one_with_a_warning(tmp_path, damage):
    latest = _two_checkpoints(tmp_path)
    data = bytearray(latest.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        for i in range(len(data) - 200, len(data) - 136):  # inside the tensor data: loads, but with wrong values
            data[i] ^= 0xFF
    latest.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=r"latest.pt.*resuming from .*previous.pt \(step 2\)"):
        state = load_latest_checkpoint(tmp_path)
    assert state["step"] == 2 and torch.equal(state["w"], torch.arange(1000.0))


def test_every_checkpoint_damaged_is_one_clear_error(tmp_path):
    latest = _two_checkpoints(tmp_path)
    for path in (latest, checkpoint_path(tmp_path, "previous")):
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"(?s)latest.pt.*previous.pt.*delete the run directory's checkpoints"):
        load_latest_checkpoint(tmp_path)


def test_a_kill_between_the_renames_resumes_from_the_staged_checkpoint(tmp_path):
    latest = _two_checkpoints(tmp_path)
    latest.rename(latest.with_name("staged.pt"))  # as if killed after keeping latest as previous
    assert load_latest_checkpoint(tmp_path)["step"] == 4


def test_torn_json_lines_are_skipped_with_a_warning_naming_the_file(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text('{"step": 5}\n{"step": 10}\n{"step": 1')  # killed mid-line
    with pytest.warns(UserWarning, match=r"stats.jsonl:3"):
        truncate_jsonl(path, 10)
    assert read_jsonl(path) == [{"step": 5}, {"step": 10}]


def test_one_run_directory_one_trainer_and_no_stale_temporary_files(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / ".latest.pt.abc.tmp").write_bytes(b"half")  # a kill during a checkpoint write
    with hold_run_dir(tmp_path):
        assert not list((tmp_path / "checkpoints").glob(".*.tmp"))
        holder = subprocess.run(
            [sys.executable, "-c", "import sys; from granlib.training.run_dir import hold_run_dir\n"
             "try:\n    hold_run_dir(sys.argv[1]).__enter__()\nexcept Exception as e:\n    print(e)", str(tmp_path)],
            capture_output=True, text=True, timeout=120)
        assert f"pid {os.getpid()}" in holder.stdout and "being trained" in holder.stdout
        with pytest.raises(RunDirectoryBusyError):  # the same process twice is refused too
            with hold_run_dir(tmp_path):
                pass
    with hold_run_dir(tmp_path):  # released
        pass


def test_run_files_have_ordinary_permissions(tmp_path):
    prepare_run_dir(preset("tiny"), tmp_path)
    save_checkpoint(tmp_path, {"step": 1})
    mask = os.umask(0)
    os.umask(mask)
    for path in (tmp_path / "config.json", checkpoint_path(tmp_path), checkpoint_path(tmp_path).with_suffix(".json")):
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_a_removed_config_json_does_not_let_another_run_resume(tmp_path):
    prepare_run_dir(preset("tiny", lr_d=2e-4), tmp_path)
    save_checkpoint(tmp_path, {"step": 2, "config": preset("tiny", lr_d=2e-4).to_dict()})
    (tmp_path / "config.json").unlink()
    with pytest.raises(ConfigMismatchError, match="lr_d"):
        prepare_run_dir(preset("tiny", lr_d=1e-3), tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_a_run_written_before_normaliser_options_existed_resumes_and_reloads(tmp_path):
    config = preset("tiny", iterations=4, checkpoint_every=2)
    train(config, tmp_path, quiet=True, max_steps=2)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    del saved["normalizer_options"]  # as granlib wrote config.json before normalisers declared options
    path.write_text(json.dumps(saved))
    assert saved_config(tmp_path).normalizer_options == {}
    train(config, tmp_path, quiet=True)
    assert run_is_finished(tmp_path) and json.loads(path.read_text())["normalizer_options"] == {}
    assert load_discriminator(tmp_path).K == 0.1


def test_a_run_written_before_precision_existed_resumes_under_its_key(tmp_path):
    from granlib.training.config import resolve_config, run_settings

    config = preset("tiny", iterations=4, checkpoint_every=2)
    train(config, tmp_path, quiet=True, max_steps=2)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    del saved["precision"]  # as granlib wrote config.json and checkpoints before the field
    path.write_text(json.dumps(saved))
    state = load_latest_checkpoint(tmp_path)
    del state["config"]["precision"]
    save_checkpoint(tmp_path, state)
    assert saved_config(tmp_path).precision == run_settings(resolve_config(config))["precision"] == "fp32"
    train(config, tmp_path, quiet=True)
    assert run_is_finished(tmp_path) and json.loads(path.read_text())["precision"] == "fp32"
