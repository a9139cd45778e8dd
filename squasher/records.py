"""The static representation of a migration file.

One :class:`MigrationRecord` per file, produced by :mod:`squasher.graph.parse` without
importing Django or the project. It is all the static side (graph, check, suggest,
merge, language server) ever needs. Records are immutable; editing a file produces a
new record that replaces the old one in :class:`squasher.graph.project.Project`.

Line and column numbers are 1-based lines and 0-based columns (Python ``ast``
convention); the language server converts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

#: A node of the migration graph: ``(app_label, migration_name)``.
MigrationKey = tuple[str, str]


def migration_number(name: str) -> str:
    """The leading digits of a migration name (``"0015"`` of ``0015_add_sku``), ``""`` when it
    has none: the number Django's makemigrations gives, which squashes and merges continue."""
    match = _LEADING_DIGITS.match(name)
    return match.group(0) if match else ""


_LEADING_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Span:
    """A source range: 1-based lines, 0-based columns, end exclusive like ``ast``."""

    line: int
    col: int = 0
    end_line: int | None = None
    end_col: int | None = None


@dataclass(frozen=True)
class Reference:
    """An entry of ``dependencies``, ``replaces`` or ``run_before``.

    ``name`` may be ``"__first__"`` / ``"__latest__"``. For
    ``swappable_dependency(settings.X)`` entries ``swappable_setting`` is ``"X"``;
    ``app_label`` is then the resolved app label (from the settings module, read
    statically) or ``None`` when it could not be resolved, and ``name`` is
    ``"__first__"`` as Django does.
    """

    app_label: str | None
    name: str
    span: Span
    swappable_setting: str | None = None

    @property
    def key(self) -> MigrationKey | None:
        if self.app_label is None:
            return None
        return (self.app_label, self.name)


@dataclass(frozen=True)
class OperationSummary:
    """What the static side knows about one operation of ``operations``.

    ``kind`` is the class name as written (``"AddField"``, ``"RunPython"``,
    ``"MyCustomOp"``); ``model`` is the lower-cased model name it acts on (``None``
    for RunSQL/RunPython or when unknown); ``field`` the field name when there is
    one; ``new_name`` for renames (model or field). ``references`` lists
    ``"app_label.model"`` strings (lower case) for related models it points at
    (ForeignKey/M2M ``to=``, bases), when literal.
    """

    kind: str
    span: Span
    model: str | None = None
    field: str | None = None
    new_name: str | None = None
    references: tuple[str, ...] = ()
    elidable: bool = False

    def describe(self, app_label: str) -> str:
        """One line, e.g. ``AddField shop.order.status``."""
        target = ""
        if self.model:
            target = f" {app_label}.{self.model}"
            if self.field:
                target += f".{self.field}"
        if self.new_name:
            target += f" -> {self.new_name}"
        return f"{self.kind}{target}"


#: the version of every ``--format json`` document's shape (the CLI's envelope ``version``,
#: ``command``, ``ok`` and the commands' own keys); bumped when a key changes meaning or goes
#: away, not when one is added
JSON_VERSION = 1


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


@dataclass(frozen=True)
class Problem:
    """A finding of ``squasher check`` (and a diagnostic in the language server).

    ``code`` is stable and documented (see ``squasher.graph.check.CODES``). ``related`` are
    other places that belong to the same finding (the other leaves of a conflict...).
    """

    code: str
    message: str
    path: Path | None
    span: Span | None
    severity: Severity = Severity.ERROR
    key: MigrationKey | None = None
    related: tuple[tuple[Path, Span, str], ...] = ()
    hint: str | None = None

    def location(self) -> str:
        if self.path is None:
            return "<project>"
        line = self.span.line if self.span else 1
        return f"{self.path}:{line}"


@dataclass(frozen=True)
class MigrationRecord:
    """Everything read statically from one migration file.

    ``parse_problems`` holds problems found while reading this file (syntax error,
    no ``Migration`` class, non-literal dependencies, non-UTF-8...). A record with an
    ``unparsable`` problem still exists so the file shows in the graph as broken.
    ``dynamic_operations`` holds spans where ``operations`` is computed at import
    time (conditionals, loops, calls), with a reason, for the squash command's refusal.
    """

    app_label: str
    name: str
    path: Path
    class_span: Span | None
    dependencies: tuple[Reference, ...] = ()
    replaces: tuple[Reference, ...] = ()
    run_before: tuple[Reference, ...] = ()
    initial: bool | None = None
    atomic: bool = True
    operations: tuple[OperationSummary, ...] = ()
    dependencies_span: Span | None = None
    replaces_span: Span | None = None
    run_before_span: Span | None = None
    operations_span: Span | None = None
    dynamic_operations: tuple[tuple[Span, str], ...] = ()
    parse_problems: tuple[Problem, ...] = ()
    mtime_ns: int = 0
    size: int = 0

    @property
    def key(self) -> MigrationKey:
        return (self.app_label, self.name)

    @property
    def is_squash(self) -> bool:
        return bool(self.replaces)

    @property
    def number(self) -> str:
        """Leading digits of the name (``"0015"``), or ``""``."""
        return migration_number(self.name)


@dataclass(frozen=True)
class MigrationPackage:
    """A discovered ``migrations`` package of one app."""

    app_label: str
    path: Path  # the migrations directory
    app_path: Path  # the app package directory
    label_span: tuple[Path, Span] | None = None  # where AppConfig.label was read, if any


@dataclass
class ProjectSettings:
    """Settings values read statically (or from Django when a settings module is given)."""

    module: str | None = None
    path: Path | None = None
    swappable: dict[str, str] = field(default_factory=dict)  # "AUTH_USER_MODEL" -> "accounts.User"
    installed_apps: tuple[str, ...] | None = None  # literal INSTALLED_APPS, when readable
    migration_modules: dict[str, str | None] = field(default_factory=dict)  # literal MIGRATION_MODULES
    #: false when MIGRATION_MODULES is computed: app labels may then differ from folder names
    migration_modules_known: bool = True


#: Problem code -> (slug, meaning) (``squasher check``; here so ``--help`` lists them
#: without importing the graph). Codes are stable: tools and editors key on them.
CODES: dict[str, tuple[str, str]] = {
    "SQ001": ("conflicting-leaves", "an app has more than one leaf migration"),
    "SQ002": ("dangling-dependency", "dependency on a migration that is neither on disk nor external"),
    "SQ003": ("cycle", "circular dependency"),
    "SQ004": ("replaced-reference", "a migration depends on / runs before a migration that a squash replaces"),
    "SQ005": ("half-finalized-squash", "some of a squash's replaced files are gone, `replaces` still there"),
    "SQ006": ("unparsable", "file cannot be read statically (syntax error, no Migration class, "
                            "non-UTF-8, non-literal dependencies)"),
    "SQ007": ("unknown-app", "dependency on an app label that is neither in the project nor a known external app"),
    "SQ100": ("squash-suggestion", "a range that can be squashed (language server / suggest only)"),
    # check --against REV: what SQ0nn would report once REV is merged, on this branch's file
    "SQ201": ("conflict-after-merge", "merging the base revision leaves an app with two leaves"),
    "SQ202": ("dangling-after-merge", "after the merge a dependency points at a migration the base "
                                      "revision deleted"),
    "SQ203": ("cycle-after-merge", "the merge closes a circular dependency"),
    "SQ204": ("replaced-after-merge", "after the merge a migration depends on one a squash on the "
                                      "base revision replaces"),
    "SQ205": ("half-finalized-after-merge", "after the merge a squash's replaced files are "
                                            "partly gone"),
    "SQ206": ("unparsable-after-merge", "a migration file of the merge cannot be read"),
    "SQ207": ("unknown-app-after-merge", "after the merge a dependency names an unknown app"),
    "SQ208": ("same-file-both-sides", "a migration file added or changed differently on this "
                                      "branch and on the base revision"),
}
