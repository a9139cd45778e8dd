"""Find migration packages and read settings values, statically (no Django import).

A *migration package* is a directory called ``migrations`` that contains an
``__init__.py`` and sits inside an app directory. The app label is the ``label``
declared by an ``AppConfig`` subclass in the app's ``apps.py`` when it is a string
literal, else the app directory's name (Django's default: the last component of the
app's dotted name).

Settings are read from the settings module's source: module-level assignments are
evaluated in order when they are built from literals (``AUTH_USER_MODEL = "accounts.User"``,
``INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS``, ``INSTALLED_APPS += [...]``,
``[*A, *B]``, ``.append``/``.extend``). ``from .base import *`` inside the project is
followed, so split settings work. Anything computed (a call, the environment, an assignment
under ``if``) is *unknown*: readers then say unknown instead of reporting a problem (the
swappable dependency stays symbolic, see :class:`squasher.records.Reference`; ``check`` does not
guess which apps are installed).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from squasher.records import MigrationPackage, ProjectSettings, Span

#: Directory names never descended into (virtualenvs are also detected by pyvenv.cfg).
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".tox", ".nox", ".venv", "venv",
    "env", ".env", "build", "dist", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".squasher-cache", ".squasher-journal", "site-packages", ".eggs", "htmlcov",
})

#: Labels of apps shipped with Django (external: their migrations are not in the project).
DJANGO_CONTRIB_LABELS = frozenset({
    "admin", "auth", "contenttypes", "sessions", "sites", "flatpages", "redirects",
    "messages", "staticfiles", "humanize", "sitemaps", "syndication", "gis", "postgres",
    "admindocs",
})

_DEFAULT_SWAPPABLE = {"AUTH_USER_MODEL": "auth.User"}
_MODEL_RE = re.compile(r"^[A-Za-z_][\w]*\.[A-Za-z_][\w]*$")


def _skip_dir(dirpath: str, name: str) -> bool:
    if name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    return os.path.exists(os.path.join(dirpath, name, "pyvenv.cfg"))


def _config_label(apps_py: Path, class_name: str | None = None
                  ) -> tuple[str | None, Span | None, str | None]:
    """``(label, span of the label, name)`` of an ``AppConfig`` subclass in ``apps_py`` (the
    one named ``class_name``, else the first that sets a literal label or name)."""
    try:
        tree = ast.parse(apps_py.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None, None, None
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or (class_name and node.name != class_name):
            continue
        bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        if not class_name and not any(b.endswith("AppConfig") for b in bases):
            continue
        label = name = None
        span = None
        for stmt in node.body:
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)):
                if stmt.targets[0].id == "label":
                    label = stmt.value.value
                    span = Span(stmt.lineno, stmt.col_offset, stmt.end_lineno, stmt.end_col_offset)
                elif stmt.targets[0].id == "name":
                    name = stmt.value.value
        if label is not None or name is not None or class_name:
            return label, span, name
    return None, None, None


def app_label_for(app_dir: Path) -> tuple[str, tuple[Path, Span] | None]:
    """The app label of ``app_dir``: ``AppConfig.label`` from ``apps.py`` if literal, else the dir name."""
    apps_py = app_dir / "apps.py"
    if apps_py.is_file():
        label, span, name = _config_label(apps_py)
        if label is not None and span is not None:
            return label, (apps_py, span)
        if name is not None:
            return name.rsplit(".", 1)[-1], None
    return app_dir.name, None


def discover_packages(root: Path, settings: ProjectSettings | None = None) -> list[MigrationPackage]:
    """Every migration package below ``root``, sorted by app label then path.

    Two packages may share a label (a copy of an app in a fixtures directory...);
    both are returned and the caller decides (``Project`` keeps the first and
    reports the duplicate). ``settings.migration_modules`` (``MIGRATION_MODULES``)
    is honoured like Django: a label mapped to a module uses that package instead of
    ``<app>/migrations``; a label mapped to ``None`` has no migrations.
    """
    root = Path(root)
    found = _walk_packages(root)
    overrides = settings.migration_modules if settings else {}
    if not overrides:
        return found
    result = [p for p in found if p.app_label not in overrides]
    app_paths = {p.app_label: p.app_path for p in found}
    for label, module in sorted(overrides.items()):
        if module is None:
            continue
        directory = _package_dir(root, module)
        if directory is not None:
            result.append(MigrationPackage(app_label=label, path=directory,
                                           app_path=app_paths.get(label, directory.parent)))
    result.sort(key=lambda p: (p.app_label, str(p.path)))
    return result


def _package_dir(root: Path, module: str) -> Path | None:
    """``a.b`` → ``root/a/b`` when it is a package (also tried next to a nested manage.py)."""
    init = _module_file(root, module)
    if init is not None and init.name == "__init__.py":
        return init.parent
    return None


def _is_app_dir(path: str) -> bool:
    """An app package named ``migrations`` (Django's own test suite has one) is told apart from
    a migrations package by what only an app has: ``apps.py``, ``models.py`` or its own
    ``migrations`` package."""
    return any(os.path.exists(os.path.join(path, marker))
               for marker in ("apps.py", "models.py", os.path.join("migrations", "__init__.py")))


def _walk_packages(root: Path) -> list[MigrationPackage]:
    found: list[MigrationPackage] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(dirpath, d))
        # os.walk does not enter symlinked folders; Django imports a symlinked migrations
        # package like any other (a dangling link is no package, as for Django)
        for name in dirnames:
            link = os.path.join(dirpath, name)
            if name == "migrations" and os.path.islink(link) and os.path.isfile(
                    os.path.join(link, "__init__.py")) and not _is_app_dir(link):
                app_dir = Path(dirpath)
                label, span = app_label_for(app_dir)
                found.append(MigrationPackage(app_label=label, path=Path(link), app_path=app_dir,
                                              label_span=span))
        if os.path.basename(dirpath) == "migrations" and "__init__.py" in filenames \
                and not _is_app_dir(dirpath):
            mig_dir = Path(dirpath)
            app_dir = mig_dir.parent
            if app_dir == root.parent:
                continue
            label, span = app_label_for(app_dir)
            found.append(MigrationPackage(app_label=label, path=mig_dir, app_path=app_dir,
                                          label_span=span))
            # A migrations package has no nested apps worth scanning.
            dirnames[:] = []
    found.sort(key=lambda p: (p.app_label, str(p.path)))
    return found


def discover_unmigrated_apps(root: Path, packages: list[MigrationPackage],
                             settings: ProjectSettings | None = None) -> set[str]:
    """Labels of app directories (an ``apps.py`` or ``models.py`` next to ``__init__.py``) without
    migrations, plus labels ``MIGRATION_MODULES`` maps to ``None``.

    Django ignores ``__first__`` dependencies on such apps; the graph does the same.
    """
    with_migrations = {p.app_path for p in packages}
    labels: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not _skip_dir(dirpath, d)
                       and (d != "migrations" or _is_app_dir(os.path.join(dirpath, d)))]
        if "__init__.py" in filenames and ("apps.py" in filenames or "models.py" in filenames):
            app_dir = Path(dirpath)
            if app_dir not in with_migrations:
                labels.add(app_label_for(app_dir)[0])
    if settings is not None:
        labels.update(label for label, module in settings.migration_modules.items() if module is None)
    return labels - {p.app_label for p in packages}


def migration_files(package: MigrationPackage) -> list[Path]:
    """The migration modules of a package, as Django's loader lists them.

    Django takes every non-package module whose name does not start with ``_`` or
    ``~``; only ``.py`` sources are considered here.
    """
    base = str(package.path)
    try:
        with os.scandir(base) as entries:
            names = [e.name for e in entries
                     if e.name.endswith(".py") and e.name[0] not in "_~" and e.is_file()]
    except OSError:
        return []
    base_path = package.path
    # iterdir's fast path (no re-parsing of the directory part); public API as fallback.
    child = getattr(base_path, "_make_child_relpath", None)
    if child is None:  # pragma: no cover - other Python versions
        return [base_path / name for name in sorted(names)]
    return [child(name) for name in sorted(names)]


def find_settings_module(root: Path, explicit: str | None = None) -> str | None:
    """The settings module a command should use, found without importing anything.

    ``explicit`` (``--settings``), else ``$DJANGO_SETTINGS_MODULE``, else ``settings`` of
    ``[tool.squasher]`` in ``root/pyproject.toml`` (:mod:`squasher.config`), else the module
    ``manage.py`` (in ``root`` or one level down) sets, else ``settings`` when
    ``root/settings.py`` exists; ``None`` when there is no sign of one.
    """
    from squasher.config import configured_settings_module

    return explicit or os.environ.get("DJANGO_SETTINGS_MODULE") or \
        configured_settings_module(root) or _settings_module_from_manage_py(Path(root))


def _settings_module_from_manage_py(root: Path) -> str | None:
    candidates = [root / "manage.py", *sorted(root.glob("*/manage.py"))]
    pattern = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")
    for manage in candidates:
        try:
            text = manage.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        match = pattern.search(text)
        if match:
            return match.group(1)
    if (root / "settings.py").is_file():
        return "settings"  # a flat project run from its own directory
    return None


def _source_bases(root: Path) -> list[Path]:
    """Where top-level modules live: ``root`` and each folder one level down holding a manage.py."""
    return [root, *sorted(p.parent for p in root.glob("*/manage.py"))]


def _module_file(root: Path, module: str, bases: list[Path] | None = None) -> Path | None:
    """``a.b`` → ``root/a/b.py`` or ``root/a/b/__init__.py`` (also tried one level down, next
    to manage.py). ``bases``: :func:`_source_bases` of ``root``, when the caller looks up many
    modules (the glob stats every folder of the root)."""
    rel = Path(*module.split("."))
    for base in bases if bases is not None else _source_bases(root):
        for candidate in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


class _Unknown:
    """A settings value that cannot be known without running the settings module."""

    def __repr__(self) -> str:
        return "UNKNOWN"


#: Marks a settings name whose value was computed (a call, an environment lookup, an
#: unknown name...): readers say "unknown" rather than guess.
UNKNOWN = _Unknown()


def _evaluate(node: ast.AST, values: dict[str, object]) -> object:
    """The value of a settings expression built from literals, names assigned before, list /
    tuple concatenation (``A + B``), unpacking (``[*A, *B]``) and dict unions; else UNKNOWN."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.Name):
        return values.get(node.id, UNKNOWN)
    if isinstance(node, ast.List | ast.Tuple):
        items: list[object] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                inner = _evaluate(element.value, values)
                if not isinstance(inner, list | tuple):
                    return UNKNOWN
                items.extend(inner)
            else:
                value = _evaluate(element, values)
                if value is UNKNOWN:
                    return UNKNOWN
                items.append(value)
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        result: dict[object, object] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            value = _evaluate(value_node, values)
            if key_node is None:  # {**OTHER}
                if not isinstance(value, dict):
                    return UNKNOWN
                result.update(value)
                continue
            key = _evaluate(key_node, values)
            if key is UNKNOWN or value is UNKNOWN:
                return UNKNOWN
            result[key] = value
        return result
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.BitOr):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if isinstance(node.op, ast.Add):
            if isinstance(left, list | tuple) and isinstance(right, list | tuple):
                return [*left, *right] if isinstance(left, list) else (*left, *right)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
        elif isinstance(left, dict) and isinstance(right, dict):
            return {**left, **right}
    return UNKNOWN


def _assign(values: dict[str, object], target: ast.AST, value: object) -> None:
    if isinstance(target, ast.Name):
        values[target.id] = value
    elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        # MIGRATION_MODULES["shop"] = "..." changes the dict in place
        container = values.get(target.value.id)
        key = _evaluate(target.slice, values)
        if isinstance(container, dict) and key is not UNKNOWN and value is not UNKNOWN:
            container[key] = value
        else:
            values[target.value.id] = UNKNOWN
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            _assign(values, element.value if isinstance(element, ast.Starred) else element, UNKNOWN)


def _read_settings_file(path: Path, root: Path, module: str, values: dict[str, object],
                        seen: set[Path]) -> None:
    """Evaluate the module-level assignments of a settings file into ``values`` (in order, so
    ``INSTALLED_APPS += [...]`` and names defined earlier work); ``from X import *`` of a
    project module is followed; computed values are :data:`UNKNOWN`."""
    if path in seen:
        return
    seen.add(path)
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return
    package = module.rsplit(".", 1)[0] if "." in module else ""
    if path.name == "__init__.py":
        package = module
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            if node.level:
                parts = package.split(".") if package else []
                if node.level > 1:
                    parts = parts[: len(parts) - (node.level - 1)]
                imported = ".".join([*parts, node.module] if node.module else parts)
            else:
                imported = node.module or ""
            imported_file = _module_file(root, imported) if imported else None
            if imported_file is not None:
                _read_settings_file(imported_file, root, imported, values, seen)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            if node.value is None:
                continue
            value = _evaluate(node.value, values)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                _assign(values, target, value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            current = values.get(node.target.id, UNKNOWN)
            change = _evaluate(node.value, values)
            if isinstance(node.op, ast.Add) and isinstance(current, list | tuple) \
                    and isinstance(change, list | tuple):
                values[node.target.id] = [*current, *change] if isinstance(current, list) \
                    else (*current, *change)
            elif isinstance(node.op, ast.BitOr) and isinstance(current, dict) \
                    and isinstance(change, dict):
                values[node.target.id] = {**current, **change}
            else:
                values[node.target.id] = UNKNOWN
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            # INSTALLED_APPS.append("x") / .extend([...]) / MIGRATION_MODULES.update({...})
            call = node.value
            func = call.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                    and func.value.id in values:
                current = values[func.value.id]
                args = [_evaluate(a, values) for a in call.args]
                if isinstance(current, list) and func.attr == "append" and len(args) == 1 \
                        and args[0] is not UNKNOWN:
                    current.append(args[0])
                elif isinstance(current, list) and func.attr == "extend" and len(args) == 1 \
                        and isinstance(args[0], list | tuple):
                    current.extend(args[0])
                elif isinstance(current, list) and func.attr == "insert" and len(args) == 2 \
                        and isinstance(args[0], int) and args[1] is not UNKNOWN:
                    current.insert(args[0], args[1])
                elif isinstance(current, dict) and func.attr == "update" and len(args) == 1 \
                        and isinstance(args[0], dict):
                    current.update(args[0])
                else:
                    values[func.value.id] = UNKNOWN
        elif isinstance(node, ast.If | ast.Try | ast.For | ast.While | ast.With):
            # assignments under a condition: whatever they set is no longer known for sure
            for inner in ast.walk(node):
                if isinstance(inner, ast.Assign | ast.AugAssign | ast.AnnAssign):
                    for target in (inner.targets if isinstance(inner, ast.Assign) else [inner.target]):
                        name = target.value.id if isinstance(target, ast.Subscript) \
                            and isinstance(target.value, ast.Name) else getattr(target, "id", None)
                        if name is not None:
                            values[name] = UNKNOWN
                elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                        and isinstance(inner.func.value, ast.Name) and inner.func.value.id in values:
                    values[inner.func.value.id] = UNKNOWN


def read_settings(root: Path, settings_module: str | None = None) -> ProjectSettings:
    """Settings values read statically.

    The module is ``settings_module``, else ``$DJANGO_SETTINGS_MODULE``, else ``settings`` of
    ``[tool.squasher]``, else the one ``manage.py`` (in ``root`` or one level down) sets, else
    ``settings`` when
    ``root/settings.py`` exists. When none is found (or the file is absent) the result holds
    Django's defaults only (``AUTH_USER_MODEL = "auth.User"``).
    """
    root = Path(root)
    module = find_settings_module(root, settings_module)
    settings = ProjectSettings(module=module, swappable=dict(_DEFAULT_SWAPPABLE))
    if not module:
        return settings
    path = _module_file(root, module)
    if path is None:
        return settings
    settings.path = path
    values: dict[str, object] = {}
    _read_settings_file(path, root, module, values, set())
    for name, value in values.items():
        if isinstance(value, str) and _MODEL_RE.match(value) and name.isupper():
            settings.swappable[name] = value
    modules = values.get("MIGRATION_MODULES", {})
    if isinstance(modules, dict) and all(isinstance(k, str) and (v is None or isinstance(v, str))
                                         for k, v in modules.items()):
        settings.migration_modules = dict(modules)
    else:
        settings.migration_modules_known = False
    installed = values.get("INSTALLED_APPS")
    if isinstance(installed, list | tuple) and all(isinstance(a, str) for a in installed):
        settings.installed_apps = tuple(installed)
    return settings


def installed_app_labels(settings: ProjectSettings, root: Path | None = None) -> set[str]:
    """Labels of ``INSTALLED_APPS`` entries: an ``AppConfig`` path or app module found under
    ``root`` gives its declared label; anything else Django's default, the last component of
    the app's dotted name."""
    labels: set[str] = set()
    bases = _source_bases(root) if root is not None and settings.installed_apps else None
    for entry in settings.installed_apps or ():
        parts = entry.split(".")
        is_config = len(parts) >= 2 and parts[-1][:1].isupper()
        module = ".".join(parts[:-1]) if is_config else entry
        source = _module_file(root, module, bases) if root is not None else None
        if source is not None:
            if is_config:
                label, _span, name = _config_label(source, parts[-1])
                if label or name:
                    labels.add(label or name.rsplit(".", 1)[-1])  # type: ignore[union-attr]
                    continue
            elif source.name == "__init__.py":
                labels.add(app_label_for(source.parent)[0])
                continue
        if is_config:
            labels.add(parts[-3] if len(parts) >= 3 and parts[-2] == "apps" else parts[-2])
        else:
            labels.add(parts[-1])
    return labels
