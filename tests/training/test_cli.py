import json

import pytest

from granlib.training import cli


def test_the_command_line_trains_and_resumes_a_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("preset: tiny\niterations: 2\nlr_d: 2e-4\n")
    cli.main(["--config", str(tmp_path / "c.yaml"), "--run-dir", str(tmp_path / "run"), "--quiet"])
    assert json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())["step"] == 2
    cli.main(["--config", str(tmp_path / "c.yaml"), "--run-dir", str(tmp_path / "run"), "--quiet"])  # finished: no-op


def test_torchrun_is_recognised_by_its_three_variables(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not cli.launched_by_torchrun()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not cli.launched_by_torchrun()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert cli.launched_by_torchrun()


def test_a_config_file_without_required_arguments_is_refused():
    with pytest.raises(SystemExit):
        cli.main([])
