import torch

from granlib.study.ledger import regime
from granlib.study.pipeline.row_store import study_lock
from granlib.study.pipeline.study_cli import BUSY_EXIT, train_shard


def test_a_shard_runs_on_one_cpu_thread_and_a_busy_one_is_refused_in_a_line(tmp_path, capsys):
    threads = torch.get_num_threads()
    ran = []
    try:
        assert train_shard("cpu", lambda: ran.append(torch.get_num_threads())) == 0
        assert ran == [1]
        with study_lock(tmp_path / "rows.jsonl", (0, 2)):
            def second():
                with study_lock(tmp_path / "rows.jsonl", (0, 2)):
                    ran.append("trained")

            assert train_shard("cpu", second) == BUSY_EXIT
        assert ran == [1]  # the second never trained
        err = capsys.readouterr().err
        assert err.startswith("not started: ") and "shard 0/2" in err and "Traceback" not in err
    finally:
        torch.set_num_threads(threads)


def test_the_study_command_line_exits_busy_when_its_shard_is_held(monkeypatch, tmp_path, capsys):
    path = regime.rows_path("smoke", tmp_path)
    monkeypatch.setattr(regime, "rows_path", lambda profile, root=None, **where: path)
    threads = torch.get_num_threads()
    try:
        with study_lock(path, (0, 1)):
            assert regime.main(["--profile", "smoke"]) == BUSY_EXIT
    finally:
        torch.set_num_threads(threads)
    assert "not started: " in capsys.readouterr().err


def test_the_image_study_command_line_exits_busy_too(monkeypatch, tmp_path, capsys):
    from granlib.study.ledger.images import __main__ as command
    from granlib.study.ledger.images import protocol

    path = tmp_path / "ledger_images.jsonl"
    monkeypatch.setattr(protocol, "rows_path", lambda profile, root=None, **where: path)
    threads = torch.get_num_threads()
    try:
        with study_lock(path, (0, 1)):
            assert command.main(["--profile", "smoke"]) == BUSY_EXIT
    finally:
        torch.set_num_threads(threads)
    assert "not started: " in capsys.readouterr().err and not path.exists()
