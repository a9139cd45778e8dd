"""Arguments and output helpers shared by the command modules."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console


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
    if settings:
        parser.add_argument(
            "--settings", metavar="MODULE", default=None,
            help="Django settings module (default: DJANGO_SETTINGS_MODULE, else read from manage.py)",
        )
        parser.add_argument(
            "--pythonpath", metavar="DIR", default=None,
            help="a directory to add to the Python path, as django-admin's --pythonpath "
                 "(manage.py's own sys.path changes, e.g. a src/ layout, are applied anyway)",
        )


def console(stderr: bool = False) -> Console:
    """A rich console that prints plain text when not attached to a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    plain = not stream.isatty() or os.environ.get("NO_COLOR") is not None
    return Console(file=stream, no_color=plain, highlight=False, soft_wrap=True,
                   force_terminal=False if plain else None)
