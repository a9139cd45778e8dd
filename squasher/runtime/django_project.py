"""The project as Django sees it: a :class:`squasher.graph.project.Project` built from the app
registry and ``MigrationLoader`` of the imported project (runtime layer: imports Django).

Commands that import the project anyway (squash, verify, finalize, compact, merge/rebase and
check/graph/suggest with ``--settings``) use this instead of the static reader, so that
what Django knows wins over what can be read from files:

* app labels come from the app registry (``AppConfig.label``), not folder names;
* each app's migrations package is ``MigrationLoader.migrations_module(label)``, so
  ``MIGRATION_MODULES`` works in any form (computed, from the environment, relocating a
  third-party app's migrations into the project) and symlinked folders load as in Django;
* swappable settings are every ``*_MODEL`` setting and ``Meta.swappable`` name, as evaluated;
* ``dependencies``/``replaces``/``run_before`` are the values Django evaluated (a
  ``swappable_dependency(oauth2_settings.APPLICATION_MODEL)`` or a computed list is no
  problem here); the static parse still gives the spans (file:line) and operation summaries.

Apps whose migrations live outside the project root (``django.contrib``, packages in
site-packages) stay external nodes, as in the static graph: they are not the user's to change.
"""

from __future__ import annotations

import sys
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import MigrationParseError, SettingsError
from squasher.graph.graph import build_graph, no_gc
from squasher.graph.parse import parse_migration
from squasher.graph.project import Project
from squasher.records import (
    MigrationPackage,
    MigrationRecord,
    ProjectSettings,
    Reference,
    Span,
)
from squasher.runtime.django_setup import setup_django

if TYPE_CHECKING:
    from django.db.migrations.loader import MigrationLoader


def load_django_project(root: str | Path, settings_module: str | None = None,
                        pythonpath: tuple[str, ...] | list[str] = ()) -> tuple[Project, MigrationLoader]:
    """Set Django up for ``root`` (as manage.py would) and return ``(project, loader)``: the
    project's graph built from Django's view, and the ``MigrationLoader`` (no database)
    whose ``disk_migrations`` hold the loaded ``Migration`` objects."""
    root = Path(root).resolve()
    module = setup_django(settings_module, root, pythonpath)
    loader = migration_loader(root)
    with no_gc():
        return _project_from_django(root, module, loader), loader


def migration_loader(root: Path) -> MigrationLoader:
    """``MigrationLoader(None, ignore_no_migrations=True)``; import errors of migration files
    become one-line errors naming the file and line."""
    import traceback

    from django.db.migrations.loader import MigrationLoader

    try:
        return MigrationLoader(None, ignore_no_migrations=True)
    except SyntaxError as exc:
        raise MigrationParseError(
            f"a migration cannot be imported: {exc.msg}", path=exc.filename, line=exc.lineno,
            hint="fix the syntax error first",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - Django/the project may raise anything here
        base = str(root)
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename.startswith(base)]
        frame = frames[-1] if frames else None
        raise SettingsError(
            f"Django's migration loader failed: {type(exc).__name__}: "
            + " | ".join(str(exc).splitlines()[:3]),
            path=frame.filename if frame else None, line=frame.lineno if frame else None,
            hint="run `squasher check` to see the problem statically",
        ) from exc


def django_settings(module: str) -> ProjectSettings:
    """The settings values squasher uses, as Django evaluated them."""
    from django.apps import apps
    from django.conf import settings

    swappable: dict[str, str] = {}
    names = {name for name in dir(settings) if name.isupper() and name.endswith("_MODEL")}
    names |= {m._meta.swappable for m in apps.get_models(include_swapped=True) if m._meta.swappable}
    for name in sorted(names):
        value = getattr(settings, name, None)
        if isinstance(value, str) and value.count(".") == 1:
            swappable[name] = value
    settings_file = getattr(sys.modules.get(module), "__file__", None)
    return ProjectSettings(
        module=module, path=Path(settings_file) if settings_file else None, swappable=swappable,
        installed_apps=tuple(str(a) for a in settings.INSTALLED_APPS),
        migration_modules={str(k): (None if v is None else str(v))
                           for k, v in dict(getattr(settings, "MIGRATION_MODULES", {})).items()},
    )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _project_from_django(root: Path, module: str, loader: MigrationLoader) -> Project:
    from django.apps import apps

    settings = django_settings(module)
    packages: dict[str, MigrationPackage] = {}
    for config in apps.get_app_configs():
        if config.label not in loader.migrated_apps:
            continue
        module_name, _explicit = loader.migrations_module(config.label)
        package = sys.modules.get(module_name) if module_name else None
        locations = list(getattr(package, "__path__", []) or [])
        if not locations:
            continue
        directory = Path(locations[0])
        if not _inside(directory, root):
            continue  # django.contrib, site-packages: external nodes, not the user's files
        packages[config.label] = MigrationPackage(
            app_label=config.label, path=directory, app_path=Path(config.path))

    records: dict[Path, MigrationRecord] = {}
    setting_names = swappable_names(settings)
    for key, migration in sorted(loader.disk_migrations.items()):
        if key[0] not in packages:
            continue
        source = getattr(sys.modules.get(type(migration).__module__), "__file__", None)
        if not source or not source.endswith(".py"):
            continue
        path = packages[key[0]].path / Path(source).name
        record = parse_migration(path, key[0], settings=settings)
        records[path] = with_django_references(record, migration, setting_names)
    unmigrated = set(loader.unmigrated_apps) - set(packages)
    graph = build_graph(records.values(), settings, apps=packages, unmigrated_apps=unmigrated)
    return Project(root=root, settings=settings, packages=packages, records_by_path=records,
                   graph=graph, unmigrated_apps=unmigrated)


def _references(values: Any, static: tuple[Reference, ...], fallback: Span | None,
                setting_names: dict[str, str] | None = None) -> tuple[Reference, ...]:
    """Django's evaluated entries, each with the span of the static entry it matches (by
    position when the static list was readable), else the span of the whole list.

    ``setting_names`` maps a swappable value (``"accounts.User"``) to its setting name, for
    ``dependencies``: Django's ``swappable_dependency()`` keeps only the value."""
    out: list[Reference] = []
    static_list = list(static)
    for index, value in enumerate(values or ()):
        app, name = str(value[0]), str(value[1])
        swapped = getattr(value, "setting", None) if setting_names is not None else None
        match = next((c for c in static_list if c.key == (app, name)), None)
        if match is None and index < len(static_list):
            match = static_list[index]
        setting = None
        if swapped is not None:
            # the name written in the file when it is one for this value, else any such name
            static_name = match.swappable_setting if match is not None else None
            setting = static_name if static_name and setting_names.get(  # type: ignore[union-attr]
                f"{static_name}={swapped}") else setting_names.get(str(swapped))  # type: ignore[union-attr]
        out.append(Reference(app, name, match.span if match else fallback or Span(1),
                             swappable_setting=setting))
    return tuple(out)


def swappable_names(settings: ProjectSettings) -> dict[str, str]:
    """Value -> setting name (first by name), plus ``"NAME=value"`` keys to test a pair."""
    names: dict[str, str] = {}
    for name, value in sorted(settings.swappable.items()):
        names.setdefault(value, name)
        names[f"{name}={value}"] = name
    return names


def with_django_references(record: MigrationRecord, migration: Any,
                           setting_names: dict[str, str] | None = None) -> MigrationRecord:
    """``record`` with ``dependencies``/``replaces``/``run_before`` as Django evaluated them;
    the static reader's "not a literal" problems about those lists are dropped (Django read
    them), any other problem is kept."""
    spans = [s for s in (record.dependencies_span, record.replaces_span, record.run_before_span)
             if s is not None]

    def about_references(problem: Any) -> bool:
        line = problem.span.line if problem.span else None
        return line is not None and any(
            s.line <= line <= (s.end_line or s.line) for s in spans)

    problems = tuple(p for p in record.parse_problems if not about_references(p))
    if record.class_span is None:  # the file did not parse: keep the record broken
        return record
    return dc_replace(
        record,
        dependencies=_references(migration.dependencies, record.dependencies,
                                 record.dependencies_span, setting_names or {}),
        replaces=_references(migration.replaces, record.replaces, record.replaces_span),
        run_before=_references(migration.run_before, record.run_before,
                               record.run_before_span),
        initial=migration.initial if migration.initial is not None else record.initial,
        atomic=bool(getattr(migration, "atomic", True)),
        parse_problems=problems,
    )
