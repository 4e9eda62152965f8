import json

import pytest

from granlib.normalizers import parse_method
from granlib.project import REPO_ROOT
from granlib.study.pipeline import slots
from granlib.study.pipeline.experiments import (
    make_config,
    relative_run_dir,
    resolve_params,
    run_dir_for,
    run_key,
)
from granlib.study.pipeline.results import ROW_KEYS, append_row, load_rows, summary_table
from granlib.training.config import resolve_config


@pytest.fixture
def params(tmp_path):
    params = resolve_params("smoke", results_dir=str(tmp_path / "results"), runs_dir=str(tmp_path / "runs"))
    params.update(datasets=["cifar10"], methods=["gran/ns", "sn/ns"], seeds=[0, 1], sweep_methods=[], iterations=100)
    return params


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def recording_run(params, clock, seconds, fd=10.0):
    """A stand-in for a real run: takes ``seconds`` on the fake clock and appends the row a real run would."""
    started = []

    def run(planned):
        assert clock.now + seconds <= budget_of(params), "started a run that could not finish"
        clock.now += seconds
        started.append(planned)
        normalizer, loss = parse_method(planned.method)
        config = make_config(planned.dataset, normalizer, loss, planned.K, planned.seed, params)
        row = {key: None for key in ROW_KEYS}
        row.update(run_key(resolve_config(config), params, planned.dataset))  # what a real run's row is keyed by
        row.update(metric="FD-EffNetLite0", fd=fd + planned.seed, is_mean=1.0, kid_mean=0.1,
                   run_dir=relative_run_dir(run_dir_for(config, params, planned.dataset), params))
        append_row(f"{params['results_dir']}/rows/{planned.results_name}.jsonl", row)

    return run, started


def budget_of(params):
    return params["_budget"]


def test_a_slot_starts_only_runs_that_fit_and_keeps_protocol_order(params):
    clock, params["_budget"] = FakeClock(), 5.0
    run, started = recording_run(params, clock, seconds=2.0)  # each run really takes 2 s
    # 100 iterations at 0.01 s + 1 s of evaluation = 2 s, ×1.15 = 2.3 s: two fit in 5 s, the third does not
    report = slots.fill_slot(params, 5.0, eval_seconds=1.0, seconds_per_iteration=lambda planned: 0.01, run=run,
                             clock=clock, log=lambda line: None)
    assert [(r.method, r.seed) for r in started] == [("gran/ns", 0), ("sn/ns", 0)]  # every method of seed 0 first
    assert [(r.method, r.seed) for r in report.not_started] == [("gran/ns", 1), ("sn/ns", 1)]


def test_a_second_slot_skips_committed_runs_and_rows_merge_into_one_table(params):
    clock, params["_budget"] = FakeClock(), 5.0
    run, _ = recording_run(params, clock, seconds=2.0)
    slots.fill_slot(params, 5.0, 1.0, lambda planned: 0.01, run, clock, log=lambda line: None)
    clock2, params["_budget"] = FakeClock(), 100.0
    run2, started2 = recording_run(params, clock2, seconds=2.0)
    report = slots.fill_slot(params, 100.0, 1.0, lambda planned: 0.01, run2, clock2, log=lambda line: None)
    assert [(r.method, r.seed) for r in report.already_committed] == [("gran/ns", 0), ("sn/ns", 0)]
    assert [(r.method, r.seed) for r in started2] == [("gran/ns", 1), ("sn/ns", 1)] and not report.not_started
    table = summary_table(load_rows(params["results_dir"]))
    gran = table[table.method == "gran"].iloc[0]
    assert gran.seeds == 2 and gran.fd_mean == 10.5 and round(gran.fd_std, 3) == 0.707  # seeds 0, 1 of two slots


def test_rates_are_measured_once_per_method(params):
    measured = []
    clock, params["_budget"] = FakeClock(), 100.0
    run, _ = recording_run(params, clock, seconds=1.0)
    slots.fill_slot(params, 100.0, 0.0, lambda planned: measured.append(planned.method) or 0.001, run, clock,
                    log=lambda line: None)
    assert measured == ["gran/ns", "sn/ns"]


def test_the_protocol_order_is_seed_major_then_the_k_sweep(params):
    params.update(sweep_methods=["gran/ns"], K_values=[0.1, 1.0], seeds=[0, 1])
    order = [(r.results_name, r.method, r.K, r.seed) for r in slots.protocol_runs(params)]
    assert order[:4] == [("cifar10", "gran/ns", None, 0), ("cifar10", "sn/ns", None, 0),
                         ("cifar10", "gran/ns", None, 1), ("cifar10", "sn/ns", None, 1)]
    assert order[4:] == [("k_sweep", "gran/ns", 0.1, 0), ("k_sweep", "gran/ns", 1.0, 0),
                         ("k_sweep", "gran/ns", 0.1, 1), ("k_sweep", "gran/ns", 1.0, 1)]


def test_the_step_rate_is_measured_on_a_real_short_run(params):
    planned = slots.protocol_runs(params)[0]
    seconds = slots.measure_seconds_per_iteration(planned, params, iterations=4)
    assert 0 < seconds < 60


def test_a_real_run_leaves_its_row_sample_grid_and_curves(params):
    params.update(iterations=4)
    planned = slots.protocol_runs(params)[0]
    slots.run_and_record(planned, params)
    assert slots.is_committed(planned, params)
    figures = sorted(p.name for p in (slots.Path(params["results_dir"]) / "figures" / "runs" / "cifar10").iterdir())
    assert figures == ["gran-ns-K0.1-s0_curves.png", "gran-ns-K0.1-s0_samples.png",
                       "gran-ns-K0.1-s0_samples_captioned.png"]
    rows = load_rows(params["results_dir"])
    assert len(rows) == 1 and rows.reference_images[0] == "training set" and rows.git_commit[0]


def test_each_distinct_step_gets_its_own_probe(params):
    """Rates are keyed by the resolved config: stl10's 48×48 step is not timed as cifar10's 32×32 one, while
    cifar100 (the same synthetic stand-in at 32×32, the same nets) and a second seed reuse cifar10's probe."""
    params.update(datasets=["cifar10", "cifar100", "stl10"], methods=["gran/ns"], seeds=[0, 1])
    probed = []
    slots.fill_slot(params, 1e6, 0.0, lambda planned: probed.append(planned.dataset) or 0.001,
                    run=lambda planned: None, clock=FakeClock(), log=lambda line: None)
    assert probed == ["cifar10", "stl10"]
    keys = {dataset: dict(slots.rate_key(slots.PlannedRun(dataset, "gran/ns", None, 0, dataset), params))
            for dataset in ("cifar10", "stl10")}
    assert (keys["cifar10"]["resolution"], keys["stl10"]["resolution"]) == (32, 48)


def test_the_rate_key_is_every_config_field_but_those_that_do_not_change_a_step():
    from dataclasses import fields

    from granlib.training.config import TrainConfig

    params = {"iterations": 10, "device": "cpu"}
    key = dict(slots.rate_key(slots.PlannedRun("cifar10", "sn/hinge", 0.5, 3, "cifar10"), params))
    assert set(key) | slots.RATE_FREE_FIELDS == {f.name for f in fields(TrainConfig)}
    assert not set(key) & slots.RATE_FREE_FIELDS and key["ngf"] and key["fast"] is False  # resolved values


def test_the_quick_profile_trains_no_run_twice(tmp_path):
    """Notebook 10's GraND-GAN at the default K and the K sweep's K = 0.1 are one run directory (named from the
    resolved K), and no two planned runs of one resolved config train in two directories."""
    params = resolve_params("quick", runs_dir=str(tmp_path), project_root=REPO_ROOT)
    directories: dict[str, set] = {}
    for planned in slots.protocol_runs(params):
        normalizer, loss = parse_method(planned.method)
        config = make_config(planned.dataset, normalizer, loss, planned.K, planned.seed, params)
        resolved = json.dumps(resolve_config(config).to_dict(), sort_keys=True)
        directories.setdefault(resolved, set()).add(run_dir_for(config, params, planned.dataset))
    assert all(len(dirs) == 1 for dirs in directories.values())
    default_gran = make_config("cifar10", "gran", "ns", None, 0, params)
    assert run_dir_for(default_gran, params, "cifar10") == run_dir_for(default_gran.replace(K=0.1), params, "cifar10")
