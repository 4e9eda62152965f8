import json
import multiprocessing
import shutil
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from granlib.normalizers import build_discriminator
from granlib.study.instruments.measurements import frozen_float64, point_kinds, spectral_report
from granlib.study.ledger import mixtures
from granlib.study.ledger.images.__main__ import main as images_main
from granlib.study.pipeline import experiments
from granlib.study.pipeline.experiments import plan_run, resolve_params, run_and_evaluate
from granlib.study.pipeline.results import load_rows
from granlib.study.pipeline.row_store import (
    RowConflictError,
    RowFileError,
    RowSchema,
    RowStore,
    StudyBusyError,
    parse_shard,
    read_rows,
    study_lock,
)
from granlib.training.run_dir import run_is_finished

SCHEMA = RowSchema(key=("method", "seed"), required=("method", "seed", "fd"), numeric=("seed", "fd"))


def test_append_skips_a_run_that_is_there_and_readers_keep_one_row_per_run(tmp_path):
    store = RowStore(tmp_path / "rows.jsonl", SCHEMA)
    assert store.append({"method": "gran", "seed": 0, "fd": 10.0})
    assert not store.append({"method": "gran", "seed": 0.0, "fd": 10.0})  # 0 == 0.0: the same run
    assert store.append({"method": "gran", "seed": 1, "fd": 12.0})
    assert len(store.path.read_text().splitlines()) == 2 and store.has({"method": "gran", "seed": 1})
    with store.path.open("a") as handle:  # a copy written by hand (or an older writer): counted once, the later wins
        handle.write(json.dumps({"method": "gran", "seed": 0, "fd": 10.0 + 1e-9, "date": "later"}) + "\n")
    assert [r.get("date") for r in store.rows()] == [None, "later"]


def _append_all(path: str, start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    store = RowStore(path, SCHEMA)
    for seed in range(20):
        store.append({"method": "gran", "seed": seed, "fd": float(seed)})


def test_two_processes_appending_the_same_runs_leave_one_row_each(tmp_path):
    path = str(tmp_path / "rows.jsonl")
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5
    workers = [context.Process(target=_append_all, args=(path, start_at)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    lines = [json.loads(line) for line in open(path)]
    assert len(lines) == 20 and sorted(r["seed"] for r in lines) == list(range(20))


@pytest.mark.parametrize("line, message", [
    ("{}", r"rows\.jsonl:2: the row lacks \['method', 'seed', 'fd'\]"),
    ('{"method": "gran", "seed": 1, "fd": "12.5"}', r"rows\.jsonl:2: field 'fd' is '12\.5', expected a number"),
    ("[1, 2]", r"rows\.jsonl:2: not a JSON object"),
])
def test_a_bad_row_is_refused_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"method": "gran", "seed": 0, "fd": 1.0}) + "\n" + line + "\n")
    with pytest.raises(RowFileError, match=message):
        read_rows(path, SCHEMA)


def test_a_line_cut_short_is_skipped_with_a_warning_naming_it(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"method": "gran", "seed": 0, "fd": 1.0}) + "\nnot json\n{\"method\": \"gr")
    with pytest.warns(UserWarning, match=r"rows\.jsonl:2 is not a complete JSON line") as caught:
        rows = read_rows(path, SCHEMA)
    assert len(rows) == 1 and any("rows.jsonl:3" in str(w.message) for w in caught)


def test_two_rows_of_one_run_that_disagree_are_an_error_naming_both(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps({"method": "gran", "seed": 0, "fd": 1.0}) + "\n")
    second.write_text(json.dumps({"method": "gran", "seed": 0, "fd": 2.0}) + "\n")
    with pytest.raises(RowConflictError, match=r"a\.jsonl:1 and .*b\.jsonl:1 .*fd: 1\.0 vs 2\.0"):
        read_rows([first, second], SCHEMA)


def test_a_second_study_process_is_refused_naming_the_first(tmp_path):
    rows = tmp_path / "ledger.jsonl"
    with study_lock(rows):
        with pytest.raises(StudyBusyError, match=r"pid \d+"):
            with study_lock(rows):
                pass
        with study_lock(rows, (1, 2)):  # another shard is another lock
            pass
    with study_lock(rows):  # released when the first ends
        pass


@pytest.mark.parametrize("text", ["0/0", "5/2", "-1/2", "a/b"])
def test_shards_outside_the_plan_are_refused(text, capsys):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)
    with pytest.raises(SystemExit) as exit_info:
        images_main(["--profile", "smoke", "--shard", text])
    assert exit_info.value.code == 2 and "--shard" in capsys.readouterr().err
    assert parse_shard("1/2") == (1, 2) and parse_shard("0") == (0, 1)


def _ledger_process(rows_path: str, start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    try:
        mixtures.run_study("smoke", rows_path, log=lambda line: None)
    except StudyBusyError as error:
        Path(rows_path).with_suffix(".refused").write_text(str(error))


def _slow_fake_measure(cell, seed, profile, settings):
    time.sleep(0.3)
    return {"experiment": cell.experiment, "dataset": cell.dataset, "dataset_key": cell.dataset,
            "method": cell.method, "loss": cell.loss, "K": cell.K, "eps": 1e-4, "steps": settings["steps"],
            "seed": seed, "n_eval": settings["n_eval"], "energy_distance": 0.1 + seed, "modes_covered": 8,
            "modes_total": 8, "high_quality": 1.0, "train_seconds": 0.3, "device": "cpu", "date": "2026-12-01",
            "git_commit": "x", "profile": profile, "source": "granlib (measured)"}


def test_two_concurrent_ledger_processes_leave_one_row_per_run_and_the_same_ledger(tmp_path, monkeypatch):
    cells = mixtures.plan()[:2]
    monkeypatch.setattr(mixtures, "plan", lambda: cells)
    monkeypatch.setattr(mixtures, "measure_run", _slow_fake_measure)  # forked processes inherit both
    together, alone = tmp_path / "together" / "rows.jsonl", tmp_path / "alone" / "rows.jsonl"
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5
    workers = [context.Process(target=_ledger_process, args=(str(together), start_at)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    _ledger_process(str(alone), 0.0)
    refusal = together.with_suffix(".refused").read_text()
    assert "is held by pid" in refusal  # the second process named the first and trained nothing
    rows_together, rows_alone = mixtures.load_ledger_rows(together), mixtures.load_ledger_rows(alone)
    assert len(together.read_text().splitlines()) == len(rows_together) == len(rows_alone) == 4
    table = mixtures.evaluate_claims(rows_together, 2).drop(columns=["intervals"])
    assert table.equals(mixtures.evaluate_claims(rows_alone, 2).drop(columns=["intervals"]))


def test_a_re_measured_spectral_report_is_bit_identical():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(4 * 8 * 8, 1))
    disc = frozen_float64(build_discriminator("sn", net, K=1.0))
    real = torch.rand(4, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    kinds = point_kinds(real, real.flip(0), box=1.0)
    reports = []
    for global_seed in (1, 2):  # whatever the global RNG's state, the run's seed decides
        torch.manual_seed(global_seed)
        reports.append(spectral_report(disc, kinds, seed=3))
    assert reports[0] == reports[1]
    assert spectral_report(disc, kinds, seed=4)["sigma_max"] != reports[0]["sigma_max"]  # the seed is used


def test_a_run_asked_for_with_one_setting_changed_is_trained_as_a_new_run(smoke_profile):
    params = resolve_params(str(smoke_profile(iterations=2, n_eval=8, n_real=8)))
    first = run_and_evaluate("cifar10", "gran/ns", 0, params)
    (rows_file,) = (Path(params["results_dir"]) / "rows").glob("*.jsonl")
    before = rows_file.read_text()
    for changed in ({"iterations": 4}, {"model_overrides": {**params["model_overrides"], "batch_size_d": 4}}):
        other = run_and_evaluate("cifar10", "gran/ns", 0, {**params, **changed})
        assert other != first and run_is_finished(other) and run_is_finished(first)
    assert rows_file.read_text().startswith(before)  # the first row untouched, the new runs' rows after it
    rows = load_rows(rows_file)
    assert len(rows) == 3 and sorted(rows.iterations) == [2, 2, 4] and sorted(rows.batch_size_d) == [4, 8, 8]


def test_a_run_whose_row_exists_is_not_trained_again_even_without_its_run_directory(smoke_profile, monkeypatch):
    params = resolve_params(str(smoke_profile(iterations=2, n_eval=8, n_real=8)))
    run_dir = run_and_evaluate("cifar10", "gran/ns", 0, params)
    shutil.rmtree(params["runs_dir"])  # a fresh clone: rows in git, runs/ not

    def no_training(*args, **kwargs):
        raise AssertionError("trained a run whose row exists")

    monkeypatch.setattr(experiments, "ensure_trained", no_training)
    monkeypatch.setattr(experiments, "evaluate_run", no_training)
    assert run_and_evaluate("cifar10", "gran/ns", 0, params) == run_dir and not run_dir.exists()
    assert plan_run("cifar10", "gran/ns", 0, params).measured
    assert not plan_run("cifar10", "gran/ns", 1, params).measured


def test_a_store_over_several_files_reads_them_as_one_and_refuses_to_append(tmp_path):
    first, second = RowStore(tmp_path / "a.jsonl", SCHEMA), RowStore(tmp_path / "b.jsonl", SCHEMA)
    first.append({"method": "gran", "seed": 0, "fd": 1.0, "profile": "x"})
    second.append({"method": "sn", "seed": 0, "fd": 2.0, "profile": "y"})
    both = RowStore([first.path, second.path], SCHEMA)
    assert len(both.rows()) == 2 and both.has({"method": "sn", "seed": 0})
    assert list(both.frame(profile="y").method) == ["sn"] and both.frame(profile="z").empty
    with pytest.raises(ValueError, match="read-only"):
        both.append({"method": "wc", "seed": 0, "fd": 3.0})
