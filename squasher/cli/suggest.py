"""``squasher suggest [APP...] [--keep-last N] [--format text|json] [--settings MODULE]``.

Lists ranges that are safe and worthwhile to squash (no cycle, no branch cut, not across an
unfinalized squash). Static unless settings are given: the optimized operation count is then
exact, otherwise a static estimate (marked ``~``). Exit status 0 (also when nothing is found).
"""

from __future__ import annotations

import argparse
import os

from squasher.cli.common import (
    add_common_arguments,
    console,
    keep_last_of,
    load_project,
    print_json,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "suggest", help="list ranges that are safe and worthwhile to squash",
        description=(
            "List ranges that are safe and worthwhile to squash: no circular dependency, no cut "
            "branch, not across an unfinalized squash. Static unless settings are given: the "
            "optimized operation count is then exact, otherwise a static estimate (marked ~). "
            "Exit status 0 (also when nothing is found)."
        ),
    )
    parser.add_argument("apps", nargs="*", metavar="APP", help="only these apps (default: all)")
    parser.add_argument("--keep-last", type=int, default=None, metavar="N",
                        help="leave the newest N migrations of each app alone (default: keep-last "
                             "of [tool.squasher] in pyproject.toml, else 0)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_common_arguments(parser, settings=True, cache=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from squasher.cli._progress import progress_for
    from squasher.lifecycle.suggest import suggest

    keep_last = keep_last_of(args)
    project = load_project(args)
    settings = args.settings or os.environ.get("DJANGO_SETTINGS_MODULE")
    with progress_for(args) as progress:
        found = suggest(project, args.apps or None, keep_last=keep_last,
                        settings_module=settings, progress=progress)
    if args.format == "json":
        print_json(args, {"suggestions": [s.to_json() for s in found], "exact": bool(settings),
                          "keep_last": keep_last})
        return 0
    out = console()
    if not found:
        out.print("nothing to suggest: no range of two or more migrations can be squashed safely")
        return 0
    for s in found:
        if s.optimized_operations is not None:
            after = f"{s.optimized_operations}"
        else:
            after = f"~{s.estimated_operations}"
        out.print(f"{s.app}: {s.first[1]} .. {s.last[1]}: {s.migrations} migrations, "
                  f"{s.operations} operations -> {after}", markup=False)
        out.print(f"    {s.command()}", markup=False)
        for note in s.notes:
            out.print(f"    note: {note}", markup=False)
    if not settings:
        out.print("(~ = static estimate; pass --settings MODULE for the exact optimized count)")
    return 0
