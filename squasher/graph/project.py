"""A project on disk: discovered packages, parsed records, settings and the graph.

``Project.load`` is what the CLI commands and the language server start from.
``Project.update_file`` is called by the language server on every edit; it
re-parses one file and only rebuilds the graph when something the graph depends on
(the file's key, ``dependencies``, ``replaces``, ``run_before``) changed — editing
operations just swaps the record on the existing nodes.

Parsed records are cached in the user's cache directory (see :func:`cache_file_for`),
keyed by path, size, mtime, inode and ctime (and the settings used to resolve swappable
dependencies), in a data-only format (no pickle).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import multiprocessing
import os
import stat
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path

from squasher import records as records_module
from squasher.errors import UsageError
from squasher.graph import parse as parse_module
from squasher.graph.discover import (
    discover_packages,
    discover_unmigrated_apps,
    migration_files,
    read_settings,
)
from squasher.graph.graph import MigrationGraph, build_graph, no_gc
from squasher.graph.parse import parse_migration
from squasher.records import (
    MigrationPackage,
    MigrationRecord,
    OperationSummary,
    Problem,
    ProjectSettings,
    Reference,
    Severity,
    Span,
)

_CACHE_FILE = "records.marshal"
_CACHE_VERSION = 2


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

        def read(selected: list[MigrationPackage]) -> dict[str, list[MigrationRecord]]:
            """Records of each package's files (by label): cached, else parsed (on both
            cores when there are many)."""
            listing = [(package, migration_files(package)) for package in selected]
            found: dict[tuple[Path, str], MigrationRecord] = {}
            to_parse: list[tuple[Path, str]] = []
            for package, paths in listing:
                for path in paths:
                    record = cache.get(path, package.app_label) if cache else None
                    if record is None:
                        to_parse.append((path, package.app_label))
                    else:
                        found[(path, package.app_label)] = record
            for (path, label), record in parse_files(to_parse, settings).items():
                if cache:
                    cache.put(path, label, record)
                found[(path, label)] = record
            return {package.app_label: [found[(path, package.app_label)] for path in paths]
                    for package, paths in listing}

        by_label = read(list(packages.values()))
        for label, package in list(packages.items()):
            package_records = by_label[label]
            if not settings.migration_modules_known:
                # MIGRATION_MODULES computed in settings: a relocated package's folder name is
                # not its label, but its migrations name their own app in their dependencies
                inferred = label_from_dependencies(label, package_records)
                if inferred is not None and inferred not in packages:
                    del packages[label]
                    package = dc_replace(package, app_label=inferred, label_span=None)
                    packages[inferred] = package
                    package_records = read([package])[inferred]
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

    @functools.cached_property
    def packages_by_dir(self) -> dict[Path, MigrationPackage]:
        """Resolved migrations folder -> its package, built once: ``packages`` is set when
        the project is read and never changed afterwards (file updates keep the packages)."""
        out: dict[Path, MigrationPackage] = {}
        for package in self.packages.values():
            out.setdefault(package.path.resolve(), package)
        return out

    def package_for(self, path: str | Path) -> MigrationPackage | None:
        """The migration package a (possibly new) migration file belongs to."""
        return self.packages_by_dir.get(Path(path).resolve().parent)

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
                self.graph.swap_record(new)
            elif not self._patch(old, new):
                self._rebuild()
        return new

    def _patch(self, old: MigrationRecord | None, new: MigrationRecord | None) -> bool:
        """Update one plain migration's node and edges in place; False when a full rebuild is needed.

        Handles the common edits: adding, removing or typing a dependency of an ordinary
        migration, creating or deleting an ordinary migration file. The graph decides what it
        can patch (:meth:`MigrationGraph.can_patch`); an app others resolve
        ``__first__``/``__latest__`` in also takes the full rebuild (its shape matters to them).
        """
        if not self.graph.can_patch(old, new):
            return False
        key = (old if old is not None else new).key  # type: ignore[union-attr]
        if key[0] in self._special_targets():
            return False
        self.graph.patch(old, new)
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

    def _rebuild(self) -> None:
        self.graph = build_graph(self.records_by_path.values(), self.settings,
                                 apps=self.packages, unmigrated_apps=self.unmigrated_apps)


#: Fewer files than this are parsed in this process: a second one costs more than it saves.
PARALLEL_PARSE_MIN_FILES = 1000


def _parse_encoded(jobs: list[tuple[str, str]], settings: ProjectSettings,
                   sources: dict[str, str] | None = None) -> list[tuple]:
    """The worker's half of :func:`parse_files`: records as cache tuples (plain values,
    cheap to send back)."""
    sources = sources or {}
    return [_enc_record(parse_migration(Path(path), label, source=sources.get(path),
                                        settings=settings))
            for path, label in jobs]


def _can_fork() -> bool:
    # fork copies only the calling thread: never fork a process that runs others (the
    # language server, a host application); one core gains nothing.
    return ((os.cpu_count() or 1) > 1 and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def parse_files(jobs: list[tuple[Path, str]], settings: ProjectSettings,
                sources: dict[Path, str] | None = None) -> dict[tuple[Path, str], MigrationRecord]:
    """Parse ``(path, app_label)`` jobs into records (``sources``: a file's text when it is not
    read from disk, e.g. another git revision's version).  From
    :data:`PARALLEL_PARSE_MIN_FILES` files on (a cold load of a large project), a forked
    worker parses the second half while this process parses the first; any failure of
    the worker parses its half here instead (same records either way)."""
    parsed: dict[tuple[Path, str], MigrationRecord] = {}
    split = len(jobs) // 2
    pool: ProcessPoolExecutor | None = None
    future = None
    if len(jobs) >= PARALLEL_PARSE_MIN_FILES and _can_fork():
        try:
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            rest_sources = {str(p): sources[p] for p, _ in jobs[split:] if p in sources} \
                if sources else None
            future = pool.submit(_parse_encoded, [(str(p), label) for p, label in jobs[split:]],
                                 settings, rest_sources)
        except Exception:  # noqa: BLE001 - no worker (limits, sandbox): parse here
            pool, future = None, None
    text = sources or {}
    for path, label in jobs[:split] if future is not None else jobs:
        parsed[(path, label)] = parse_migration(path, label, source=text.get(path),
                                                settings=settings)
    if pool is not None and future is not None:
        rest = jobs[split:]
        try:
            decoder = _Decoder()
            values = future.result()
            for (path, label), value in zip(rest, values, strict=True):
                parsed[(path, label)] = decoder.record(value, path)
        except Exception:  # noqa: BLE001 - a dead or failing worker: parse its half here
            for path, label in rest:
                parsed[(path, label)] = parse_migration(path, label, source=text.get(path),
                                                        settings=settings)
        finally:
            pool.shutdown(wait=True)
    return parsed


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

    Outside the project on purpose: commands never write into the user's tree, and a
    cache file that came with a checkout is never read. ``SQUASHER_CACHE_DIR`` overrides
    the base directory (default ``$XDG_CACHE_HOME/squasher``, i.e. ``~/.cache/squasher``).
    """
    base = os.environ.get("SQUASHER_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "squasher")
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return Path(base) / digest / _CACHE_FILE


# -- the cache's data-only format ------------------------------------------------------
#
# Records are written as nested tuples of str/int/bool/None (``marshal``, which holds
# plain values only and runs no code when read, unlike pickle), and rebuilt here field by
# field; anything of an unexpected shape makes the whole cache a cold start.

_SEVERITIES = {s.value: s for s in Severity}


def _enc_span(span: Span | None) -> tuple | None:
    return None if span is None else (span.line, span.col, span.end_line, span.end_col)


def _enc_ref(ref: Reference) -> tuple:
    return (ref.app_label, ref.name, _enc_span(ref.span), ref.swappable_setting)


def _enc_problem(p: Problem) -> tuple:
    return (p.code, p.message, None if p.path is None else str(p.path), _enc_span(p.span),
            p.severity.value, p.key, tuple((str(rp), _enc_span(rs), rt) for rp, rs, rt in p.related),
            p.hint)


def _enc_record(r: MigrationRecord) -> tuple:
    return (
        r.app_label, r.name, str(r.path), _enc_span(r.class_span),
        tuple(_enc_ref(x) for x in r.dependencies), tuple(_enc_ref(x) for x in r.replaces),
        tuple(_enc_ref(x) for x in r.run_before), r.initial, r.atomic,
        tuple((o.kind, _enc_span(o.span), o.model, o.field, o.new_name, o.references, o.elidable)
              for o in r.operations),
        _enc_span(r.dependencies_span), _enc_span(r.replaces_span), _enc_span(r.run_before_span),
        _enc_span(r.operations_span),
        tuple((_enc_span(sp), why) for sp, why in r.dynamic_operations),
        tuple(_enc_problem(p) for p in r.parse_problems), r.mtime_ns, r.size,
    )


class _Decoder:
    """Plain values -> records; equal spans are shared (most records repeat a few)."""

    def __init__(self) -> None:
        self.spans: dict[tuple, Span] = {}

    def span(self, value: tuple) -> Span:
        span = self.spans.get(value)
        if span is None:
            line, col, end_line, end_col = value
            span = self.spans[value] = Span(line, col, end_line, end_col)
        return span

    def optional_span(self, value: tuple | None) -> Span | None:
        if value is None:
            return None
        span = self.spans.get(value)  # inline: a warm load decodes every span
        return span if span is not None else self.span(value)

    def ref(self, value: tuple) -> Reference:
        app_label, name, span, swappable = value
        return Reference(app_label, name, self.span(span), swappable)

    def problem(self, value: tuple) -> Problem:
        code, message, path, span, severity, key, related, hint = value
        return Problem(code, message, None if path is None else Path(path), self.optional_span(span),
                       _SEVERITIES[severity], None if key is None else tuple(key),
                       tuple((Path(rp), self.span(rs), rt) for rp, rs, rt in related), hint)

    def record(self, value: tuple, path: Path | None = None) -> MigrationRecord:
        """``path``: the file's Path when the caller has it (building 10,000 Paths again
        from strings was a tenth of a warm load)."""
        (app_label, name, stored_path, class_span, deps, replaces, run_before, initial, atomic, ops,
         deps_span, replaces_span, run_before_span, ops_span, dynamic, problems,
         mtime_ns, size) = value
        span, optional_span = self.span, self.optional_span
        return MigrationRecord(
            app_label, name, path if path is not None else Path(stored_path), optional_span(class_span),
            tuple(self.ref(x) for x in deps), tuple(self.ref(x) for x in replaces),
            tuple(self.ref(x) for x in run_before), initial, atomic,
            tuple(OperationSummary(kind, span(sp), model, fld, new, tuple(refs), elidable)
                  for kind, sp, model, fld, new, refs, elidable in ops),
            optional_span(deps_span), optional_span(replaces_span), optional_span(run_before_span),
            optional_span(ops_span),
            tuple((span(sp), why) for sp, why in dynamic),
            tuple(self.problem(p) for p in problems), mtime_ns, size,
        )


def _trusted(st: os.stat_result) -> bool:
    """A cache file is read only when it is the user's own and nobody else may write it."""
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _file_key(st: os.stat_result) -> tuple[int, int, int, int]:
    """What identifies one version of a file: an edit that keeps the size and puts the
    modification time back (``cp -p``, ``touch -r``) still changes the inode or ctime."""
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class _Cache:
    """Parsed records keyed by path, (size, mtime, inode, ctime) and app label, valid for
    one settings fingerprint; stored data-only (marshal) in the user's own cache file."""

    def __init__(self, root: Path, settings: ProjectSettings) -> None:
        self.file = cache_file_for(root)
        # Records depend on the parser's code too: a changed parse.py/records.py
        # (upgrade, development checkout) invalidates the cache.
        code: list[tuple[int, int] | None] = []
        for module in (parse_module, records_module):
            try:
                st = os.stat(module.__file__) if module.__file__ is not None else None
            except OSError:
                st = None
            code.append(None if st is None else (st.st_mtime_ns, st.st_size))
        fingerprint = repr((_CACHE_VERSION, code, sorted(settings.swappable.items())))
        self.fingerprint = hashlib.sha1(fingerprint.encode()).hexdigest()
        #: path -> (file key, app label, encoded record, decoded record or None)
        self.entries: dict[str, list] = {}
        self.dirty = False
        self._decoder = _Decoder()
        try:
            self.entries = self._read()
        except Exception:  # noqa: BLE001 - any unreadable or untrusted cache is a cold start
            self.entries = {}
        self.seen: set[str] = set()

    def _read(self) -> dict[str, list]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.file, flags)
        with os.fdopen(fd, "rb") as fh:
            if not _trusted(os.fstat(fh.fileno())):
                return {}
            data = marshal.loads(fh.read())
        if not (isinstance(data, tuple) and len(data) == 2 and data[0] == self.fingerprint):
            return {}
        return {path: [tuple(key), label, value, None] for path, key, label, value in data[1]}

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
        if entry[0] != _file_key(st) or entry[1] != label:
            return None
        if entry[3] is None:
            try:
                entry[3] = self._decoder.record(entry[2], path)
            except Exception:  # noqa: BLE001 - a malformed entry: parse the file again
                return None
        return entry[3]

    def put(self, path: Path, label: str, record: MigrationRecord) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        if (st.st_mtime_ns, st.st_size) != (record.mtime_ns, record.size):
            return  # changed since it was read: do not pair this stat with that record
        self.entries[str(path)] = [_file_key(st), label, _enc_record(record), record]
        self.dirty = True

    def save(self) -> None:
        stale = set(self.entries) - self.seen
        for key in stale:
            del self.entries[key]
        if not (self.dirty or stale):
            return
        data = (self.fingerprint, tuple((path, key, label, value)
                                        for path, (key, label, value, _) in self.entries.items()))
        tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                         0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps(data))
            os.replace(tmp, self.file)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                tmp.unlink()
            # a read-only cache directory just runs without a cache
