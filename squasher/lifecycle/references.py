"""Rewrite references to migrations inside migration files, with libcst.

Shared by ``rebase`` (a renamed migration: every ``dependencies`` / ``run_before`` /
``replaces`` entry naming it, in any app, follows the new name) and ``finalize``
(references to replaced migrations point at the squash; ``replaces`` disappears; the
squash gains the dependencies its originals had).

Only the ``Migration`` class's literal ``dependencies``, ``run_before`` and ``replaces``
lists/tuples are touched; every other byte of the file (comments, quotes, layout) is kept.
Entries are ``("app", "name")`` tuples or lists of two string literals; a rewrite keeps
each string's quote style. An entry renamed to ``None`` is removed; an entry that becomes
a duplicate of an earlier one is removed too (two replaced migrations that both become the
squash).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from squasher.errors import MigrationParseError
from squasher.records import MigrationKey, MigrationRecord

if TYPE_CHECKING:
    from squasher.fileops import ChangeSet
    from squasher.graph.graph import MigrationGraph
    from squasher.graph.project import Project


REFERENCE_LISTS = ("dependencies", "run_before", "replaces")

__all__ = [
    "REFERENCE_LISTS",
    "RewriteResult",
    "rewrite_source",
    "rewrite_project_references",
    "references_to",
]


@dataclass
class RewriteResult:
    """New source text plus what was done (for reports and sanity checks)."""

    text: str
    rewritten: list[tuple[str, MigrationKey, MigrationKey | None]] = field(default_factory=list)
    added: list[MigrationKey] = field(default_factory=list)
    added_run_before: list[MigrationKey] = field(default_factory=list)
    added_swappable: list[str] = field(default_factory=list)  # settings names (AUTH_USER_MODEL)
    dropped_attributes: list[str] = field(default_factory=list)
    found: set[str] = field(default_factory=set)  # reference lists present in the class

    @property
    def changed(self) -> bool:
        return bool(self.rewritten or self.added or self.added_run_before or self.added_swappable
                    or self.dropped_attributes)


def _string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _entry_key(node: cst.BaseExpression) -> MigrationKey | None:
    if isinstance(node, cst.Tuple | cst.List) and len(node.elements) == 2:
        app = _string_value(node.elements[0].value)
        name = _string_value(node.elements[1].value)
        if app is not None and name is not None:
            return (app, name)
    return None


def _with_string(node: cst.BaseExpression, value: str) -> cst.BaseExpression:
    assert isinstance(node, cst.SimpleString)
    prefix = node.prefix
    quote = node.quote
    return node.with_changes(value=f"{prefix}{quote}{value}{quote}")


def _assigned_name(stmt: cst.BaseSmallStatement) -> tuple[str, cst.BaseExpression] | None:
    if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0].target
        if isinstance(target, cst.Name):
            return target.value, stmt.value
    if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name) and stmt.value is not None:
        return stmt.target.value, stmt.value
    return None


def _quote_of(seq: cst.List | cst.Tuple) -> str:
    for el in seq.elements:
        if isinstance(el.value, cst.Tuple | cst.List):
            for sub in el.value.elements:
                if isinstance(sub.value, cst.SimpleString):
                    return sub.value.quote
    return '"'


def _is_multiline(seq: cst.List | cst.Tuple) -> bool:
    if isinstance(seq, cst.List):
        return isinstance(seq.lbracket.whitespace_after, cst.ParenthesizedWhitespace)
    if seq.lpar:
        return isinstance(seq.lpar[0].whitespace_after, cst.ParenthesizedWhitespace)
    return False


def _indent_of(seq: cst.List | cst.Tuple) -> str:
    ws = seq.lbracket.whitespace_after if isinstance(seq, cst.List) else seq.lpar[0].whitespace_after
    if isinstance(ws, cst.ParenthesizedWhitespace):
        return ws.last_line.value
    return ""


def _as_key(key: Sequence[str]) -> MigrationKey:
    """A key given as any (app_label, name) pair (a JSON list too) as a tuple."""
    app_label, name = key
    return (app_label, name)


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self,
        rename: Mapping[MigrationKey, MigrationKey | None],
        add_dependencies: Sequence[MigrationKey],
        drop_attributes: Iterable[str],
        lists: Sequence[str],
        add_run_before: Sequence[MigrationKey] = (),
        swappable: Sequence[cst.BaseExpression] = (),
    ) -> None:
        super().__init__()
        self.rename = {_as_key(k): (_as_key(v) if v is not None else None) for k, v in rename.items()}
        self.add_dependencies = [_as_key(k) for k in add_dependencies]
        self.add_run_before = [_as_key(k) for k in add_run_before]
        self.swappable = list(swappable)  # swappable_dependency(...) calls for `dependencies`
        self.swappable_added = False
        self.drop = set(drop_attributes)
        self.lists = set(lists)
        self.depth = 0
        self.in_migration = False
        self.result = RewriteResult(text="")

    # Only the module-level ``class Migration``.
    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.depth += 1
        if self.depth == 1 and node.name.value == "Migration":
            self.in_migration = True
        return True

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        if self.depth == 1 and original.name.value == "Migration":
            self.in_migration = False
            if (self.add_dependencies or self.swappable) and "dependencies" not in self.result.found:
                updated = self._insert_dependencies(updated)
            if self.add_run_before and "run_before" not in self.result.found:
                updated = self._insert_run_before(updated)
        self.depth -= 1
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # never look inside methods

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        if not self.in_migration or self.depth != 1:
            return updated
        new_body = []
        for stmt in updated.body:
            named = _assigned_name(stmt)
            if named is None:
                new_body.append(stmt)
                continue
            attr, value = named
            if attr in self.drop:
                self.result.dropped_attributes.append(attr)
                continue
            if attr in REFERENCE_LISTS:
                self.result.found.add(attr)
            if isinstance(value, cst.List | cst.Tuple):
                new_value = self._rewrite_list(attr, value) if attr in self.lists else value
                if attr == "dependencies" and (self.add_dependencies or self.swappable):
                    new_value = self._append(new_value, self.add_dependencies, self.swappable)
                    self.swappable_added = True
                if attr == "run_before" and self.add_run_before:
                    before = {k for k in (_entry_key(e.value) for e in new_value.elements) if k}
                    new_value = self._append(new_value, self.add_run_before)
                    self.result.added_run_before += [k for k in self.add_run_before if k not in before]
                if new_value is not value:
                    stmt = stmt.with_changes(value=new_value)
            new_body.append(stmt)
        if not new_body:
            return cst.RemoveFromParent()
        return updated.with_changes(body=new_body)

    def _rewrite_list(self, attr: str, seq: cst.List | cst.Tuple) -> cst.List | cst.Tuple:
        elements: list[cst.BaseElement] = []
        seen: set[MigrationKey] = set()
        changed = False
        removed_last = False
        for i, el in enumerate(seq.elements):
            key = _entry_key(el.value)
            if key is not None and key in self.rename:
                new = self.rename[key]
                self.result.rewritten.append((attr, key, new))
                changed = True
                if new is None or new in seen:
                    removed_last = i == len(seq.elements) - 1
                    continue
                entry = el.value
                assert isinstance(entry, cst.Tuple | cst.List)
                app_el, name_el = entry.elements
                if new[0] != key[0]:
                    app_el = app_el.with_changes(value=_with_string(app_el.value, new[0]))
                if new[1] != key[1]:
                    name_el = name_el.with_changes(value=_with_string(name_el.value, new[1]))
                el = el.with_changes(value=entry.with_changes(elements=[app_el, name_el]))
                key = new
            elif key is not None and key in seen:
                changed = True
                removed_last = i == len(seq.elements) - 1
                self.result.rewritten.append((attr, key, key))
                continue
            if key is not None:
                seen.add(key)
            elements.append(el)
        if not changed:
            return seq
        return self._fix_layout(seq, elements, removed_last)

    def _fix_layout(
        self, seq: cst.List | cst.Tuple, elements: list[cst.BaseElement], removed_last: bool
    ) -> cst.List | cst.Tuple:
        if not elements:
            if isinstance(seq, cst.List):
                return seq.with_changes(
                    elements=[],
                    lbracket=cst.LeftSquareBracket(),
                    rbracket=cst.RightSquareBracket(),
                )
            return seq.with_changes(elements=[], lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        if removed_last and not _is_multiline(seq):
            last = elements[-1]
            keep_comma = isinstance(seq, cst.Tuple) and len(elements) == 1
            if not keep_comma:
                elements[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return seq.with_changes(elements=elements)

    def _new_entry(self, key: MigrationKey, quote: str) -> cst.Tuple:
        return cst.Tuple(
            elements=[
                cst.Element(
                    cst.SimpleString(f"{quote}{key[0]}{quote}"),
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                ),
                cst.Element(cst.SimpleString(f"{quote}{key[1]}{quote}")),
            ]
        )

    def _append(self, seq: cst.List | cst.Tuple, keys: Sequence[MigrationKey],
                extra: Sequence[cst.BaseExpression] = ()) -> cst.List | cst.Tuple:
        present = {k for k in (_entry_key(el.value) for el in seq.elements) if k is not None}
        quote = _quote_of(seq)
        todo: list[cst.BaseExpression] = [*extra, *(self._new_entry(k, quote) for k in keys
                                                    if k not in present)]
        if not todo:
            return seq
        elements = list(seq.elements)
        multiline = _is_multiline(seq)
        if multiline and not elements and isinstance(seq, cst.List):
            # `[\n]`: entries one level deeper than the closing bracket, one per line.
            opening = seq.lbracket.whitespace_after
            assert isinstance(opening, cst.ParenthesizedWhitespace)
            deeper = opening.last_line.value + "    "
            between = cst.ParenthesizedWhitespace(first_line=cst.TrailingWhitespace(), indent=True,
                                                  last_line=cst.SimpleWhitespace(deeper))
            closing = cst.ParenthesizedWhitespace(first_line=cst.TrailingWhitespace(), indent=True,
                                                  last_line=opening.last_line)
            new_elements = [cst.Element(entry, comma=cst.Comma(
                whitespace_after=closing if i == len(todo) - 1 else between))
                for i, entry in enumerate(todo)]
            return seq.with_changes(
                elements=new_elements,
                lbracket=seq.lbracket.with_changes(
                    whitespace_after=opening.with_changes(last_line=cst.SimpleWhitespace(deeper))),
                rbracket=seq.rbracket.with_changes(whitespace_before=cst.SimpleWhitespace("")))
        if multiline:
            indent = _indent_of(seq)
            between = cst.ParenthesizedWhitespace(
                first_line=cst.TrailingWhitespace(), indent=True,
                last_line=cst.SimpleWhitespace(indent),
            )
            # The whitespace before the closing bracket (maybe with the last entry's
            # trailing comment) moves after the last existing entry.
            if elements:
                last = elements[-1]
                last_ws: cst.BaseParenthesizableWhitespace = between
                old_comma = last.comma
                if isinstance(old_comma, cst.Comma) and isinstance(
                    old_comma.whitespace_after, cst.ParenthesizedWhitespace
                ):
                    last_ws = old_comma.whitespace_after.with_changes(last_line=cst.SimpleWhitespace(indent))
                else:
                    close = seq.rbracket.whitespace_before if isinstance(seq, cst.List) else seq.rpar[0].whitespace_before
                    if isinstance(close, cst.ParenthesizedWhitespace) and close.first_line.comment:
                        last_ws = between.with_changes(first_line=close.first_line)
                elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=last_ws))
            for i, entry in enumerate(todo):
                final = i == len(todo) - 1
                comma: cst.Comma | cst.MaybeSentinel = (
                    cst.Comma() if final else cst.Comma(whitespace_after=between))
                elements.append(cst.Element(entry, comma=comma))
            if isinstance(seq, cst.List):
                close = seq.rbracket.whitespace_before
                if isinstance(close, cst.ParenthesizedWhitespace) and close.first_line.comment:
                    seq = seq.with_changes(
                        rbracket=seq.rbracket.with_changes(
                            whitespace_before=close.with_changes(first_line=cst.TrailingWhitespace())
                        )
                    )
            return seq.with_changes(elements=elements)
        space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        if elements:
            elements[-1] = elements[-1].with_changes(comma=space)
        for i, entry in enumerate(todo):
            final = i == len(todo) - 1
            comma = space
            if final:
                tuple_single = isinstance(seq, cst.Tuple) and len(elements) == 0
                comma = cst.Comma() if tuple_single else cst.MaybeSentinel.DEFAULT
            elements.append(cst.Element(entry, comma=comma))
        return seq.with_changes(elements=elements)

    def _insert_dependencies(self, cls: cst.ClassDef) -> cst.ClassDef:
        """The class has no ``dependencies``: add one as its first statement."""
        body = cls.body
        if not isinstance(body, cst.IndentedBlock):
            return cls
        entries = ", ".join([*(cst.Module([]).code_for_node(e) for e in self.swappable),
                             *(f'("{a}", "{n}")' for a, n in self.add_dependencies)])
        stmt = cst.parse_statement(f"dependencies = [{entries}]\n")
        start = _after_docstring(body)
        self.result.added.extend(self.add_dependencies)
        self.swappable_added = True
        return cls.with_changes(body=body.with_changes(body=[*body.body[:start], stmt, *body.body[start:]]))

    def _insert_run_before(self, cls: cst.ClassDef) -> cst.ClassDef:
        """The class has no ``run_before``: add one after ``dependencies`` (else first)."""
        body = cls.body
        if not isinstance(body, cst.IndentedBlock):
            return cls
        entries = ", ".join(f'("{a}", "{n}")' for a, n in self.add_run_before)
        stmt = cst.parse_statement(f"run_before = [{entries}]\n")
        at = 0
        for i, line in enumerate(body.body):
            if isinstance(line, cst.SimpleStatementLine) and any(
                    (_assigned_name(small) or ("",))[0] == "dependencies" for small in line.body):
                at = i + 1
                break
        else:
            at = _after_docstring(body)
        self.result.added_run_before.extend(self.add_run_before)
        return cls.with_changes(body=body.with_changes(body=[*body.body[:at], stmt, *body.body[at:]]))


def _after_docstring(body: cst.IndentedBlock) -> int:
    """Index of the first statement of ``body`` after its docstring (0 when there is none)."""
    if body.body and isinstance(body.body[0], cst.SimpleStatementLine):
        first = body.body[0].body[0]
        if isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString | cst.ConcatenatedString):
            return 1
    return 0


def _module_bindings(module: cst.Module) -> dict[str, str | None]:
    """Top-level names bound by imports: ``{"settings": "django.conf", ...}``; names bound by
    anything else (assignments, other imports, definitions) map to ``None``."""
    out: dict[str, str | None] = {}

    def bind(name: str, origin: str | None) -> None:
        out[name] = origin if name not in out or out[name] == origin else None

    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                    origin = cst.Module([]).code_for_node(small.module) if small.module else None
                    for alias in small.names:
                        if isinstance(alias.name, cst.Name):
                            local = (alias.asname.name.value if alias.asname
                                     and isinstance(alias.asname.name, cst.Name) else alias.name.value)
                            bind(local, f"{origin}.{alias.name.value}" if origin else None)
                elif isinstance(small, cst.Import):
                    for alias in small.names:
                        local = (alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name)
                                 else cst.Module([]).code_for_node(alias.name).split(".")[0])
                        bind(local, None)
                else:
                    named = _assigned_name(small)
                    if named:
                        bind(named[0], None)
        elif isinstance(stmt, cst.FunctionDef | cst.ClassDef):
            bind(stmt.name.value, None)
    return out


def _swappable_plan(module: cst.Module, names: Sequence[str]
                    ) -> tuple[list[cst.BaseExpression], list[str]] | None:
    """``swappable_dependency(settings.X)`` expressions for ``names`` and the import lines the
    module needs for them; None when the names they need are taken by something else."""
    bound = _module_bindings(module)
    imports: list[str] = []
    settings_name = "settings"
    if bound.get("settings", "django.conf.settings") != "django.conf.settings":
        settings_name = "django_settings"
        if bound.get(settings_name, "django.conf.settings") != "django.conf.settings":
            return None
    if settings_name not in bound:
        imports.append("from django.conf import settings" + (
            f" as {settings_name}" if settings_name != "settings" else ""))
    if bound.get("swappable_dependency") == "django.db.migrations.swappable_dependency":
        call = "swappable_dependency"
    elif bound.get("migrations", "django.db.migrations") == "django.db.migrations":
        call = "migrations.swappable_dependency"
        if "migrations" not in bound:
            imports.append("from django.db import migrations")
    else:
        return None
    exprs = [cst.parse_expression(f"{call}({settings_name}.{name})") for name in names]
    return exprs, imports


def _add_imports(module: cst.Module, lines: Sequence[str]) -> cst.Module:
    """Add ``lines`` (``from x import y`` statements) among the module's top-level imports:
    before the first ``from`` import that sorts after it, else after the last import."""
    body = list(module.body)
    for line in lines:
        stmt = cst.parse_statement(line + "\n")
        at = None
        last_import = None
        for i, existing in enumerate(body):
            if not (isinstance(existing, cst.SimpleStatementLine)
                    and all(isinstance(small, cst.Import | cst.ImportFrom) for small in existing.body)):
                if last_import is not None:
                    break
                continue
            last_import = i
            if (at is None and isinstance(existing.body[0], cst.ImportFrom)
                    and cst.Module([]).code_for_node(existing.body[0]) > line):
                at = i
        if at is not None:
            # the new line takes the blank lines/comments that preceded the import it precedes
            stmt = stmt.with_changes(leading_lines=body[at].leading_lines)
            body[at] = body[at].with_changes(leading_lines=[])
        else:
            docstring = bool(body) and isinstance(body[0], cst.SimpleStatementLine) and isinstance(
                body[0].body[0], cst.Expr)
            at = last_import + 1 if last_import is not None else int(docstring)
        body.insert(at, stmt)
    return module.with_changes(body=body)


def rewrite_source(
    source: str,
    *,
    rename: Mapping[MigrationKey, MigrationKey | None] | None = None,
    add_dependencies: Sequence[MigrationKey] = (),
    drop_attributes: Iterable[str] = (),
    lists: Sequence[str] = REFERENCE_LISTS,
    path: Path | None = None,
    add_run_before: Sequence[MigrationKey] = (),
    add_swappable: Sequence[str] = (),
) -> RewriteResult:
    """Rewrite the ``Migration`` class of one migration module.

    - ``rename``: ``{old_key: new_key}``; ``None`` removes the entry;
    - ``add_dependencies``: entries appended to ``dependencies`` when not present;
    - ``add_run_before``: entries appended to ``run_before`` (created when missing);
    - ``add_swappable``: settings names (``AUTH_USER_MODEL``) whose
      ``migrations.swappable_dependency(settings.X)`` is appended to ``dependencies``, with
      ``from django.conf import settings`` added when the module lacks it (as
      ``django_settings`` when ``settings`` is another name there). ``result.added_swappable``
      lists what was added; nothing when the names it needs are taken.
    - ``drop_attributes``: class attributes to delete (``["replaces"]``).

    Raises :class:`MigrationParseError` (with ``path`` and line) when the source is not
    valid Python.
    """
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise MigrationParseError(
            f"cannot parse migration to rewrite its references: {error.message}",
            path=path, line=error.raw_line,
            hint="fix the syntax error first; nothing was changed",
        ) from None
    swappable: list[cst.BaseExpression] = []
    imports: list[str] = []
    if add_swappable:
        planned = _swappable_plan(module, add_swappable)
        if planned is not None:
            swappable, imports = planned
    rewriter = _Rewriter(rename or {}, add_dependencies, drop_attributes, lists,
                         add_run_before=add_run_before, swappable=swappable)
    new_module = module.visit(rewriter)
    result = rewriter.result
    if swappable and rewriter.swappable_added:
        result.added_swappable = list(add_swappable)
        new_module = _add_imports(new_module, imports)
    if add_dependencies and "dependencies" in result.found:
        # Count what _append actually added (entries not already present).
        before = _literal_keys(module, "dependencies")
        after = _literal_keys(new_module, "dependencies")
        result.added = [k for k in after if k not in before]
    result.text = new_module.code
    return result


def _literal_keys(module: cst.Module, attr: str) -> list[MigrationKey]:
    keys: list[MigrationKey] = []
    for stmt in module.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Migration" and isinstance(stmt.body, cst.IndentedBlock):
            for line in stmt.body.body:
                if isinstance(line, cst.SimpleStatementLine):
                    for small in line.body:
                        named = _assigned_name(small)
                        if named and named[0] == attr and isinstance(named[1], cst.List | cst.Tuple):
                            keys += [k for k in (_entry_key(e.value) for e in named[1].elements) if k]
    return keys


def references_to(record: MigrationRecord, keys: Iterable[MigrationKey]) -> list[tuple[str, MigrationKey, int]]:
    """``(list name, key, line)`` for every reference of ``record`` to one of ``keys``."""
    wanted = {tuple(k) for k in keys}
    found = []
    for attr in REFERENCE_LISTS:
        for ref in getattr(record, attr):
            if ref.key is not None and ref.key in wanted and ref.swappable_setting is None:
                found.append((attr, ref.key, ref.span.line))
    return found


def _is_unparsable(record: MigrationRecord) -> bool:
    return any(p.code == "SQ006" for p in record.parse_problems)


def _first_line_containing(text: str, needles: Iterable[str]) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if any(n in line for n in needles):
            return number
    return None


def rewrite_project_references(
    records: Iterable[MigrationRecord],
    rename: Mapping[MigrationKey, MigrationKey | None],
    *,
    exclude: Iterable[Path] = (),
    sources: Mapping[Path, str] | None = None,
    read_text: Callable[[Path], str] | None = None,
    lists: Sequence[str] = REFERENCE_LISTS,
) -> dict[Path, RewriteResult]:
    """Rewrite every reference to a key of ``rename`` in every file of ``records``.

    ``exclude``: files the caller handles itself (files being deleted, or renamed and
    rewritten separately). ``sources``: text to use instead of the file on disk.
    ``read_text``: how to read a file not in ``sources`` (e.g. an editor's unsaved buffer);
    default: the file on disk. ``lists``: the reference lists to rewrite (default all).
    Returns ``{path: result}`` for files that change. Refuses (``MigrationParseError``
    naming the file and line) when a file that cannot be parsed mentions one of the
    renamed migrations, or when a reference the static parser saw could not be
    rewritten (it is not a literal entry), so no reference is silently left behind.
    """
    excluded = {Path(p).resolve() for p in exclude}
    names = {old[1] for old in rename}
    out: dict[Path, RewriteResult] = {}
    for record in sorted(records, key=lambda r: str(r.path)):
        path = Path(record.path)
        if path.resolve() in excluded:
            continue
        text = sources.get(path) if sources and path in sources else None
        if _is_unparsable(record):
            if text is None and read_text is not None:
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    text = read_text(path)
            if text is None:
                try:
                    text = path.read_text("utf-8")
                except (OSError, UnicodeDecodeError):
                    text = path.read_bytes().decode("utf-8", "replace")
            line = _first_line_containing(text, names)
            if line is not None:
                raise MigrationParseError(
                    "cannot rewrite a reference in a migration that cannot be parsed",
                    path=path, line=line,
                    hint="fix the file (see `squasher check`) and run the command again; nothing was changed",
                )
            continue
        expected = [ref for ref in references_to(record, rename) if ref[0] in lists]
        if not expected:
            continue
        if text is None:
            text = read_text(path) if read_text is not None else path.read_text("utf-8")
        result = rewrite_source(text, rename=rename, path=path, lists=lists)
        done = {(attr, old) for attr, old, _ in result.rewritten}
        missing = [(attr, key, line) for attr, key, line in expected if (attr, key) not in done]
        if missing:
            attr, key, line = missing[0]
            raise MigrationParseError(
                f"reference to {key[0]}.{key[1]} in `{attr}` is not a literal (\"app\", \"name\") entry; cannot rewrite it",
                path=path, line=line,
                hint="write the entry as a literal tuple and run the command again; nothing was changed",
            )
        out[path] = result
    return out


def entry_lines(source: str, attr: str) -> dict[MigrationKey, int]:
    """``{key: line}`` of the literal entries of the ``Migration`` class's ``attr`` list."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    positions = wrapper.resolve(PositionProvider)
    out: dict[MigrationKey, int] = {}

    class _V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return node.name.value == "Migration"

        def visit_Assign(self, node: cst.Assign) -> None:
            named = _assigned_name(node)
            if named and named[0] == attr and isinstance(named[1], cst.List | cst.Tuple):
                for el in named[1].elements:
                    key = _entry_key(el.value)
                    if key is not None and key not in out:
                        out[key] = positions[el].start.line

    wrapper.visit(_V())
    return out


def graph_after(project: Project, changes: ChangeSet) -> MigrationGraph:
    """The static graph the project would have once ``changes`` (a ChangeSet) is applied.

    Used as a post-condition by rebase/merge/finalize: the planned files are parsed from
    their new text (nothing is written) and the graph rebuilt, so a plan that would leave
    a cycle, a dangling reference or an extra leaf is refused before touching anything.
    """
    from squasher.graph.graph import build_graph
    from squasher.graph.parse import parse_migration

    records: dict[Path, MigrationRecord] = dict(project.records_by_path)
    for change in changes.changes:
        old = Path(change.path)
        records.pop(old, None)
        target = Path(change.new_path) if change.new_path is not None else old
        if change.kind == "delete":
            continue
        package = project.package_for(target)
        if package is None:
            continue
        text = change.new_text
        if text is None:
            text = old.read_text("utf-8")
        records[target] = parse_migration(target, package.app_label, source=text,
                                          settings=project.settings)
    return build_graph(records.values(), project.settings, apps=project.packages,
                       unmigrated_apps=getattr(project, "unmigrated_apps", ()))


def new_missing_nodes(before: MigrationGraph, after: MigrationGraph) -> list[MigrationKey]:
    """Nodes referenced but missing in graph ``after`` that were not missing in ``before``
    (in ``after``'s node order): what a plan checked with :func:`graph_after` would leave dangling."""
    was_missing = {k for k in before.nx if before.nx.nodes[k].get("missing")}
    return [k for k in after.nx if after.nx.nodes[k].get("missing") and k not in was_missing]
