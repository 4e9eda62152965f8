"""The regime map's rule (``results/ledger/regime/RULE.md``) as code: each run's outcome, each cell's, and the
verdict on each candidate cause of GraN's collapse, computed from the map's rows.

Verdicts: "supported", "contradicted", "not decided", or "pending" while a cell the verdict reads has fewer rows
than the profile's seeds.
"""

from __future__ import annotations

import pandas as pd

from granlib.study.ledger.claims import verdict_table
from granlib.study.ledger.render import render

RULE_FILE = "RULE.md"  # beside the rows
EARLY_ESCAPE = 1000  # an escape from n² ≪ ε counts as early at or before this iteration
# The cells as RULE.md names them: GraN as the paper defines it, and its trap-free forms at each width.
PAPER_GRAN = ("w8", "w12", "w16", "w8-eps-matched")
DEFAULT_GRAN = {8: "w8", 12: "w12", 16: "w16"}  # ε = 1e-4, by D width
TRAP_FREE = {8: ("w8-floor", "w8-inverse"), 12: ("w12-floor", "w12-inverse")}
WIDTH_8 = ("w8", "w8-eps-matched", "w8-scalefree", "w8-floor", "w8-inverse")
# the ledger's claims (granlib.study.ledger.claims), numbered as RULE.md numbers the causes
LEDGER_CLAIMS = {"width": "R1", "epsilon": "R2", "escape": "R3", "trap": "R4"}
LEDGER_VERDICTS = {"not decided": "inconclusive"}  # the ledger's word for a cause the rule leaves open
CAUSES = {
    "width": "width alone: D too narrow to learn, whatever GraN does",
    "epsilon": "ε relative to D's scale (the ratio n²/ε)",
    "escape": "the escape from n² ≪ ε within the first 1 000 iterations",
    "trap": "the flat-region trap: G's samples (or the real images) where D is nearly flat, R(n) → 0",
}


def run_outcomes(rows: pd.DataFrame) -> pd.DataFrame:
    """Per run: "collapsed", "learned", "unsettled" (its probes' collapse status changed in the last 1 000
    iterations) or "diverged" (its loss became non-finite: no final generator), whether it was trapped at or before the
    log at which its probes collapsed, trapped at the end, and escaped early."""
    if not len(rows):
        return pd.DataFrame(columns=["cell", "seed", "ndf", "outcome", "trapped_by_collapse", "trapped_final",
                                     "never_trapped", "escaped_early", "fd"])
    trapped, collapsed_at = rows.first_trapped_step, rows.first_probe_collapse_step
    diverged = rows.diverged_at.notna() if "diverged_at" in rows else pd.Series(False, index=rows.index)
    outcome = (rows.collapsed.map({True: "collapsed", False: "learned"})
               .where(rows.settled.fillna(False).astype(bool), "unsettled").where(~diverged, "diverged"))
    return pd.DataFrame({
        "cell": rows.cell, "seed": rows.seed, "ndf": rows.ndf, "outcome": outcome,
        "trapped_by_collapse": trapped.notna() & collapsed_at.notna() & (trapped <= collapsed_at),
        "trapped_final": rows.trapped_final.fillna(False).astype(bool) & ~diverged, "never_trapped": trapped.isna(),
        "escaped_early": rows.first_escape_step.notna() & (rows.first_escape_step <= EARLY_ESCAPE), "fd": rows.fd,
    }).reset_index(drop=True)


def cell_outcomes(rows: pd.DataFrame, seeds: int) -> dict[str, str]:
    """Per cell: "collapses" (≥ 2 of 3 seeds collapsed, settled), "learns" (≥ 2 learned), "undecided", or
    "pending" (fewer than ``seeds`` rows)."""
    runs = run_outcomes(rows)
    verdicts = {}
    for cell, part in runs.groupby("cell", sort=False):
        counts = part.outcome.value_counts()
        majority = seeds // 2 + 1
        if counts.get("collapsed", 0) >= majority:
            verdicts[cell] = "collapses"
        elif counts.get("learned", 0) >= majority:
            verdicts[cell] = "learns"
        else:
            verdicts[cell] = "pending" if len(part) < seeds else "undecided"
    return verdicts


def _pending(cells: dict[str, str], needed: tuple[str, ...]) -> bool:
    return any(cells.get(cell, "pending") == "pending" for cell in needed)


def width_verdict(cells: dict[str, str]) -> tuple[str, str]:
    if any(cells.get(cell) == "learns" for cell in WIDTH_8):
        learning = [cell for cell in WIDTH_8 if cells.get(cell) == "learns"]
        return "contradicted", f"at width 8, {', '.join(learning)} learn{'s' if len(learning) == 1 else ''}"
    if _pending(cells, WIDTH_8):
        return "pending", "width-8 cells still running"
    if all(cells[cell] == "collapses" for cell in WIDTH_8):
        return "supported", "every width-8 cell collapses"
    return "not decided", "a width-8 cell is undecided"


def epsilon_verdict(cells: dict[str, str]) -> tuple[str, str]:
    needed = ("w8", "w8-eps-matched", "w8-scalefree")
    if _pending(cells, needed):
        return "pending", "width-8 cells of GraN, the matched ε or the scale-free ε still running"
    gran, matched, scale_free = (cells[cell] for cell in needed)
    if gran == "collapses" and matched == scale_free == "learns":
        return "supported", "at width 8 GraN collapses at ε = 1e-4 and learns at the matched and scale-free ε"
    if gran == "collapses" and matched == scale_free == "collapses":
        return "contradicted", "at width 8 GraN collapses at ε = 1e-4, at the matched ε and with the scale-free ε"
    return "not decided", f"width 8: ε = 1e-4 {gran}, matched ε {matched}, scale-free ε {scale_free}"


def escape_verdict(runs: pd.DataFrame, cells: dict[str, str]) -> tuple[str, str]:
    part = runs[runs.cell.isin(PAPER_GRAN) & runs.outcome.isin(["collapsed", "learned"])]
    learned, collapsed = part[part.outcome == "learned"], part[part.outcome == "collapsed"]
    if (collapsed.escaped_early.any() and (~learned.escaped_early).any()):
        return "contradicted", (f"{int(collapsed.escaped_early.sum())} collapsed run(s) escaped early and "
                                f"{int((~learned.escaped_early).sum())} learning run(s) did not")
    if _pending(cells, PAPER_GRAN):
        return "pending", "cells of the paper's GraN still running"
    if len(learned) and len(collapsed) and learned.escaped_early.all() and not collapsed.escaped_early.any():
        return "supported", (f"all {len(learned)} learning runs escaped by iteration {EARLY_ESCAPE}, none of the "
                             f"{len(collapsed)} collapsed runs did")
    return "not decided", (f"learning runs escaped early: {int(learned.escaped_early.sum())}/{len(learned)}; "
                           f"collapsed runs: {int(collapsed.escaped_early.sum())}/{len(collapsed)}")


def trap_verdict(runs: pd.DataFrame, cells: dict[str, str]) -> tuple[str, str]:
    gran = runs[runs.cell.isin(PAPER_GRAN)]
    collapsed = gran[gran.outcome == "collapsed"]
    learned = runs[runs.outcome == "learned"]
    collapsing_widths = [width for width, cell in DEFAULT_GRAN.items() if cells.get(cell) == "collapses"]
    both_fail = [width for width in collapsing_widths
                 if width in TRAP_FREE and all(cells.get(cell) == "collapses" for cell in TRAP_FREE[width])]
    never = int(collapsed.never_trapped.sum())
    if both_fail or (len(collapsed) and never >= len(collapsed) / 2):
        reasons = ([f"both trap-free forms collapse at width {', '.join(map(str, both_fail))}"] if both_fail else [])
        reasons += ([f"{never} of {len(collapsed)} collapsed GraN runs were never trapped"]
                    if len(collapsed) and never >= len(collapsed) / 2 else [])
        return "contradicted", "; ".join(reasons)
    if _pending(cells, (*PAPER_GRAN, *[c for w in collapsing_widths for c in TRAP_FREE.get(w, ())])):
        return "pending", "cells the trap verdict reads still running"
    a = bool(len(collapsed)) and collapsed.trapped_by_collapse.all()
    b = not learned.trapped_final.any()
    c = bool(collapsing_widths) and all(width in TRAP_FREE and all(cells.get(cell) == "learns"
                                                                   for cell in TRAP_FREE[width])
                                        for width in collapsing_widths)
    if a and b and c:
        return "supported", ("every collapsed GraN run was trapped by the log of its collapse, no learning run is "
                             "trapped at its end, and both trap-free forms learn where GraN collapses")
    return "not decided", (f"(a) collapsed GraN runs trapped at or before the log of their collapse: "
                           f"{int(collapsed.trapped_by_collapse.sum())}/{len(collapsed)}; (b) learning runs "
                           f"trapped at the end: {int(learned.trapped_final.sum())}; (c) trap-free forms learn at "
                           f"every width where GraN collapses ({collapsing_widths or 'none'}): {c}")


def cause_verdicts(rows: pd.DataFrame, seeds: int) -> pd.DataFrame:
    """One line per candidate cause: its name (a key of :data:`CAUSES`), the cause, its verdict by the rule, and
    why."""
    runs, cells = run_outcomes(rows), cell_outcomes(rows, seeds)
    decided = {"width": width_verdict(cells), "epsilon": epsilon_verdict(cells),
               "escape": escape_verdict(runs, cells), "trap": trap_verdict(runs, cells)}
    return pd.DataFrame([{"name": name, "cause": CAUSES[name], "verdict": verdict, "why": why}
                         for name, (verdict, why) in decided.items()])


def smallest_learning_width(rows: pd.DataFrame, seeds: int) -> int | None:
    """The smallest D width whose GraN cell (ε = 1e-4) learns: where the paper's comparison is run in regime."""
    cells = cell_outcomes(rows, seeds)
    return next((width for width, cell in sorted(DEFAULT_GRAN.items()) if cells.get(cell) == "learns"), None)


def cell_table(rows: pd.DataFrame, cells: list, seeds: int) -> pd.DataFrame:
    """Per cell of the map, in the profile's order: its label, the seeds finished, collapsed and unsettled, the cell's
    outcome by the rule, FD (mean ± std), EMA-G's diversity as a share of the real images', and the runs trapped
    at or before the log at which their probes collapsed, trapped at the end and escaping n² ≪ ε by iteration 1 000."""
    runs, outcomes = run_outcomes(rows), cell_outcomes(rows, seeds)
    ratio = (rows.diversity_generated / rows.diversity_real) if len(rows) else pd.Series(dtype=float)
    lines = []
    for cell in cells:
        part, mine = runs[runs.cell == cell.name], (rows.cell == cell.name) if len(rows) else []
        fd = (f"{part.fd.mean():.1f}" + (f" ± {part.fd.std():.1f}" if len(part) > 1 else "")) if len(part) else "—"
        lines.append({"cell": cell.name, "discriminator": cell.label, "seeds": f"{len(part)}/{seeds}",
                      "collapsed": int((part.outcome == "collapsed").sum()),
                      "unsettled": int((part.outcome == "unsettled").sum()),
                      "outcome": outcomes.get(cell.name, "pending"), "FD": fd,
                      "diversity / real": round(float(ratio[mine].mean()), 3) if len(part) else None,
                      "trapped by collapse": int(part.trapped_by_collapse.sum()),
                      "trapped at the end": int(part.trapped_final.sum()),
                      "escaped by 1 000": int(part.escaped_early.sum())})
    return pd.DataFrame(lines)


def findings(rows: pd.DataFrame, cells: list, seeds: int) -> list[str]:
    """What the map's rows say, computed: runs finished, where GraN learns and collapses, the verdict on each
    cause."""
    if not len(rows):
        return ["No run of the map has finished yet."]
    outcomes = cell_outcomes(rows, seeds)
    named = {cell.name: cell.label for cell in cells}
    sentences = [f"{len(rows)} of {len(cells) * seeds} runs finished ({len(outcomes)} of {len(cells)} cells begun)."]
    for verdict in ("learns", "collapses", "undecided", "pending"):
        chosen = [named.get(cell, cell) for cell, outcome in outcomes.items() if outcome == verdict]
        if chosen:
            sentences.append(f"{verdict.capitalize()}: " + "; ".join(chosen) + ".")
    width = smallest_learning_width(rows, seeds)
    sentences.append("The smallest D width at which GraND-GAN (ε = 1e-4) learns: "
                     + (f"{width}." if width else "none of the widths finished so far."))
    for line in cause_verdicts(rows, seeds).itertuples():
        sentences.append(f"Cause — {line.cause}: {line.verdict} ({line.why}).")
    return sentences


def ledger_table(rows: pd.DataFrame, seeds: int, setting: str) -> pd.DataFrame:
    """The causes as claims of the ledger (R1–R4, :data:`granlib.study.ledger.claims.CLAIMS`), each with its
    verdict by the rule and why, in the map's ``setting`` (data, widths, length)."""
    verdicts = cause_verdicts(rows, seeds)
    out = [{"claim": LEDGER_CLAIMS[line.name], "setting": setting, "experiment": "regime map",
            "measurement": line.why, "n": len(rows), "verdict": LEDGER_VERDICTS.get(line.verdict, line.verdict),
            "estimate": float("nan"), "low": float("nan"), "high": float("nan"), "intervals": [],
            "reference": float("nan")} for line in verdicts.itertuples()]
    return verdict_table(out).sort_values("claim", kind="stable").reset_index(drop=True)


def setting_of(rows: pd.DataFrame) -> str:
    """The map's setting as its ledger names it: data, the widths, the length and the precision of its rows."""
    if not len(rows):
        return "no rows yet"
    widths = "/".join(str(int(w)) for w in sorted(rows.ndf.unique()))
    return (f"{rows.dataset.iloc[0]}, G/D base widths {int(rows.ngf.iloc[0])}/{widths}, "
            f"{int(rows.iterations.iloc[0])} iterations, {'/'.join(sorted(rows.precision.unique()))}")


def render_ledger(rows: pd.DataFrame, seeds: int, out_dir, smoke: bool) -> list:
    """ledger_regime.md and .html in ``out_dir``: the rule's summary, then R1–R4 with their verdicts."""
    table = ledger_table(rows, seeds, setting_of(rows))
    summary = (f"The regime map: {len(rows)} runs of GraND-GAN in {rows.cell.nunique() if len(rows) else 0} cells "
               f"({setting_of(rows)}); the rule is results/ledger/regime/{RULE_FILE}")
    rule = ("Each cause by RULE.md: a cell collapses (learns) when ≥ 2 of its 3 settled seeds collapsed (learned); "
            "the causes' conditions on cells and runs as written there (R1–R4: its causes 1–4); 'not decided' is shown "
            "as inconclusive.")
    return render(table, out_dir, smoke, seeds, title="Claims ledger — why GraN collapses at a narrow D",
                  summary=summary, name="ledger_regime", rule=rule)
