import json

import pytest
import yaml

from granlib.project import PROJECT_ENV, REPO_ROOT
from granlib.study.pipeline import runner
from granlib.study.pipeline.experiments import load_profile
from granlib.study.pipeline.profiles import FIELDS, ProfileError, read_profile

COMMITTED = sorted((REPO_ROOT / "params").glob("*.yaml"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_every_committed_profile_passes(path):
    params = read_profile(path)
    assert params["profile"] and set(params) <= set(FIELDS)


def test_the_schema_knows_every_key_the_profiles_and_the_notebooks_use():
    """The keys of the committed profiles, and the notebooks' parameters that they take from a profile."""
    used = {key for path in COMMITTED for key in yaml.safe_load(path.read_text())}
    for notebook in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        source = "".join(next(c for c in cells if "parameters" in c["metadata"].get("tags", []))["source"])
        used |= {line.split("=")[0].strip() for line in source.splitlines() if "=" in line}
    taken_from_the_notebook_itself = {"dataset", "seed"}  # set per notebook; resolve_params never reads them
    assert used - taken_from_the_notebook_itself <= set(FIELDS)


def smoke(tmp_path, text_edit=None, **changes):
    """The smoke profile with ``changes`` applied (or its text edited by ``text_edit``), written to tmp_path."""
    params = {**yaml.safe_load((REPO_ROOT / "params" / "smoke.yaml").read_text()), **changes}
    text = yaml.safe_dump(params, sort_keys=False)
    path = tmp_path / "bad.yaml"
    path.write_text(text_edit(text) if text_edit else text)
    return path


@pytest.mark.parametrize(("change", "expected"), [
    (dict(iteratons=16), "unknown key 'iteratons' (did you mean 'iterations'?)"),
    (dict(iterations=-3), "iterations must be at least 1, got -3"),
    (dict(iterations="many"), "iterations: expected a number, got 'many'"),
    (dict(methods=["gran/ns", "grann/ns"]), "methods[1]: 'grann/ns' is not a method 'normalizer/loss' (did you mean "
                                            "'gran/ns'?); normalisers: none, sn, gp"),
    (dict(sweep_methods=["gran/hinj"]), "sweep_methods[0]: 'gran/hinj' is not a method 'normalizer/loss' (did you "
                                        "mean 'gran/hinge'?)"),
    (dict(seeds=[0, "one"]), "seeds[1]: expected a whole number >= 0, got 'one'"),
    (dict(seeds=[]), "seeds: expected a list of at least 1"),
    (dict(n_eval=0), "n_eval: expected a whole number >= 1, got 0"),
    (dict(n_real=2.5), "n_real: expected a whole number >= 1, got 2.5"),
    (dict(device="gpu"), "device: 'gpu' is not one of cpu, cuda, auto"),
    (dict(K=0), "K must be > 0, got 0"),
    (dict(K_values=[0.1, -1]), "K_values[1]: config field K must be > 0, got -1"),
    (dict(datasets=["cifar"]), "datasets[0]: 'cifar' is not one of"),
    (dict(dataset_override="imagefolder:"), "dataset_override: 'imagefolder:' is not one of"),
    (dict(feature_extractor="fid"), "feature_extractor: config field eval_feature_extractor: 'fid' is not one of"),
    (dict(model_overrides={"nfg": 8}), "model_overrides: unknown config fields: ['nfg'] (did you mean 'ngf'?)"),
    (dict(model_overrides={"ngf": -8}), "model_overrides: config field ngf must be > 0, got -8"),
    (dict(model_overrides=[1]), "model_overrides: expected a mapping"),
    (dict(profile="../elsewhere"), "profile: expected a name of letters"),
])
def test_a_bad_value_is_one_line_naming_the_file_and_the_field(tmp_path, change, expected):
    path = smoke(tmp_path, **change)
    with pytest.raises(ProfileError) as error:
        read_profile(path)
    message = str(error.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_missing_key_is_named(tmp_path):
    path = smoke(tmp_path, text_edit=lambda text: text.replace("profile: smoke\n", ""))
    with pytest.raises(ProfileError, match=r"bad.yaml: missing key 'profile'$"):
        read_profile(path)


@pytest.mark.parametrize(("edit", "where", "problem"), [
    (lambda text: text.replace("methods:\n", "methods: [\n", 1), ":", "YAML"),
    (lambda text: text + "  nested: 1\n  - x\n", ":", "YAML"),
    (lambda text: text + "iterations: 4\n", ":", "duplicate key 'iterations'"),
])
def test_yaml_errors_name_file_line_and_column(tmp_path, edit, where, problem):
    path = smoke(tmp_path, text_edit=edit)
    with pytest.raises(ProfileError) as error:
        read_profile(path)
    message = str(error.value)
    line = message.split(": ")[0].removeprefix(str(path))
    assert line.startswith(where) and line[1:].replace(":", "").isdigit() and problem in message
    assert "\n" not in message and "unicode string" not in message


def test_numbers_come_back_as_the_config_reads_them(tmp_path):
    """PyYAML reads 1e4 and 1e-2 as text; the training config reads them as numbers, so the profile does too."""
    path = smoke(tmp_path, text_edit=lambda text: text.replace("iterations: 16", "iterations: 1e4")
                 .replace("K: null", "K: 1e-2"))
    params = read_profile(path)
    assert params["iterations"] == 10_000 and params["K"] == pytest.approx(0.01)


@pytest.mark.parametrize("change", [dict(iteratons=16), dict(iterations=-3), dict(methods=["grann/ns"]),
                                    dict(model_overrides={"nfg": 8}), dict(model_overrides={"iterations": 3}),
                                    dict(datasets=["celeba"], model_overrides={"cnn_variant": "paper_table"})])
def test_the_runner_refuses_a_bad_profile_before_anything_runs_or_is_written(tmp_path, monkeypatch, capsys, change):
    import papermill

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "params").mkdir()
    monkeypatch.setenv(PROJECT_ENV, str(project))
    started = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: started.append(a))
    monkeypatch.setattr(runner, "notebooks", lambda pattern: [REPO_ROOT / "notebooks" / "01_lipschitz_intuition.ipynb"])
    path = smoke(tmp_path, **change)
    assert runner.main(["--profile", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and "Traceback" not in err
    assert not started and not (project / "results").exists()


def test_a_notebook_reading_a_bad_profile_gets_the_same_error(tmp_path):
    from granlib.study.pipeline.experiments import resolve_params

    with pytest.raises(ProfileError, match="unknown key 'iteratons'"):
        resolve_params(str(smoke(tmp_path, iteratons=3)), project_root=tmp_path)
    assert load_profile("smoke")["profile"] == "smoke"


@pytest.mark.parametrize(("change", "expected"), [
    (dict(model_overrides={"iterations": 3}), "model_overrides names a field the profile sets itself"),
    (dict(datasets=["celeba"], model_overrides={"cnn_variant": "paper_table"}),
     "the celeba gran/ns run: config field cnn_variant: 'paper_table' is not one of [None]"),
])
def test_the_runner_checks_every_runs_config(tmp_path, change, expected):
    """What no single field shows: model_overrides against the fields make_config sets, or a dataset's nets."""
    path = smoke(tmp_path, **change)
    with pytest.raises(ProfileError) as error:
        runner.check_runs(read_profile(path), str(path))
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)
    for committed in COMMITTED:
        runner.check_runs(read_profile(committed), str(committed))
