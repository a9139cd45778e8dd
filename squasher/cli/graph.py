"""``squasher graph [APP...] [--format text|dot|mermaid|json] [-o FILE]``: show the migration graph.

With ``-o FILE`` and no ``--format`` the format follows the file's extension: ``.txt``,
``.dot``/``.gv``, ``.mmd``/``.mermaid``, ``.json``, and pictures ``.svg``/``.png``/``.pdf``
drawn by Graphviz's ``dot`` program when it is installed, and ``.html``: one self-contained
page with that drawing, pan/zoom and a panel showing a clicked migration (``render_html``).
``--collapse N`` (default 8; ``--no-collapse`` = 0) draws every line of N or more plain
migrations as one box in dot, Mermaid, the pictures and the page (where it expands).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from squasher.cli.common import add_common_arguments, load_project
from squasher.errors import UsageError
from squasher.graph.render import DEFAULT_COLLAPSE, FORMATS

if TYPE_CHECKING:
    from squasher.graph.project import Project
    from squasher.records import MigrationKey

#: output file extension -> text format
TEXT_SUFFIXES = {".txt": "text", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
                 ".mermaid": "mermaid", ".json": "json"}
#: output file extension -> Graphviz output type (drawn from the dot rendering)
IMAGE_SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".html": "html", ".htm": "html"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph", help="show the migration graph (text, dot, mermaid, json; svg/png/pdf pictures, html page)",
        description="Read every migration statically and print each app's plan (text) or the DAG "
                    "(dot/mermaid: squashes, replaced migrations, merges and conflicts are marked, "
                    "with a legend). With -o FILE the format follows the extension: .txt, .dot/.gv, "
                    ".mmd/.mermaid, .json, a picture .svg/.png/.pdf drawn by Graphviz (`dot` "
                    "must be installed, e.g. apt install graphviz), or .html: one self-contained "
                    "page with that picture, pan and zoom, and a panel showing the migration you "
                    "click (file, marks, dependencies, operations).",
    )
    parser.add_argument("apps", nargs="*", metavar="APP", help="only these apps (default: all)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="text (default on stdout), dot, mermaid or json")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="write to FILE instead of stdout (format from its extension)")
    parser.add_argument("--no-legend", action="store_true",
                        help="leave the legend out of dot/mermaid output and pictures")
    collapse = parser.add_mutually_exclusive_group()
    collapse.add_argument("--collapse", type=collapse_length, default=DEFAULT_COLLAPSE,
                          metavar="N",
                          help="in dot/mermaid output, pictures and the html page, draw each "
                               "line of N or more migrations (one parent and one child in the "
                               "same app, nothing marked) as one box with their count; the "
                               f"page expands it on a click (default {DEFAULT_COLLAPSE}; 0: "
                               "draw every migration)")
    collapse.add_argument("--no-collapse", dest="collapse", action="store_const", const=0,
                          help="draw every migration (same as --collapse 0)")
    add_common_arguments(parser, settings=True, cache=True)
    parser.set_defaults(handler=handle)


def collapse_length(value: str) -> int:
    """``--collapse N``: 0 (off) or a run length of at least 2."""
    try:
        length = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if length < 0 or length == 1:
        raise argparse.ArgumentTypeError(f"{length}: use 0 (draw every migration) or at least 2")
    return length


def output_format(fmt: str | None, output: Path | None) -> tuple[str, str | None]:
    """The text format to render and, for a picture, the Graphviz output type."""
    suffix = output.suffix.lower() if output is not None else ""
    if suffix in IMAGE_SUFFIXES:
        if fmt not in (None, "dot"):
            raise UsageError(f"{output}: a {suffix} picture is drawn from the dot rendering, "
                             f"not --format {fmt}", hint=f"drop --format or write a "
                             f"{next(k for k, v in TEXT_SUFFIXES.items() if v == fmt)} file")
        return "dot", IMAGE_SUFFIXES[suffix]
    if fmt is not None:
        return fmt, None
    if output is None:
        return "text", None
    if suffix not in TEXT_SUFFIXES:
        known = ", ".join([*TEXT_SUFFIXES, *IMAGE_SUFFIXES])
        raise UsageError(f"{output}: cannot tell the format from the extension {suffix or '(none)'}",
                         hint=f"use one of {known}, or pass --format")
    return TEXT_SUFFIXES[suffix], None


def draw(dot_source: str, image: str, output: Path) -> bytes:
    """Run Graphviz's ``dot`` on ``dot_source``; a clear error when it is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        raise UsageError(f"{output}: drawing a {image} needs Graphviz's `dot` program, which is "
                         "not installed", hint="install graphviz (apt install graphviz, brew "
                         "install graphviz) or write a .dot/.mmd file")
    try:
        proc = subprocess.run([program, f"-T{image}"], input=dot_source.encode(),
                              capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UsageError(f"{output}: running {program} failed: {error}") from error
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"{output}: {program} could not draw the graph: "
                         f"{detail[0] if detail else f'exit {proc.returncode}'}")
    return proc.stdout


def handle(args: argparse.Namespace) -> int:
    from squasher.fileops import write_atomic
    from squasher.graph.render import render

    fmt, image = output_format(args.format, args.output)
    project = load_project(args)
    keep = reported(project, args.apps) if args.collapse and fmt in ("dot", "mermaid") else set()
    text = render(project.graph, fmt, args.apps or None, root=project.root,
                  legend=not args.no_legend, collapse=args.collapse, keep=keep)
    if args.output is None:
        print(text, end="")
        return 0
    data: str | bytes
    if image == "html":
        data = html_page(project, args, text, keep)
    else:
        data = draw(text, image, args.output) if image else text
    try:
        write_atomic(args.output, data)
    except OSError as error:
        raise UsageError(f"cannot write {args.output}: {error.strerror}", path=args.output) from error
    return 0


def reported(project: Project, apps: list[str]) -> set[MigrationKey]:
    """The migrations ``squasher check`` reports a problem on: never hidden in a box."""
    from squasher.graph.check import check_project

    return {p.key for p in check_project(project, apps or None) if p.key is not None}


def html_page(project: Project, args: argparse.Namespace, dot_source: str,
              keep: set[MigrationKey]) -> str:
    """The self-contained page: the collapsed drawing and, when a line was collapsed, a
    second drawing with every migration that the page swaps in to expand it."""
    from squasher.graph.render import collapsed_runs, render
    from squasher.graph.render_html import render_html

    apps = args.apps or project.graph.apps()
    svg = draw(dot_source, "svg", args.output).decode("utf-8")
    expanded = None
    if collapsed_runs(project.graph, apps, args.collapse, keep=keep):
        full = render(project.graph, "dot", apps, root=project.root, legend=not args.no_legend)
        expanded = draw(full, "svg", args.output).decode("utf-8")
    return render_html(project.graph, apps, svg, root=project.root,
                       title=f"{project.root.name}: migration graph",
                       expanded_svg=expanded, collapse=args.collapse, keep=keep)
