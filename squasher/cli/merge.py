"""``squasher merge [APP...] [--rebase] [--onto APP:NAME|REV] [--name NAME] [--strict] [--dry-run] [--check]``.

Default: write a merge migration for every app with more than one leaf (what
``makemigrations --merge`` writes, without questions), after reporting every model/field
both branches touch. ``--rebase``: renumber the other branch(es) to follow one leaf
instead, rewriting every reference in the project; ``--rebase --onto REV`` (a git branch,
tag or commit, read without a checkout) renumbers this branch's new migrations to follow
REV's leaf before the branches are merged. ``--check``: only say whether a merge
is needed (exit 1, naming the apps and their leaves) or not (exit 0), writing nothing, as
``makemigrations --check``.

Exit status: 0 done (or nothing to merge), 1 refused (``--strict`` overlaps, applied
migration, cycle) or ``--check`` found an app to merge, 2 usage error.
"""

from __future__ import annotations

import argparse

from squasher.cli.common import add_common_arguments, console, load_project, print_json
from squasher.errors import UsageError
from squasher.fileops import ChangeSet
from squasher.graph.discover import find_settings_module
from squasher.lifecycle.merge import plan_merge


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge", help="resolve conflicting leaves: merge migration, or --rebase to linearize",
        description=(
            "Resolve conflicting leaves. By default, write a merge migration for every app with more "
            "than one leaf (what `makemigrations --merge` writes, without questions), after reporting "
            "every model and field that more than one branch touches (--strict refuses to merge "
            "then). With --rebase, renumber the other branch(es) to follow one leaf instead, "
            "rewriting every reference to the renamed migrations anywhere in the project. "
            "With --rebase --onto REV (e.g. origin/main), fix a pull request before it is merged: "
            "this branch's new migrations are renumbered to follow REV's leaf wherever merging REV "
            "would give an app two leaves (REV is read from git objects; nothing is checked out; "
            "see `squasher check --against REV`). "
            "With --check, write nothing: exit 1 when a selected app has more than one leaf "
            "(naming the apps and their leaves), 0 otherwise, as `makemigrations --check`. "
            "Exit status: 0 done (or nothing to merge), 1 refused (--strict overlaps, applied "
            "migration, cycle) or --check found an app to merge, 2 usage error."
        ),
    )
    parser.add_argument("apps", nargs="*", metavar="APP", help="only these apps (default: every app with a conflict)")
    parser.add_argument("--rebase", action="store_true",
                        help="renumber the other branch to follow one leaf instead of writing a merge migration")
    parser.add_argument("--onto", metavar="APP:NAME|REV", action="append", default=[],
                        help="with --rebase: the leaf to rebase onto (name or prefix; APP: may be omitted "
                             "when one app is merged). Default: keep the branch with the oldest files "
                             "(git, else mtime). When the selected apps have a single leaf here, a git "
                             "revision instead (branch, tag, commit: e.g. origin/main): follow the "
                             "leaves that merging it would bring")
    parser.add_argument("--name", help="name for the merge migration (instead of merge_<leaves>)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse to merge when branches touch the same model/field")
    parser.add_argument("--database", metavar="ALIAS", default="default",
                        help="with --rebase and settings: database whose applied migrations must not be renamed")
    parser.add_argument("--dry-run", action="store_true", help="print the planned changes, write nothing")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a selected app needs a merge (more than one "
                             "leaf; the apps and leaves are printed), else 0 (as makemigrations --check)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_common_arguments(parser, settings=True, cache=True)
    parser.set_defaults(handler=handle)


def _onto_for(args: argparse.Namespace, apps: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in args.onto:
        if ":" in value:
            app, name = value.split(":", 1)
        elif "." in value and not value.split(".", 1)[0].isdigit():
            app, name = value.split(".", 1)
        elif len(apps) == 1:
            app, name = apps[0], value
        else:
            raise UsageError(f"--onto {value}: say which app (APP:NAME)",
                             hint=f"apps with conflicts: {', '.join(apps)}")
        out[app] = name
    return out


def handle(args: argparse.Namespace) -> int:
    project = load_project(args)
    out = console()
    conflicts = project.graph.conflicts()
    wanted = [a for a in (args.apps or sorted(conflicts)) if a in conflicts]
    if args.check:
        return _check(args, {app: conflicts[app] for app in wanted}, out)
    if args.rebase and not wanted and len(args.onto) == 1 and ":" not in args.onto[0]:
        # nothing to rebase here: --onto names the revision whose leaves to follow
        return _rebase_onto_revision(args, project, args.onto[0], out)
    if not wanted:
        if args.apps:
            message = "nothing to merge: " + ", ".join(args.apps) + \
                (" has" if len(args.apps) == 1 else " have") + " a single leaf"
        else:
            message = "nothing to merge: no app has more than one leaf"
        if args.format == "json":
            print_json(args, {"changes": [], "message": message})
        else:
            out.print(message)
        return 0
    if args.rebase:
        return _rebase(args, project, wanted, out)
    if args.onto:
        raise UsageError("--onto only makes sense with --rebase")
    plan = plan_merge(project, wanted, name=args.name, strict=args.strict)
    if args.format == "json":
        if not args.dry_run:
            plan.changes.apply()
        print_json(args, {**plan.to_json(project.root), "dry_run": args.dry_run})
        return 0
    for overlap in plan.overlaps:
        out.print(f"warning: {overlap.render(project.root)}")
    if args.dry_run:
        for change in plan.changes.changes:
            out.print(f"would create {change.path.relative_to(project.root)}:")
            out.print(change.new_text or "", markup=False)
        return 0
    plan.changes.apply()
    for app, key in plan.created.items():
        leaves = ", ".join(k[1] for k in plan.merged[app])
        path = next(c.path for c in plan.changes.changes if c.path.stem == key[1])
        out.print(f"{app}: created {path.relative_to(project.root)} (merging {leaves})", markup=False)
    return 0


def _check(args: argparse.Namespace, conflicts: dict[str, list[tuple[str, str]]], out) -> int:
    """``--check``: report, write nothing; 1 when an app needs a merge."""
    if args.format == "json":
        print_json(args, {"check": True, "needs_merge": bool(conflicts),
                          "conflicts": {app: [k[1] for k in leaves] for app, leaves in conflicts.items()}},
                   ok=not conflicts)
        return 1 if conflicts else 0
    if not conflicts:
        if args.apps:
            verb = "has" if len(args.apps) == 1 else "each have"
            out.print(f"no merge needed: {', '.join(args.apps)} {verb} a single leaf", markup=False)
        else:
            out.print("no merge needed: no app has more than one leaf", markup=False)
        return 0
    for app, leaves in conflicts.items():
        out.print(f"{app}: {len(leaves)} leaves, needs a merge: {', '.join(k[1] for k in leaves)}",
                  markup=False)
    out.print("run `squasher merge` (or `squasher merge --rebase`) to resolve", markup=False)
    return 1


def _rebase(args: argparse.Namespace, project, wanted: list[str], out) -> int:
    from squasher.lifecycle.rebase import plan_rebase

    onto = _onto_for(args, wanted)
    for app in onto:
        if app not in wanted:
            raise UsageError(f"--onto names {app}, which has no conflict to rebase")
    # settings found like every command finds them (manage.py too): applied migrations must
    # never be renamed
    settings = find_settings_module(project.root, args.settings)
    plans = []
    for app in wanted:
        plans.append(plan_rebase(project, app, onto=onto.get(app), settings_module=settings,
                                 database=args.database))
    return _apply_rebases(args, project, plans, out)


def _rebase_onto_revision(args: argparse.Namespace, project, rev: str, out) -> int:
    from squasher.lifecycle.rebase import plan_rebase_onto_revision

    settings = find_settings_module(project.root, args.settings)
    plans = plan_rebase_onto_revision(project, rev, args.apps, settings_module=settings,
                                      database=args.database)
    if not plans:
        message = f"nothing to rebase: merging {rev} gives no app a second leaf"
        if args.format == "json":
            print_json(args, {"changes": [], "dry_run": args.dry_run, "rebases": [],
                              "message": message})
        else:
            out.print(message, markup=False)
        return 0
    return _apply_rebases(args, project, plans, out)


def _apply_rebases(args: argparse.Namespace, project, plans: list, out) -> int:
    # Every app's plan was computed from the same tree: they touch different files
    # unless two apps reference each other; apply them together.
    combined = ChangeSet()
    seen = set()
    for plan in plans:
        for change in plan.changes.changes:
            if change.path in seen:
                raise UsageError(f"{change.path} would be changed by two rebases; rebase one app at a time",
                                 hint=f"squasher merge --rebase {plan.app}")
            seen.add(change.path)
            combined.changes.append(change)
    if args.format == "json":
        if not args.dry_run:
            combined.apply()
        print_json(args, {"changes": combined.to_json(project.root), "dry_run": args.dry_run,
                          "rebases": [p.to_json(project.root) for p in plans]})
        return 0
    if not args.dry_run:
        combined.apply()
    verb = "would rename" if args.dry_run else "renamed"
    for plan in plans:
        out.print(f"{plan.app}: {plan.reason}", markup=False)
        if len(plan.order) > 1:
            out.print(f"{plan.app}: branches moved in this order: {', '.join(k[1] for k in plan.order)}",
                      markup=False)
        for old, new in plan.moved.items():
            out.print(f"  {verb} {old[1]} -> {new[1]}", markup=False)
        for path in plan.rewritten:
            out.print(f"  {'would rewrite' if args.dry_run else 'rewrote'} references in "
                      f"{path.relative_to(project.root)}", markup=False)
        for note in plan.notes:
            out.print(f"  note: {note}", markup=False)
    return 0
