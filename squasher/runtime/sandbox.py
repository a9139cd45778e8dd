"""Where verification works: copies of the project, temporary folders, throwaway databases.

Copies (:func:`copy_project`): the project's source files only (no VCS, virtualenvs,
node_modules, databases, caches), in a temporary folder marked as this process's
(:func:`claim_temp_dir`), so a later run removes what a killed one left behind
(:func:`remove_stale_temp_dirs`).

Throwaway databases, on the backend chosen like Django's test runner: Django's test runner
creates its test databases on the server the project's ``DATABASES`` alias names.
Verification does the same:

* ``--verify-on sqlite``: temporary SQLite files (no server, no settings read);
* ``--verify-on postgresql``: throwaway databases ``squasher_verify_<random>`` on a PostgreSQL
  server: the one ``SQUASHER_POSTGRES_DSN`` names when it is set (an override for machines
  whose project settings point elsewhere), else the project's own ``DATABASES[alias]`` when
  it is a PostgreSQL (or PostGIS) database;
* no ``--verify-on`` (auto): the engine of the project's ``DATABASES[alias]``: PostgreSQL
  when the project uses it, SQLite otherwise (MySQL, Oracle, ... are not verified on their
  own engine yet: SQLite is used and the report says so).

``--database ALIAS`` is Django's flag: the alias whose engine and server are meant, ``default``
unless given. The project's settings are read in a :mod:`squasher.runtime.worker` process (the
only place that imports the project), so this module never imports Django itself.
:class:`DatabasePool` makes the databases of one run and drops them after.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squasher.errors import DatabaseUnavailableError, SettingsError, UsageError
from squasher.runtime.worker import WorkerClient

# --------------------------------------------------------------------------- copies

#: folders never copied: VCS, caches, virtualenvs, build output, user uploads
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".squasher-cache", ".squasher-journal",
    ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv", "venv", ".idea", ".vscode",
    "htmlcov", "build", "dist", "media", "staticfiles",
})
#: files never copied: bytecode, databases, logs
SKIP_SUFFIXES = (".pyc", ".pyo", ".sqlite3", ".sqlite", ".db", ".sqlite3-journal", ".log")
#: marker written into every temporary folder of a run: the pid that owns it
OWNER_FILE = "squasher-owner.pid"


def skipped_names(directory: str, names: list[str]) -> set[str]:
    """The entries of ``directory`` a copy leaves out (a ``shutil.copytree`` ``ignore``)."""
    skipped = set()
    for name in names:
        full = os.path.join(directory, name)
        if os.path.isdir(full):
            if name in SKIP_DIRS or os.path.exists(os.path.join(full, "pyvenv.cfg")):
                skipped.add(name)
        elif name.endswith(SKIP_SUFFIXES) or ".sqlite3-" in name:
            skipped.add(name)
    return skipped


def copy_project(root: Path, dest: Path) -> Path:
    """Copy the project's source files (no VCS, virtualenvs, node_modules, databases, caches).

    Symlinks are copied as what they point to: a symlinked ``migrations`` folder must become
    a folder of the copy, or hiding replaced files in the copy would delete the user's own."""
    shutil.copytree(root, dest, ignore=skipped_names, symlinks=False, ignore_dangling_symlinks=True)
    return dest


def source_files(base: Path) -> dict[str, bytes]:
    """The files below ``base`` that :func:`copy_project` copies, by relative POSIX path."""
    out: dict[str, bytes] = {}
    for directory, dirs, names in os.walk(base):
        skipped = skipped_names(directory, dirs + names)
        dirs[:] = sorted(d for d in dirs if d not in skipped)
        for name in sorted(names):
            if name in skipped:
                continue
            path = Path(directory) / name
            out[path.relative_to(base).as_posix()] = path.read_bytes()
    return out


def claim_temp_dir(path: Path) -> None:
    """Mark ``path`` as this process's, so :func:`remove_stale_temp_dirs` can tell whether a
    killed run left it behind."""
    (path / OWNER_FILE).write_text(str(os.getpid()))


def remove_stale_temp_dirs() -> list[Path]:
    """Remove ``squasher-verify-*`` / ``squasher-compact-*`` folders in the temp directory
    whose owning process is gone (a run killed by SIGKILL/SIGTERM cannot clean up itself)."""
    removed: list[Path] = []
    base = Path(tempfile.gettempdir())
    for pattern in ("squasher-verify-*", "squasher-compact-*"):
        for path in base.glob(pattern):
            try:
                pid = int((path / OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue  # not marked (older squasher, or being created): leave it
            try:
                os.kill(pid, 0)
                continue  # still running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue  # someone else's
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# --------------------------------------------------------------------------- databases

DSN_ENV = "SQUASHER_POSTGRES_DSN"
SQLITE, POSTGRESQL = "sqlite", "postgresql"
#: what ``--verify-on`` accepts; ``postgres`` is the spelling older versions used
VERIFY_ON_CHOICES = (SQLITE, POSTGRESQL, "postgres")
_POSTGRES_ENGINES = ("postgresql", "postgis", "postgresql_psycopg2")
#: ``OPTIONS`` keys Django itself consumes; everything else goes to libpq as Django passes it
_DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "pool", "assume_role",
                        "cursor_factory", "context"}


@dataclass(frozen=True)
class Backend:
    """The engine throwaway databases are made on, and (PostgreSQL) the server and its source."""

    engine: str  # SQLITE or POSTGRESQL
    #: PostgreSQL: a Django ``DATABASES`` entry for the server; each throwaway database is a
    #: copy of it with its own ``NAME`` (the project's ENGINE and OPTIONS are kept: PostGIS)
    entry: dict[str, Any] = field(default_factory=dict)
    #: where the server came from: ``SQUASHER_POSTGRES_DSN`` or ``DATABASES['default']``
    source: str = "temporary files"
    #: why this engine was chosen when the user did not say (shown in reports)
    note: str | None = None

    @property
    def label(self) -> str:
        return self.engine if self.engine == SQLITE else f"{self.engine} ({self.source})"

    def connect_params(self) -> dict[str, Any]:
        """psycopg connection parameters for the server's maintenance database ``postgres``
        (where ``CREATE DATABASE`` runs, as Django's ``_nodb_cursor`` does)."""
        entry = self.entry
        params: dict[str, Any] = {
            k: v for k, v in (entry.get("OPTIONS") or {}).items() if k not in _DJANGO_ONLY_OPTIONS}
        params["dbname"] = "postgres"
        for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"),
                          ("PORT", "port")):
            if entry.get(key):
                params[name] = str(entry[key])
        params.setdefault("connect_timeout", 5)
        return params

    def throwaway_entry(self, name: str) -> dict[str, Any]:
        entry = {k: v for k, v in self.entry.items() if k != "TEST"}
        entry["NAME"] = name
        return entry


SQLITE_BACKEND = Backend(SQLITE)


def normalize_verify_on(value: str | None) -> str | None:
    """``--verify-on`` as given -> ``sqlite``/``postgresql``/None (auto); UsageError otherwise."""
    if value in (None, "", "auto"):
        return None
    if value in ("postgres", POSTGRESQL):
        return POSTGRESQL
    if value == SQLITE:
        return SQLITE
    raise UsageError(f"unknown verification backend {value!r}",
                     hint="--verify-on sqlite or --verify-on postgresql")


def split_legacy_database(database: str | None, verify_on: str | None
                          ) -> tuple[str, str | None, str | None]:
    """``--database sqlite|postgres`` used to name the verification backend; it now names a
    ``DATABASES`` alias, as in Django. Returns ``(alias, verify_on, warning)``: an old-style
    value still works, with a warning that says what to write instead."""
    if database in ("sqlite", "postgres") and verify_on is None:
        backend = normalize_verify_on(database)
        return "default", backend, (
            f"--database {database} now means the DATABASES alias {database!r} (as in Django); "
            f"read as --verify-on {backend}, the flag to use for the verification backend")
    return database or "default", verify_on, None


def is_postgres_entry(entry: dict[str, Any]) -> bool:
    engine = str(entry.get("ENGINE") or "").rsplit(".", 1)[-1]
    return engine in _POSTGRES_ENGINES


def dsn_entry(dsn: str) -> dict[str, Any]:
    """A Django ``DATABASES`` entry for the server a libpq DSN names."""
    params = _postgres_params(dsn)
    options = {k: v for k, v in params.items()
               if k not in {"dbname", "user", "password", "host", "port"}}
    return {"ENGINE": "django.db.backends.postgresql", "NAME": params.get("dbname", ""),
            "USER": params.get("user", ""), "PASSWORD": params.get("password", ""),
            "HOST": params.get("host", ""), "PORT": str(params.get("port", "")),
            "OPTIONS": options}


def _psycopg() -> Any:
    """The psycopg module, or the one-line error saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise DatabaseUnavailableError(
            "verifying on PostgreSQL needs psycopg", hint="pip install 'psycopg[binary]'") from None
    return psycopg


def _postgres_params(dsn: str) -> dict[str, Any]:
    conninfo = _psycopg().conninfo
    try:
        return dict(conninfo.conninfo_to_dict(dsn))
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"{DSN_ENV} is not a valid PostgreSQL DSN: {exc}",
            hint="e.g. postgresql://user:password@127.0.0.1:5432/postgres") from None


def as_backend(server: str | Backend) -> Backend:
    """A DSN (tests, scripts) or a resolved :class:`Backend` -> :class:`Backend`."""
    if isinstance(server, Backend):
        return server
    return Backend(POSTGRESQL, dsn_entry(server), source=DSN_ENV)


def connect(server: str | Backend) -> Any:
    """An autocommit connection to the server's maintenance database; clear errors."""
    backend = as_backend(server)
    psycopg = _psycopg()
    params = backend.connect_params()
    where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
    try:
        return psycopg.connect(**params, autocommit=True)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fix = (f"point {DSN_ENV} at one where this user may create databases"
               if backend.source == DSN_ENV else
               f"check {backend.source} in the settings, set {DSN_ENV} to another server, "
               "or verify with --verify-on sqlite")
        raise DatabaseUnavailableError(
            f"cannot connect to PostgreSQL at {where} ({backend.source}): {first}",
            hint=f"start the server or {fix}") from None


@contextmanager
def postgres_databases(server: str | Backend, count: int, template: str | None = None
                       ) -> Iterator[list[dict[str, Any]]]:
    """Create ``count`` throwaway databases (copies of the database ``template`` if given);
    yield Django DATABASES entries; drop them after, also on failure."""
    backend = as_backend(server)
    names: list[str] = []
    admin = connect(backend)
    try:
        try:
            for _ in range(count):
                name = f"squasher_verify_{secrets.token_hex(6)}"
                admin.execute(f'CREATE DATABASE "{name}"'
                              + (f' TEMPLATE "{template}"' if template else ""))
                names.append(name)
        except Exception as exc:
            raise DatabaseUnavailableError(
                f"cannot create a database on the PostgreSQL server: {str(exc).strip()}",
                hint=f"the user of {backend.source} needs the CREATEDB privilege "
                     "(as Django's test runner does)") from None
        yield [backend.throwaway_entry(name) for name in names]
    finally:
        for name in names:
            with suppress(Exception):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class DatabasePool:
    """Throwaway databases of one run, optionally copies of a migrated ``template``.

    SQLite: files in the temporary directory ``tmp`` (a template is copied file by file).
    PostgreSQL: databases created on the server (``CREATE DATABASE ... TEMPLATE``), all
    dropped on exit, also on failure.
    """

    def __init__(self, backend: Backend, tmp: Path) -> None:
        self.backend, self.tmp = backend, tmp
        self.stack = ExitStack()
        self.template: dict[str, Any] | None = None
        self._count = 0

    def __enter__(self) -> DatabasePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def make(self, labels: list[str], *, from_template: bool = True) -> list[dict[str, Any]]:
        """One Django ``DATABASES`` entry per label (copies of ``template`` if set and
        ``from_template``)."""
        template = self.template if from_template else None
        if self.backend.engine == POSTGRESQL:
            return self.stack.enter_context(postgres_databases(
                self.backend, len(labels), template=template["NAME"] if template else None))
        dbs = []
        for label in labels:
            self._count += 1
            path = self.tmp / f"{label}-{self._count}.sqlite3"
            if template:
                shutil.copyfile(template["NAME"], path)
            dbs.append({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})
        return dbs


def read_project_databases(root: Path, settings_module: str) -> dict[str, dict[str, Any]]:
    """The project's ``DATABASES`` (JSON-safe values only), read in a worker process."""
    worker = WorkerClient(settings_module, timeout=120, error=SettingsError,
                          name="the worker reading the project's DATABASES", hash_seed=None)
    result = worker.run(Path(root), None, [{"op": "databases"}])
    if not result["ok"]:
        error = result["error"]
        raise SettingsError(error["message"], hint=error.get("hint"), path=error.get("path"),
                            line=error.get("line"))
    databases: dict[str, dict[str, Any]] = result["results"][0]
    return databases


def choose_backend(verify_on: str | None, alias: str,
                   databases: dict[str, dict[str, Any]] | None) -> Backend:
    """The backend for ``--verify-on`` and ``--database ALIAS`` given the project's DATABASES
    (None when they were not needed: ``--verify-on sqlite``, or postgresql with the DSN set)."""
    dsn = os.environ.get(DSN_ENV)
    if verify_on == SQLITE:
        return SQLITE_BACKEND
    if verify_on == POSTGRESQL and dsn:
        return as_backend(dsn)
    assert databases is not None
    if alias not in databases:
        raise UsageError(f"the project has no database {alias!r} in DATABASES",
                         hint="databases: " + (", ".join(sorted(databases)) or "none"))
    entry = databases[alias]
    where = f"DATABASES[{alias!r}]"
    if is_postgres_entry(entry):
        if dsn:  # the override: same engine, the server the variable names
            return Backend(POSTGRESQL, {**entry, **_server_keys(dsn_entry(dsn))}, source=DSN_ENV)
        return Backend(POSTGRESQL, entry, source=where)
    engine = str(entry.get("ENGINE") or "?")
    if verify_on == POSTGRESQL:
        raise DatabaseUnavailableError(
            f"verifying on PostgreSQL needs a server: {where} is {engine} and {DSN_ENV} is not set",
            hint=f"export {DSN_ENV}=postgresql://user:password@host:5432/postgres, "
                 "or verify with --verify-on sqlite")
    note = None if engine.endswith("sqlite3") else (
        f"{where} is {engine}; verified on SQLite (pass --verify-on postgresql to use PostgreSQL)")
    return Backend(SQLITE, note=note)


def _server_keys(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")}


def resolve_backend(root: Path, settings_module: str | None, *, verify_on: str | None = None,
                    database: str = "default") -> Backend:
    """Choose the backend (reading the project's settings only when the choice needs them)
    and, for PostgreSQL, check now that the server answers: before anything is written."""
    verify_on = normalize_verify_on(verify_on)
    needs_settings = not (verify_on == SQLITE or (verify_on == POSTGRESQL and os.environ.get(DSN_ENV)))
    databases = None
    if needs_settings:
        from squasher.runtime.django_setup import resolve_settings_module

        settings = resolve_settings_module(Path(root), settings_module)
        databases = read_project_databases(Path(root), settings)
    backend = choose_backend(verify_on, database, databases)
    if backend.engine == POSTGRESQL:
        connect(backend).close()
    return backend
