"""Progress of long work (squash, compact): what runs now and for how long.

On a terminal (stderr) a live line (rich: spinner, step, elapsed time) that disappears when
the command ends. Elsewhere (CI logs, pipes) one plain line per step on stderr, with the
seconds since the start, with ``-v 2`` or more only: by default a failing command's stderr is
its one error line. Nothing with ``-v 0``; with ``--format json`` stdout stays the document.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from squasher.cli.common import console

#: what the library calls with one line of text per step (``None``: nobody listens)
Reporter = Callable[[str], None]


@contextlib.contextmanager
def progress_for(args: argparse.Namespace) -> Iterator[Reporter | None]:
    """A reporter for the running command, or ``None`` when it should stay quiet."""
    verbosity = getattr(args, "verbosity", 1)
    live = sys.stderr.isatty() and getattr(args, "format", "text") == "text"
    if verbosity == 0 or (verbosity < 2 and not live):
        yield None
        return
    started = time.perf_counter()
    if live:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console(stderr=True), transient=True) as live:
            task = live.add_task("starting", total=None)
            yield lambda text: live.update(task, description=text)
        return

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    yield say
