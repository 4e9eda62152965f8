"""A ledger table as the reader gets it: ``<name>.md`` and ``<name>.html``, the rule first, then the verdicts per
claim and one line per claim setting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from granlib.study.ledger.verdicts import RULE, VERDICTS
from granlib.study.pipeline.results import SMOKE_STAMP

NUMERIC_COLUMNS = ("estimate", "low", "high", "intervals", "reference")  # for figures; not in the rendered table


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Claims by verdict: how many settings of each claim got each verdict (every verdict a column)."""
    counts = pd.crosstab(table.claim, pd.Categorical(table.verdict, categories=VERDICTS), dropna=False)
    counts.columns.name = "verdicts"
    return counts


NO_VERDICT = "No verdict is stated: the smoke profile checks the code path on a miniature and measures nothing."
NOT_STATED = "not stated (smoke)"  # a smoke ledger's verdict column


def stamp_sentences(sentences: Sequence[str], smoke: bool) -> list[str]:
    """Under smoke, every sentence begins with the smoke stamp, so none reads as a result."""
    return [f"{SMOKE_STAMP}: {sentence}" for sentence in sentences] if smoke else list(sentences)


def verdict_sentences(table: pd.DataFrame, smoke: bool = False) -> list[str]:
    """Each claim's verdicts in words: 'P1 (GraN makes D …): supported in 4 of 4 settings.'; under ``smoke`` none,
    only :data:`NO_VERDICT`."""
    if smoke:
        return [NO_VERDICT]
    sentences = []
    for claim, part in table.groupby("claim", sort=False):
        counts = part.verdict.value_counts()
        found = ", ".join(f"{verdict} in {counts[verdict]}" for verdict in VERDICTS if verdict in counts)
        sentences.append(f"{claim} ({part.statement.iloc[0]}): {found} of {len(part)} setting"
                         f"{'' if len(part) == 1 else 's'}.")
    return sentences


class Section(NamedTuple):
    """A part of a rendered ledger before its verdicts (e.g. the results table the verdicts are computed from)."""

    heading: str
    markdown: str
    html: str


def render(table: pd.DataFrame, out_dir: str | Path, smoke: bool, min_n: int, title: str, summary: str,
           name: str, rule: str = RULE, sections: Sequence[Section] = ()) -> list[Path]:
    """<name>.md and <name>.html in ``out_dir``: ``title``, the smoke stamp when ``smoke``, ``summary`` (what the
    rows are), the rule, each of ``sections``, the verdicts per claim, then one line per claim setting with its
    computed verdict. Under ``smoke`` no verdict is stated: the counts give way to :data:`NO_VERDICT` and each
    line's verdict reads :data:`NOT_STATED`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = table.drop(columns=list(NUMERIC_COLUMNS))
    if smoke:
        shown = shown.assign(verdict=NOT_STATED)
    counts = verdict_counts(shown) if not smoke else pd.DataFrame({"verdicts": [NO_VERDICT]})
    head = (f"# {title}\n\n{'**' + SMOKE_STAMP + '**' + chr(10) * 2 if smoke else ''}"
            f"{summary}. Verdicts need ≥ {min_n} seeds per group.\n\n"
            f"**Rule (fixed before the runs).** {rule}\n\n")
    head += "".join(f"## {section.heading}\n\n{section.markdown}\n\n" for section in sections)
    escaped = shown.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v)  # a | would split a cell
    md = head + "## Verdicts per claim\n\n" + counts.to_markdown(index=not smoke) + "\n\n## Ledger\n\n" + (
        escaped.to_markdown(index=False)) + "\n"
    (out_dir / f"{name}.md").write_text(md)
    html = (f"<h1>{title}</h1>{'<p><b>' + SMOKE_STAMP + '</b></p>' if smoke else ''}"
            f"<p>{summary}; verdicts need ≥ {min_n} seeds per group.</p><p><b>Rule.</b> {rule}</p>"
            + "".join(f"<h2>{section.heading}</h2>{section.html}" for section in sections)
            + f"<h2>Verdicts per claim</h2>{counts.to_html(index=not smoke)}"
            + f"<h2>Ledger</h2>{shown.to_html(index=False)}")
    (out_dir / f"{name}.html").write_text(html)
    return [out_dir / f"{name}.md", out_dir / f"{name}.html"]
