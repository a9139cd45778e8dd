"""The pygls server: one short handler per LSP feature, each delegating to
``lsp_server.features`` (domain logic) and ``lsp_server.convert`` (protocol conversion).

Every handler is wrapped by :func:`guarded`: an exception is logged to the client
(``window/logMessage``) and the handler returns an empty result instead of dying.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import importlib.metadata
import inspect
import sys
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, LanguageServerProtocol

from lsp_server import convert as cv
from lsp_server.features import actions as act
from lsp_server.features import commands as cmds
from lsp_server.features.hover import hover_text
from lsp_server.features.lens import lenses
from lsp_server.features.locate import item_at, resolve_reference
from lsp_server.index import ProjectState, WorkspaceIndex, header_span
from lsp_server.options import Options
from squasher.fileops import ChangeSet

F = TypeVar("F", bound=Callable[..., Any])

try:
    __version__ = importlib.metadata.version("django-squasher")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

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


class SquasherProtocol(LanguageServerProtocol):
    """pygls' protocol, except that a request whose parameters do not fit the LSP types
    (a negative line, a missing field) gets a JSON-RPC error response.

    pygls raises while decoding such a message and only logs it, so the client waited
    for an answer forever.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise  # a notification or a response: nobody waits for an answer
            cause = exc.__cause__
            detail = "; ".join(cattrs.transform_error(cause)) if isinstance(
                cause, cattrs.ClassValidationError) else str(cause or exc)
            error = JsonRpcInvalidParams(f"invalid params for {data['method']}: {detail}") \
                if isinstance(exc, JsonRpcInvalidParams) else exc
            self._send_response(data["id"], error=error.to_response_error())
            # Handled: hand pygls a notification nobody listens to ("$/" may be ignored).
            return self._converter.structure(
                {"jsonrpc": "2.0", "method": "$/squasher/invalidRequest"}, JsonRPCNotification)


class SquasherServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("squasher-lsp", __version__, protocol_cls=SquasherProtocol)
        self.options = Options()
        self.index = WorkspaceIndex(logger=self.log_info)
        self.published: dict[str, tuple[Any, ...]] = {}
        self._suggest_timer: asyncio.TimerHandle | None = None
        self._suggesting = False
        self._suggest_failures = 0
        self._predict_timer: asyncio.TimerHandle | None = None
        self._predicting = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._problems_seen: dict[str, list[Any]] = {}
        #: editor buffers changed but not re-parsed yet (a burst of didChange is parsed once)
        self.pending: dict[Path, str] = {}
        self._flush_scheduled = False
        #: workspace roots as the client names them (symlinks) vs. as indexed (resolved)
        self.roots = cv.RootMap()

    # ------------------------------------------------------------ logging

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        with contextlib.suppress(Exception):  # not connected (unit use)
            self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def log_info(self, message: str) -> None:
        self.log(message, types.MessageType.Info)

    def show_error(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"squasher: {exc}")
            )

    def log_error(self, where: str, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(exc)).rstrip()
        self.log(f"squasher-lsp: {where} failed: {exc!r}\n{detail}", types.MessageType.Error)

    # ------------------------------------------------------------ helpers

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def lines_of(self, path: Path) -> list[str] | None:
        return self.index.lines_of(path)

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
        touched: dict[Path, ProjectState] = {}
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

    def to_path(self, uri: str) -> Path | None:
        """A client URI -> the path the index knows it by."""
        return self.roots.uri_to_index(uri)

    def to_uri(self, path: Path | str) -> str:
        """An indexed path -> the URI the client knows it by."""
        return self.roots.to_uri(path)

    def located(self, uri: str) -> tuple[ProjectState, Any] | None:
        self.flush()
        path = self.to_path(uri)
        return self.index.record_for(path) if path is not None else None

    def point(self, uri: str, position: types.Position) -> tuple[int, int]:
        path = self.to_path(uri)
        lines = self.lines_of(path) if path is not None else None
        return cv.position_to_point(position, lines, self.encoding)

    def clear_diagnostics(self, root: Path) -> None:
        """Withdraw every diagnostic published for files under ``root``."""
        prefix = self.to_uri(root.resolve()) + "/"
        for uri in [u for u in self.published if u.startswith(prefix)]:
            del self.published[uri]
            self._problems_seen.pop(uri, None)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    def publish(self, state: ProjectState | None) -> None:
        """Publish diagnostics of ``state`` for every file whose diagnostics changed."""
        if state is None:
            return
        by_path = self.index.problems_by_path(state)
        fresh: dict[str, list[Any]] = {}
        for path, problems in by_path.items():
            fresh[self.to_uri(path)] = problems
        root_uri = self.to_uri(state.root)
        stale = [u for u in self.published if u.startswith(root_uri + "/") and u not in fresh]
        for uri in stale:
            del self.published[uri]
            self._problems_seen.pop(uri, None)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
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
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )

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
        self._suggest_timer = loop.call_later(delay, self._start_suggestions, loop)

    def _start_suggestions(self, loop: asyncio.AbstractEventLoop) -> None:
        self._spawn(loop, self._refresh_suggestions())

    def _spawn(self, loop: asyncio.AbstractEventLoop, work: Any) -> None:
        task = loop.create_task(work)
        self._tasks.add(task)  # keep a reference until done (asyncio holds only weak ones)
        task.add_done_callback(self._tasks.discard)

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
                    state = self.index.states.get(root)
                    if state is not None:
                        self.index.mark_suggestions_stale(state, apps)
                self.schedule_suggestions()
            else:
                self.log_error("squash suggestions", exc)
        else:
            self._suggest_failures = 0
        finally:
            self._suggesting = False

    def state_of(self, app: str) -> ProjectState:
        self.flush()
        return cmds.find_state(self.index, app)

    def workspace_edit(self, changes: Any, *, from_disk: bool = False) -> types.WorkspaceEdit:
        """``changes`` -> minimal, versioned edits of the current buffers.

        ``from_disk``: the changes were planned from the files on disk (finalize, the squash
        subprocess) rather than from the editor's buffers; they are laid over unsaved
        buffers, or refused (:class:`convert.StaleBufferError`) where they collide.
        """
        return cv.changes_to_workspace_edit(
            changes, current_text=self.index.text_of, version_of=self._version_of,
            encoding=self.encoding, base_text=_disk_text if from_disk else None,
            uri_of=self.to_uri,
        )

    def read_text(self, path: Path) -> str:
        """Source hook for planning: the editor's unsaved buffer if open, else the disk."""
        text = self.index.buffers.get(path)
        return text if text is not None else Path(path).read_text("utf-8")

    def _version_of(self, uri: str) -> int | None:
        doc = self.workspace.text_documents.get(uri)
        return doc.version if doc is not None else None

    def can_apply(self, changes: Any) -> bool:
        """Whether the client can apply these changes as one WorkspaceEdit."""
        workspace = self.client_capabilities.workspace
        if workspace is None or not workspace.apply_edit:
            return False
        items = changes.to_json() if isinstance(changes, ChangeSet) else list(changes)
        needed = {c["kind"] for c in items} & {"create", "rename", "delete"}
        ops = (workspace.workspace_edit and workspace.workspace_edit.resource_operations) or []
        return needed <= {str(op.value if hasattr(op, "value") else op) for op in ops}

    async def apply(self, label: str, changes: Any, *, from_disk: bool = False) -> dict[str, Any]:
        if not self.can_apply(changes):
            # The client cannot create/rename/delete files: apply atomically on disk.
            changeset = changes if isinstance(changes, ChangeSet) else cv.changeset_from_json(changes)
            changeset.apply()
            self.log_info(f"squasher: {label}: applied on disk ({len(changeset.changes)} changes)")
            self.refresh_paths(changeset.paths())
            return {"applied": True}
        edit = self.workspace_edit(changes, from_disk=from_disk)
        result = await self.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=label)
        )
        applied = bool(result and result.applied)
        if not applied:
            reason = getattr(result, "failure_reason", None)
            self.log(f"squasher: {label}: edit not applied ({reason})", types.MessageType.Warning)
        return {"applied": applied}

    def refresh_paths(self, paths: list[Path]) -> None:
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

    def add_root(self, root: Path) -> ProjectState | None:
        """Index a workspace folder, publish its diagnostics, say when its config is bad."""
        state = self.index.add_root(self.roots.add(root))
        if state is not None:
            self.report_config(state)
        self.publish(state)
        return state

    def report_config(self, state: ProjectState) -> None:
        """A ``[tool.squasher]`` that cannot be used is shown once (the defaults apply)."""
        if state.config_error:
            with contextlib.suppress(Exception):  # not connected (unit use)
                self.window_show_message(types.ShowMessageParams(
                    type=types.MessageType.Warning,
                    message=f"squasher: {state.config_error}; using the defaults"))

    def wants_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)


def _disk_text(path: Path) -> str | None:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def guarded(default: Any = None, notify: bool = False) -> Callable[[F], F]:
    """Catch, log (window/logMessage) and return ``default`` instead of dying.

    ``notify``: also show the error to the user (commands the user asked for).
    """

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(ls: SquasherServer, *args: Any) -> Any:
                try:
                    return await fn(ls, *args)
                except Exception as exc:
                    ls.log_error(fn.__name__, exc)
                    if notify:
                        ls.show_error(exc)
                    return default() if callable(default) else default

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(ls: SquasherServer, *args: Any) -> Any:
            try:
                return fn(ls, *args)
            except Exception as exc:
                ls.log_error(fn.__name__, exc)
                return default() if callable(default) else default

        return wrapper  # type: ignore[return-value]

    return decorate


server = SquasherServer()


# ---------------------------------------------------------------- lifecycle


@server.feature(types.INITIALIZE)
@guarded()
def initialize(ls: SquasherServer, params: types.InitializeParams) -> None:
    ls.options = Options.from_json(params.initialization_options)
    ls.index.settings_module = ls.options.settings_module


@server.feature(types.INITIALIZED)
@guarded()
def initialized(ls: SquasherServer, params: types.InitializedParams) -> None:
    roots = [cv.uri_to_path(f.uri) for f in ls.workspace.folders.values()]
    if not roots and ls.workspace.root_path:
        roots = [Path(ls.workspace.root_path)]
    for root in roots:
        if root is not None:
            ls.add_root(root)
    _freeze_heap()
    ls.schedule_suggestions(0)
    ls.schedule_predictions(0)
    _register_watcher(ls)


def _freeze_heap() -> None:
    """Move the loaded index out of the cyclic GC's reach: a 10,000-migration project is
    millions of long-lived objects, and rescanning them made full collections show up as
    100+ ms pauses in edit and hover latency."""
    gc.collect()
    gc.freeze()


def _register_watcher(ls: SquasherServer) -> None:
    watched = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
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
    ls.client_register_capability(params)


@server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
@guarded()
def folders_changed(ls: SquasherServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    for folder in params.event.removed:
        path = cv.uri_to_path(folder.uri)
        if path is not None:
            ls.index.remove_root(path)
            ls.clear_diagnostics(path)
            ls.roots.remove(path)
    for folder in params.event.added:
        path = cv.uri_to_path(folder.uri)
        if path is not None:
            ls.add_root(path)
    _freeze_heap()
    ls.schedule_suggestions(0)


# ---------------------------------------------------------------- documents


def _buffer_changed(ls: SquasherServer, uri: str) -> None:
    path = ls.to_path(uri)
    if path is None or not ls.index.is_migration_path(path):
        return
    ls.pending[path] = ls.workspace.get_text_document(uri).source
    ls.schedule_flush()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@guarded()
def did_open(ls: SquasherServer, params: types.DidOpenTextDocumentParams) -> None:
    _buffer_changed(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@guarded()
def did_change(ls: SquasherServer, params: types.DidChangeTextDocumentParams) -> None:
    _buffer_changed(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@guarded()
def did_close(ls: SquasherServer, params: types.DidCloseTextDocumentParams) -> None:
    path = ls.to_path(params.text_document.uri)
    if path is not None:
        ls.pending.pop(path, None)
        ls.publish(ls.index.drop_buffer(path))
        ls.schedule_suggestions()


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
@guarded()
def watched_files(ls: SquasherServer, params: types.DidChangeWatchedFilesParams) -> None:
    paths = [p for p in (ls.to_path(c.uri) for c in params.changes) if p is not None]
    if any(".git" in p.parts for p in paths):  # a branch moved: predict the merge again
        ls.schedule_predictions(0)
    ls.refresh_paths([p for p in paths if ".git" not in p.parts])


# ---------------------------------------------------------------- navigation


@server.feature(types.TEXT_DOCUMENT_HOVER)
@guarded()
def hover(ls: SquasherServer, params: types.HoverParams) -> types.Hover | None:
    found = ls.located(params.text_document.uri)
    if found is None:
        return None
    state, record = found
    hit = item_at(record, *ls.point(params.text_document.uri, params.position))
    text = hover_text(state.graph, state.root, record, hit) if hit else None
    if not text or hit is None:
        return None
    span = (hit.reference.span if hit.reference else hit.operation.span if hit.operation
            else header_span(record))
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
        range=cv.span_to_range(span, ls.lines_of(record.path), ls.encoding),
    )


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@guarded()
def definition(ls: SquasherServer, params: types.DefinitionParams) -> list[types.Location] | None:
    found = ls.located(params.text_document.uri)
    if found is None:
        return None
    state, record = found
    hit = item_at(record, *ls.point(params.text_document.uri, params.position))
    if hit is None or hit.reference is None:
        return None
    key = resolve_reference(state.graph, hit.reference)
    target = state.graph.records.get(key) if key else None
    if target is None:
        return None
    return [cv.location(target.path, header_span(target), ls.lines_of(target.path), ls.encoding,
                        ls.to_uri)]


# ---------------------------------------------------------------- code actions and lenses


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[
        types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite,
    ]),
)
@guarded(list)
def code_action(ls: SquasherServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    found = ls.located(params.text_document.uri)
    if found is None:
        return []
    state, record = found
    planned = act.plan_actions(
        ls.index, state, record, params.range.start.line + 1, params.range.end.line + 1,
        ls.options.django_features, read_text=ls.read_text,
    )
    out = []
    for action in planned:
        if action.errors:
            ls.log("; ".join(action.errors), types.MessageType.Warning)
            continue
        out.append(_code_action(ls, action, params.context.diagnostics))
    return out


def _code_action(
    ls: SquasherServer, action: act.PlannedAction, diagnostics: list[types.Diagnostic]
) -> types.CodeAction:
    edit = command = None
    if action.changes is not None and action.fallback and not ls.can_apply(action.changes):
        action.command = action.fallback  # the server applies it on disk instead
    elif action.changes is not None:
        edit = ls.workspace_edit(action.changes)
    elif action.replace is not None:
        path, span, text = action.replace
        uri = ls.to_uri(path)
        edit = cv.replace_edit(path, span, text, ls.lines_of(path), ls.encoding,
                               version=ls._version_of(uri), uri=uri)
    if action.command is not None:
        name, arguments = action.command
        command = types.Command(title=action.title, command=name, arguments=[arguments])
    return types.CodeAction(
        title=action.title, kind=action.kind, edit=edit, command=command,
        diagnostics=[d for d in diagnostics if d.code in action.codes] or None,
        is_preferred=action.preferred or None,
    )


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
@guarded(list)
def code_lens(ls: SquasherServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    found = ls.located(params.text_document.uri)
    if found is None:
        return []
    state, record = found
    if record.class_span is None:
        return []
    span_range = cv.span_to_range(header_span(record), ls.lines_of(record.path), ls.encoding)
    return [
        types.CodeLens(range=span_range, command=types.Command(
            title=lens.title, command=lens.command or "",
            arguments=[lens.argument] if lens.argument is not None else None))
        for lens in lenses(ls.index, state, record, ls.options.django_features)
    ]


# ---------------------------------------------------------------- commands


def _arg(args: tuple[Any, ...], *required: str) -> dict[str, Any]:
    """The command's one JSON-object argument (ARCHITECTURE.md), with required keys checked."""
    options = args[0] if args and isinstance(args[0], dict) else {}
    missing = [key for key in required if not options.get(key)]
    if missing:
        raise ValueError(f"missing command argument(s): {', '.join(missing)}")
    return options


def _django_features(ls: SquasherServer, command: str) -> bool:
    """Whether the Django features are on; logs a warning for ``command`` when they are not."""
    if not ls.options.django_features:
        ls.log(f"{command} needs Django features (trusted workspace)", types.MessageType.Warning)
        return False
    return True


@server.command("squasher.listApps")
@guarded(list)
def list_apps(ls: SquasherServer, *args: Any) -> list[dict[str, Any]]:
    ls.flush()
    return cmds.list_apps(ls.index, ls.roots.to_client)


@server.command("squasher.conflictCount")
@guarded(lambda: {"count": 0})
def conflict_count(ls: SquasherServer, *args: Any) -> dict[str, int]:
    ls.flush()
    return cmds.conflict_count(ls.index)


@server.command("squasher.graph.graph")
@guarded(lambda: {"text": "", "nodes": {}})
def graph(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    options = _arg(args)
    ls.flush()
    return cmds.graph_text(ls.index, options.get("format", "mermaid"), options.get("apps"),
                           uri_of=ls.to_uri)


@server.command("squasher.createMerge")
@guarded(lambda: {"applied": False}, notify=True)
async def create_merge(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    app = _arg(args, "app")["app"]
    changes = act.plan_merge_changes(ls.state_of(app), app, ls.index.buffers)
    return await ls.apply(f"Create merge migration for {app}", changes)


@server.command("squasher.lifecycle.rebase")
@guarded(lambda: {"applied": False}, notify=True)
async def rebase(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    options = _arg(args, "app")
    app = options["app"]
    # Planned from the unsaved buffers when the editor applies the edit; from disk when the
    # server has to write the files itself (a client without file operations).
    read = ls.read_text if ls.can_apply([{"kind": "rename"}]) else None
    changes = act.plan_rebase_changes(ls.state_of(app), app, options.get("onto"), read,
                                      ls.index.buffers)
    return await ls.apply(f"Rebase {app}", changes)


@server.command("squasher.rebaseOnto")
@guarded(lambda: {"applied": False}, notify=True)
async def rebase_onto(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    """``merge --rebase --onto REV`` for one app: follow the base branch's leaf."""
    options = _arg(args, "app", "rev")
    app, rev = options["app"], options["rev"]
    changes = act.plan_rebase_onto_changes(ls.state_of(app), app, rev, ls.index.buffers)
    result = await ls.apply(f"Rebase {app} onto {rev}", changes, from_disk=True)
    ls.schedule_predictions(0)
    return result


@server.command("squasher.squash.plan")
@guarded(lambda: {"applied": False}, notify=True)
async def squash(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    if not _django_features(ls, "squasher.squash.plan"):
        return {"applied": False}
    options = _arg(args, "app", "end")
    app, start, end = options["app"], options.get("start"), options["end"]
    state = ls.state_of(app)
    async with _progress(ls, f"Squashing {app} {start or ''}…{end}") as progress:
        changes = await cmds.run_squash_subprocess(
            state, app, start, end, ls.options.interpreter, ls.options.settings_module,
            on_step=progress.report,
        )
    return await ls.apply(f"Squash {app} {start or ''}–{end}", changes, from_disk=True)


@server.command("squasher.lifecycle.finalize")
@guarded(lambda: {"applied": False}, notify=True)
async def finalize(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    if not _django_features(ls, "squasher.lifecycle.finalize"):
        return {"applied": False}
    options = _arg(args, "app", "squash")
    app, squash_name = options["app"], options["squash"]
    state = ls.state_of(app)
    async with _progress(ls, f"Finalizing {app}.{squash_name}"):
        changes = cmds.plan_finalize_changes(state, app, squash_name)
    return await ls.apply(f"Finalize {app}.{squash_name}", changes, from_disk=True)


class _progress:
    """``$/progress`` begin/end around a long-running command (when the client supports it)."""

    def __init__(self, ls: SquasherServer, title: str) -> None:
        self.ls, self.title, self.token = ls, title, str(uuid.uuid4())
        self.active = False

    async def __aenter__(self) -> _progress:
        if self.ls.wants_progress():
            try:
                await self.ls.work_done_progress.create_async(self.token)
                self.ls.work_done_progress.begin(
                    self.token, types.WorkDoneProgressBegin(title=self.title, cancellable=False)
                )
                self.active = True
            except Exception as exc:
                self.ls.log_error("progress", exc)
        return self

    def report(self, message: str) -> None:
        """One step of the work (loading, optimizing, each verification run)."""
        if self.active:
            self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    async def __aexit__(self, *exc: Any) -> None:
        if self.active:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message="done"))
