"""``squasher verify APP SQUASHED``: compare a squash with the history it replaces on real databases."""

from __future__ import annotations

import argparse

from squasher.cli.common import add_common_arguments, add_verification_arguments, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="migrate throwaway databases with the original and the squashed history and compare them",
        description=(
            "Build fresh databases with the original history (squash hidden), the squashed history "
            "(replaced migrations hidden) and a partially applied one, then compare schemas, data "
            "and the final migration state, and run makemigrations --check. Exit 0 when identical, "
            "1 with a readable diff otherwise, 2 on usage errors or an unreachable database."
        ),
    )
    parser.add_argument("app", help="app label")
    parser.add_argument("squashed", help="name (or unique prefix) of the squashed migration")
    add_verification_arguments(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--no-partial", action="store_true",
                        help="skip the partially-applied-history check")
    add_common_arguments(parser, settings=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from squasher.cli._progress import progress_for
    from squasher.runtime.verify import verify_squash

    with progress_for(args) as progress:
        report = verify_squash(
            args.root, args.app, args.squashed, settings_module=args.settings,
            database=args.database, verify_on=args.verify_on, partial=not args.no_partial,
            progress=progress,
        )
    if args.format == "json":
        print_json(args, report.to_json(), ok=report.ok)
    else:
        print(report.render())
    return 0 if report.ok else 1
