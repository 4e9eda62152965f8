from pathlib import Path

import pytest

from granlib.normalizers import parse_method
from granlib.project import PROJECT_ENV, REPO_ROOT, project_root
from granlib.study.pipeline.experiments import (
    load_profile,
    make_config,
    notebook_setup,
    relative_run_dir,
    resolve_params,
    run_and_evaluate,
    run_dir_for,
)
from granlib.study.pipeline.results import load_rows


def test_profiles_by_name_or_path_and_overrides(tmp_path, smoke_profile, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    assert load_profile("smoke") == load_profile(str(REPO_ROOT / "params" / "smoke.yaml"))
    assert {load_profile(name)["profile"] for name in ("smoke", "quick", "paper")} == {"smoke", "quick", "paper"}
    params = resolve_params(str(smoke_profile()), iterations=7, seeds=None)  # None: keep the profile's value
    assert params["iterations"] == 7 and params["seeds"] == [0] and params["smoke"] is True
    assert Path(params["results_dir"]) == tmp_path / "results"
    relative = resolve_params("smoke")  # relative directories are taken from the project root
    assert relative["runs_dir"] == str(REPO_ROOT / "runs" / "smoke")


def clone(path: Path, results_dir: str = "results/smoke") -> Path:
    """A project: params/ (a smoke profile writing under results_dir) and notebooks/."""
    (path / "notebooks" / "sub").mkdir(parents=True)
    (path / "params").mkdir()
    params = {**load_profile("smoke"), "results_dir": results_dir, "runs_dir": "runs/smoke"}
    (path / "params" / "smoke.yaml").write_text(__import__("yaml").safe_dump(params))
    return path


def test_results_land_in_the_project_worked_in(tmp_path, monkeypatch):
    """Two clones: from inside either (its root, notebooks/ as JupyterLab's kernels, or deeper) results and runs
    resolve into that clone; $GRANLIB_PROJECT overrides the directory; outside any project, granlib's checkout."""
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    first, second = clone(tmp_path / "first"), clone(tmp_path / "second", results_dir="out")
    for project in (first, second):
        for where in (project, project / "notebooks", project / "notebooks" / "sub"):
            monkeypatch.chdir(where)
            assert project_root() == project.resolve()
            params = resolve_params("smoke")
            assert Path(params["runs_dir"]) == project.resolve() / "runs" / "smoke"
    assert Path(resolve_params("smoke")["results_dir"]) == second.resolve() / "out"  # the clone's own profile
    monkeypatch.setenv(PROJECT_ENV, str(first))
    assert project_root() == first.resolve() and resolve_params("smoke")["results_dir"].startswith(str(first))
    monkeypatch.delenv(PROJECT_ENV)
    monkeypatch.chdir(tmp_path)
    assert project_root() == REPO_ROOT
    assert resolve_params("smoke", project_root=second)["project_root"] == str(second)  # explicit wins


def test_every_relative_path_of_a_profile_resolves_in_the_project_from_any_directory(tmp_path, monkeypatch):
    """A profile naming its data relatively (imagefolder: datasets, data_root) finds it from notebooks/, the
    directory JupyterLab's kernels start in, as from the project root; the ledger profiles anchor alike."""
    from PIL import Image

    from granlib.data import load_dataset
    from granlib.study.ledger.profiles import anchored_params

    monkeypatch.delenv(PROJECT_ENV, raising=False)
    project = clone(tmp_path / "project").resolve()
    for split in ("train", "test"):
        (project / "data" / "imgs" / split / "a").mkdir(parents=True)
        Image.new("RGB", (8, 8), (10, 20, 30)).save(project / "data" / "imgs" / split / "a" / "0.png")
    folders = {"dataset_override": "imagefolder:data/imgs/train", "eval_dataset_override": "imagefolder:data/imgs/test",
               "data_root": "data"}
    profile = __import__("yaml").safe_load((project / "params" / "smoke.yaml").read_text())
    (project / "params" / "smoke.yaml").write_text(__import__("yaml").safe_dump({**profile, **folders}))
    for where in (project, project / "notebooks"):
        monkeypatch.chdir(where)
        params = resolve_params("smoke")
        assert params["dataset_override"] == f"imagefolder:{project / 'data' / 'imgs' / 'train'}"
        assert params["eval_dataset_override"] == f"imagefolder:{project / 'data' / 'imgs' / 'test'}"
        assert params["data_root"] == str(project / "data")
        assert len(load_dataset(params["dataset_override"], params["data_root"], 8)) == 1
        ledger = anchored_params({**folders, "runs_dir": "runs/x", "out_dir": "results/x"}, "ledger-x", project)
        assert {key: ledger[key] for key in folders} == {key: params[key] for key in folders}  # one way to anchor
    assert resolve_params("smoke", dataset_override="imagefolder:/elsewhere/train")["dataset_override"] == (
        "imagefolder:/elsewhere/train")  # absolute stays
    assert resolve_params("smoke", dataset_override="synthetic")["dataset_override"] == "synthetic"  # a name stays


def test_run_dirs_are_stored_relative_to_the_project(tmp_path):
    params = {"project_root": str(tmp_path)}
    assert relative_run_dir(tmp_path / "runs" / "cifar10" / "x", params) == "runs/cifar10/x"
    assert relative_run_dir("/elsewhere/x", params) == "/elsewhere/x"  # outside the project: absolute


def test_notebook_setup_resolves_themes_and_makes_the_figure_folder(smoke_profile, capsys):
    import matplotlib.pyplot as plt

    params = notebook_setup(str(smoke_profile()), iterations=3)
    assert params["iterations"] == 3 and params["figures"].is_dir() and params["smoke"] is True
    assert plt.rcParams["savefig.bbox"] == "tight"  # saved figures keep their titles
    assert "'iterations': 3" in capsys.readouterr().out
    notebook_setup(str(smoke_profile()), show=("profile", "toy_steps"))  # a notebook names what it uses
    shown = capsys.readouterr().out
    assert "'toy_steps'" in shown and "'iterations'" not in shown and "'methods'" not in shown


def test_method_specs():
    assert parse_method("gran/ns") == ("gran", "ns")
    assert parse_method("gp/wasserstein") == ("gp", "wasserstein")
    assert parse_method("sn") == ("sn", "ns")  # the non-saturating loss unless one is named


@pytest.mark.parametrize(("dataset", "resolution", "architecture", "n_dis"),
                         [("cifar10", 32, "cnn", 1), ("stl10", 48, "cnn", 1), ("celeba", 64, "resnet", 5),
                          ("lsun_bedroom", 128, "resnet", 5)])
def test_each_dataset_gets_its_resolution_and_protocol(dataset, resolution, architecture, n_dis):
    params = {"iterations": 1000, "device": "cpu", "feature_extractor": "effnet_lite0"}
    config = make_config(dataset, "gran", "ns", 0.1, 2, params)
    assert (config.dataset, config.resolution, config.architecture, config.n_dis) == (dataset, resolution,
                                                                                      architecture, n_dis)
    assert (config.K, config.seed, config.iterations, config.eval_feature_extractor) == (0.1, 2, 1000, "effnet_lite0")
    assert (config.log_every, config.sample_every, config.checkpoint_every) == (20, 250, 250)
    standing_in = make_config(dataset, "sn", "hinge", None, 0, {**params, "dataset_override": "synthetic"})
    assert standing_in.dataset == "synthetic" and standing_in.resolution == resolution  # the notebook's resolution


def test_run_directories_name_dataset_protocol_method_K_and_seed(tmp_path):
    params = {"iterations": 10, "runs_dir": str(tmp_path), "device": "cpu"}
    config = make_config("cifar10", "gran", "ns", 0.1, 3, params)
    run_dir = run_dir_for(config, params, "cifar10")
    assert run_dir.parent.parent == tmp_path / "cifar10" and run_dir.name == "gran-ns-K0.1-s3"
    assert run_dir.parent.name.startswith("G512-D64-fp32-")  # the published CNN widths, then a digest
    default_K = make_config("cifar10", "sn", "hinge", None, 0, params)
    assert run_dir_for(default_K, params, "cifar10").name == "sn-hinge-K1-s0"
    # one setting changed is another run in another folder, never the finished one refused or relabelled
    for changed in ({"batch_size_d": 32}, {"ema_decay": 0.99}, {"ndf": 16}, {"eps": 1e-6}, {"lr_g": 1e-4}):
        other = run_dir_for(make_config("cifar10", "gran", "ns", 0.1, 3, {**params, "model_overrides": changed}),
                            params, "cifar10")
        assert other.name == run_dir.name and other.parent != run_dir.parent, changed


def test_rerun_skips_finished_runs_and_existing_rows(smoke_profile):
    params = resolve_params(str(smoke_profile(iterations=4, n_eval=8, n_real=8)))
    run_dir = run_and_evaluate("cifar10", "gran/ns", 0, params)
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    stamp = checkpoint.stat().st_mtime_ns
    assert run_and_evaluate("cifar10", "gran/ns", 0, params) == run_dir
    assert checkpoint.stat().st_mtime_ns == stamp
    rows = load_rows(params["results_dir"])
    assert len(rows) == 1
    assert {"dataset", "resolution", "method", "loss", "K", "iterations", "seed", "feature_extractor", "n_real",
            "n_fake", "gpu", "date"} <= set(rows.columns)
    assert rows.K.iloc[0] == pytest.approx(0.1) and rows.gpu.iloc[0] == "cpu"
    assert rows.dataset.iloc[0] == "synthetic (smoke data, not a result) standing in for CIFAR-10"
    assert rows.run_dir.iloc[0] == relative_run_dir(run_dir, params)
