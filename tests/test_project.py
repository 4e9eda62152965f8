from granlib.project import PROJECT_ENV, REPO_ROOT, is_project, project_root


def test_the_checkout_is_a_project_and_the_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    assert is_project(REPO_ROOT) and (REPO_ROOT / "granlib" / "project.py").is_file()
    monkeypatch.chdir(tmp_path)
    assert not is_project(tmp_path) and project_root() == REPO_ROOT


def test_the_nearest_project_above_wins_and_the_environment_over_it(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    assert project_root(tmp_path / "notebooks" / "deep") == tmp_path.resolve()
    monkeypatch.setenv(PROJECT_ENV, str(REPO_ROOT))
    assert project_root(tmp_path / "notebooks") == REPO_ROOT
