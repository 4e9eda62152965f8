import pytest
import torch

from granlib.study.ledger import regime
from granlib.study.ledger.images import __main__ as image_study
from granlib.study.ledger.images import protocol
from granlib.study.pipeline.row_store import study_lock
from granlib.study.pipeline.study_cli import BUSY_EXIT, train_shard


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # train_shard pins one thread for the rest of the process


def test_a_shard_runs_on_one_cpu_thread_and_a_busy_one_is_refused_in_a_line(tmp_path, capsys):
    ran = []
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


@pytest.mark.parametrize("main, module", [(regime.main, regime), (image_study.main, protocol)],
                         ids=["regime", "images"])
def test_each_study_command_line_exits_busy_when_its_shard_is_held(main, module, monkeypatch, tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    monkeypatch.setattr(module, "rows_path", lambda profile, root=None, **where: path)
    with study_lock(path, (0, 1)):
        assert main(["--profile", "smoke"]) == BUSY_EXIT
    assert "not started: " in capsys.readouterr().err and not path.exists()


@pytest.mark.parametrize("main", [regime.main, image_study.main], ids=["regime", "images"])
def test_each_study_command_line_takes_the_same_options_and_refuses_an_unknown_profile(main, capsys):
    with pytest.raises(SystemExit) as help_exit:
        main(["--help"])
    usage = capsys.readouterr().out
    assert help_exit.value.code == 0
    assert all(option in usage for option in ("--profile", "--shard", "--plan", "--collect"))
    with pytest.raises(SystemExit) as refused:
        main(["--profile", "no-such-profile"])
    assert refused.value.code == 2 and "invalid choice: 'no-such-profile'" in capsys.readouterr().err
