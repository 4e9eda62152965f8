import pandas as pd
import pytest

from granlib.models.cnn import CNN_NDF
from granlib.normalizers import default_K
from granlib.project import REPO_ROOT
from granlib.study.ledger.images import __main__ as images_cli
from granlib.study.ledger.images import measures, protocol
from granlib.study.ledger.images.protocol import (
    METHODS,
    estimated,
    methods_of,
    plan,
    profiles,
    row_profile,
    rows_path,
    run_study,
)
from granlib.study.ledger.precision_check import require_proven
from granlib.study.pipeline.results import ROW_KEYS, load_rows

NO_ROWS = pd.DataFrame()  # estimates at the reference rates alone


def test_plan_is_every_method_of_seed_0_first_and_the_cpu_protocol_learns_within_its_budget():
    order = plan(3)
    assert len(order) == 3 * len(METHODS) and order[: len(METHODS)] == [(m, 0) for m in METHODS]
    assert set(METHODS) == {"gran/ns", "gran/wasserstein", "sn/ns", "gp/wasserstein", "gn/ns", "none/ns"}
    studies = profiles()
    cpu = studies["cpu"]
    decay = cpu["model_overrides"]["ema_decay"]
    assert cpu["seeds"] >= 5 and cpu["iterations"] >= 10_000 and cpu["feature_extractor"] == "effnet_lite0"
    assert measures.ema_initial_share(cpu["iterations"], decay) < 0.01 <= measures.ema_initial_share(600, decay)
    assert studies["gpu"]["model_overrides"]["ema_decay"] == decay


def test_the_in_regime_study_is_the_cpu_study_at_a_wider_d_with_rows_of_its_own():
    studies = profiles()
    cpu, regime16 = studies["cpu"], studies["regime16"]
    assert regime16["model_overrides"]["ndf"] == 16 > cpu["model_overrides"]["ndf"]
    same = ("iterations", "seeds", "n_eval", "n_real", "dataset_override", "eval_dataset_override", "min_n")
    assert all(regime16[key] == cpu[key] for key in same)
    changed = ("ndf", "precision")  # a wider D, and bf16 once the comparison passed (below)
    assert ({k: v for k, v in regime16["model_overrides"].items() if k not in changed}
            == {k: v for k, v in cpu["model_overrides"].items() if k not in changed})  # G, batches, EMA, lengths
    assert rows_path("regime16", REPO_ROOT) != rows_path("cpu", REPO_ROOT)  # the two widths never share a file
    assert regime16["figures_dir"] != cpu["figures_dir"]  # nor overwrite each other's figures
    wider = estimated("regime16", rows=NO_ROWS).seconds
    assert wider > 1.5 * estimated("cpu", rows=NO_ROWS).seconds  # a wider D costs more per iteration


def test_a_bf16_profile_is_estimated_at_the_measured_bf16_speed(monkeypatch):
    studies = profiles()
    monkeypatch.setattr(protocol, "profiles", lambda: studies)
    overrides = studies["regime16"]["model_overrides"]
    studies["regime16"]["model_overrides"] = {**overrides, "precision": "fp32"}
    fp32 = estimated("regime16", rows=NO_ROWS).seconds
    studies["regime16"]["model_overrides"] = {**overrides, "precision": "bf16"}
    assert fp32 / 1.47 < estimated("regime16", rows=NO_ROWS).seconds < fp32  # training 1.47x faster, not evaluation


def test_the_estimate_takes_the_rates_the_studys_rows_measured():
    reference = estimated("regime16", rows=NO_ROWS)
    assert (reference.measured_kinds, reference.kinds) == (0, 6)  # gran (both losses), sn, gp, gn, none, gran_floor
    committed = load_rows(rows_path("regime16", REPO_ROOT))
    measured = estimated("regime16", rows=committed)
    assert measured.measured_kinds == committed.method.nunique() >= 1  # every kind a committed row has
    assert measured.seconds != reference.seconds and "measured by this study's rows" in measured.describe("cpu")


def test_rows_are_read_from_the_profiles_own_file_with_its_profile():
    rows = load_rows(rows_path("cpu", REPO_ROOT), profile=row_profile("cpu"))
    assert set(rows.profile) == {"ledger-cpu"} and len(rows[rows.method != "gran_floor"]) == 30  # the paper's six × 5
    assert load_rows(rows_path("cpu", REPO_ROOT), profile=row_profile("pilot")).empty


def test_profiles_are_read_when_asked_for_not_at_import():
    assert not hasattr(protocol, "PROFILES") and not hasattr(protocol, "EMA_DECAY")
    assert set(profiles()) >= {"smoke", "pilot", "cpu", "regime16", "gpu"}


@pytest.mark.slow
def test_a_study_run_leaves_a_row_with_provenance_and_d_measurements_and_a_rerun_adds_nothing(tmp_path, monkeypatch):
    studies = profiles()
    studies["smoke"] = {**studies["smoke"], "seeds": 1, "iterations": 2, "methods": ("gran/ns",)}
    monkeypatch.setattr(protocol, "profiles", lambda: studies)
    where = dict(results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    path = run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    first = path.read_text()
    (row,) = load_rows(path, profile=row_profile("smoke")).to_dict("records")
    assert all(k in row for k in ROW_KEYS) and row["iterations"] == 2 and row["method"] == "gran"
    assert row["K"] == default_K("gran") and 0 <= row["fd_above_K[generated]"] <= 1 and "jump_share" in row
    assert row["grad_max_over_K[real]"] <= 1 + 1e-9  # GraN's trained D stays below K
    assert row["fd_raw"] > 0 and row["fd_repeat"] > 0 and row["fd_repeat"] != row["fd"]  # seed 0: a noise repeat
    assert row["pixel_std_real"] > 0 and row["ngf"] == 32 and row["reference_images"] == "training set"
    assert (path.parent / row["sample_grid"]).is_file()
    run_study("smoke", root=tmp_path, log=lambda line: None, **where)
    assert path.read_text() == first


def test_every_cpu_profile_in_bf16_has_the_passed_comparison_behind_it():
    for settings in profiles().values():
        require_proven(settings["model_overrides"].get("precision", "fp32"), settings["device"], REPO_ROOT)
    assert profiles()["cpu"]["model_overrides"].get("precision", "fp32") == "fp32"  # the committed fp32 study's


def test_a_measured_kind_runs_at_the_median_of_its_committed_rows():
    committed = load_rows(rows_path("regime16", REPO_ROOT), profile=row_profile("regime16"))
    gran = committed[committed.method == "gran"]
    expected = float((gran.train_seconds / gran.iterations).median())
    settings = profiles()["regime16"]
    one_run = estimated("regime16", skipped={run for run in plan(5, methods_of("regime16")) if run != ("gran/ns", 4)},
                        rows=committed)
    evaluated = settings["n_eval"] * 2 + settings["pixel_images"]  # seed 4 is no noise seed
    assert one_run.seconds == pytest.approx(settings["iterations"] * expected + evaluated * 0.1)


def test_the_plan_line_counts_the_committed_rows_and_estimates_what_is_left(capsys):
    assert images_cli.main(["--profile", "regime16", "--plan"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    done = len(load_rows(rows_path("regime16", REPO_ROOT), profile=row_profile("regime16")))
    assert first.startswith(f"regime16: 35 runs of 10000 iterations, {done} with a row already (nothing to train), "
                            f"{35 - done} to train")
    assert first.endswith("to train") if done == 35 else "; estimated " in first


def test_d_width_is_the_profiles_override_or_the_published_width():
    assert (protocol.d_width("cpu"), protocol.d_width("regime16"), protocol.d_width("gpu")) == (8, 16, CNN_NDF)


def test_by_method_takes_the_given_order_then_the_others_as_they_appear():
    import pandas as pd

    frame = pd.DataFrame({"method": ["extra", "sn", "gran", "sn"], "loss": ["ns"] * 4, "seed": [0, 0, 0, 1]})
    parts = protocol.by_method(frame, ("gran/ns", "gp/wasserstein", "sn/ns"))
    assert [key for key, _ in parts] == ["gran/ns", "sn/ns", "extra/ns"]  # gp/wasserstein has no rows: left out
    assert list(parts[1][1].seed) == [0, 1]
