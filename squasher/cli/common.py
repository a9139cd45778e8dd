"""Arguments, project loading and output helpers shared by the command modules.

Start-up time: ``squasher --help`` builds every sub-parser, so this module and each
command module's ``register()`` import nothing heavy (no rich, networkx, libcst or
Django); a command imports what it needs when its handler runs
(``tests/test_cli_startup.py`` holds that line).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from squasher.config import SquasherConfig
    from squasher.graph.project import Project


def add_common_arguments(parser: argparse.ArgumentParser, *, settings: bool = False,
                         cache: bool = False) -> None:
    """``--root`` and ``--debug`` for every command; ``--settings`` for commands that may import Django;
    ``--no-cache`` for commands that read the project through ``load_project``."""
    if cache:
        parser.add_argument("--no-cache", action="store_true",
                            help="do not read or write the parse cache (~/.cache/squasher; SQUASHER_CACHE_DIR)")
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(),
        help="project root to scan for migrations (default: current directory)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument(
        "-v", "--verbosity", type=int, choices=(0, 1, 2, 3), default=1,
        help="as Django's commands: 0 prints no text on stdout (the exit status and errors "
             "only; --format json still prints), 1 normal (default), 2 the same, 3 also "
             "tracebacks (as --debug)")
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    parser.add_argument("--force-color", action="store_true",
                        help="colour the output even when it is not a terminal")
    if settings:
        parser.add_argument(
            "--settings", metavar="MODULE", default=None,
            help="Django settings module (default: DJANGO_SETTINGS_MODULE, else settings in "
                 "[tool.squasher] of pyproject.toml, else read from manage.py)",
        )
        parser.add_argument(
            "--pythonpath", metavar="DIR", default=None,
            help="a directory to add to the Python path, as django-admin's --pythonpath "
                 "(manage.py's own sys.path changes, e.g. a src/ layout, are applied anyway)",
        )


def add_verification_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database ALIAS`` (Django's flag) and ``--verify-on ENGINE`` for the commands that
    migrate throwaway databases (squash, verify, compact)."""
    parser.add_argument(
        "--database", metavar="ALIAS", default="default",
        help="the DATABASES alias whose engine and server verification uses, as Django's test "
             "runner does: throwaway databases are created on that PostgreSQL server, or are "
             "SQLite files when the alias is SQLite (default: 'default')")
    parser.add_argument(
        "--verify-on", choices=("sqlite", "postgresql", "postgres"), default=None,
        metavar="{sqlite,postgresql}",
        help="the engine of the throwaway databases instead of the alias's own: sqlite "
             "(temporary files; no settings read) or postgresql (the server "
             "SQUASHER_POSTGRES_DSN names when set, else the alias's PostgreSQL server)")


def config_of(args: argparse.Namespace) -> SquasherConfig:
    """``[tool.squasher]`` of ``--root`` (read once by ``squasher.cli.main``; read here when a
    handler is called directly)."""
    config = getattr(args, "config", None)
    if config is None:
        from squasher.config import load_config

        config = args.config = load_config(args.root)
    return config


def keep_last_of(args: argparse.Namespace) -> int:
    """``--keep-last N``, else ``keep-last`` of ``[tool.squasher]``, else 0."""
    from squasher.errors import UsageError

    if args.keep_last is not None:
        if args.keep_last < 0:
            raise UsageError("--keep-last must be 0 or more")
        return int(args.keep_last)
    return config_of(args).keep_last or 0


#: ``--no-color`` / ``--force-color`` of the running command ("never", "always" or None:
#: colour on a terminal unless NO_COLOR is set), set by :func:`apply_output_options`
_color: str | None = None

from squasher.records import JSON_VERSION  # noqa: E402 - the one definition, re-exported


def apply_output_options(args: argparse.Namespace) -> None:
    """``--no-color`` / ``--force-color`` / ``--verbosity 3``, before the command runs."""
    global _color
    if getattr(args, "no_color", False) and getattr(args, "force_color", False):
        from squasher.errors import UsageError

        raise UsageError("--no-color and --force-color cannot be used together")
    _color = ("never" if getattr(args, "no_color", False)
              else "always" if getattr(args, "force_color", False) else None)
    if getattr(args, "verbosity", 1) >= 3:
        args.debug = True


def color_enabled(stream: object = None) -> bool:
    """Whether output to ``stream`` (default stdout) is coloured: ``--force-color``, else a
    terminal without ``--no-color`` or NO_COLOR (https://no-color.org)."""
    if _color is not None:
        return _color == "always"
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("NO_COLOR") is None


def console(stderr: bool = False) -> Console:
    """A rich console that prints plain text when not attached to a terminal (or with
    ``--no-color`` / NO_COLOR), in colour on one (or anywhere with ``--force-color``)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if _color == "always":
        return Console(file=stream, highlight=False, soft_wrap=True, force_terminal=True)
    plain = not color_enabled(stream)
    return Console(file=stream, no_color=plain, highlight=False, soft_wrap=True,
                   force_terminal=False if plain else None)


def print_json(args: argparse.Namespace, result: dict[str, object], *, ok: bool = True) -> None:
    """A command's ``--format json`` document: the envelope ``version`` (:data:`JSON_VERSION`),
    ``command`` and ``ok`` (the exit status is 0), then the command's own keys."""
    import json

    document = {"version": JSON_VERSION, "command": args.command, "ok": ok, **result}
    print(json.dumps(document, indent=2))


def stdin_is_tty() -> bool:
    """Whether a person can answer a question: stdin is a terminal (not CI, a pipe or a script)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on stdout and read one line from stdin: True only for y/yes."""
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input: no answer is no
        sys.stdout.write("\n")
    return answer.strip().lower() in ("y", "yes")


def load_project(args: argparse.Namespace, *, django: str = "given") -> Project:
    """Load the project of ``args.root`` (status spinner on a terminal) and validate ``args.apps``.

    ``django`` says when Django's view replaces the static reader: ``"given"`` when settings
    are given (``--settings`` or ``DJANGO_SETTINGS_MODULE``), ``"found"`` also when manage.py
    names them (commands that change files), ``"never"``.
    """
    from squasher.errors import UsageError
    from squasher.graph.discover import find_settings_module
    from squasher.graph.project import Project

    settings = getattr(args, "settings", None)
    if django != "never" and settings is None and hasattr(args, "settings"):
        settings = os.environ.get("DJANGO_SETTINGS_MODULE")
        if settings is None and django == "found":
            settings = find_settings_module(Path(args.root))
    use_cache = not getattr(args, "no_cache", False)

    def load() -> Project:
        if settings and django != "never":
            from squasher.errors import SettingsError
            from squasher.runtime.django_project import load_django_project

            try:
                return load_django_project(args.root, settings)[0]
            except SettingsError as error:
                if django != "found" or getattr(args, "settings", None):
                    raise
                # settings only guessed from manage.py and they do not import here: the
                # static reader still knows the files (said, not hidden)
                print(f"squasher: note: reading migrations statically: {error}", file=sys.stderr)
        return Project.load(args.root, getattr(args, "settings", None), use_cache=use_cache)

    if sys.stderr.isatty():  # rich only for the spinner: its import costs start-up time
        with console(stderr=True).status("reading migrations..."):
            project = load()
    else:
        project = load()
    if not project.packages:
        raise UsageError(f"no migrations packages found under {project.root}",
                         path=project.root, hint="run from your Django project or pass --root")
    for app in getattr(args, "apps", None) or ():
        project.graph.require_app(app)
    return project
