"""``squasher squash APP [START] END``: write a squashed migration and verify it."""

from __future__ import annotations

import argparse
import json
import sys

from squasher.cli.common import add_common_arguments, console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "squash",
        usage="squasher squash APP [START] END [--name NAME] [--no-split] [--no-optimize] "
              "[--no-verify] [--database sqlite|postgres] [--dry-run] [--allow-dynamic] "
              "[--settings MODULE] [--format text|json] [--root ROOT] [--debug]",
        help="squash a range of an app's migrations into one (verified) migration",
        description=(
            "Squash the migrations of APP from START (default: the first) to END, both included, "
            "into one migration that keeps `replaces`, carries RunPython code, avoids circular "
            "dependencies and is verified on fresh databases. The originals are left in place "
            "(see `squasher finalize`)."
        ),
    )
    parser.add_argument("app", metavar="APP", help="app label")
    parser.add_argument("names", metavar="MIGRATION", nargs="+",
                        help="[START] END: first (default: the app's first) and last migration, by name or unique prefix (e.g. 0015)")
    parser.add_argument("--name", default=None, help="name of the new migration")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--split", action="store_true", default=True,
                       help="when one squash would create a circular dependency, write the fewest "
                            "squashes over pieces that avoid it (the default; the cycle is named)")
    split.add_argument("--no-split", dest="split", action="store_false",
                       help="refuse instead, printing the cycle and where to split")
    parser.add_argument("--no-optimize", action="store_true", help="do not optimize operations")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not verify the squash on fresh databases")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="database to verify on (postgres: SQUASHER_POSTGRES_DSN)")
    parser.add_argument("--dry-run", action="store_true", help="print the file instead of writing it")
    parser.add_argument("--allow-dynamic", action="store_true",
                        help="squash migrations whose operations are computed at import time")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    add_common_arguments(parser, settings=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from squasher.errors import UsageError
    from squasher.squash import plan_and_write

    if len(args.names) > 2:
        raise UsageError("too many migration names", hint="squasher squash APP [START] END")
    start, end = (args.names if len(args.names) == 2 else (None, args.names[0]))
    result = plan_and_write(
        args.root, args.app, end, start, name=args.name, split=args.split,
        optimize=not args.no_optimize, verify=not args.no_verify, database=args.database,
        dry_run=args.dry_run, allow_dynamic=args.allow_dynamic, settings_module=args.settings,
    )
    if args.format == "json":
        json.dump({"changes": result.changes.to_json(result.root), "summary": result.summary()},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    out = console()
    if result.split_from_cycle:
        from squasher.cycles import format_cycle

        count = len(result.pieces)
        out.print(f"One squash would create a circular dependency "
                  f"({format_cycle(result.split_from_cycle)}); writing {count} "
                  f"squash{'es' if count != 1 else ''} over pieces that avoid it instead.")
    for warning in result.warnings:
        out.print(f"warning: {warning}")
    for note in result.notes:
        out.print(f"note: {note}")
    for piece in result.pieces:
        first, last = piece.members[0][1], piece.members[-1][1]
        out.print(f"{piece.app}: {piece.name}")
        out.print(f"  replaces {len(piece.replaces)} migration(s): {first} .. {last}"
                  + (f" ({len(piece.members)} in the graph)" if len(piece.members) != len(piece.replaces) else ""))
        for a, n in piece.replaces:
            out.print(f"    - {a}.{n}")
        out.print(f"  operations: {piece.ops_before} -> {piece.ops_after} "
                  f"(Django's optimizer alone: {piece.ops_django}; optimizer: {piece.optimizer})")
        out.print(f"  RunPython: {piece.run_python}, RunSQL: {piece.run_sql} carried"
                  + (f"; {piece.elided} elidable operation(s) dropped" if piece.elided else ""))
        if piece.checkpoints:
            out.print(f"  constraint checkpoints: {piece.checkpoints} (PostgreSQL: deferred "
                      "foreign-key checks run between data and schema changes)")
        carried = [c for c in piece.carried if c.kind != "import"]
        if carried:
            out.print("  carried code: " + ", ".join(
                c.local_name if c.local_name == c.name else f"{c.name} as {c.local_name}"
                for c in carried))
        for op in piece.source_operations:
            out.print(f"  custom operation carried as source: {op}")
        for warning in piece.warnings:
            out.print(f"  warning: {warning}")
        for note in piece.notes:
            out.print(f"  note: {note}")
        if args.dry_run:
            out.print(f"  would write {piece.path} (dry run):")
            sys.stdout.flush()
            print(piece.text)
        else:
            out.print(f"  wrote {piece.path}")
    others = [c for c in result.changes.describe(result.root) if not c.startswith("create ")]
    if others:
        out.print(("would also " if args.dry_run else "also ") + "; ".join(others))
    if args.dry_run:
        out.print("verification: not run (dry run)")
    elif args.no_verify:
        out.print("verification: skipped (--no-verify)")
    else:
        for report in result.verification:
            out.print(report.render())
    return 0
