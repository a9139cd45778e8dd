"""``squasher compact [APP...] [--keep-last N] [--database ALIAS] [--verify-on ENGINE] [--keep-going] [--dry-run]``.

Whole-project compaction: suggest -> squash each range (split where a cycle would arise) ->
verify each squash on fresh databases, in a temporary copy of the project; the new files are
written to the project together at the end. Prints a before/after table per app.

Exit status: 0 done (or nothing to compact), 1 a squash failed verification (nothing was
written; with ``--keep-going`` the squashes that verified were written and the failing ranges
skipped), 2 usage error.
"""

from __future__ import annotations

import argparse

from squasher.cli.common import (
    add_common_arguments,
    add_verification_arguments,
    console,
    keep_last_of,
    print_json,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compact", help="squash every worthwhile range of the project, verified, with a before/after table",
        description=(
            "Squash every worthwhile range of the project's apps (those `squasher suggest` lists; "
            "a range that would create a circular dependency becomes several squashes) and verify "
            "each squash on fresh databases. The work happens in a temporary copy of the project: "
            "the new squashes are written together at the end, and only if every one of them "
            "verified, so a failure leaves the project as it was (exit 1, with the failing range "
            "and the differences). --keep-going writes the squashes that verified and skips the "
            "ranges that failed (still exit 1). Prints a before/after table per app: migrations, "
            "operations and the time a fresh-database migrate spends on it. The originals are "
            "left in place (see `squasher finalize`)."
        ),
    )
    parser.add_argument("apps", nargs="*", metavar="APP", help="only these apps (default: all)")
    parser.add_argument("--keep-last", type=int, default=None, metavar="N",
                        help="leave the newest N migrations of each app alone (default: keep-last "
                             "of [tool.squasher] in pyproject.toml, else 0)")
    add_verification_arguments(parser)
    parser.add_argument("--no-timing", action="store_true", help="skip the before/after migrate timing")
    parser.add_argument("--keep-going", action="store_true",
                        help="when a squash fails verification, skip its range and still write the "
                             "squashes that verified (exit status 1)")
    parser.add_argument("--dry-run", action="store_true", help="list the squashes that would be written")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_common_arguments(parser, settings=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from rich.table import Table

    from squasher.cli._progress import progress_for
    from squasher.lifecycle.compact import compact

    keep_last = keep_last_of(args)
    out = console()
    with progress_for(args) as progress:
        report = compact(args.root, args.apps or None, keep_last=keep_last,
                         settings_module=args.settings, database=args.database,
                         verify_on=args.verify_on,
                         dry_run=args.dry_run, timing=not args.no_timing,
                         keep_going=args.keep_going, progress=progress)
    if args.format == "json":
        print_json(args, report.to_json(), ok=report.ok)
        return 0 if report.ok else 1
    for note in report.skipped:
        out.print(f"skipped {note}", markup=False)
    if not report.planned:
        out.print("nothing to compact: no range of two or more migrations can be squashed safely")
        return 0
    if args.dry_run:
        for s in report.planned:
            out.print(f"would squash {s.app} {s.first[1]} .. {s.last[1]}: {s.migrations} migrations, "
                      f"{s.operations} operations (~{s.estimated_operations} after)", markup=False)
        return 0
    if report.failures and not report.keep_going:
        for failure in report.failures:
            out.print(f"failed: {failure}", markup=False)
        if report.discarded:
            out.print("verified but not written: " + ", ".join(report.discarded), markup=False)
        out.print("nothing was written: the project is unchanged (fix the failing range, leave it "
                  "out with APP arguments or --keep-last, or pass --keep-going to write the "
                  "squashes that verified)", markup=False)
        return 1
    table = Table(title=f"compaction ({report.database})")
    for column in ("app", "migrations", "operations", "fresh migrate (s)"):
        table.add_column(column)
    for row in report.table():
        table.add_row(*row)
    out.print(table)
    for item in report.squashed:
        out.print(f"wrote {item['app']}.{item['name']} ({item['members']} migrations, "
                  f"{item['operations_before']} -> {item['operations_after']} operations, verified)",
                  markup=False)
    for failure in report.failures:
        out.print(f"skipped (failed verification): {failure}", markup=False)
    if report.squashed:
        out.print("next: deploy, migrate every database, then `squasher finalize APP` to delete the originals")
    return 0 if report.ok else 1
