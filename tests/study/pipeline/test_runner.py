import json

import pytest

from granlib.project import PROJECT_ENV, REPO_ROOT
from granlib.study.pipeline import runner
from granlib.study.pipeline.experiments import load_profile


def test_notebook_selection_by_glob_or_substring():
    every = runner.notebooks()
    assert [p.name[:2] for p in every] == sorted(p.name[:2] for p in every) and len(every) == 12
    assert [p.stem for p in runner.notebooks("1*_train_*")] == [
        "10_train_cifar10", "11_train_cifar100", "12_train_stl10", "13_train_lsun_bedroom", "14_train_celeba"]
    assert [p.stem for p in runner.notebooks("k_sweep")] == ["20_k_sweep"]
    assert runner.notebooks("no_such_notebook") == []


def test_nothing_selected_is_an_error(capsys):
    assert runner.main(["--only", "no_such_notebook"]) == 2
    assert "no notebook matches 'no_such_notebook'" in capsys.readouterr().err


def test_runner_stops_and_names_the_failing_notebook(tmp_path, smoke_profile, capsys):
    profile = smoke_profile(dataset_override=f"imagefolder:{tmp_path / 'missing'}", datasets=["cifar10"])
    assert runner.main(["--profile", str(profile), "--only", "10_train_cifar10"]) == 1
    assert "FAILED: 10_train_cifar10.ipynb" in capsys.readouterr().err


def test_paper_profile_gpu_estimate():
    """8 methods × 3 seeds on five datasets, plus 3 × 5 K × 3 seeds of sweep on CIFAR-10, 100k iterations each."""
    cnn, resnet = 48.7, 8.6
    runs, sweep, its = 24, 45, 100_000
    seconds = ((runs + sweep) * its / cnn + runs * its / cnn + runs * its / (cnn / 2.25)
               + runs * its / (resnet / 16) + runs * its / (resnet / 4))
    assert runner.estimated_hours(load_profile("paper")) == pytest.approx(seconds / 3600)


def test_a_k_sweep_alone_is_estimated_too():
    """The sweep runs on sweep_dataset even when the profile trains no dataset notebook."""
    params = {**load_profile("paper"), "datasets": [], "iterations": 1000}
    assert runner.estimated_hours(params) == pytest.approx(3 * 5 * 3 * 1000 / 48.7 / 3600)


def test_fast_rates_of_the_estimate_are_the_measured_ones():
    bench = REPO_ROOT / "results" / "bench"
    small = json.loads((bench / "2026-11-27_H200_run1_bench_32x32.json").read_text())["results"]
    large = json.loads((bench / "2026-11-27_H200_run2_bench_48_128.json").read_text())["results"]
    measured = {32: (small["cnn32_ndis1_ns"], small["resnet32_ndis5_hinge"]), 48: (large["cnn48_ndis1_ns"], None),
                128: (None, large["resnet128_ndis5_hinge"])}
    for resolution, rows in measured.items():
        for rate, row in zip(runner.FAST_IT_PER_S[resolution], rows):
            assert (rate is None) == (row is None)
            if row is not None:
                assert rate == pytest.approx(row["fast"]["it_per_s"], rel=1e-4)
    paper = load_profile("paper")
    assert runner.estimated_hours(paper, runner.FAST_IT_PER_S) < runner.estimated_hours(paper)


@pytest.mark.parametrize("profile", ["quick", "paper", "smoke", "cifar10_jpeg_cpu"])
def test_gpu_profiles_print_their_estimate_before_running(tmp_path, monkeypatch, capsys, profile):
    """Not for the smoke profile, nor for a profile that runs on the CPU (a GPU estimate would mislead)."""
    import papermill
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    fast_rates = runner.estimated_hours(load_profile(profile), runner.FAST_IT_PER_S)
    printed = (None if profile in ("smoke", "cifar10_jpeg_cpu")
               else f"{profile} profile: estimated {runner.device_time(fast_rates)} of training")

    executed, selected = [], runner.notebooks("30_tables")
    monkeypatch.setattr(runner, "notebooks", lambda pattern: selected)
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))  # executed copies and logs go under tmp_path (a project)
    monkeypatch.setattr(papermill, "execute_notebook", lambda source, target, **kwargs: executed.append(target))
    assert runner.main(["--profile", profile, "--only", "30_tables"]) == 0
    output = capsys.readouterr().out
    assert (printed in output) if printed else "estimated" not in output
    assert executed == [str(tmp_path / "results" / "executed" / profile / "30_tables.ipynb")]


def test_the_kernels_get_the_project_and_the_environment_is_restored(tmp_path, monkeypatch):
    import os

    import papermill

    seen = []
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(REPO_ROOT / "notebooks")  # as from JupyterLab: the project is found upwards
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: seen.append((os.environ[PROJECT_ENV],
                                                                                      kw["cwd"])))
    assert runner.main(["--only", "30_tables"]) == 0
    assert seen == [(str(REPO_ROOT), str(REPO_ROOT))] and PROJECT_ENV not in os.environ


def test_gpu_time_in_minutes_or_hours():
    assert runner.device_time(0.3) == "18 GPU-minutes" and runner.device_time(684.1) == "684 GPU-hours"


def test_an_unknown_profile_is_one_line_listing_the_profiles(capsys):
    assert runner.main(["--profile", "nope"]) == 2
    error = capsys.readouterr().err
    assert "no profile 'nope'" in error and "smoke" in error and "quick" in error and "Traceback" not in error


def stand_in_project(tmp_path, monkeypatch, execute):
    """A project under tmp_path running the real notebook 30_tables through ``execute`` (papermill's stand-in)."""
    import papermill

    selected = runner.notebooks("30_tables")
    monkeypatch.setattr(runner, "notebooks", lambda pattern: selected)
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    return tmp_path / "results" / "executed" / "smoke" / "30_tables.ipynb"


def partial_copy(target):
    """What papermill leaves when the runner is stopped in the second of three code cells: its finishing steps mark
    that cell and the cells it never reached "completed", and the notebook's exception null."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"exception": None, "start_time": "t0", "end_time": "t1"}
    statuses = [("completed", "t0"), ("completed", "t0"), ("completed", None)]
    for i, (status, started) in enumerate(statuses):
        cell = nbformat.v4.new_code_cell(f"x = {i}")
        cell.metadata["papermill"] = {"status": status, "start_time": started, "exception": False}
        notebook.cells.append(cell)
    nbformat.write(notebook, target)


def test_an_interrupt_is_one_line_and_marks_the_executed_copy_incomplete(tmp_path, monkeypatch, capsys):
    import nbformat

    def interrupted(source, target, **kwargs):
        partial_copy(target)
        raise KeyboardInterrupt

    copy = stand_in_project(tmp_path, monkeypatch, interrupted)
    assert runner.main(["--only", "30_tables"]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [captured.err.strip()] and "Traceback" not in captured.err
    assert captured.err.startswith("INTERRUPTED: 30_tables.ipynb") and "marked incomplete" in captured.err
    notebook = nbformat.read(copy, as_version=4)
    assert notebook.metadata.papermill.exception is True
    assert notebook.cells[0].cell_type == "markdown" and "Interrupted" in notebook.cells[0].source
    assert [c.metadata.papermill.status for c in notebook.cells[1:]] == ["completed", "failed", "pending"]


def test_an_interrupt_the_kernel_reports_is_an_interrupt_too(tmp_path, monkeypatch, capsys):
    from papermill.exceptions import PapermillExecutionError

    def interrupted(source, target, **kwargs):
        partial_copy(target)
        raise PapermillExecutionError(1, 2, "x = 1", "KeyboardInterrupt", "", [])

    stand_in_project(tmp_path, monkeypatch, interrupted)
    assert runner.main(["--only", "30_tables"]) == 130
    assert capsys.readouterr().err.startswith("INTERRUPTED: 30_tables.ipynb")


def test_an_interrupt_before_any_copy_says_so(tmp_path, monkeypatch, capsys):
    def interrupted(source, target, **kwargs):
        raise KeyboardInterrupt

    copy = stand_in_project(tmp_path, monkeypatch, interrupted)
    assert runner.main(["--only", "30_tables"]) == 130
    assert "no executed copy" in capsys.readouterr().err and not copy.exists()


def test_a_failure_names_the_notebook_and_the_error_it_raised(tmp_path, monkeypatch, capsys):
    from papermill.exceptions import PapermillExecutionError

    def failing(source, target, **kwargs):
        raise PapermillExecutionError(1, 2, "x", "DatasetNotFoundError", "dataset 'cifar10' is not available\nmore", [])

    stand_in_project(tmp_path, monkeypatch, failing)
    assert runner.main(["--only", "30_tables"]) == 1
    assert capsys.readouterr().err.startswith(
        "FAILED: 30_tables.ipynb (DatasetNotFoundError: dataset 'cifar10' is not available); executed copy ")


def test_the_notebooks_run_on_the_project_kernel_with_encrypted_channels(tmp_path, monkeypatch, capsys):
    import json

    seen = []
    stand_in_project(tmp_path, monkeypatch, lambda source, target, **kwargs: seen.append(kwargs))
    monkeypatch.setattr(runner, "kernel_name", lambda: runner.PROJECT_KERNEL)
    assert runner.main(["--only", "30_tables"]) == 0
    assert seen[0]["kernel_name"] == "granlib"
    assert seen[0]["config"].KernelManager.transport_encryption == "auto"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("== 30_tables.ipynb (smoke) ... ") and lines[0].endswith(" s")  # one line, its time
    for notebook in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):  # the kernel the notebooks name
        assert json.loads(notebook.read_text())["metadata"]["kernelspec"]["name"] == runner.PROJECT_KERNEL


def test_the_kernel_falls_back_to_python3_with_a_note(tmp_path, monkeypatch, capsys):
    from jupyter_client.kernelspec import KernelSpecManager

    assert runner.kernel_name({"granlib": "/k/granlib", "python3": "/k/python3"}) == "granlib"
    assert runner.kernel_name({"python3": "/k/python3"}) == "python3"
    seen = []
    stand_in_project(tmp_path, monkeypatch, lambda source, target, **kwargs: seen.append(kwargs["kernel_name"]))
    monkeypatch.setattr(KernelSpecManager, "find_kernel_specs", lambda self: {"python3": "/k/python3"})
    assert runner.main(["--only", "30_tables"]) == 0
    assert seen == ["python3"] and "kernel 'granlib' is not registered" in capsys.readouterr().err


@pytest.mark.parametrize("device", [None, "auto", "cuda"])
def test_without_a_gpu_a_gpu_profile_is_refused_with_its_cpu_estimate(tmp_path, monkeypatch, capsys, device):
    import torch

    started = []
    stand_in_project(tmp_path, monkeypatch, lambda *a, **kw: started.append(a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runner.main(["--profile", "quick", *(["--device", device] if device else [])]) == 2
    captured = capsys.readouterr()
    hours = runner.estimated_hours(load_profile("quick"), runner.CPU_IT_PER_CORE_S)
    assert captured.err.startswith("no GPU found") and "GPU-" not in captured.out + captured.err
    assert f"about {runner.device_time(hours, 'CPU')} of training" in captured.err and "--device cpu" in captured.err
    assert not started and not (tmp_path / "results").exists()


def test_with_device_cpu_a_gpu_profile_runs_and_prints_its_cpu_estimate(tmp_path, monkeypatch, capsys):
    import torch

    started = []
    stand_in_project(tmp_path, monkeypatch, lambda *a, **kw: started.append(kw["parameters"]))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runner.main(["--profile", "quick", "--device", "cpu"]) == 0
    assert started == [{"profile": "quick", "device": "cpu"}]
    assert capsys.readouterr().out.startswith("quick profile on the CPU: about ")


def test_the_cpu_estimate_says_when_model_overrides_change_the_step():
    params = {**load_profile("quick"), "model_overrides": {"ngf": 64, "log_every": 10}}
    assert "model_overrides change ngf, so" in runner.cpu_estimate(params)
    assert "model_overrides" not in runner.cpu_estimate(load_profile("quick"))


def test_cpu_rates_are_ordered_like_the_gpu_rates():
    """Per-pixel scaling as the reference rates, and the CNN32 step cheaper than the ResNet32 one (n_dis 5)."""
    cnn, resnet = runner.CPU_IT_PER_CORE_S[32]
    assert cnn > resnet > 0
    assert runner.CPU_IT_PER_CORE_S[128] == (None, pytest.approx(resnet / 16))


def test_an_unknown_device_is_refused_by_the_command_line():
    with pytest.raises(SystemExit) as exit_:
        runner.main(["--device", "gpu"])
    assert exit_.value.code == 2


def tiny_project(tmp_path, monkeypatch, notebooks: dict) -> None:
    """A project under tmp_path: the smoke profile and ``notebooks`` (name -> code cells after the parameters cell)
    on the project kernel."""
    import nbformat

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "smoke.yaml").write_text((REPO_ROOT / "params" / "smoke.yaml").read_text())
    for name, cells in notebooks.items():
        notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "granlib", "language": "python",
                                                                     "display_name": "Python (granlib)"}})
        notebook.cells = [nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}),
                          *(nbformat.v4.new_code_cell(source) for source in cells)]
        nbformat.write(notebook, tmp_path / "notebooks" / f"{name}.ipynb")
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))


def test_real_kernels_run_quietly_one_line_per_notebook(tmp_path, monkeypatch, capfd):
    """No line from the kernels (ipykernel's TCP warning, its shutdown interrupt): a progress line per notebook,
    then the failure in one line."""
    tiny_project(tmp_path, monkeypatch, {"01_fine": ["print('fine')"], "02_fails": ["raise ValueError('bad value')"]})
    assert runner.main([]) == 1
    captured = capfd.readouterr()  # the kernels' own stderr too: they inherit this process's
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("== 01_fine.ipynb (smoke) ... ") and lines[0].endswith(" s")
    assert lines[1].startswith("== 02_fails.ipynb (smoke) ... failed after "), captured.out
    assert captured.err.startswith("FAILED: 02_fails.ipynb (ValueError: bad value); executed copy ")
    assert len(captured.err.splitlines()) == 1, captured.err


def test_a_real_interrupt_stops_the_running_cell_and_the_kernel_in_order(tmp_path, monkeypatch, capfd):
    """Ctrl-C while a real kernel runs a cell: one line, exit 130, papermill's record of the interrupted cell."""
    import os
    import signal
    import threading

    import nbformat

    tiny_project(tmp_path, monkeypatch, {"01_busy": ["import time\nprint('busy', flush=True)\ntime.sleep(300)",
                                                     "print('never')"]})
    log = tmp_path / "results" / "logs" / "smoke" / "01_busy.log"

    def interrupt_when_busy():
        for _ in range(1200):
            if log.is_file() and "busy" in log.read_text():
                os.kill(os.getpid(), signal.SIGINT)
                return
            threading.Event().wait(0.1)

    before = signal.getsignal(signal.SIGINT)  # Python's handler, or SIG_IGN under a background shell job
    threading.Thread(target=interrupt_when_busy, daemon=True).start()
    assert runner.main([]) == 130
    captured = capfd.readouterr()  # the kernel's own stderr too: it is this process's
    assert captured.err.strip().splitlines() == [captured.err.strip()], captured.err
    assert captured.err.startswith("INTERRUPTED: 01_busy.ipynb"), captured.err
    assert "WARNING" not in captured.out + captured.err, captured.out
    executed = nbformat.read(tmp_path / "results" / "executed" / "smoke" / "01_busy.ipynb", as_version=4)
    assert executed.metadata.papermill.exception is True and "Interrupted" in executed.cells[0].source
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert [cell.metadata.papermill.status for cell in code[-2:]] == ["failed", "pending"]
    assert code[-2].outputs[-1].ename == "KeyboardInterrupt"
    assert signal.getsignal(signal.SIGINT) is before  # the runner's handler is gone, the one before it restored
