"""``squasher check [APP...] [--format text|json]``: report problems of the migration graph.

``[tool.squasher]`` in pyproject.toml (``disable``, ``ignore-apps``, ``severity``) and
``# squasher: ignore[CODE]`` comments decide what is shown (:func:`squasher.graph.check.apply_config`).
Exit status: 0 clean (info findings only), 1 problems found, 2 usage error.
"""

from __future__ import annotations

import argparse
import json

from squasher.cli.common import (
    add_common_arguments,
    color_enabled,
    config_of,
    console,
    load_project,
    print_json,
)
from squasher.records import CODES, Severity


def register(subparsers: argparse._SubParsersAction) -> None:
    codes = "\n".join(f"  {code} {slug}: {meaning}" for code, (slug, meaning) in CODES.items())
    parser = subparsers.add_parser(
        "check", help="report conflicts, dangling dependencies, cycles and unreadable migrations",
        description="Read every migration statically (no Django import) and report problems.\n\n"
                    "Codes:\n" + codes + "\n\n"
                    "Configuration: [tool.squasher] in ROOT/pyproject.toml (disable, ignore-apps, "
                    "severity, settings); a '# squasher: ignore[SQ004]' comment on the line a "
                    "problem points at hides it ('# squasher: ignore': every code).\n\n"
                    "Exit status: 0 clean (info only), 1 errors or warnings, 2 usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("apps", nargs="*", metavar="APP", help="only these apps (default: all)")
    parser.add_argument(
        "--format", choices=("text", "json", "sarif", "github"), default="text",
        help="text (default); json; sarif: a SARIF 2.1.0 log for GitHub code scanning "
             "(github/codeql-action/upload-sarif); github: workflow commands that annotate "
             "the pull request's files in GitHub Actions")
    parser.add_argument(
        "--against", metavar="REV", default=None,
        help="also predict what merging REV (e.g. origin/main) into this branch would break: "
             "conflicting leaves, dependencies on migrations REV deleted or squashed, the same "
             "file changed on both sides (SQ2nn codes, on this branch's files). REV is read "
             "from git objects; nothing is checked out. Default: `against` of [tool.squasher]; "
             "--against '' turns that off")
    add_common_arguments(parser, settings=True, cache=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from squasher.graph.check import apply_config, check_project, exit_code
    from squasher.graph.render import problems_json, render_problem

    config = config_of(args)
    project = load_project(args)
    found = check_project(project, args.apps or None)
    if args.against is None:
        args.against = config.against
    if args.against:
        from squasher.graph.against import preview_merge

        wanted = set(args.apps or ())
        # the whole project's problems are the baseline; `found` is them unless APPs narrow it
        now = None if args.apps else list(found)
        preview = preview_merge(project, args.against, problems_now=now)
        # what the merge itself fixes (this branch already follows REV's leaf) is no error
        found = preview.downgrade_resolved(found)
        found += [p for p in preview.problems
                  if not wanted or (p.key is not None and p.key[0] in wanted)]
    # [tool.squasher] and `# squasher: ignore` comments, as the language server applies them
    problems = apply_config(found, config, project=project)
    suppressed = len(found) - len(problems)
    apps = args.apps or project.graph.apps()
    # `check APP…` counts only the apps asked for
    wanted = set(apps)
    migrations = sum(1 for app, _name in project.graph.records if app in wanted)
    if args.format == "sarif":
        from squasher import __version__
        from squasher.graph.render import problems_sarif

        print(json.dumps(problems_sarif(problems, project.root, CODES, __version__), indent=2))
    elif args.format == "github":
        from squasher.graph.render import problems_github

        for line in problems_github(problems, project.root):
            print(line)
        print(f"squasher check: {migrations} migrations in {len(apps)} app(s), "
              f"{len(problems)} finding(s)")
    elif args.format == "json":
        print_json(args, {
            "problems": problems_json(problems, project.root),
            "apps": apps,
            "migrations": migrations,
            "suppressed": suppressed,
        }, ok=exit_code(problems) == 0)
    else:
        if color_enabled():  # rich only when it colours: plain check starts faster
            _print_coloured([render_problem(p, project.root) for p in problems])
        else:
            for problem in problems:
                print(render_problem(problem, project.root))
        counts = {sev: sum(1 for p in problems if p.severity is sev) for sev in Severity}
        summary = f"{migrations} migrations in {len(apps)} app{'s' if len(apps) != 1 else ''}: "
        if problems:
            summary += ", ".join(f"{n} {sev.value}{'s' if n != 1 and sev is not Severity.INFO else ''}"
                                 for sev, n in counts.items() if n)
        else:
            summary += "no problems"
        if suppressed:
            summary += f" ({suppressed} suppressed by [tool.squasher] or # squasher: ignore)"
        print(summary)
    return exit_code(problems)


#: how each severity word of a finding line is coloured (as Django's system checks do)
_SEVERITY_STYLES = {" error: ": "bold red", " warning: ": "yellow", " info: ": "cyan",
                    " hint: ": "dim"}


def _print_coloured(lines: list[str]) -> None:
    from rich.text import Text

    out = console()
    for line in lines:
        text = Text(line)
        for word, style in _SEVERITY_STYLES.items():
            text.highlight_words([word], style=style)
        out.print(text)

