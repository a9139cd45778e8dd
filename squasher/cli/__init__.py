"""The ``squasher`` command line.

Each command lives in its own module in this package and exposes ``register(subparsers)``,
which adds its sub-parser and sets ``handler`` (``handler(args) -> int``). This module only
wires them together and turns :class:`~squasher.errors.SquasherError` into a one-line message
and an exit code; no command logic lives here.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from squasher import __version__
from squasher.cli.common import apply_output_options
from squasher.errors import SquasherError

# Order in ``squasher --help``; modules not listed are appended alphabetically.
_PREFERRED_ORDER = [
    "check", "graph", "squash", "verify", "merge", "suggest", "finalize", "compact",
]
_NOT_COMMANDS = {"common"}


def _command_modules() -> list[str]:
    import squasher.cli as pkg

    found = {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")}
    found -= _NOT_COMMANDS
    ordered = [name for name in _PREFERRED_ORDER if name in found]
    return ordered + sorted(found - set(ordered))


def build_parser(prog: str = "squasher") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Squash, compact and repair Django migration histories. Reads migrations "
            "statically (no Django import) for graph/check/suggest/merge; imports the "
            "project only for squash/verify/finalize."
        ),
    )
    parser.add_argument("--version", action="version", version=f"squasher {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"squasher.cli.{name}")
        module.register(subparsers)
    return parser


def add_pythonpath(directory: str | None) -> None:
    """``--pythonpath DIR`` as django-admin has it: first on ``sys.path``, and on ``PYTHONPATH``
    so the worker processes that run Django see it too."""
    if not directory:
        return
    directory = os.path.abspath(directory)
    sys.path.insert(0, directory)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (directory, os.environ.get("PYTHONPATH")) if p)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def finish_interrupted_change(root: Path | None) -> None:
    """Anchor change-set journals at ``--root`` and finish a change a killed run left there."""
    if root is None or not Path(root).is_dir():
        return
    from squasher.fileops import recover, set_project_root

    set_project_root(Path(root))
    message = recover(Path(root))
    if message:
        print(f"squasher: note: {message}", file=sys.stderr)


def load_command_config(args: argparse.Namespace) -> None:
    """Read ``[tool.squasher]`` of ``--root``'s pyproject.toml once, before the command does
    anything (a bad key is exit 2 with nothing changed); handlers find it as ``args.config``."""
    if getattr(args, "root", None) is not None:
        from squasher.config import load_config

        args.config = load_config(args.root)


@contextlib.contextmanager
def _quiet(args: argparse.Namespace) -> Iterator[None]:
    """``-v 0``: no text on stdout (documents asked for with --format still print)."""
    if getattr(args, "verbosity", 1) != 0 or getattr(args, "format", "text") not in (None, "text"):
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def main(argv: Sequence[str] | None = None, prog: str = "squasher") -> int:
    """Run one command; ``prog`` names the program in usage lines (``manage.py squasher``)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    add_pythonpath(getattr(args, "pythonpath", None))
    # SIGTERM unwinds like Ctrl-C, so temporary copies and databases are removed
    signal.signal(signal.SIGTERM, _terminate)
    try:
        apply_output_options(args)
        finish_interrupted_change(getattr(args, "root", None))
        load_command_config(args)
        with _quiet(args):
            return int(args.handler(args) or 0)
    except SquasherError as error:
        if getattr(args, "debug", False):
            raise
        error = _located_cycle(error, getattr(args, "root", None)) or error
        print(f"squasher: error: {error}", file=sys.stderr)
        if getattr(args, "format", None) == "json":
            # a refusal is a result too: a CI step parsing stdout gets it as JSON
            from squasher.cli.common import print_json

            print_json(args, {"error": error.to_json()}, ok=False)
        return error.exit_code
    except KeyboardInterrupt:
        print("squasher: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `squasher check --format sarif | head`: the reader left; no traceback (Python's
        # documented recipe: point stdout at devnull so the exit flush does not fail again)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _located_cycle(error: SquasherError, root: Path | None) -> SquasherError | None:
    """When Django's loader refused a cyclic history (squash, verify, compact, finalize),
    the same cycle read statically, with the file and line of the dependency closing it
    (exit 1 like every other cycle report). ``None`` when that is not the case or the
    static graph does not show the cycle."""
    cause: BaseException | None = error.__cause__
    while cause is not None and not (type(cause).__name__ == "CircularDependencyError"
                                     and type(cause).__module__.startswith("django.")):
        cause = cause.__cause__
    if cause is None:
        return None
    from squasher.errors import CircularDependencyError
    from squasher.graph.project import Project

    try:
        Project.load(root or os.getcwd()).graph.require_acyclic()
    except CircularDependencyError as located:
        return located
    except Exception:  # noqa: BLE001 - keep Django's own report
        return None
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
