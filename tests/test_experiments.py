from pathlib import Path

import pytest

from granlib.experiments import (
    REPO_ROOT,
    load_profile,
    make_config,
    parse_method,
    resolve_params,
    run_and_evaluate,
    run_dir_for,
)
from granlib.results import load_rows


def test_profiles_by_name_or_path_and_overrides(tmp_path, smoke_profile):
    assert load_profile("smoke") == load_profile(str(REPO_ROOT / "params" / "smoke.yaml"))
    assert {load_profile(name)["profile"] for name in ("smoke", "quick", "paper")} == {"smoke", "quick", "paper"}
    params = resolve_params(str(smoke_profile()), iterations=7, seeds=None)  # None: keep the profile's value
    assert params["iterations"] == 7 and params["seeds"] == [0] and params["smoke"] is True
    assert Path(params["results_dir"]) == tmp_path / "results"
    relative = resolve_params("smoke")  # relative directories are taken from the repository root
    assert relative["runs_dir"] == str(REPO_ROOT / "runs" / "smoke")


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


def test_run_directories_name_dataset_method_K_and_seed(tmp_path):
    params = {"iterations": 10, "runs_dir": str(tmp_path)}
    config = make_config("cifar10", "gran", "ns", 0.1, 3, params)
    assert run_dir_for(config, params, "cifar10") == tmp_path / "cifar10" / "gran-ns-K0.1-s3"
    default_K = make_config("cifar10", "sn", "hinge", None, 0, params)
    assert run_dir_for(default_K, params, "cifar10") == tmp_path / "cifar10" / "sn-hinge-Kdefault-s0"


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
