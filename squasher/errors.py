"""Exception hierarchy shared by the CLI, the library and the language server.

Every error that comes from user input carries the file and line it is about and
a hint saying what to do. The CLI prints ``str(error)`` as one line and exits with
``error.exit_code``; the language server turns the same objects into diagnostics.
"""

from __future__ import annotations

from pathlib import Path


class SquasherError(Exception):
    """Base class for every error squasher reports to a user."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.hint = hint

    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def to_json(self) -> dict[str, object]:
        """The error as ``--format json`` prints it on stdout (CI reads one stream)."""
        return {"type": type(self).__name__, "message": self.message,
                "path": str(self.path) if self.path is not None else None, "line": self.line,
                "hint": self.hint, "exit_code": self.exit_code}

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class UsageError(SquasherError):
    """The command line asks for something that does not exist or makes no sense."""


class UnknownAppError(UsageError):
    """An app label that no discovered migration package has."""


class UnknownMigrationError(UsageError):
    """A migration name or prefix that matches no migration (or several)."""


class MigrationParseError(SquasherError):
    """A migration file cannot be read statically (syntax error, no Migration class...)."""


class GraphError(SquasherError):
    """The migration graph is inconsistent (cycle, dangling dependency, cut branch)."""

    exit_code = 1


class CircularDependencyError(GraphError):
    """A cycle exists, or would exist after the requested change."""

    def __init__(self, message: str, *, cycle: list[tuple[str, str]] | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.cycle = cycle or []


class SettingsError(SquasherError):
    """Django settings could not be found or imported."""


class CarryError(SquasherError):
    """Code of a RunPython/custom operation cannot be carried into a new migration."""


class DynamicOperationsError(SquasherError):
    """A migration computes its operations at import time; squashing would freeze one branch."""


class VerificationError(SquasherError):
    """Original and squashed histories do not produce the same database/state."""

    exit_code = 1


class DatabaseUnavailableError(SquasherError):
    """A database needed for verification or an applied-migration check cannot be reached."""

    def __init__(self, message: str, *, detail: str | None = None, **kw) -> None:
        super().__init__(message, **kw)
        #: the driver's own first line of error, for callers that only note the problem
        self.detail = detail


class FileConflictError(SquasherError):
    """A file squasher would write already exists, or changed under our feet."""
