"""``python manage.py squasher <command> [options]``: the squasher CLI inside a Django project.

Add ``"squasher"`` to ``INSTALLED_APPS`` (it has no models, no migrations and no system
checks) and every ``squasher`` command runs through ``manage.py`` with the same options:
the settings are the ones ``manage.py`` runs with (its ``DJANGO_SETTINGS_MODULE``, or
``--settings`` after the command), and the project root defaults to the folder holding
``manage.py`` instead of the current directory.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand


def _root_of(prog: str) -> str:
    """The folder of ``manage.py`` (``sys.argv[0]``), else the current directory."""
    if prog and os.path.basename(prog) != "django-admin" and os.path.isfile(prog):
        return os.path.dirname(os.path.abspath(prog))
    return os.getcwd()


def squasher_argv(argv: list[str]) -> list[str]:
    """``manage.py squasher COMMAND ARGS`` -> the squasher CLI's own argv, with ``--root``
    defaulting to ``manage.py``'s folder (an explicit ``--root`` comes later and wins)."""
    rest = argv[2:]
    if not rest or rest[0].startswith("-"):
        return rest  # --help, --version, or nothing: the CLI prints its help
    return [rest[0], "--root", _root_of(argv[0]), *rest[1:]]


class Command(BaseCommand):
    help = ("Squash, compact and repair migration histories (the squasher CLI: "
            "check, graph, squash, verify, merge, suggest, finalize, compact).")
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def run_from_argv(self, argv: list[str]) -> None:
        # squasher parses its own sub-commands and options; Django's parser would reject them.
        from squasher.cli import main

        code = main(squasher_argv(argv), prog=f"{os.path.basename(argv[0])} squasher")
        sys.stdout.flush()
        if code:
            sys.exit(code)

    def print_help(self, prog_name: str, subcommand: str) -> None:  # ``manage.py help squasher``
        from squasher.cli import build_parser

        build_parser(prog=f"{os.path.basename(prog_name)} {subcommand}").print_help()

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - run_from_argv
        self.print_help("manage.py", "squasher")
