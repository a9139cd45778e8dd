"""A project on disk: discovered packages, parsed records, settings and the graph.

``Project.load`` is what the CLI commands and the language server start from.
``Project.update_file`` is called by the language server on every edit; it
re-parses one file and only rebuilds the graph when something the graph depends on
(the file's key, ``dependencies``, ``replaces``, ``run_before``) changed — editing
operations just swaps the record on the existing nodes.

Parsed records are cached in the user's cache directory (see :func:`cache_file_for`),
keyed by path, mtime and size (and the settings used to resolve swappable dependencies).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path

from squasher import parse as parse_module
from squasher import records as records_module
from squasher.discover import (
    discover_packages,
    discover_unmigrated_apps,
    migration_files,
    read_settings,
)
from squasher.errors import UsageError
from squasher.graph import MigrationGraph, build_graph, no_gc
from squasher.parse import parse_migration
from squasher.records import (
    MigrationPackage,
    MigrationRecord,
    Problem,
    ProjectSettings,
    Severity,
    Span,
)

_CACHE_FILE = "records.pickle"
_CACHE_VERSION = 1


@dataclass
class Project:
    """Everything known statically about a project under ``root``."""

    root: Path
    settings: ProjectSettings
    packages: dict[str, MigrationPackage]
    records_by_path: dict[Path, MigrationRecord]
    graph: MigrationGraph
    unmigrated_apps: set[str] = field(default_factory=set)
    #: project-level problems found while loading (duplicate app labels...)
    problems: list[Problem] = field(default_factory=list)

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def load(cls, root: str | Path = ".", settings_module: str | None = None,
             use_cache: bool = True) -> Project:
        """Discover, parse (with the mtime/size cache when ``use_cache``) and build the graph.

        Raises ``UsageError`` when ``root`` is not a directory.
        """
        # Parsing allocates millions of long-lived AST/record objects; the cyclic GC
        # would rescan them over and over (it doubled the load time of 10,000 files).
        with no_gc():
            return cls._load(root, settings_module, use_cache)

    @classmethod
    def _load(cls, root: str | Path, settings_module: str | None, use_cache: bool) -> Project:
        root = Path(root).resolve()
        if not root.is_dir():
            raise UsageError(f"project root {root} does not exist or is not a directory",
                             path=root, hint="pass --root pointing at your Django project")
        settings = read_settings(root, settings_module)
        packages: dict[str, MigrationPackage] = {}
        problems: list[Problem] = []
        for package in discover_packages(root, settings):
            if package.app_label in packages:
                first = packages[package.app_label]
                problems.append(Problem(
                    code="SQ006",
                    message=(f"app label {package.app_label!r} is used by two migration packages; "
                             f"{first.path} is used, this one is ignored"),
                    path=package.path / "__init__.py", span=Span(1), severity=Severity.WARNING,
                    hint="give one of the apps a distinct AppConfig.label or exclude the copy"))
                continue
            packages[package.app_label] = package
        cache = _Cache(root, settings) if use_cache else None
        records: dict[Path, MigrationRecord] = {}

        def read(package: MigrationPackage) -> list[MigrationRecord]:
            found = []
            for path in migration_files(package):
                record = cache.get(path, package.app_label) if cache else None
                if record is None:
                    record = parse_migration(path, package.app_label, settings=settings)
                    if cache:
                        cache.put(path, package.app_label, record)
                found.append(record)
            return found

        for label, package in list(packages.items()):
            package_records = read(package)
            if not settings.migration_modules_known:
                # MIGRATION_MODULES computed in settings: a relocated package's folder name is
                # not its label, but its migrations name their own app in their dependencies
                inferred = label_from_dependencies(label, package_records)
                if inferred is not None and inferred not in packages:
                    del packages[label]
                    package = dc_replace(package, app_label=inferred, label_span=None)
                    packages[inferred] = package
                    package_records = read(package)
            for record in package_records:
                records[record.path] = record
        if cache:
            cache.save()
        unmigrated = discover_unmigrated_apps(root, list(packages.values()), settings)
        graph = build_graph(records.values(), settings, apps=packages, unmigrated_apps=unmigrated)
        return cls(root=root, settings=settings, packages=packages, records_by_path=records,
                   graph=graph, unmigrated_apps=unmigrated, problems=problems)

    # -- queries ----------------------------------------------------------------------

    def record(self, app: str, name: str) -> MigrationRecord | None:
        return self.graph.records.get((app, name))

    def package_for(self, path: str | Path) -> MigrationPackage | None:
        """The migration package a (possibly new) migration file belongs to."""
        directory = Path(path).resolve().parent
        for package in self.packages.values():
            if package.path.resolve() == directory:
                return package
        return None

    # -- incremental updates ----------------------------------------------------------

    def update_file(self, path: str | Path, source: str | None = None) -> MigrationRecord | None:
        """Re-read one migration file (``source``: editor buffer; else disk) and update the graph.

        A file that no longer exists (and no ``source``) is removed. Returns the new
        record, or ``None`` when the file was removed or is not in a migration package.
        Ordinary edits cost one parse plus a local graph patch (milliseconds on 10,000
        migrations); edits touching squashes or ``__first__`` resolution rebuild the graph.
        """
        path = Path(path)
        if not path.is_absolute():
            path = self.root / path
        path = Path(os.path.normpath(path))
        package = self.package_for(path)
        old = self.records_by_path.get(path)
        new: MigrationRecord | None = None
        if package is not None and path.suffix == ".py" and path.name[0] not in "_~" \
                and (source is not None or path.exists()):
            new = parse_migration(path, package.app_label, source=source, settings=self.settings)
        if old is None and new is None:
            return None
        if new is None:
            del self.records_by_path[path]
        else:
            self.records_by_path[path] = new
        with no_gc():
            if old is not None and new is not None and _same_edges(old, new):
                self._swap_record(new)
            elif not self._patch(old, new):
                self._rebuild()
        return new

    def _patch(self, old: MigrationRecord | None, new: MigrationRecord | None) -> bool:
        """Update one plain migration's node and edges in place; False when a full rebuild is needed.

        Handles the common edits: adding, removing or typing a dependency of an ordinary
        migration, creating or deleting an ordinary migration file. Anything that
        interacts with replacement or name resolution — squashes, replaced migrations,
        ``run_before``, ``__first__``/``__latest__``, unresolved swappable dependencies,
        an app others resolve ``__first__``/``__latest__`` in — takes the full rebuild,
        which is Django's algorithm verbatim.
        """
        graph = self.graph
        records = [r for r in (old, new) if r is not None]
        key = records[0].key
        if any(r.key != key or r.replaces or r.run_before for r in records):
            return False
        if graph.replaced_by(key) is not None:
            return False
        for record in records:
            for ref in record.dependencies:
                if ref.app_label is None or ref.name in ("__first__", "__latest__"):
                    return False
                if ref.key == key or graph.replaced_by(ref.key) is not None:
                    return False
        if key[0] in self._special_targets():
            return False
        old_parents = {r.key for r in old.dependencies} if old else set()
        new_parents = {r.key for r in new.dependencies} if new else set()
        project_apps = set(graph.apps())
        for g in (graph.full, graph.nx):
            if new is not None:
                if key in g:  # was a missing node (something depended on the file before it existed)
                    g.nodes[key].update(record=new, external=False, missing=False)
                else:
                    g.add_node(key, record=new, external=False, missing=False)
            for parent in old_parents - new_parents:
                pdata = g.nodes.get(parent)
                # Keep an edge that the parent's own run_before also creates.
                prec = pdata.get("record") if pdata else None
                if prec is not None and any(r.key == key for r in prec.run_before):
                    continue
                if g.has_edge(parent, key):
                    g.remove_edge(parent, key)
                if pdata is not None and (pdata.get("missing") or pdata.get("external")) \
                        and g.degree(parent) == 0:
                    g.remove_node(parent)
            for parent in new_parents - old_parents:
                if parent not in g:
                    external = parent[0] not in project_apps
                    g.add_node(parent, record=None, external=external, missing=not external)
                g.add_edge(parent, key)
            if new is None:
                if g.out_degree(key) or g.in_degree(key):
                    # Others still depend on (or run before) the deleted file: now dangling.
                    g.nodes[key].update(record=None, external=False, missing=True)
                else:
                    g.remove_node(key)
        graph.invalidate()  # nodes and edges changed
        if new is None:
            graph.records.pop(key, None)
        else:
            graph.records[key] = new
        return True

    def _special_targets(self) -> set[str]:
        """Apps that some dependency names as ``__first__``/``__latest__`` (their shape matters).

        Cached: only a full rebuild can change it (the in-place patch refuses records
        with such references).
        """
        cached = self.__dict__.get("_special_cache")
        if cached is not None and cached[0] is self.graph:
            return cached[1]
        apps: set[str] = set()
        for record in self.records_by_path.values():
            for ref in (*record.dependencies, *record.run_before):
                if ref.name in ("__first__", "__latest__") and ref.app_label:
                    apps.add(ref.app_label)
        self.__dict__["_special_cache"] = (self.graph, apps)
        return apps

    def _swap_record(self, record: MigrationRecord) -> None:
        """Replace a record without touching edges (only its operations/flags changed)."""
        graph = self.graph
        graph.records[record.key] = record
        for g in (graph.full, graph.nx):
            if record.key in g:
                g.nodes[record.key]["record"] = record

    def _rebuild(self) -> None:
        self.graph = build_graph(self.records_by_path.values(), self.settings,
                                 apps=self.packages, unmigrated_apps=self.unmigrated_apps)


def label_from_dependencies(label: str, records: list[MigrationRecord]) -> str | None:
    """The app label the migrations of one package use for each other, when it is not
    ``label`` (the folder's guess): ``("shop", "0001_initial")`` in a file next to
    ``0001_initial.py`` says the package belongs to ``shop``. ``None`` when they agree with
    ``label`` or say nothing."""
    names = {r.name for r in records}
    votes: dict[str, int] = {}
    for record in records:
        for ref in (*record.dependencies, *record.replaces):
            if ref.app_label is not None and ref.name in names and ref.swappable_setting is None:
                votes[ref.app_label] = votes.get(ref.app_label, 0) + 1
    if not votes or label in votes:
        return None
    return max(sorted(votes), key=lambda app: votes[app])


def _same_edges(old: MigrationRecord, new: MigrationRecord) -> bool:
    def refs(record: MigrationRecord) -> tuple:
        return tuple(
            tuple((r.app_label, r.name, r.swappable_setting) for r in group)
            for group in (record.dependencies, record.replaces, record.run_before)
        )
    return old.key == new.key and refs(old) == refs(new)


def cache_file_for(root: Path) -> Path:
    """Where the record cache of the project at ``root`` lives.

    Outside the project on purpose: the cache is a pickle, and unpickling a file that came
    with a checkout would run code from it; the user's own cache directory is trusted, and
    commands then never write into the user's tree. ``SQUASHER_CACHE_DIR`` overrides the
    base directory (default ``$XDG_CACHE_HOME/squasher``, i.e. ``~/.cache/squasher``).
    """
    base = os.environ.get("SQUASHER_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "squasher")
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return Path(base) / digest / _CACHE_FILE


class _Cache:
    """Parsed records keyed by (path, mtime_ns, size, app label), valid for one settings fingerprint."""

    def __init__(self, root: Path, settings: ProjectSettings) -> None:
        self.file = cache_file_for(root)
        # Records depend on the parser's code too: a changed parse.py/records.py
        # (upgrade, development checkout) invalidates the cache.
        code = []
        for module in (parse_module, records_module):
            try:
                st = os.stat(module.__file__)
                code.append((st.st_mtime_ns, st.st_size))
            except (OSError, TypeError):
                code.append(None)
        fingerprint = repr((_CACHE_VERSION, code, sorted(settings.swappable.items())))
        self.fingerprint = hashlib.sha1(fingerprint.encode()).hexdigest()
        self.entries: dict[str, tuple[int, int, str, MigrationRecord]] = {}
        self.dirty = False
        try:
            with open(self.file, "rb") as fh:
                data = pickle.load(fh)
            if data.get("fingerprint") == self.fingerprint:
                self.entries = data["entries"]
        except Exception:  # noqa: BLE001 - any unreadable cache is just a cold start
            self.entries = {}
        self.seen: set[str] = set()

    def get(self, path: Path, label: str) -> MigrationRecord | None:
        key = str(path)
        self.seen.add(key)
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if entry[0] == st.st_mtime_ns and entry[1] == st.st_size and entry[2] == label:
            return entry[3]
        return None

    def put(self, path: Path, label: str, record: MigrationRecord) -> None:
        self.entries[str(path)] = (record.mtime_ns, record.size, label, record)
        self.dirty = True

    def save(self) -> None:
        stale = set(self.entries) - self.seen
        for key in stale:
            del self.entries[key]
        if not (self.dirty or stale):
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                pickle.dump({"fingerprint": self.fingerprint, "entries": self.entries}, fh,
                            protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only checkout just runs without a cache
