"""The pygls server: one short handler per LSP feature and command.

Handlers only translate: the state and everything that outlives a request (publishing,
scheduling, applying edits, progress) is :class:`lsp_server.session.Session`; the domain
logic is ``lsp_server.features``; protocol conversion is ``lsp_server.convert``.

Every handler is wrapped by :func:`guarded`: an exception is logged to the client
(``window/logMessage``) and the handler returns an empty result instead of dying.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from lsp_server import __version__
from lsp_server import convert as cv
from lsp_server.features import actions as act
from lsp_server.features import commands as cmds
from lsp_server.features.hover import hover_text
from lsp_server.features.lens import lenses
from lsp_server.features.locate import hit_span, resolve_reference
from lsp_server.index import header_span
from lsp_server.options import Options
from lsp_server.protocol import SquasherProtocol
from lsp_server.session import Applied, Session

F = TypeVar("F", bound=Callable[..., Any])


class SquasherServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("squasher-lsp", __version__, protocol_cls=SquasherProtocol)
        self.session = Session(self)


def guarded(default: Any = None, notify: bool = False) -> Callable[[F], F]:
    """Catch, log (window/logMessage) and return ``default`` instead of dying.

    ``notify``: also show the error to the user (commands the user asked for).
    """

    def fallback(ls: SquasherServer, fn: Callable[..., Any], exc: Exception) -> Any:
        ls.session.log_error(fn.__name__, exc)
        if notify:
            ls.session.show_error(exc)
        return default() if callable(default) else default

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(ls: SquasherServer, *args: Any) -> Any:
                try:
                    return await fn(ls, *args)
                except Exception as exc:
                    return fallback(ls, fn, exc)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(ls: SquasherServer, *args: Any) -> Any:
            try:
                return fn(ls, *args)
            except Exception as exc:
                return fallback(ls, fn, exc)

        return wrapper  # type: ignore[return-value]

    return decorate


def not_applied() -> Applied:
    """The result of a file-changing command that failed (``guarded``'s default)."""
    return {"applied": False}


server = SquasherServer()


# ---------------------------------------------------------------- lifecycle


@server.feature(types.INITIALIZE)
@guarded()
def initialize(ls: SquasherServer, params: types.InitializeParams) -> None:
    ls.session.configure(Options.from_json(params.initialization_options))


@server.feature(types.INITIALIZED)
@guarded()
def initialized(ls: SquasherServer, params: types.InitializedParams) -> None:
    ls.session.open_workspace()


@server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
@guarded()
def folders_changed(ls: SquasherServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    ls.session.change_folders(added=[f.uri for f in params.event.added],
                              removed=[f.uri for f in params.event.removed])


# ---------------------------------------------------------------- documents


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@guarded()
def did_open(ls: SquasherServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.session.buffer_changed(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@guarded()
def did_change(ls: SquasherServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.session.buffer_changed(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@guarded()
def did_close(ls: SquasherServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.session.buffer_closed(params.text_document.uri)


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
@guarded()
def watched_files(ls: SquasherServer, params: types.DidChangeWatchedFilesParams) -> None:
    ls.session.files_changed(change.uri for change in params.changes)


# ---------------------------------------------------------------- navigation


@server.feature(types.TEXT_DOCUMENT_HOVER)
@guarded()
def hover(ls: SquasherServer, params: types.HoverParams) -> types.Hover | None:
    found = ls.session.hit(params.text_document.uri, params.position)
    if found is None:
        return None
    state, record, hit = found
    text = hover_text(state.graph, state.root, record, hit)
    if not text:
        return None
    return cv.hover(text, hit_span(record, hit), ls.session.lines_of(record.path),
                    ls.session.encoding)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@guarded()
def definition(ls: SquasherServer, params: types.DefinitionParams) -> list[types.Location] | None:
    found = ls.session.hit(params.text_document.uri, params.position)
    reference = found[2].reference if found is not None else None
    if found is None or reference is None:
        return None
    graph = found[0].graph
    key = resolve_reference(graph, reference)
    target = graph.records.get(key) if key else None
    return [ls.session.location_of(target)] if target is not None else None


# ---------------------------------------------------------------- code actions and lenses


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[
        types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite,
    ]),
)
@guarded(list)
def code_action(ls: SquasherServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    found = ls.session.located(params.text_document.uri)
    if found is None:
        return []
    return ls.session.code_actions(*found, params.range, params.context.diagnostics)


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
@guarded(list)
def code_lens(ls: SquasherServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    found = ls.session.located(params.text_document.uri)
    if found is None or found[1].class_span is None:
        return []
    state, record = found
    span_range = ls.session.span_range(record.path, header_span(record))
    return [cv.code_lens(span_range, lens.title, lens.command, lens.argument)
            for lens in lenses(ls.session.index, state, record, ls.session.options.django_features)]


# ---------------------------------------------------------------- commands


@server.command("squasher.listApps")
@guarded(list)
def list_apps(ls: SquasherServer, *args: Any) -> list[dict[str, Any]]:
    ls.session.flush()
    return cmds.list_apps(ls.session.index, ls.session.roots.to_client)


@server.command("squasher.conflictCount")
@guarded(lambda: {"count": 0})
def conflict_count(ls: SquasherServer, *args: Any) -> dict[str, int]:
    ls.session.flush()
    return cmds.conflict_count(ls.session.index)


@server.command("squasher.graph")
@guarded(lambda: {"text": "", "nodes": {}})
def graph(ls: SquasherServer, *args: Any) -> dict[str, Any]:
    options = cmds.argument(args)
    ls.session.flush()
    return cmds.graph_text(ls.session.index, options.get("format", "mermaid"), options.get("apps"),
                           uri_of=ls.session.to_uri)


@server.command("squasher.createMerge")
@guarded(not_applied, notify=True)
async def create_merge(ls: SquasherServer, *args: Any) -> Applied:
    app = cmds.argument(args, "app")["app"]
    changes = act.plan_merge_changes(ls.session.state_of(app), app, ls.session.index.buffers)
    return await ls.session.apply(f"Create merge migration for {app}", changes)


@server.command("squasher.rebase")
@guarded(not_applied, notify=True)
async def rebase(ls: SquasherServer, *args: Any) -> Applied:
    s, options = ls.session, cmds.argument(args, "app")
    app = options["app"]
    # Planned from the unsaved buffers when the editor applies the edit; from disk when the
    # server has to write the files itself (a client without file operations).
    read = s.read_text if s.supports({"rename"}) else None
    changes = act.plan_rebase_changes(s.state_of(app), app, options.get("onto"), read, s.index.buffers)
    return await s.apply(f"Rebase {app}", changes)


@server.command("squasher.rebaseOnto")
@guarded(not_applied, notify=True)
async def rebase_onto(ls: SquasherServer, *args: Any) -> Applied:
    """``merge --rebase --onto REV`` for one app: follow the base branch's leaf."""
    s, options = ls.session, cmds.argument(args, "app", "rev")
    app, rev = options["app"], options["rev"]
    changes = act.plan_rebase_onto_changes(s.state_of(app), app, rev, s.index.buffers)
    result = await s.apply(f"Rebase {app} onto {rev}", changes, from_disk=True)
    s.schedule_predictions(0)
    return result


@server.command("squasher.squash")
@guarded(not_applied, notify=True)
async def squash(ls: SquasherServer, *args: Any) -> Applied:
    s = ls.session
    if not s.require_django("squasher.squash"):
        return not_applied()
    options = cmds.argument(args, "app", "end")
    app, start, end = options["app"], options.get("start"), options["end"]
    state = s.state_of(app)
    async with s.progress(f"Squashing {app} {start or ''}…{end}") as progress:
        changes = await cmds.run_squash_subprocess(
            state, app, start, end, s.options.interpreter, s.options.settings_module,
            on_step=progress.report)
    return await s.apply(f"Squash {app} {start or ''}–{end}", changes, from_disk=True)


@server.command("squasher.finalize")
@guarded(not_applied, notify=True)
async def finalize(ls: SquasherServer, *args: Any) -> Applied:
    s = ls.session
    if not s.require_django("squasher.finalize"):
        return not_applied()
    options = cmds.argument(args, "app", "squash")
    app, squash_name = options["app"], options["squash"]
    state = s.state_of(app)
    async with s.progress(f"Finalizing {app}.{squash_name}"):
        changes = cmds.plan_finalize_changes(state, app, squash_name)
    return await s.apply(f"Finalize {app}.{squash_name}", changes, from_disk=True)
