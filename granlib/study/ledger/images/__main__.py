"""``python -m granlib.study.ledger.images --profile smoke|pilot|cpu|regime16|gpu [--shard i/n] [--plan]
[--collect]``: train what is missing, then copy the runs' training curves and render the ledger (the package's
docstring says how)."""

from __future__ import annotations

import sys

from granlib.normalizers import method_label
from granlib.project import project_root
from granlib.study.ledger import images
from granlib.study.ledger.estimate import plan_line
from granlib.study.ledger.images.claims import evaluate_claims
from granlib.study.ledger.images.curves import collect_train_curves, curves_path
from granlib.study.ledger.images.protocol import (
    estimated,
    measured_runs,
    methods_of,
    plan,
    profiles,
    row_profile,
    rows_path,
    run_study,
)
from granlib.study.ledger.images.report import render_ledger
from granlib.study.pipeline.results import load_rows
from granlib.study.pipeline.study_cli import parse_study_args, show_plan, study_parser, train_shard


def main(argv: list[str] | None = None) -> int:
    studies = profiles()
    parser = study_parser("python -m granlib.study.ledger.images", images.__doc__, studies,
                          "add the probe logs of every run with a row to train_curves.jsonl")
    parser.add_argument("--render-only", action="store_true",
                        help="train nothing; add the runs' training curves, then write the tables from the rows so far")
    args, shard = parse_study_args(parser, argv)
    settings = studies[args.profile]
    todo = plan(settings["seeds"], methods_of(args.profile))
    measured = measured_runs(args.profile)
    show_plan(plan_line(args.profile, f"{len(todo)} runs of {settings['iterations']} iterations", len(measured),
                        len(todo), estimated(args.profile, measured), settings["device"]),
              [(f"{method_label(method)}, seed {seed}", (method, seed) in measured) for method, seed in todo], shard,
              listed=args.plan)
    if args.plan:
        return 0
    if not (args.render_only or args.collect):
        status = train_shard(settings["device"],
                             lambda: run_study(args.profile, shard, log=lambda line: print(line, flush=True)))
        if status:
            return status
    added = collect_train_curves(args.profile)
    print(f"training curves: {added} points added to {curves_path(args.profile)}")
    if args.collect:
        return 0
    rows = load_rows(rows_path(args.profile), profile=row_profile(args.profile))
    table = evaluate_claims(rows, settings["min_n"], methods_of(args.profile))
    for path in render_ledger(table, rows, args.profile, project_root() / settings["tables_dir"]):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
