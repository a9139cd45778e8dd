"""Django set up in this process, the way ``manage.py`` imports the project.

Which settings module (:func:`resolve_settings_module`), the project made importable
(:func:`prepare_import`), ``django.setup()`` once per process (:func:`setup_django`), the
applied migrations of a database and a ``networkx`` copy of a loader's graph. Used by
commands that need Django anyway and by :mod:`squasher.runtime.worker` processes (whose
``graph`` job gives Django's graph of a project without setting Django up in the caller).
Importing the user's settings runs their code, so this module is only used when a settings
module is given explicitly.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import networkx as nx

from squasher.errors import DatabaseUnavailableError, SettingsError, UsageError

_configured: tuple[str, str] | None = None


def resolve_settings_module(root: str | Path, settings_module: str | None = None) -> str:
    """``--settings``, else ``DJANGO_SETTINGS_MODULE``, else ``settings`` of ``[tool.squasher]``
    in ``root/pyproject.toml``, else what ``manage.py`` sets (:func:`squasher.graph.discover.find_settings_module`).

    Raises ``SettingsError`` saying how to name one when none can be found.
    """
    from squasher.graph.discover import find_settings_module

    module = find_settings_module(Path(root), settings_module)
    if module:
        return module
    manage = Path(root) / "manage.py"
    raise SettingsError(
        "cannot tell which Django settings module to use",
        path=manage if manage.exists() else root,
        hint="pass --settings MODULE, set DJANGO_SETTINGS_MODULE or settings in [tool.squasher]",
    )


def find_manage_py(root: str | Path) -> Path | None:
    """``root/manage.py``, else the only ``root/*/manage.py`` (a project one folder down)."""
    root = Path(root)
    if (root / "manage.py").is_file():
        return root / "manage.py"
    candidates = sorted(root.glob("*/manage.py"))
    return candidates[0] if len(candidates) == 1 else None


def prepare_import(root: str | Path, settings_module: str | None = None,
                   pythonpath: tuple[str, ...] | list[str] = ()) -> str:
    """Make the project importable the way ``manage.py`` does, without running a command.

    ``root`` and manage.py's folder go first on ``sys.path`` (Python puts a script's folder
    there), ``pythonpath`` entries before them (django-admin's ``--pythonpath``); then
    ``manage.py`` itself runs with ``execute_from_command_line`` stubbed out, so whatever it
    does before starting Django happens here too: ``sys.path`` edits for a ``src/`` layout,
    ``.env`` loading, ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)``. An explicit
    ``settings_module`` wins over manage.py's default, as ``--settings`` does for manage.py; so
    does ``settings`` of ``[tool.squasher]`` when neither it nor ``DJANGO_SETTINGS_MODULE`` is given.
    Returns the settings module to use; raises ``SettingsError`` naming manage.py's line when
    it fails, or when no settings module can be found.
    """
    root = Path(root).resolve()
    for entry in (*reversed([str(Path(p).resolve()) for p in pythonpath]), str(root)):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    if not settings_module and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        from squasher.config import configured_settings_module

        settings_module = configured_settings_module(root)
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    manage = find_manage_py(root)
    if manage is not None:
        _run_manage_py(manage.resolve(), root)
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or resolve_settings_module(root, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    return module


def _run_manage_py(manage: Path, root: Path) -> None:
    import runpy

    try:
        import django.core.management as management
    except ImportError as error:
        raise SettingsError(f"Django is not importable by {sys.executable}: {error}",
                            hint="install squasher into the project's virtualenv") from None
    folder = str(manage.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    real = management.execute_from_command_line
    argv = sys.argv
    management.execute_from_command_line = lambda argv=None: None
    sys.argv = [str(manage), "squasher"]
    try:
        runpy.run_path(str(manage), run_name="__main__")
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise SettingsError(f"{manage.name} exited with {exit_.code!r} before starting Django",
                                path=manage) from None
    except Exception as error:  # noqa: BLE001 - manage.py may raise anything
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if f.filename == str(manage)]
        raise SettingsError(
            f"running {manage.name} failed: {type(error).__name__}: {error}",
            path=manage, line=frames[-1].lineno if frames else None,
            hint="squasher imports the project the way manage.py does") from error
    finally:
        management.execute_from_command_line = real
        sys.argv = argv


def setup_django(settings_module: str | None, root: str | Path,
                 pythonpath: tuple[str, ...] | list[str] = ()) -> str:
    """Import the project as ``manage.py`` would (:func:`prepare_import`) and run ``django.setup()``.

    Returns the settings module used. Raises ``SettingsError`` (with the first lines of the
    underlying error) when the settings cannot be imported or the apps cannot be loaded.
    Calling it again with the same arguments is a no-op; Django cannot be set up twice in one
    process with other settings, so that raises ``SettingsError`` too.
    """
    global _configured
    root = str(Path(root).resolve())
    if _configured is not None and _configured[1] == root and \
            settings_module in (None, _configured[0]):
        return _configured[0]
    if _configured is not None:
        raise SettingsError(
            f"Django is already set up with {_configured[0]} from {_configured[1]} in this process",
            hint="run each project in its own process (python -m squasher.runtime.worker)")
    settings_module = prepare_import(root, settings_module, pythonpath)
    try:
        import django
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - forces the settings import, so its errors surface here
        django.setup()
    except Exception as error:  # noqa: BLE001 - the user's settings may raise anything
        lines = traceback.format_exception_only(type(error), error)
        detail = "".join(lines).strip().splitlines()
        tb = traceback.extract_tb(error.__traceback__)
        user_frames = [f for f in tb if f.filename.startswith(root)]
        frame = user_frames[-1] if user_frames else None
        raise SettingsError(
            f"cannot load Django settings {settings_module!r}: " + " | ".join(detail[:3]),
            path=frame.filename if frame else None, line=frame.lineno if frame else None,
            hint="check --settings / DJANGO_SETTINGS_MODULE and that the project imports cleanly",
        ) from error
    _configured = (settings_module, root)
    return settings_module


def applied_migrations(settings_module: str, root: str | Path, alias: str = "default") -> set[tuple[str, str]]:
    """Migrations recorded as applied in database ``alias`` (empty when it has no table yet).

    Raises ``UsageError`` for an unknown alias and ``DatabaseUnavailableError`` when the
    database cannot be read.
    """
    setup_django(settings_module, root)
    from django.db import DatabaseError, connections
    from django.db.migrations.recorder import MigrationRecorder
    from django.utils.connection import ConnectionDoesNotExist

    try:
        connection = connections[alias]
    except ConnectionDoesNotExist:
        raise UsageError(f"no database alias {alias!r} in settings",
                         hint=f"known aliases: {', '.join(connections.settings)}") from None
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and name and ":memory:" not in name and \
            not name.startswith("file:") and not Path(name).exists():
        # connecting would create the file: never create a database while checking one
        raise DatabaseUnavailableError(
            f"cannot read applied migrations from database {alias!r}: no database file at "
            f"{name}", detail=f"no database file at {name}",
            hint="run `python manage.py migrate` first, or check the database settings")
    try:
        recorder = MigrationRecorder(connection)
        if not recorder.has_table():
            return set()
        return set(recorder.applied_migrations())
    except DatabaseError as error:
        detail = (str(error).splitlines() or [type(error).__name__])[0]
        raise DatabaseUnavailableError(
            f"cannot read applied migrations from database {alias!r}: {detail}", detail=detail,
            hint="check the database settings and that the server is running") from None
    finally:
        connection.close()


def loader_graph(loader) -> nx.DiGraph:
    """A ``networkx`` copy of ``loader.graph`` (parent → child), each node's migration file as
    ``path``."""
    g = nx.DiGraph()
    for key, migration in loader.graph.nodes.items():
        module = sys.modules.get(type(migration).__module__) if migration is not None else None
        g.add_node(key, path=getattr(module, "__file__", None))
    for key, node in loader.graph.node_map.items():
        for parent in node.parents:
            g.add_edge(parent.key, key)
    return g
