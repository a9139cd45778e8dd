"""LSP ⇄ squasher conversion, in one place.

The squasher library speaks ``Path``, ``Span`` (1-based lines, 0-based *UTF-8 byte*
columns as Python's ``ast`` reports them), ``Problem`` and ``ChangeSet``. The editor
speaks URIs, ``Range`` (0-based lines, columns in the negotiated position encoding),
``Diagnostic`` and ``WorkspaceEdit``. Every translation between the two lives here so the
feature modules never touch protocol types for positions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris

from squasher.fileops import ChangeSet
from squasher.records import Problem, Severity, Span

SOURCE = "squasher"

#: ``path -> list of lines`` (without line endings); ``None`` when unknown.
LineSource = Callable[[Path], list[str] | None]

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


# ---------------------------------------------------------------- paths and URIs


def path_to_uri(path: Path | str) -> str:
    uri = uris.from_fs_path(str(path))
    assert uri is not None
    return uri


def uri_to_path(uri: str) -> Path | None:
    fs = uris.to_fs_path(uri)
    return Path(fs) if fs else None


class RootMap:
    """Workspace roots as the client names them vs. as the index stores them (resolved).

    ``Project.load`` resolves its root, so a workspace opened through a symlink is indexed
    under its real path. URIs coming from the client are mapped to that path
    (:meth:`to_index`), and every URI sent back is built from the client's path
    (:meth:`to_uri`), so diagnostics, locations and edits name the documents the editor has.
    """

    def __init__(self) -> None:
        self._roots: dict[Path, Path] = {}  # resolved -> client

    def add(self, client: Path) -> Path:
        resolved = client.resolve()
        if resolved != client:
            self._roots[resolved] = client
        return resolved

    def remove(self, client: Path) -> None:
        self._roots.pop(client.resolve(), None)

    @staticmethod
    def _move(path: Path, pairs: Iterable[tuple[Path, Path]]) -> Path:
        best: tuple[Path, Path] | None = None
        for src, dst in pairs:
            if (path == src or src in path.parents) and (best is None or len(src.parts) > len(best[0].parts)):
                best = (src, dst)
        return path if best is None else best[1] / path.relative_to(best[0])

    def to_index(self, path: Path) -> Path:
        if not self._roots:
            return path
        return self._move(path, ((c, r) for r, c in self._roots.items()))

    def to_client(self, path: Path) -> Path:
        if not self._roots:
            return path
        return self._move(Path(path), self._roots.items())

    def to_uri(self, path: Path | str) -> str:
        return path_to_uri(self.to_client(Path(path)))

    def uri_to_index(self, uri: str) -> Path | None:
        path = uri_to_path(uri)
        return self.to_index(path) if path is not None else None


# ---------------------------------------------------------------- positions


#: A buffer may hold lone surrogates (an editor's UTF-16 text): count them as one unit each
#: instead of failing (a failure here stopped diagnostics for every file).
SURROGATES = "surrogatepass"


def _units(text: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", SURROGATES))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", SURROGATES)) // 2


def byte_col_to_client(line_text: str | None, col: int, encoding: str) -> int:
    """An ``ast`` column (UTF-8 bytes) -> a column in the client's position encoding."""
    if line_text is None or line_text.isascii() or encoding == types.PositionEncodingKind.Utf8:
        return col
    prefix = line_text.encode("utf-8", SURROGATES)[:col].decode("utf-8", errors="ignore")
    return _units(prefix, encoding)


def client_col_to_byte(line_text: str | None, character: int, encoding: str) -> int:
    """A column in the client's encoding -> an ``ast`` column (UTF-8 bytes)."""
    if line_text is None or line_text.isascii() or encoding == types.PositionEncodingKind.Utf8:
        return character
    units = 0
    for i, ch in enumerate(line_text):
        if units >= character:
            return len(line_text[:i].encode("utf-8", SURROGATES))
        units += _units(ch, encoding)
    return len(line_text.encode("utf-8", SURROGATES))


def _line(lines: list[str] | None, index: int) -> str | None:
    if lines is None or not 0 <= index < len(lines):
        return None
    return lines[index]


def span_to_range(
    span: Span | None, lines: list[str] | None = None, encoding: str = "utf-16"
) -> types.Range:
    """A library ``Span`` -> an LSP ``Range``; an open end covers the rest of the line."""
    if span is None:
        return types.Range(types.Position(0, 0), types.Position(0, 0))
    start_line = max(span.line - 1, 0)
    start_text = _line(lines, start_line)
    start = types.Position(start_line, byte_col_to_client(start_text, span.col, encoding))
    end_line = (span.end_line - 1) if span.end_line is not None else start_line
    end_text = _line(lines, end_line)
    if span.end_col is not None:
        end_char = byte_col_to_client(end_text, span.end_col, encoding)
    elif end_text is not None:
        end_char = _units(end_text, encoding)
    else:
        end_char = start.character
    return types.Range(start, types.Position(max(end_line, start_line), end_char))


def position_to_point(
    position: types.Position, lines: list[str] | None = None, encoding: str = "utf-16"
) -> tuple[int, int]:
    """An LSP ``Position`` -> ``(line, byte column)`` in the library's convention."""
    text = _line(lines, position.line)
    return position.line + 1, client_col_to_byte(text, position.character, encoding)


def span_contains(span: Span | None, line: int, col: int) -> bool:
    """Whether the library point ``(line, col)`` lies inside ``span`` (ends inclusive)."""
    if span is None:
        return False
    end_line = span.end_line if span.end_line is not None else span.line
    if not span.line <= line <= end_line:
        return False
    if line == span.line and col < span.col:
        return False
    return not (line == end_line and span.end_col is not None and col > span.end_col)


# ---------------------------------------------------------------- diagnostics


def severity(value: Severity) -> types.DiagnosticSeverity:
    return _SEVERITY.get(value, types.DiagnosticSeverity.Error)


def problem_to_diagnostic(
    problem: Problem, lines_of: LineSource, encoding: str = "utf-16",
    uri_of: Callable[[Path], str] = path_to_uri,
) -> types.Diagnostic:
    lines = lines_of(problem.path) if problem.path is not None else None
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(
                uri=uri_of(path), range=span_to_range(span, lines_of(path), encoding)
            ),
            message=message,
        )
        for path, span, message in problem.related
    ]
    message = problem.message
    if problem.hint:
        message += f"\nhint: {problem.hint}"
    return types.Diagnostic(
        range=span_to_range(problem.span, lines, encoding),
        message=message,
        severity=severity(problem.severity),
        code=problem.code,
        source=SOURCE,
        related_information=related or None,
        data={"code": problem.code, "key": list(problem.key) if problem.key else None},
    )


def diagnostic_identity(diagnostic: types.Diagnostic) -> tuple[Any, ...]:
    """What makes two diagnostics "the same" for the republish-only-changes rule."""
    r = diagnostic.range
    related = tuple(
        (i.location.uri, i.location.range.start.line, i.message)
        for i in diagnostic.related_information or ()
    )
    return (
        diagnostic.code, diagnostic.message, diagnostic.severity,
        r.start.line, r.start.character, r.end.line, r.end.character, related,
    )


# ---------------------------------------------------------------- edits


class StaleBufferError(ValueError):
    """A planned change cannot be laid over an editor buffer whose unsaved edits touch the
    same lines (the plan was computed from the file on disk)."""


def _position_of_line(lines: list[str], index: int, encoding: str) -> types.Position:
    """Position of the start of line ``index`` of ``lines`` (line breaks kept); past the
    last line: the end of the text."""
    if index < len(lines):
        return types.Position(index, 0)
    if not lines:
        return types.Position(0, 0)
    last = lines[-1]
    if last.endswith(("\n", "\r")):
        return types.Position(len(lines), 0)
    return types.Position(len(lines) - 1, _units(last, encoding))


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str) -> list[str]:
    """Lines with their breaks, split where LSP splits (``\\n``, ``\\r\\n``, ``\\r`` only)."""
    return _LINE.findall(text)


def _hunks(old: str, new: str) -> list[tuple[int, int, str]]:
    """``(first_line, end_line, replacement)`` for every changed run of lines of ``old``."""
    a, b = _lines(old), _lines(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(i1, i2, "".join(b[j1:j2]))
            for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _shift_hunks(
    hunks: list[tuple[int, int, str]], base: str, current: str, what: str,
) -> list[tuple[int, int, str]]:
    """Move hunks computed against ``base`` onto ``current`` (base + unsaved edits).

    Each hunk must fall in a run of lines the unsaved edits left alone; otherwise the
    change would overwrite (or be misplaced by) the user's edits and is refused.
    """
    matcher = difflib.SequenceMatcher(None, _lines(base), _lines(current), autojunk=False)
    blocks = [(a, b, n) for a, b, n in matcher.get_matching_blocks()]
    out = []
    for first, end, text in hunks:
        for a, b, n in blocks:
            inside = (a <= first and end <= a + n) if end > first else (a <= first <= a + n)
            if inside:
                out.append((b + first - a, b + end - a, text))
                break
        else:
            raise StaleBufferError(
                f"{what} has unsaved changes where squasher needs to edit it; save it and try again"
            )
    return out


def minimal_edits(
    old: str, new: str, encoding: str = "utf-16", *, base: str | None = None, what: str = "file",
) -> list[types.TextEdit]:
    """The changed line ranges turning ``old`` into ``new`` (not a whole-document replacement).

    ``base``: the text ``new`` was planned from when it differs from ``old`` (the plan read
    the file on disk while the editor holds unsaved edits): the plan's hunks are laid over
    ``old``, keeping the unsaved edits, or :class:`StaleBufferError` when they collide.
    """
    if base is not None and base != old:
        hunks = _shift_hunks(_hunks(base, new), base, old, what)
    else:
        hunks = _hunks(old, new)
    lines = _lines(old)
    return [
        types.TextEdit(
            range=types.Range(_position_of_line(lines, first, encoding),
                              _position_of_line(lines, end, encoding)),
            new_text=text,
        )
        for first, end, text in hunks
    ]


def _text_edit(
    uri: str, old_text: str, new_text: str, version: int | None, encoding: str,
    base: str | None = None, what: str = "file",
) -> types.TextDocumentEdit:
    return types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
        edits=minimal_edits(old_text, new_text, encoding, base=base, what=what),
    )


def changes_to_workspace_edit(
    changes: ChangeSet | Iterable[dict[str, Any]],
    *,
    current_text: Callable[[Path], str | None],
    version_of: Callable[[str], int | None] = lambda uri: None,
    encoding: str = "utf-16",
    base_text: Callable[[Path], str | None] | None = None,
    uri_of: Callable[[Path], str] = path_to_uri,
) -> types.WorkspaceEdit:
    """A planned ``ChangeSet`` (or its ``to_json()`` form) -> a ``WorkspaceEdit``.

    create -> ``CreateFile`` + an insert; modify -> minimal text edits (only the changed
    lines) of the current (editor buffer or disk) text, versioned so that the client
    refuses them if the document changed since; rename -> ``RenameFile`` (+ edits when
    the text changes too); delete -> ``DeleteFile``.

    ``base_text``: the text the plan was computed from, when that is not ``current_text``
    (a plan read from disk while a buffer has unsaved edits); its changes are then laid
    over the buffer (see :func:`minimal_edits`). ``uri_of``: path -> the client's URI.
    """
    items = changes.to_json() if isinstance(changes, ChangeSet) else list(changes)
    document_changes: list[Any] = []
    for item in items:
        kind = item["kind"]
        path = Path(item["path"])
        uri = uri_of(path)
        text = item.get("text")
        if kind == "create":
            document_changes.append(
                types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False))
            )
            document_changes.append(
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=None
                    ),
                    edits=[
                        types.TextEdit(
                            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                            new_text=text or "",
                        )
                    ],
                )
            )
        elif kind == "modify":
            old = current_text(path)
            if old is None:
                old = ""
            base = base_text(path) if base_text is not None else None
            document_changes.append(
                _text_edit(uri, old, text or "", version_of(uri), encoding, base, str(path))
            )
        elif kind == "delete":
            document_changes.append(
                types.DeleteFile(uri=uri, options=types.DeleteFileOptions(ignore_if_not_exists=True))
            )
        elif kind == "rename":
            new_path = item["new_path"]
            if new_path is None:  # pragma: no cover - a ChangeSet's rename names its new path
                raise ValueError(f"rename of {path} without a new path")
            new_uri = uri_of(Path(new_path))
            old = current_text(path)
            if text is not None and old is not None and text != old:
                # Edit first (while the document still has its old name), then move it.
                base = base_text(path) if base_text is not None else None
                document_changes.append(
                    _text_edit(uri, old, text, version_of(uri), encoding, base, str(path))
                )
            document_changes.append(
                types.RenameFile(
                    old_uri=uri, new_uri=new_uri,
                    options=types.RenameFileOptions(overwrite=False),
                )
            )
        else:  # pragma: no cover - ChangeSet has no other kinds
            raise ValueError(f"unknown change kind {kind!r}")
    return types.WorkspaceEdit(document_changes=document_changes)


def replace_edit(
    path: Path, span: Span, new_text: str, lines: list[str] | None, encoding: str = "utf-16",
    version: int | None = None, uri: str | None = None,
) -> types.WorkspaceEdit:
    """One text replacement in one file."""
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri or path_to_uri(path), version=version
                ),
                edits=[types.TextEdit(range=span_to_range(span, lines, encoding), new_text=new_text)],
            )
        ]
    )


def location(path: Path, span: Span | None, lines: list[str] | None, encoding: str,
             uri_of: Callable[[Path], str] = path_to_uri) -> types.Location:
    return types.Location(uri=uri_of(path), range=span_to_range(span, lines, encoding))


def hover(text: str, span: Span | None, lines: list[str] | None,
          encoding: str = "utf-16") -> types.Hover:
    """Markdown hover ``text`` over ``span``."""
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
        range=span_to_range(span, lines, encoding),
    )


def code_lens(span_range: types.Range, title: str, command: str | None = None,
              argument: dict[str, Any] | None = None) -> types.CodeLens:
    """A code lens; an informational one (no command) carries ``command: ""``."""
    return types.CodeLens(range=span_range, command=types.Command(
        title=title, command=command or "",
        arguments=[argument] if argument is not None else None))


__all__ = [
    "SOURCE", "LineSource", "path_to_uri", "uri_to_path", "byte_col_to_client",
    "client_col_to_byte", "span_to_range", "position_to_point", "span_contains", "severity",
    "problem_to_diagnostic", "diagnostic_identity", "changes_to_workspace_edit",
    "replace_edit", "location", "hover", "code_lens", "minimal_edits", "StaleBufferError",
    "RootMap",
]
