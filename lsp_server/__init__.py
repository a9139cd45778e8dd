"""``squasher-lsp``: the squasher language server (pygls 2).

Layout (jedi-language-server style):

* ``server.py``  -- the pygls server; one short, guarded handler per LSP feature/command.
* ``convert.py`` -- every LSP <-> squasher conversion (URIs, positions in the negotiated
  encoding, Problem -> Diagnostic, ChangeSet -> WorkspaceEdit).
* ``index.py``   -- the workspace index over ``squasher.graph.project.Project``: incremental
  updates from editor buffers and watched files, problems and squash suggestions per app.
* ``features/``  -- plain functions behind hover, code actions, code lens and commands.

Static features never import or execute project code; Django-backed commands (squash)
run ``squasher`` in a subprocess with the configured interpreter, only when the client
enables ``djangoFeatures`` (trusted workspace).
"""

__version__ = "0.1.0"
