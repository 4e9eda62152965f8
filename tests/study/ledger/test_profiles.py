import pandas as pd
import pytest

from granlib.project import REPO_ROOT
from granlib.study.ledger import costs, images, mixtures, regime, regime_profiles
from granlib.study.ledger.profiles import FIELDS, PROFILES_DIR, load_profiles
from granlib.study.pipeline.experiments import reference_images
from granlib.study.pipeline.profiles import ProfileError
from granlib.study.pipeline.results import load_rows
from granlib.study.pipeline.row_store import RowStore

COMMITTED = REPO_ROOT / "results" / "ledger"


def test_every_study_reads_its_profiles_from_params():
    assert sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")) == sorted(FIELDS)
    assert set(load_profiles("mixtures")) == {"smoke", "cpu"} and set(load_profiles("costs")) == {"smoke", "cpu", "gpu"}
    studies = load_profiles("images")
    assert set(studies) == {"smoke", "pilot", "cpu", "regime16", "gpu"} and studies == images.profiles()
    assert studies["pilot"]["methods"] == ("none/ns", "sn/ns", "gran/ns") and studies["cpu"]["noise_seeds"] == (0,)
    assert studies["gpu"]["device"] == "cuda" and studies["cpu"]["device"] == "cpu"  # the merged keys, overridden
    assert studies["gpu"]["model_overrides"]["ema_decay"] == studies["cpu"]["model_overrides"]["ema_decay"] == 0.999
    assert set(costs.cost_settings()) <= set(images.profiles())  # the cost study measures the image study's nets


def test_a_profile_with_an_unknown_or_a_missing_key_is_refused(tmp_path):
    path = tmp_path / "mixtures.yaml"
    path.write_text("tiny: {steps: 1, seeds: 1, n_eval: 8, n_points: 4, segments: 1, segment_points: 3, min_n: 1,\n"
                    "       out_dir: o, tables_dir: t, figures_dir: f, stepz: 2}\n")
    with pytest.raises(ProfileError, match=r"profile 'tiny': unknown key 'stepz' \(did you mean 'steps'\?\)"):
        load_profiles("mixtures", path)
    path.write_text("tiny: {repeats: 1, steps: 1}\n")
    with pytest.raises(ProfileError, match="missing key 'gap_batches'"):
        load_profiles("costs", path)
    path.write_text("smoke: {repeats: 1, steps: 1, gap_batches: 1}\nsmoke: {repeats: 2, steps: 1, gap_batches: 1}\n")
    with pytest.raises(ProfileError, match="duplicate key 'smoke'"):
        load_profiles("costs", path)


def test_the_committed_2d_rows_were_measured_under_the_cpu_profile():
    cpu = load_profiles("mixtures")["cpu"]
    rows = mixtures.load_ledger_rows(COMMITTED / mixtures.ROWS_FILE)
    rows = rows[rows.profile == "cpu"]
    assert len(rows) == len(mixtures.plan()) * cpu["seeds"]
    assert all(run.steps == mixtures.steps_for(cpu, run.dataset_key) for run in rows.itertuples())
    assert set(rows.n_eval) == {cpu["n_eval"]} and set(rows.seed) == set(range(cpu["seeds"]))


def test_the_committed_image_rows_were_measured_under_the_cpu_profile():
    cpu = images.profiles()["cpu"]
    rows = load_rows(images.rows_path("cpu", REPO_ROOT), profile=images.row_profile("cpu"))
    if not len(rows):
        pytest.skip("no committed rows of the CPU image study yet")
    model = cpu["model_overrides"]
    params = images.study_params("cpu", root=REPO_ROOT)
    assert set(rows.iterations) == {cpu["iterations"]} and set(rows.n_fake) == {cpu["n_eval"]}
    assert set(rows.n_real) == {cpu["n_real"]} and set(rows.feature_extractor) == {cpu["feature_extractor"]}
    assert (set(rows.ngf), set(rows.ndf), set(rows.ema_decay)) == ({model["ngf"]}, {model["ndf"]},
                                                                   {model["ema_decay"]})
    assert set(rows.reference_images) == {reference_images(params)} and set(rows.dataset) == {cpu["dataset_variant"]}
    assert set(rows.n_points.dropna()) <= {cpu["n_points"]} and set(rows.seed) <= set(range(cpu["seeds"]))
    assert {f"{m}/{l}" for m, l in zip(rows.method, rows.loss)} <= set(images.methods_of("cpu"))


def test_the_committed_cost_rows_were_timed_under_the_cpu_profile():
    timing = costs.cost_settings()["cpu"]
    rows = RowStore(costs.rows_path("cpu", root=REPO_ROOT), costs.COST_ROWS).frame()
    rows = rows[rows.profile == "costs-cpu"]
    assert set(rows.timed_steps) == {timing["steps"]} and set(rows["repeat"]) == set(range(timing["repeats"]))
    assert {(m, f) for m, f in zip(rows.method + "/" + rows.loss, rows.form)} == {
        (m, f) for m in costs.cost_methods() for f in costs.FORMS}
    assert pd.Series(rows.batch_size_d).eq(images.profiles()["cpu"]["model_overrides"]["batch_size_d"]).all()


def test_every_committed_row_is_recognised_as_its_run_so_a_fresh_clone_trains_none_of_them():
    """runs/ is not in git: the plan must find each committed row by its run key alone, for every profile."""
    studies = [(name, images.row_profile(name), images.rows_path(name, REPO_ROOT), images.measured_runs)
               for name in images.profiles()]
    studies += [(name, regime_profiles.row_profile(name), regime_profiles.rows_path(name, REPO_ROOT),
                 regime.measured_runs) for name in regime_profiles.profiles()]
    committed = {}
    for name, row_profile, path, measured_runs in studies:
        rows = load_rows(path, profile=row_profile) if path.exists() else pd.DataFrame()
        if len(rows):
            committed[name] = (len(measured_runs(name, REPO_ROOT)), len(rows))
    assert {"pilot", "cpu", "regime16", "map", "bf16_check"} <= set(committed)
    assert all(found == rows for found, rows in committed.values()), committed
