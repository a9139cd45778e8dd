"""``squasher-lsp``: the squasher language server (pygls 2).

Layout (jedi-language-server's server, python-lsp-server's workspace):

* ``server.py``   -- the pygls server: one short, guarded handler per LSP feature/command,
  delegating to the session and the features.
* ``session.py``  -- the state and what outlives a request: publishing diagnostics (diffed),
  debounced background work (suggestions, merge predictions), applying ``ChangeSet`` s,
  ``$/progress``.
* ``options.py``  -- ``initializationOptions``, parsed once into a typed ``Options``.
* ``convert.py``  -- every LSP <-> squasher conversion (URIs, positions in the negotiated
  encoding, Problem -> Diagnostic, ChangeSet -> WorkspaceEdit).
* ``index.py``    -- the workspace index: one ``IndexedProject`` per folder over
  ``squasher.graph.project.Project``, updated incrementally from editor buffers and watched
  files; problems and squash suggestions per app; merge predictions.
* ``protocol.py`` -- pygls' JSON-RPC protocol, answering requests with invalid params.
* ``features/``   -- plain functions behind hover, code actions, code lens and commands.

Static features never import or execute project code; Django-backed commands (squash)
run ``squasher`` in a subprocess with the configured interpreter, only when the client
enables ``djangoFeatures`` (trusted workspace).
"""

from squasher import __version__  # one version number: the distribution's

__all__ = ["__version__"]
