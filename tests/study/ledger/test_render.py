import pandas as pd

from granlib.study.ledger.claims import threshold, verdict_table
from granlib.study.ledger.render import Section, render, verdict_counts
from granlib.study.ledger.verdicts import VERDICTS
from granlib.study.pipeline.results import SMOKE_STAMP


def table() -> pd.DataFrame:
    rows = pd.DataFrame({"jump_share": [0.5, 0.6, 0.55]})
    return verdict_table([threshold(rows, "C3", "toy | data", ["jump_share"], 0.01, "above", min_n=3),
                          threshold(rows, "P3", "toy", ["jump_share"], 0.01, "above", min_n=4)])


def test_the_counts_show_every_verdict():
    counts = verdict_counts(table())
    assert list(counts.columns) == list(VERDICTS) and counts.loc["C3", "supported"] == 1
    assert counts.loc["P3", "pending"] == 1 and counts.values.sum() == 2


def test_a_ledger_renders_as_markdown_and_html_with_its_rule_and_stamp(tmp_path):
    written = render(table(), tmp_path / "out", smoke=True, min_n=3, title="A ledger", summary="3 runs", name="toy",
                     rule="the rule")
    md, html = (p.read_text() for p in written)
    assert [p.name for p in written] == ["toy.md", "toy.html"]
    assert md.startswith("# A ledger") and SMOKE_STAMP in md and "the rule" in md and "toy \\| data" in md
    assert "estimate" not in md and "<h1>A ledger</h1>" in html and "3 runs" in html
    unstamped = render(table(), tmp_path, smoke=False, min_n=3, title="A ledger", summary="3 runs", name="toy")
    assert SMOKE_STAMP not in unstamped[0].read_text()


def test_sections_come_between_the_rule_and_the_verdicts_in_both_formats(tmp_path):
    section = Section("Results", "| a |\n|--|\n| 1 |", "<table><tr><td>1</td></tr></table>")
    md, html = (p.read_text() for p in render(table(), tmp_path, smoke=False, min_n=3, title="A ledger",
                                               summary="3 runs", name="toy", rule="the rule", sections=[section]))
    assert md.index("the rule") < md.index("## Results\n\n| a |") < md.index("## Verdicts per claim")
    assert html.index("<h2>Results</h2><table>") < html.index("<h2>Verdicts per claim</h2>")
