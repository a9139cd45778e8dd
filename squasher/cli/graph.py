"""``squasher graph [APP...] [--format text|dot|mermaid|json] [-o FILE]``: show the migration graph."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from squasher.cli.common import add_common_arguments, console
from squasher.discover import find_settings_module
from squasher.errors import UsageError
from squasher.fileops import write_atomic
from squasher.project import Project
from squasher.render import FORMATS, render


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph", help="show the migration graph (text, dot, mermaid or json)",
        description="Read every migration statically and print each app's plan (text) or the DAG "
                    "(dot/mermaid: squashes, replaced migrations, merges and conflicts are marked).",
    )
    parser.add_argument("apps", nargs="*", metavar="APP", help="only these apps (default: all)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("-o", "--output", type=Path, default=None, help="write to FILE instead of stdout")
    add_common_arguments(parser, settings=True, cache=True)
    parser.set_defaults(handler=handle)


def load_project(args: argparse.Namespace, *, django: str = "given") -> Project:
    """Load the project of ``args.root`` (status spinner on a terminal) and validate ``args.apps``.

    ``django`` says when Django's view replaces the static reader: ``"given"`` when settings
    are given (``--settings`` or ``DJANGO_SETTINGS_MODULE``), ``"found"`` also when manage.py
    names them (commands that change files), ``"never"``.
    """
    out = console(stderr=True)
    settings = getattr(args, "settings", None)
    if django != "never" and settings is None and hasattr(args, "settings"):
        settings = os.environ.get("DJANGO_SETTINGS_MODULE")
        if settings is None and django == "found":
            settings = find_settings_module(Path(args.root))
    use_cache = not getattr(args, "no_cache", False)

    def load() -> Project:
        if settings and django != "never":
            from squasher.django_project import load_django_project
            from squasher.errors import SettingsError

            try:
                return load_django_project(args.root, settings)[0]
            except SettingsError as error:
                if django != "found" or getattr(args, "settings", None):
                    raise
                # settings only guessed from manage.py and they do not import here: the
                # static reader still knows the files (said, not hidden)
                out.print(f"squasher: note: reading migrations statically: {error}",
                          markup=False, highlight=False)
        return Project.load(args.root, getattr(args, "settings", None), use_cache=use_cache)

    if out.is_terminal:
        with out.status("reading migrations..."):
            project = load()
    else:
        project = load()
    if not project.packages:
        raise UsageError(f"no migrations packages found under {project.root}",
                         path=project.root, hint="run from your Django project or pass --root")
    for app in getattr(args, "apps", None) or ():
        project.graph.require_app(app)
    return project


def handle(args: argparse.Namespace) -> int:
    project = load_project(args)
    text = render(project.graph, args.format, args.apps or None, root=project.root)
    if args.output is not None:
        try:
            write_atomic(args.output, text)
        except OSError as error:
            raise UsageError(f"cannot write {args.output}: {error.strerror}", path=args.output) from error
    else:
        print(text, end="")
    return 0
