"""``squasher finalize APP [SQUASHED...] [--database ALIAS...] [--finish] [--dry-run] [--noinput]``.

Deletes the migrations a squash replaces, points every reference to them at the squash,
removes ``replaces`` and completes the squash's dependencies so the app keeps one leaf.
All edits are applied together or not at all. On a terminal (stdin is a TTY) the planned
changes are shown and confirmed first unless ``--noinput``/``--no-input`` (Django's flag);
when stdin is not a terminal (CI, scripts, pipes), it proceeds without asking.

Exit status: 0 done (or nothing to finalize), 1 refused (not applied on a database, graph
check, confirmation not given), 2 usage error (not a squash, half-finalized without --finish, unparsable file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from squasher.cli.common import (
    add_common_arguments,
    confirm,
    console,
    load_project,
    print_json,
    stdin_is_tty,
)

if TYPE_CHECKING:
    from rich.console import Console

    from squasher.lifecycle.finalize import FinalizePlan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "finalize", help="delete a squash's replaced migrations and make it a normal migration",
        description=(
            "The second half of a squash: delete the migrations it replaces, point every reference "
            "to them anywhere in the project at the squash, remove `replaces`, and give the squash "
            "the dependencies, swappable dependencies and run_before entries of its originals, so "
            "the app keeps a single leaf. All edits are applied together or not at all. With "
            "--database, refuse unless the squash is recorded as applied on those databases. "
            "Exit status: 0 done (or nothing to finalize), 1 refused (not applied on a database, "
            "graph check, or the confirmation answered with anything but y/yes), 2 usage error "
            "(not a squash, half-finalized without --finish, unparsable file). When stdin is a "
            "terminal, the planned changes are printed and confirmed first (--noinput does not "
            "ask); when it is not (CI, scripts, pipes), finalize proceeds without asking."
        ),
    )
    parser.add_argument("app", metavar="APP")
    parser.add_argument("squashes", nargs="*", metavar="SQUASHED",
                        help="squashed migrations (name or prefix; default: every squash of APP)")
    parser.add_argument("--database", nargs="+", default=[], metavar="ALIAS",
                        help="refuse unless the squash is recorded as applied on these databases")
    parser.add_argument("--finish", action="store_true",
                        help="finish a half-finalized squash whose replaced files are partly gone")
    parser.add_argument("--dry-run", action="store_true", help="print the planned changes, write nothing")
    parser.add_argument("--noinput", "--no-input", dest="no_input", action="store_true",
                        help="do not ask for confirmation (as Django's commands). Without it, when "
                             "stdin is a terminal, the planned changes are printed and applied only "
                             "after a 'y'; when stdin is not a terminal (CI, scripts, pipes) or with "
                             "--format json, nobody is asked and the changes are applied")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_common_arguments(parser, settings=True, cache=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from squasher.lifecycle.finalize import plan_finalize
    from squasher.runtime.django_setup import resolve_settings_module

    project = load_project(args, django="found")
    settings = resolve_settings_module(args.root, args.settings) if args.database else None
    plan = plan_finalize(project, args.app, args.squashes or None, finish=args.finish,
                         databases=args.database, settings_module=settings)
    if args.format == "json":
        if not args.dry_run and plan.changes:
            plan.changes.apply()
        print_json(args, {**plan.to_json(project.root), "dry_run": args.dry_run})
        return 0
    out = console()
    if plan.message:
        out.print(plan.message, markup=False)
        return 0
    ask = bool(plan.changes) and not args.dry_run and not args.no_input and stdin_is_tty()
    if not args.dry_run and not ask:
        plan.changes.apply()
    _print_plan(out, args, plan, project.root, would="would " if args.dry_run else "will " if ask else "")
    if not ask:
        return 0
    deletes = sum(1 for change in plan.changes.changes if change.kind == "delete")
    rewrites = len(plan.changes.changes) - deletes
    if not confirm(f"Delete {deletes} replaced migration(s) and rewrite {rewrites} file(s)?"):
        print("squasher: aborted, nothing was changed (--noinput applies without asking)",
              file=sys.stderr)
        return 1
    plan.changes.apply()
    for key in plan.finalized:
        out.print(f"{args.app}: finalized {key[1]}", markup=False)
    return 0


def _print_plan(out: Console, args: argparse.Namespace, plan: FinalizePlan, root: Path,
                would: str) -> None:
    """The plan's lines; ``would`` is ``"would "`` (dry run), ``"will "`` (before the question)
    or ``""`` (applied)."""
    for key in plan.finalized:
        deleted = plan.deleted.get(key, [])
        done = f"{would}finalize" if would else "finalized"
        out.print(f"{args.app}: {done} {key[1]}", markup=False)
        if deleted:
            out.print(f"  {would}delete {len(deleted)} replaced migration(s): "
                      f"{', '.join(k[1] for k in deleted)}", markup=False)
        if plan.missing.get(key):
            out.print(f"  already gone: {', '.join(k[1] for k in plan.missing[key])}", markup=False)
        out.print(f"  {would}remove `replaces` from {key[1]}", markup=False)
        if plan.added_dependencies.get(key):
            added = ", ".join(f"{a}.{n}" for a, n in plan.added_dependencies[key])
            out.print(f"  {would}add dependencies {added} (kept from the replaced migrations, "
                      "so the app keeps a single leaf)", markup=False)
        for target in plan.added_run_before.get(key, []):
            origin = plan.run_before_from.get((key, target), "a replaced migration")
            out.print(f"  {would}add run_before {target[0]}.{target[1]} (from {origin})", markup=False)
        for setting in plan.added_swappable.get(key, []):
            origin = plan.swappable_from.get((key, setting), "a replaced migration")
            out.print(f"  {would}add swappable_dependency(settings.{setting}) (from {origin})",
                      markup=False)
    for path in plan.rewritten:
        out.print(f"  {would}rewrite references in {path.relative_to(root)}", markup=False)
    for warning in plan.warnings:
        out.print(f"warning: {warning}", markup=False)
    for note in plan.notes:
        out.print(f"note: {note}", markup=False)
