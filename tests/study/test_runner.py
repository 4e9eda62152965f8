import json

import pytest

from granlib.study import runner
from granlib.study.experiments import PROJECT_ENV, REPO_ROOT, load_profile


def test_notebook_selection_by_glob_or_substring():
    every = runner.notebooks()
    assert [p.name[:2] for p in every] == sorted(p.name[:2] for p in every) and len(every) == 10
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
    assert runner.estimated_gpu_hours(load_profile("paper")) == pytest.approx(seconds / 3600)


def test_a_k_sweep_alone_is_estimated_too():
    """The sweep runs on sweep_dataset even when the profile trains no dataset notebook."""
    params = {**load_profile("paper"), "datasets": [], "iterations": 1000}
    assert runner.estimated_gpu_hours(params) == pytest.approx(3 * 5 * 3 * 1000 / 48.7 / 3600)


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
    assert runner.estimated_gpu_hours(paper, runner.FAST_IT_PER_S) < runner.estimated_gpu_hours(paper)


@pytest.mark.parametrize("profile", ["quick", "paper", "smoke", "cifar10_jpeg_cpu"])
def test_gpu_profiles_print_their_estimate_before_running(tmp_path, monkeypatch, capsys, profile):
    """Not for the smoke profile, nor for a profile that runs on the CPU (a GPU estimate would mislead)."""
    import papermill

    fast_rates = runner.estimated_gpu_hours(load_profile(profile), runner.FAST_IT_PER_S)
    printed = (None if profile in ("smoke", "cifar10_jpeg_cpu")
               else f"{profile} profile: estimated {runner.gpu_time(fast_rates)} of training")

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
    assert runner.gpu_time(0.3) == "18 GPU-minutes" and runner.gpu_time(684.1) == "684 GPU-hours"


def test_an_unknown_profile_is_one_line_listing_the_profiles(capsys):
    assert runner.main(["--profile", "nope"]) == 2
    error = capsys.readouterr().err
    assert "no profile 'nope'" in error and "smoke" in error and "quick" in error and "Traceback" not in error
