"""Read one migration file statically into a :class:`~squasher.records.MigrationRecord`.

Python's :mod:`ast` is used (fast, no import of the project or Django). Nothing
raises on bad input: a file that cannot be read (syntax error, no ``Migration``
class, non-UTF-8 bytes, dependencies that are not literals) gives a record whose
``parse_problems`` carry an ``SQ006`` :class:`~squasher.records.Problem` with the
file and line. Operations computed at import time (conditionals, loops,
comprehensions, calls, list concatenation) are recorded in ``dynamic_operations``
so the squash command can refuse to freeze one branch of them.
"""

from __future__ import annotations

import ast
import codecs
import os
import tokenize
from io import BytesIO
from pathlib import Path

from squasher.records import (
    MigrationRecord,
    OperationSummary,
    Problem,
    ProjectSettings,
    Reference,
    Severity,
    Span,
)

UNPARSABLE = "SQ006"

#: Positional parameter names of Django's built-in operations (``django.db.migrations.operations``).
_POSITIONAL: dict[str, tuple[str, ...]] = {
    "CreateModel": ("name", "fields", "options", "bases", "managers"),
    "DeleteModel": ("name",),
    "RenameModel": ("old_name", "new_name"),
    "AlterModelTable": ("name", "table"),
    "AlterModelTableComment": ("name", "table_comment"),
    "AlterUniqueTogether": ("name", "unique_together"),
    "AlterIndexTogether": ("name", "index_together"),
    "AlterOrderWithRespectTo": ("name", "order_with_respect_to"),
    "AlterModelOptions": ("name", "options"),
    "AlterModelManagers": ("name", "managers"),
    "AddField": ("model_name", "name", "field", "preserve_default"),
    "RemoveField": ("model_name", "name"),
    "AlterField": ("model_name", "name", "field", "preserve_default"),
    "RenameField": ("model_name", "old_name", "new_name"),
    "AddIndex": ("model_name", "index"),
    "RemoveIndex": ("model_name", "name"),
    "RenameIndex": ("model_name", "new_name", "old_name", "old_fields"),
    "AddConstraint": ("model_name", "constraint"),
    "RemoveConstraint": ("model_name", "name"),
    "AlterConstraint": ("model_name", "name", "constraint"),
    "RunPython": ("code", "reverse_code", "atomic", "hints", "elidable"),
    "RunSQL": ("sql", "reverse_sql", "state_operations", "hints", "elidable"),
    "SeparateDatabaseAndState": ("database_operations", "state_operations"),
}
#: Operations whose ``name`` argument is a field name (the others' ``name`` is a model/index/constraint).
_FIELD_OPS = frozenset({"AddField", "RemoveField", "AlterField"})
_RELATED_FIELDS = frozenset({"ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject"})


def _span(node: ast.expr | ast.stmt) -> Span:
    return Span(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


def _str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _call_name(node: ast.AST) -> str | None:
    """``migrations.AddField`` / ``AddField`` / ``ops.custom.MyOp`` → the last name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


class _Reader:
    """State of one parse: the file, the settings used for swappable resolution, problems found."""

    def __init__(self, path: Path, app_label: str, settings: ProjectSettings | None) -> None:
        self.path = path
        self.app_label = app_label
        self.swappable = settings.swappable if settings else {"AUTH_USER_MODEL": "auth.User"}
        self.problems: list[Problem] = []

    def problem(self, message: str, span: Span, hint: str | None = None) -> None:
        self.problems.append(Problem(
            code=UNPARSABLE, message=message, path=self.path, span=span,
            severity=Severity.ERROR, key=(self.app_label, self.path.stem), hint=hint,
        ))

    # -- references -----------------------------------------------------------------

    def swappable_reference(self, call: ast.Call) -> Reference | None:
        """``swappable_dependency(settings.X)`` or ``swappable_dependency("app.Model")``."""
        if len(call.args) != 1:
            return None
        arg = call.args[0]
        span = _span(call)
        literal = _str(arg)
        if literal is not None:
            return Reference(literal.split(".", 1)[0], "__first__", span)
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "settings":
            value = self.swappable.get(arg.attr)
            app = value.split(".", 1)[0] if value else None
            return Reference(app, "__first__", span, swappable_setting=arg.attr)
        # A value computed in the file (``getattr(settings, ...)``, an app's own settings
        # object): the target app is unknown statically, not an error (Django resolves it).
        return Reference(None, "__first__", span, swappable_setting=_dotted(arg) or "?")

    def references(self, attr: str, value: ast.expr) -> tuple[Reference, ...]:
        """Entries of ``dependencies``/``replaces``/``run_before``; non-literals become problems."""
        if not isinstance(value, ast.List | ast.Tuple):
            self.problem(
                f"`{attr}` is not a literal list ({type(value).__name__}); it cannot be read without importing the file",
                _span(value), hint=f"write `{attr}` as a list of (app_label, name) tuples",
            )
            return ()
        refs: list[Reference] = []
        for element in value.elts:
            if isinstance(element, ast.Tuple | ast.List) and len(element.elts) == 2:
                app, name = _str(element.elts[0]), _str(element.elts[1])
                if app is not None and name is not None:
                    refs.append(Reference(app, name, _span(element)))
                    continue
            if (attr == "dependencies" and isinstance(element, ast.Call)
                    and _call_name(element.func) == "swappable_dependency"):
                ref = self.swappable_reference(element)
                if ref is not None:
                    refs.append(ref)
                    continue
            self.problem(
                f"entry of `{attr}` is not a literal (app_label, migration_name) tuple",
                _span(element), hint="use string literals so the graph can be read statically",
            )
        return tuple(refs)

    # -- operations -----------------------------------------------------------------

    def related_target(self, node: ast.AST, model: str | None) -> str | None:
        """``"app.Model"`` / ``"Model"`` / ``settings.AUTH_USER_MODEL`` → ``"app.model"``."""
        literal = _str(node)
        if literal is not None:
            if literal == "self":
                return f"{self.app_label}.{model}" if model else None
            if "." in literal:
                app, name = literal.split(".", 1)
                return f"{app}.{name.lower()}"
            return f"{self.app_label}.{literal.lower()}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings":
            value = self.swappable.get(node.attr)
            if value:
                app, name = value.split(".", 1)
                return f"{app}.{name.lower()}"
        return None

    def field_references(self, field: ast.AST, model: str | None, out: list[str]) -> None:
        if not isinstance(field, ast.Call) or _call_name(field.func) not in _RELATED_FIELDS:
            return
        to = field.args[0] if field.args else None
        for kw in field.keywords:
            if kw.arg == "to":
                to = kw.value
            elif kw.arg == "through":
                target = self.related_target(kw.value, model)
                if target:
                    out.append(target)
        if to is not None:
            target = self.related_target(to, model)
            if target:
                out.append(target)

    def operation(self, call: ast.Call) -> OperationSummary:
        kind = _call_name(call.func) or "?"
        params = _POSITIONAL.get(kind, ())
        args: dict[str, ast.AST] = {}
        for index, arg in enumerate(call.args):
            if index < len(params):
                args[params[index]] = arg
        for kw in call.keywords:
            if kw.arg:
                args[kw.arg] = kw.value
        model = field = new_name = None
        if "model_name" in args:
            model = _str(args["model_name"])
            if kind in _FIELD_OPS or kind not in _POSITIONAL:
                field = _str(args.get("name"))
        elif kind in ("RenameModel",):
            model = _str(args.get("old_name"))
        elif "name" in args and kind not in ("RunPython", "RunSQL"):
            model = _str(args["name"])
        if kind == "RenameField":
            field = _str(args.get("old_name"))
        if kind in ("RenameModel", "RenameField", "RenameIndex"):
            new_name = _str(args.get("new_name"))
        model = model.lower() if model else None
        references: list[str] = []
        if "field" in args:
            self.field_references(args["field"], model, references)
        fields = args.get("fields")
        if isinstance(fields, ast.List | ast.Tuple):
            for entry in fields.elts:
                if isinstance(entry, ast.Tuple) and len(entry.elts) == 2:
                    self.field_references(entry.elts[1], model, references)
        bases = args.get("bases")
        if isinstance(bases, ast.List | ast.Tuple):
            for base in bases.elts:
                target = self.related_target(base, model) if _str(base) else None
                if target:
                    references.append(target)
        elidable = args.get("elidable")
        return OperationSummary(
            kind=kind, span=_span(call), model=model, field=field, new_name=new_name,
            references=tuple(dict.fromkeys(references)),
            elidable=isinstance(elidable, ast.Constant) and elidable.value is True,
        )

    def operations(self, value: ast.expr) -> tuple[tuple[OperationSummary, ...], list[tuple[Span, str]]]:
        dynamic: list[tuple[Span, str]] = []
        if not isinstance(value, ast.List | ast.Tuple):
            dynamic.append((_span(value), _dynamic_reason(value)))
            # Still summarise the literal parts (``[...] + [...]``) for display.
            calls = [n for n in ast.walk(value) if isinstance(n, ast.List | ast.Tuple)]
            literal = tuple(self.operation(e) for lst in calls for e in lst.elts
                            if isinstance(e, ast.Call) and _call_name(e.func))
            return literal, dynamic
        ops: list[OperationSummary] = []
        for element in value.elts:
            if isinstance(element, ast.Call) and _call_name(element.func):
                ops.append(self.operation(element))
            else:
                dynamic.append((_span(element), _dynamic_reason(element)))
        return tuple(ops), dynamic


def _environment_hint(node: ast.AST) -> str:
    for sub in ast.walk(node):
        dotted = _dotted(sub) if isinstance(sub, ast.Attribute) else ""
        if dotted.endswith("connection.vendor") or dotted.startswith("connection."):
            return " depending on the database vendor"
        if dotted.startswith("os.environ") or dotted == "os.getenv":
            return " depending on the environment"
        if dotted.startswith("settings."):
            return " depending on settings"
    return ""


_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"})


def _mutates_operations(node: ast.AST) -> bool:
    """``operations.append(...)``, ``operations += [...]``, ``operations[i] = ...``,
    ``del operations[i]`` anywhere in ``node``."""
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                and sub.func.attr in _MUTATORS and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == "operations"):
            return True
        if isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name) \
                and sub.target.id == "operations":
            return True
        targets = (sub.targets if isinstance(sub, ast.Assign | ast.Delete) else [])
        if any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
               and t.value.id == "operations" for t in targets):
            return True
    return False


def _dynamic_reason(node: ast.AST) -> str:
    kinds = {
        ast.IfExp: "a conditional expression",
        ast.ListComp: "a list comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.Call: "a function call",
        ast.BinOp: "a list concatenation",
        ast.Name: "a variable",
        ast.Starred: "an unpacked (*) value",
        ast.Attribute: "an attribute",
        ast.Subscript: "a subscript",
    }
    what = kinds.get(type(node), type(node).__name__)
    return f"operations computed at import time by {what}{_environment_hint(node)}"


def _decode(data: bytes) -> tuple[str | None, str | None, int]:
    """Source text, or (None, reason, line) when the bytes cannot be decoded."""
    head = data[:400]
    if b"coding" not in head and not head.startswith(codecs.BOM_UTF8):
        # The common case: no PEP 263 cookie, so the file must be UTF-8.
        try:
            return data.decode("utf-8"), None, 0
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            return None, f"file is not valid UTF-8 (byte 0x{data[error.start]:02x} on line {line})", line
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    except SyntaxError as error:
        return None, str(error), 1
    try:
        codecs.lookup(encoding)
        return data.decode(encoding), None, 0
    except (UnicodeDecodeError, LookupError) as error:
        start = getattr(error, "start", 0)
        line = data.count(b"\n", 0, start) + 1
        return None, f"file is not valid {encoding}: {error}", line


_CLASS_ATTRS = ("dependencies", "replaces", "run_before", "operations", "initial", "atomic")


def parse_migration(path: str | Path, app_label: str, source: str | None = None,
                    settings: ProjectSettings | None = None) -> MigrationRecord:
    """Read ``path`` (or ``source``, e.g. an editor buffer) into a record; never raises on bad input.

    ``settings`` resolves ``swappable_dependency(settings.X)`` (default
    ``AUTH_USER_MODEL = "auth.User"``). ``mtime_ns``/``size`` are those of the file
    on disk when it exists (used by the project cache).
    """
    if not isinstance(path, Path):  # Path(Path) re-parses the string: measurable on 10,000 files
        path = Path(path)
    try:
        return _parse(path, app_label, source, settings)
    except Exception as error:  # noqa: BLE001 - the contract: a record, never an exception
        # An input shape this reader does not expect must not take down a whole
        # check or the language server; the file is reported as unreadable instead.
        return MigrationRecord(app_label, path.stem, path, None, parse_problems=(Problem(
            code=UNPARSABLE, message=f"cannot read migration statically ({type(error).__name__}: {error})",
            path=path, span=Span(1), key=(app_label, path.stem),
            hint="please report this file to squasher's issue tracker"),))


def _parse(path: Path, app_label: str, source: str | None,
           settings: ProjectSettings | None) -> MigrationRecord:
    """The file read, decoded, parsed and its ``Migration`` class found, then the class read.
    A step that fails records its problem and the file becomes an unreadable record."""
    reader = _Reader(path, app_label, settings)
    text, mtime_ns, size = _read_source(reader, source)
    tree = _syntax_tree(reader, text) if text is not None else None
    cls = _migration_class(reader, tree) if tree is not None else None
    if tree is None or cls is None:
        return MigrationRecord(app_label, path.stem, path, None,
                               parse_problems=tuple(reader.problems), mtime_ns=mtime_ns, size=size)
    return _read_class(reader, tree, cls, mtime_ns, size)


def _read_source(reader: _Reader, source: str | None) -> tuple[str | None, int, int]:
    """(text, mtime_ns, size): ``source`` (an editor buffer) or the file's decoded bytes, and
    the file's stat when it exists, for the project cache. ``None`` text when the file cannot
    be read or decoded (the problem is recorded)."""
    path = reader.path
    mtime_ns = size = 0
    if source is not None:
        try:
            st = os.stat(path)
            mtime_ns, size = st.st_mtime_ns, st.st_size
        except OSError:
            pass
        return source, mtime_ns, size
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            mtime_ns, size = st.st_mtime_ns, st.st_size
            data = fh.read()
    except OSError as error:
        reader.problem(f"cannot read migration file: {error.strerror or error}", Span(1))
        return None, mtime_ns, size
    text, reason, line = _decode(data)
    if text is None:
        reader.problem(reason or "cannot decode file", Span(line), hint="save the file as UTF-8")
    return text, mtime_ns, size


def _syntax_tree(reader: _Reader, source: str) -> ast.Module | None:
    """The module's syntax tree, or ``None`` with the reason recorded (a syntax error
    where the parser stopped, nesting too deep, null bytes)."""
    try:
        return ast.parse(source, filename=str(reader.path))
    except SyntaxError as error:
        line = error.lineno or 1
        col = max((error.offset or 1) - 1, 0)
        reader.problem(f"syntax error: {error.msg}", Span(line, col),
                       hint="fix the syntax so the migration can be read")
    except (RecursionError, MemoryError):
        reader.problem("expression nesting too deep to parse", Span(1))
    except ValueError as error:  # null bytes
        reader.problem(f"cannot parse file: {error}", Span(1))
    return None


def _migration_class(reader: _Reader, tree: ast.Module) -> ast.ClassDef | None:
    """The module's ``class Migration`` (the last definition wins, as at import time), or
    ``None`` with a problem: a module without one is not a migration Django can load."""
    cls = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            cls = node
    if cls is None:
        reader.problem("no `class Migration` in migration file", Span(1),
                       hint="a migration module must define `class Migration(migrations.Migration)`; "
                            "move helper modules out of the migrations package or prefix them with `_`")
    return cls


def _read_class(reader: _Reader, tree: ast.Module, cls: ast.ClassDef, mtime_ns: int,
                size: int) -> MigrationRecord:
    """The record of a file with a ``Migration`` class: its attributes as written, what
    changes them at import time, then the references and operations they hold."""
    dynamic: list[tuple[Span, str]] = []
    values, spans = _class_attributes(reader, cls, dynamic)
    _module_level_changes(reader, tree, cls, dynamic)
    deps = reader.references("dependencies", values["dependencies"]) if "dependencies" in values else ()
    replaces = reader.references("replaces", values["replaces"]) if "replaces" in values else ()
    run_before = reader.references("run_before", values["run_before"]) if "run_before" in values else ()
    operations: tuple[OperationSummary, ...] = ()
    if "operations" in values:
        operations, dyn = reader.operations(values["operations"])
        dynamic.extend(dyn)
    return MigrationRecord(
        app_label=reader.app_label, name=reader.path.stem, path=reader.path,
        class_span=Span(cls.lineno, cls.col_offset, cls.end_lineno, cls.end_col_offset),
        dependencies=deps, replaces=replaces, run_before=run_before,
        initial=_flag(values, "initial", None), atomic=bool(_flag(values, "atomic", True)),
        operations=operations,
        dependencies_span=spans.get("dependencies"), replaces_span=spans.get("replaces"),
        run_before_span=spans.get("run_before"), operations_span=spans.get("operations"),
        dynamic_operations=tuple(dynamic), parse_problems=tuple(reader.problems),
        mtime_ns=mtime_ns, size=size,
    )


def _class_attributes(reader: _Reader, cls: ast.ClassDef, dynamic: list[tuple[Span, str]]
                      ) -> tuple[dict[str, ast.expr], dict[str, Span]]:
    """(value, span) of each attribute of :data:`_CLASS_ATTRS` assigned in the class body.
    Operations changed in the body (``+=``, ``operations.append``, assigned in an ``if``)
    are added to ``dynamic``; references changed that way cannot be read: problems."""
    values: dict[str, ast.expr] = {}
    spans: dict[str, Span] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in _CLASS_ATTRS and stmt.value is not None:
                    if isinstance(stmt, ast.AugAssign):
                        if target.id == "operations":
                            # ``operations += value`` is ``operations + value``
                            concat = ast.BinOp(left=target, op=ast.Add(), right=stmt.value)
                            dynamic.append((_span(stmt), _dynamic_reason(concat)))
                        else:
                            reader.problem(f"`{target.id}` is extended with `+=`; it cannot be read statically",
                                           _span(stmt))
                        continue
                    values[target.id] = stmt.value
                    spans[target.id] = _span(stmt.value)
        elif isinstance(stmt, ast.Expr) and _mutates_operations(stmt):
            dynamic.append((_span(stmt), "operations changed after their assignment at import time"))
        elif isinstance(stmt, ast.If | ast.For | ast.While | ast.Try | ast.With | ast.Match):
            assigned = {t.id for sub in ast.walk(stmt) if isinstance(sub, ast.Assign)
                        for t in sub.targets if isinstance(t, ast.Name)}
            if "operations" in assigned or _mutates_operations(stmt):
                dynamic.append((_span(stmt), "operations assigned or changed inside a block at import time"
                                + _environment_hint(stmt)))
            for attr in ("dependencies", "replaces", "run_before"):
                if attr in assigned:
                    reader.problem(f"`{attr}` is assigned inside a conditional or loop; it cannot be read statically",
                                   _span(stmt))
    return values, spans


def _module_level_changes(reader: _Reader, tree: ast.Module, cls: ast.ClassDef,
                          dynamic: list[tuple[Span, str]]) -> None:
    """Module-level code after the class that changes it (``Migration.operations += ...``):
    operations become dynamic, references unreadable."""
    for node in tree.body:
        if node.lineno <= cls.lineno:
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "Migration":
                if sub.attr == "operations":
                    dynamic.append((_span(node), "operations changed by module-level code after the class"))
                elif sub.attr in ("dependencies", "replaces", "run_before"):
                    reader.problem(f"`Migration.{sub.attr}` is changed by module-level code", _span(node))


def _flag(values: dict[str, ast.expr], attr: str, default: bool | None) -> bool | None:
    """A boolean class attribute written as a constant (``initial = True``); ``default`` when
    it is absent or computed."""
    value = values.get(attr)
    if isinstance(value, ast.Constant):
        return bool(value.value)
    return default
