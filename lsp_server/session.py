"""The server's state and what it does beyond answering one request.

:class:`Session` (one per server; python-lsp-server's ``Workspace`` is the model) owns the
:class:`~lsp_server.options.Options`, the :class:`~lsp_server.index.WorkspaceIndex`, the
map between the client's and the index's paths and the diagnostics last published, and:

* turns buffer and file changes into index updates (a burst of ``didChange`` is parsed once);
* publishes diagnostics, sending only the files whose diagnostics changed;
* schedules the costly work in worker threads, debounced: squash suggestions (SQ100) after
  edits settle, merge predictions (SQ2nn) after saves and ref moves;
* applies planned :class:`~squasher.fileops.ChangeSet` s: as one ``workspace/applyEdit``, or
  atomically on disk when the client cannot create, rename or delete files;
* reports long commands with ``$/progress`` (:class:`Progress`).

The handlers in :mod:`lsp_server.server` only translate a request into calls of this class
and of :mod:`lsp_server.features`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import traceback
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from lsp_server import convert as cv
from lsp_server.features import actions as act
from lsp_server.features import commands as cmds
from lsp_server.features.locate import Hit, item_at
from lsp_server.index import IndexedProject, WorkspaceIndex, header_span
from lsp_server.options import Options
from squasher.fileops import ChangeSet
from squasher.records import MigrationRecord

MIGRATION_GLOB = "**/migrations/*.py"
#: ``[tool.squasher]`` (a workspace folder's own pyproject.toml is the one read)
CONFIG_GLOB = "**/pyproject.toml"
#: where git moves a branch (commit, fetch, pull): the base branch of the merge predictions
GIT_REF_GLOBS = ("**/.git/HEAD", "**/.git/refs/**", "**/.git/packed-refs")

#: Squash suggestions (SQ100) are recomputed this long after the last edit.
SUGGEST_DELAY = 0.4

#: Merge predictions (``check --against``, SQ2nn) are recomputed this long after the last
#: save or ref change, and given up (logged) after PREDICT_TIMEOUT: git never blocks the editor.
PREDICT_DELAY = 1.0
PREDICT_TIMEOUT = 30.0

#: GIL switch interval (seconds) while suggestions are computed in a worker thread.
WORKER_SWITCH_INTERVAL = 0.0005

#: the result of a command that changes files
Applied = dict[str, Any]


class Session:
    """Everything the server knows and keeps current between requests."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.options = Options()
        self.index = WorkspaceIndex(logger=self.log_info)
        #: workspace roots as the client names them (symlinks) vs. as indexed (resolved)
        self.roots = cv.RootMap()
        #: editor buffers changed but not re-parsed yet (a burst of didChange is parsed once)
        self.pending: dict[Path, str] = {}
        self._flush_scheduled = False
        #: uri -> identities of the diagnostics last sent, and the problems they came from
        self.published: dict[str, tuple[Any, ...]] = {}
        self._problems_seen: dict[str, list[Any]] = {}
        self._suggest_timer: asyncio.TimerHandle | None = None
        self._suggesting = False
        self._suggest_failures = 0
        self._predict_timer: asyncio.TimerHandle | None = None
        self._predicting = False
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ messages to the user

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        with contextlib.suppress(Exception):  # not connected (unit use)
            self.server.window_log_message(types.LogMessageParams(type=kind, message=message))

    def log_info(self, message: str) -> None:
        self.log(message, types.MessageType.Info)

    def log_error(self, where: str, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(exc)).rstrip()
        self.log(f"squasher-lsp: {where} failed: {exc!r}\n{detail}", types.MessageType.Error)

    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        with contextlib.suppress(Exception):  # not connected (unit use)
            self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def show_error(self, exc: BaseException) -> None:
        self.show(f"squasher: {exc}")

    def require_django(self, command: str) -> bool:
        """Whether the Django features are on; logs a warning for ``command`` when they are not."""
        if not self.options.django_features:
            self.log(f"{command} needs Django features (trusted workspace)", types.MessageType.Warning)
            return False
        return True

    # ------------------------------------------------------------ paths and positions

    @property
    def encoding(self) -> str:
        return str(self.server.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def lines_of(self, path: Path) -> list[str] | None:
        return self.index.lines_of(path)

    def to_path(self, uri: str) -> Path | None:
        """A client URI -> the path the index knows it by."""
        return self.roots.uri_to_index(uri)

    def to_uri(self, path: Path | str) -> str:
        """An indexed path -> the URI the client knows it by."""
        return self.roots.to_uri(path)

    def located(self, uri: str) -> tuple[IndexedProject, MigrationRecord] | None:
        """The folder and migration of ``uri`` (pending buffer changes parsed first)."""
        self.flush()
        path = self.to_path(uri)
        return self.index.record_for(path) if path is not None else None

    def hit(self, uri: str, position: types.Position
            ) -> tuple[IndexedProject, MigrationRecord, Hit] | None:
        """What sits at ``position`` of the migration ``uri``, with its folder and record."""
        found = self.located(uri)
        if found is None:
            return None
        path = self.to_path(uri)
        lines = self.lines_of(path) if path is not None else None
        hit = item_at(found[1], *cv.position_to_point(position, lines, self.encoding))
        return (*found, hit) if hit is not None else None

    def span_range(self, path: Path, span: Any) -> types.Range:
        return cv.span_to_range(span, self.lines_of(path), self.encoding)

    def location_of(self, record: MigrationRecord) -> types.Location:
        """Where ``record``'s ``class Migration`` line is."""
        return cv.location(record.path, header_span(record), self.lines_of(record.path),
                           self.encoding, self.to_uri)

    def state_of(self, app: str) -> IndexedProject:
        self.flush()
        return cmds.find_state(self.index, app)

    # ------------------------------------------------------------ workspace folders

    def configure(self, options: Options) -> None:
        """``initialize``: the client's ``initializationOptions``, parsed."""
        self.options = options
        self.index.settings_module = options.settings_module

    def open_workspace(self) -> None:
        """``initialized``: index every workspace folder, then start the background work."""
        workspace = self.server.workspace
        roots = [cv.uri_to_path(f.uri) for f in workspace.folders.values()]
        if not roots and workspace.root_path:
            roots = [Path(workspace.root_path)]
        for root in roots:
            if root is not None:
                self.add_root(root)
        _freeze_heap()
        self.schedule_suggestions(0)
        self.schedule_predictions(0)
        self.watch_files()

    def change_folders(self, added: Iterable[str], removed: Iterable[str]) -> None:
        """``workspace/didChangeWorkspaceFolders`` (folder URIs)."""
        for uri in removed:
            path = cv.uri_to_path(uri)
            if path is not None:
                self.index.remove_root(path)
                self.clear_diagnostics(path)
                self.roots.remove(path)
        for uri in added:
            path = cv.uri_to_path(uri)
            if path is not None:
                self.add_root(path)
        _freeze_heap()
        self.schedule_suggestions(0)

    def add_root(self, root: Path) -> IndexedProject | None:
        """Index a workspace folder, publish its diagnostics, say when its config is bad."""
        state = self.index.add_root(self.roots.add(root))
        if state is not None:
            self.report_config(state)
        self.publish(state)
        return state

    def report_config(self, state: IndexedProject) -> None:
        """A ``[tool.squasher]`` that cannot be used is shown once (the defaults apply)."""
        if state.config_error:
            self.show(f"squasher: {state.config_error}; using the defaults",
                      types.MessageType.Warning)

    def watch_files(self) -> None:
        """Ask the client to report migrations, pyproject.toml and git refs changing on disk."""
        workspace = self.server.client_capabilities.workspace
        watched = workspace and workspace.did_change_watched_files
        if not (watched and watched.dynamic_registration):
            return
        params = types.RegistrationParams(registrations=[
            types.Registration(
                id=str(uuid.uuid4()), method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[types.FileSystemWatcher(glob_pattern=glob)
                              for glob in (MIGRATION_GLOB, CONFIG_GLOB, *GIT_REF_GLOBS)]
                ),
            )
        ])
        self.server.client_register_capability(params)

    # ------------------------------------------------------------ buffers and files

    def buffer_changed(self, uri: str) -> None:
        """``didOpen``/``didChange``: re-parse the buffer once the burst of changes is read."""
        path = self.to_path(uri)
        if path is None or not self.index.is_migration_path(path):
            return
        self.pending[path] = self.server.workspace.get_text_document(uri).source
        self.schedule_flush()

    def buffer_closed(self, uri: str) -> None:
        """``didClose``: back to the file on disk."""
        path = self.to_path(uri)
        if path is not None:
            self.pending.pop(path, None)
            self.publish(self.index.drop_buffer(path))
            self.schedule_suggestions()

    def files_changed(self, uris: Iterable[str]) -> None:
        """``workspace/didChangeWatchedFiles``: migrations, pyproject.toml, git refs."""
        paths = [p for p in (self.to_path(uri) for uri in uris) if p is not None]
        if any(".git" in p.parts for p in paths):  # a branch moved: predict the merge again
            self.schedule_predictions(0)
        self.refresh_paths([p for p in paths if ".git" not in p.parts])

    def schedule_flush(self) -> None:
        """Re-parse changed buffers once the messages already received are handled."""
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # unit use
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Apply pending buffer changes to the index and publish what changed."""
        self._flush_scheduled = False
        pending, self.pending = self.pending, {}
        touched: dict[Path, IndexedProject] = {}
        for path, source in pending.items():
            try:
                state = self.index.set_buffer(path, source)
            except Exception as exc:
                self.log_error(f"update of {path}", exc)
                continue
            if state is not None:
                touched[state.root] = state
        for state in touched.values():
            try:
                self.publish(state)
            except Exception as exc:  # e.g. a broken root: the other roots still publish
                self.log_error(f"diagnostics of {state.root}", exc)
        if touched:
            # predictions compare the files on disk with the base branch: saves and ref moves
            # refresh them (refresh_paths), keystrokes do not
            self.schedule_suggestions()

    def refresh_paths(self, paths: list[Path]) -> None:
        """Files changed on disk: re-read them, publish, schedule suggestions and predictions."""
        self.flush()
        touched = {}
        for path in paths:
            state = self.index.file_changed_on_disk(path)
            if state is not None:
                touched[state.root] = state
                if path.name == "pyproject.toml":
                    self.report_config(state)
        for state in touched.values():
            self.publish(state)
        self.schedule_suggestions()
        self.schedule_predictions()

    def read_text(self, path: Path) -> str:
        """Source hook for planning: the editor's unsaved buffer if open, else the disk."""
        text = self.index.buffers.get(path)
        return text if text is not None else Path(path).read_text("utf-8")

    def version_of(self, uri: str) -> int | None:
        doc = self.server.workspace.text_documents.get(uri)
        return doc.version if doc is not None else None

    # ------------------------------------------------------------ diagnostics

    def clear_diagnostics(self, root: Path) -> None:
        """Withdraw every diagnostic published for files under ``root``."""
        prefix = self.to_uri(root.resolve()) + "/"
        for uri in [u for u in self.published if u.startswith(prefix)]:
            self._withdraw(uri)

    def _withdraw(self, uri: str) -> None:
        del self.published[uri]
        self._problems_seen.pop(uri, None)
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def publish(self, state: IndexedProject | None) -> None:
        """Publish diagnostics of ``state`` for every file whose diagnostics changed."""
        if state is None:
            return
        fresh = {self.to_uri(path): problems
                 for path, problems in self.index.problems_by_path(state).items()}
        root_uri = self.to_uri(state.root)
        for uri in [u for u in self.published if u.startswith(root_uri + "/") and u not in fresh]:
            self._withdraw(uri)
        for uri, problems in fresh.items():
            # Unchanged problems (frozen dataclasses, spans included): nothing to convert.
            if self._problems_seen.get(uri) == problems and uri in self.published:
                continue
            try:
                self._publish_one(uri, problems)
            except Exception as exc:  # one bad buffer must never stop the other files
                self._problems_seen.pop(uri, None)
                self.log_error(f"diagnostics of {uri}", exc)

    def _publish_one(self, uri: str, problems: list[Any]) -> None:
        """Convert and send ``uri``'s diagnostics (unless they did not change)."""
        self._problems_seen[uri] = problems
        diagnostics = [cv.problem_to_diagnostic(p, self.lines_of, self.encoding, self.to_uri)
                       for p in problems]
        diagnostics = self.options.adjust_severity(diagnostics)  # squasher.severity overrides
        diagnostics.sort(key=lambda d: (d.range.start.line, d.range.start.character, str(d.code)))
        ident = tuple(cv.diagnostic_identity(d) for d in diagnostics)
        if self.published.get(uri) == ident:
            return
        self.published[uri] = ident
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    # ------------------------------------------------------------ background work

    def _spawn(self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(work)
        self._tasks.add(task)  # keep a reference until done (asyncio holds only weak ones)
        task.add_done_callback(self._tasks.discard)

    def schedule_suggestions(self, delay: float = SUGGEST_DELAY) -> None:
        """Debounced: recompute stale squash suggestions once edits settle, then republish.

        ``squasher.lifecycle.suggest`` runs in a worker thread so hovers and edits stay responsive;
        if the graph changes under it, the apps stay stale and it runs again.
        """
        if self._suggest_timer is not None:
            self._suggest_timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside the server loop (unit use): do it now
            self.index.refresh_suggestions()
            return
        self._suggest_timer = loop.call_later(
            delay, lambda: self._spawn(loop, self._refresh_suggestions()))

    def schedule_predictions(self, delay: float = PREDICT_DELAY) -> None:
        """Debounced: predict again what merging the base branch would break (SQ2nn).

        git and the merged check run in a worker thread, time-boxed; the folders without a
        base branch (no ``against`` and no ``origin/HEAD``) cost one ``git rev-parse``.
        """
        if self._predict_timer is not None:
            self._predict_timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # unit use: predictions belong to the running server
            return
        self._predict_timer = loop.call_later(
            delay, lambda: self._spawn(loop, self._refresh_predictions()))

    async def _refresh_predictions(self) -> None:
        self._predict_timer = None
        if self._predicting:
            self.schedule_predictions()
            return
        self._predicting = True
        try:
            loop = asyncio.get_running_loop()
            for root, state in list(self.index.states.items()):
                work = loop.run_in_executor(None, self.index.compute_prediction, state)
                try:
                    rev, preview = await asyncio.wait_for(work, PREDICT_TIMEOUT)
                except TimeoutError:
                    self.log(f"squasher: merge prediction for {root} took longer than "
                             f"{PREDICT_TIMEOUT:.0f} s; skipped", types.MessageType.Warning)
                    continue
                if self.index.states.get(root) is not state:
                    continue  # the folder was re-read meanwhile; its own run follows
                if self.index.apply_prediction(state, rev, preview):
                    self.publish(state)
                    self.log(f"squasher: merge prediction against {rev}: "
                             f"{len(state.predicted)} problem(s)")
        except Exception as exc:
            self.log_error("merge prediction", exc)
        finally:
            self._predicting = False

    async def _refresh_suggestions(self) -> None:
        self._suggest_timer = None
        if self._suggesting:
            self.schedule_suggestions()
            return
        pending = self.index.take_stale_suggestions()
        if not pending:
            return
        self._suggesting = True
        try:
            loop = asyncio.get_running_loop()
            # While the worker thread holds the GIL, every hand-back to the event loop (each
            # read and write of a request) waits up to the switch interval (5 ms): a hover
            # took 40-60 ms during a recompute. A short interval keeps requests fast.
            previous = sys.getswitchinterval()
            sys.setswitchinterval(min(previous, WORKER_SWITCH_INTERVAL))
            try:
                results = await loop.run_in_executor(None, self.index.compute_suggestions, pending)
            finally:
                sys.setswitchinterval(previous)
            for state in self.index.apply_suggestions(results):
                self.publish(state)
            count = sum(len(r) for st in self.index.states.values() for r in st.suggestions.values())
            self.log(f"squasher: squash suggestions updated ({count} ranges)")
        except ImportError:
            self.log("squasher: squasher.lifecycle.suggest is not available; no squash suggestions",
                     types.MessageType.Warning)
        except Exception as exc:
            self._suggest_failures += 1
            if self._suggest_failures <= 3:  # e.g. the graph changed while reading it
                for root, apps in pending.items():
                    stale = self.index.states.get(root)
                    if stale is not None:
                        self.index.mark_suggestions_stale(stale, apps)
                self.schedule_suggestions()
            else:
                self.log_error("squash suggestions", exc)
        else:
            self._suggest_failures = 0
        finally:
            self._suggesting = False

    # ------------------------------------------------------------ edits

    def supports(self, kinds: Iterable[str]) -> bool:
        """Whether the client can apply one WorkspaceEdit with changes of these kinds
        (``ChangeSet`` kinds: create, modify, rename, delete)."""
        workspace = self.server.client_capabilities.workspace
        if workspace is None or not workspace.apply_edit:
            return False
        needed = set(kinds) & {"create", "rename", "delete"}
        ops = (workspace.workspace_edit and workspace.workspace_edit.resource_operations) or []
        return needed <= {str(op.value if hasattr(op, "value") else op) for op in ops}

    def can_apply(self, changes: ChangeSet) -> bool:
        """Whether the client can apply these changes as one WorkspaceEdit."""
        return self.supports(change.kind for change in changes.changes)

    def workspace_edit(self, changes: ChangeSet, *, from_disk: bool = False) -> types.WorkspaceEdit:
        """``changes`` -> minimal, versioned edits of the current buffers.

        ``from_disk``: the changes were planned from the files on disk (finalize, the squash
        subprocess) rather than from the editor's buffers; they are laid over unsaved
        buffers, or refused (:class:`convert.StaleBufferError`) where they collide.
        """
        return cv.changes_to_workspace_edit(
            changes, current_text=self.index.text_of, version_of=self.version_of,
            encoding=self.encoding, base_text=_disk_text if from_disk else None,
            uri_of=self.to_uri,
        )

    async def apply(self, label: str, changes: ChangeSet, *, from_disk: bool = False) -> Applied:
        """Apply planned changes: one ``workspace/applyEdit``, or on disk (atomically, through
        the journal) when the client cannot create/rename/delete files."""
        if not self.can_apply(changes):
            changes.apply()
            self.log_info(f"squasher: {label}: applied on disk ({len(changes.changes)} changes)")
            self.refresh_paths(changes.paths())
            return {"applied": True}
        edit = self.workspace_edit(changes, from_disk=from_disk)
        result = await self.server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=label))
        applied = bool(result and result.applied)
        if not applied:
            reason = getattr(result, "failure_reason", None)
            self.log(f"squasher: {label}: edit not applied ({reason})", types.MessageType.Warning)
        return {"applied": applied}

    def code_actions(self, state: IndexedProject, record: MigrationRecord, span: types.Range,
                     diagnostics: Sequence[types.Diagnostic]) -> list[types.CodeAction]:
        """The code actions on lines ``span`` of ``record`` (failed plans are logged)."""
        planned = act.plan_actions(
            self.index, state, record, span.start.line + 1, span.end.line + 1,
            self.options.django_features, read_text=self.read_text,
        )
        out = []
        for action in planned:
            if action.errors:
                self.log("; ".join(action.errors), types.MessageType.Warning)
                continue
            out.append(self.code_action(action, diagnostics))
        return out

    def code_action(self, action: act.PlannedAction,
                    diagnostics: Sequence[types.Diagnostic]) -> types.CodeAction:
        """A planned action -> an LSP code action: an edit when the client can apply it,
        else the action's server command (which applies it on disk)."""
        edit = command = None
        if action.changes is not None and action.fallback and not self.can_apply(action.changes):
            action.command = action.fallback  # the server applies it on disk instead
        elif action.changes is not None:
            edit = self.workspace_edit(action.changes)
        elif action.replace is not None:
            path, span, text = action.replace
            uri = self.to_uri(path)
            edit = cv.replace_edit(path, span, text, self.lines_of(path), self.encoding,
                                   version=self.version_of(uri), uri=uri)
        if action.command is not None:
            name, arguments = action.command
            command = types.Command(title=action.title, command=name, arguments=[arguments])
        return types.CodeAction(
            title=action.title, kind=action.kind, edit=edit, command=command,
            diagnostics=[d for d in diagnostics if d.code in action.codes] or None,
            is_preferred=action.preferred or None,
        )

    # ------------------------------------------------------------ progress

    def progress(self, title: str) -> Progress:
        """``async with session.progress(title) as progress: ... progress.report(step)``"""
        return Progress(self, title)

    def wants_progress(self) -> bool:
        window = self.server.client_capabilities.window
        return bool(window and window.work_done_progress)


class Progress:
    """``$/progress`` begin/end around a long-running command (when the client supports it)."""

    def __init__(self, session: Session, title: str) -> None:
        self.session, self.title, self.token = session, title, str(uuid.uuid4())
        self.active = False

    @property
    def _progress(self) -> Any:
        return self.session.server.work_done_progress

    async def __aenter__(self) -> Progress:
        if self.session.wants_progress():
            try:
                await self._progress.create_async(self.token)
                self._progress.begin(
                    self.token, types.WorkDoneProgressBegin(title=self.title, cancellable=False))
                self.active = True
            except Exception as exc:
                self.session.log_error("progress", exc)
        return self

    def report(self, message: str) -> None:
        """One step of the work (loading, optimizing, each verification run)."""
        if self.active:
            self._progress.report(self.token, types.WorkDoneProgressReport(message=message))

    async def __aexit__(self, *exc: object) -> None:
        if self.active:
            self._progress.end(self.token, types.WorkDoneProgressEnd(message="done"))


def _disk_text(path: Path) -> str | None:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _freeze_heap() -> None:
    """Move the loaded index out of the cyclic GC's reach: a 10,000-migration project is
    millions of long-lived objects, and rescanning them made full collections show up as
    100+ ms pauses in edit and hover latency."""
    gc.collect()
    gc.freeze()
