import re

import pandas as pd

from granlib.project import REPO_ROOT
from granlib.study.ledger import regime_rule as rule
from granlib.study.ledger.regime import Cell

NDF = {"w8": 8, "w12": 12, "w16": 16, "w8-eps-matched": 8, "w8-scalefree": 8, "w8-floor": 8, "w8-inverse": 8,
       "w12-floor": 12, "w12-inverse": 12, "w16-scalefree": 16}


def runs(cell: str, collapsed: bool, seeds: int = 3, trapped_at: int | None = None, collapse_at: int | None = 500,
         escape_at: int | None = None, trapped_final: bool = False, settled: bool = True) -> list[dict]:
    return [{"cell": cell, "seed": seed, "ndf": NDF[cell], "collapsed": collapsed, "settled": settled,
             "first_trapped_step": trapped_at, "first_probe_collapse_step": collapse_at if collapsed else None,
             "first_escape_step": escape_at, "trapped_final": trapped_final, "fd": 400.0 if collapsed else 150.0,
             "diversity_generated": 0.01 if collapsed else 0.4, "diversity_real": 0.5} for seed in range(seeds)]


def frame(*groups: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for group in groups for row in group])


def verdicts(rows: pd.DataFrame) -> dict[str, str]:
    table = rule.cause_verdicts(rows, seeds=3)
    return dict(zip([key for key in rule.CAUSES], table.verdict))


def test_a_cell_collapses_or_learns_by_two_of_three_settled_seeds_and_is_pending_before():
    rows = frame(runs("w8", True, seeds=2) + runs("w8", False, seeds=1)[:1],
                 [{**r, "settled": False} for r in runs("w16", False, seeds=2)] + runs("w16", True, seeds=1),
                 runs("w12", False, seeds=2))
    assert rule.cell_outcomes(rows, seeds=3) == {"w8": "collapses", "w16": "undecided", "w12": "learns"}
    assert rule.cell_outcomes(frame(runs("w8", True, seeds=1)), seeds=3) == {"w8": "pending"}


def test_the_trap_is_supported_when_collapses_follow_traps_and_trap_free_forms_learn_where_gran_collapses():
    rows = frame(runs("w8", True, trapped_at=250, collapse_at=500), runs("w12", True, trapped_at=500, collapse_at=500),
                 runs("w16", False, escape_at=250), runs("w8-eps-matched", True, trapped_at=250),
                 runs("w8-floor", False), runs("w8-inverse", False), runs("w12-floor", False),
                 runs("w12-inverse", False), runs("w8-scalefree", True, trapped_at=250))
    found = verdicts(rows)
    assert found["trap"] == "supported"
    assert found["width"] == "contradicted"  # the trap-free forms learn at width 8
    assert found["epsilon"] == "contradicted"  # at width 8 the matched ε and the scale-free ε collapse as GraN does
    assert found["escape"] == "supported"  # the learning GraN runs escaped early, the collapsed ones never did
    assert rule.smallest_learning_width(rows, 3) == 16


def test_the_trap_is_contradicted_when_the_trap_free_forms_collapse_where_gran_does():
    rows = frame(runs("w8", True, trapped_at=250), runs("w8-floor", True), runs("w8-inverse", True),
                 runs("w8-eps-matched", False, escape_at=250), runs("w8-scalefree", False, escape_at=250))
    found = verdicts(rows)
    assert found["trap"] == "contradicted" and found["epsilon"] == "supported"
    untrapped = frame(runs("w8", True), runs("w12", True), runs("w16", True), runs("w8-eps-matched", True))
    assert verdicts(untrapped)["trap"] == "contradicted"  # GraN collapsed without ever being trapped


def test_the_escape_is_contradicted_when_a_collapsed_run_escaped_and_a_learning_run_did_not():
    rows = frame(runs("w8", True, escape_at=250), runs("w16", False, escape_at=None))
    assert verdicts(rows)["escape"] == "contradicted"
    assert verdicts(frame(runs("w8", True)))["escape"] == "pending"


def test_width_alone_needs_every_width_8_cell_to_collapse():
    cells = ("w8", "w8-eps-matched", "w8-scalefree", "w8-floor", "w8-inverse")
    assert verdicts(frame(*[runs(cell, True) for cell in cells]))["width"] == "supported"
    assert verdicts(frame(*[runs(cell, True) for cell in cells[:-1]]))["width"] == "pending"


def test_the_cell_table_and_findings_read_the_rows_in_the_profiles_order():
    rows = frame(runs("w16", False, escape_at=250), runs("w8", True, trapped_at=250))
    cells = [Cell("w8", "gran/ns", 8), Cell("w16", "gran/ns", 16), Cell("w12", "gran/ns", 12)]
    table = rule.cell_table(rows, cells, 3)
    assert list(table.cell) == ["w8", "w16", "w12"] and list(table.outcome) == ["collapses", "learns", "pending"]
    assert list(table.collapsed) == [3, 0, 0] and table.FD[0] == "400.0 ± 0.0" and table.FD[2] == "—"
    sentences = rule.findings(rows, cells, 3)
    assert sentences[0] == "6 of 9 runs finished (2 of 3 cells begun)."
    assert "The smallest D width at which GraND-GAN (ε = 1e-4) learns: 16." in sentences
    assert rule.findings(rows.iloc[0:0], cells, 3) == ["No run of the map has finished yet."]


def test_the_causes_enter_the_claims_ledger_as_r1_to_r4_labelled_with_the_maps_setting(tmp_path):
    rows = frame(runs("w8", True, trapped_at=250), runs("w8-floor", True), runs("w8-inverse", True))
    rows = rows.assign(dataset="CIFAR-10 (JPEG-q75 copy)", ngf=64, iterations=5000, precision="fp32")
    table = rule.ledger_table(rows, 3, rule.setting_of(rows))
    assert list(table.claim) == ["R1", "R2", "R3", "R4"]
    # numbered as RULE.md's causes: 1 width, 2 ε, 3 the escape, 4 the trap
    assert dict(zip(table.claim, table.verdict)) == {"R1": "pending", "R2": "pending", "R3": "pending",
                                                     "R4": "contradicted"}
    assert (table.setting == "CIFAR-10 (JPEG-q75 copy), G/D base widths 64/8, 5000 iterations, fp32").all()
    assert table.statement[3] == "GraN's collapse at narrow D is the flat-region trap"
    markdown, _ = rule.render_ledger(rows, 3, tmp_path, smoke=False)
    assert "| R1 " in markdown.read_text() and "G/D base widths 64/8" in markdown.read_text()


def test_the_ledgers_cause_numbers_are_the_committed_rules():
    text = (REPO_ROOT / "results" / "ledger" / "regime" / rule.RULE_FILE).read_text()
    numbered = {title: int(number) for number, title in re.findall(r"^(\d)\. \*\*(.+?)\*\*", text, re.MULTILINE)}
    titles = {"width": "Width alone", "epsilon": "ε relative to D's scale", "escape": "The escape from n² ≪ ε",
              "trap": "The flat-region trap"}
    assert {cause: f"R{numbered[title]}" for cause, title in titles.items()} == rule.LEDGER_CLAIMS
