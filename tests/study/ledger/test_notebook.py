import pytest

from granlib.project import PROJECT_ENV, REPO_ROOT
from granlib.study.ledger import costs, mixtures
from granlib.study.ledger.notebook import ledger_notebook_setup
from granlib.study.ledger.profiles import load_profiles


def test_cpu_reads_the_committed_rows_and_writes_where_they_are_committed(monkeypatch):
    monkeypatch.setenv(PROJECT_ENV, str(REPO_ROOT))
    setup = ledger_notebook_setup("cpu")
    assert setup.profile == "cpu" and not setup.smoke and setup.min_n == load_profiles("mixtures")["cpu"]["min_n"]
    assert setup.mixtures_rows_path == REPO_ROOT / "results" / "ledger" / mixtures.ROWS_FILE
    assert setup.cost_rows_path == costs.rows_path("cpu", REPO_ROOT)
    results = REPO_ROOT / "results"
    assert setup.tables_dir == results / "tables" and setup.figures_dir == results / "figures"
    assert setup.cost_min_n == costs.cost_settings()["cpu"]["repeats"]
    rows = setup.mixtures_rows()
    assert len(rows) and set(rows.profile) == {"cpu"}
    assert ledger_notebook_setup("quick").profile == "cpu"  # any profile but a smoke one renders the committed rows


@pytest.mark.slow
def test_smoke_runs_the_miniatures_beside_the_profiles_results(smoke_profile, tmp_path):
    setup = ledger_notebook_setup(str(smoke_profile()))
    out = tmp_path / "results" / "ledger"
    assert setup.smoke and setup.mixtures_rows_path == out / mixtures.ROWS_FILE and setup.figures_dir == out
    cost_rows = setup.cost_rows()
    assert set(cost_rows.profile) == {"costs-smoke"} and (out / costs.ROWS_FILE).is_file()
