import pytest

from granlib.project import REPO_ROOT
from granlib.study.ledger import regime_profiles
from granlib.study.pipeline.results import load_rows


def test_the_map_and_the_bf16_check_share_one_rows_file_told_apart_by_profile():
    assert {"smoke", "map", "bf16_check"} <= set(regime_profiles.profiles())
    path = regime_profiles.rows_path("map", REPO_ROOT)
    assert path == regime_profiles.rows_path("bf16_check", REPO_ROOT)
    assert path == REPO_ROOT / "results" / "ledger" / "regime" / "regime_map.jsonl"
    assert regime_profiles.rows_path("smoke", REPO_ROOT) != path  # a miniature never writes beside real rows
    rows = load_rows(path, profile=regime_profiles.row_profile("map"))
    assert len(rows) >= 25 and set(rows.profile) == {"regime-map"}


def test_an_unknown_profile_is_refused():
    with pytest.raises(KeyError):
        regime_profiles.rows_path("no-such-profile")
