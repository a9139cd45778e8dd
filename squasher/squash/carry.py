"""Carry code from migration modules into a squashed migration (libcst).

A ``RunPython`` function defined in a migration module cannot be imported from the
squashed migration (module names such as ``0012_backfill`` are not importable with an
``import`` statement, and the original file disappears when the squash is finalized), so
its source is copied into the new file together with everything it needs from its
module: the module-level helper functions/classes it calls, the constants it reads and
the imports it uses (transitively). Comments and formatting inside the copied code
survive because libcst round-trips source exactly.

Names are kept when they are free in the new module; a clash between two different
objects of the same name (two migrations each defining ``forwards``) is resolved by
prefixing the later one with its source migration's number: ``m0012_forwards``.
Identical imports are shared. Functions imported from project modules (and
``RunPython.noop``) are not carried: they stay imports.

Lambdas and nested functions cannot be carried; :class:`~squasher.errors.CarryError`
names the file and line with a hint.

The same machinery carries the *source text* of a custom operation call
(:meth:`Carrier.carry_operation_source`) when its ``deconstruct()`` does not reproduce its
constructor arguments.
"""

from __future__ import annotations

import builtins
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.metadata import (
    Assignment,
    GlobalScope,
    ImportAssignment,
    MetadataWrapper,
    PositionProvider,
    ScopeProvider,
)

from squasher.errors import CarryError
from squasher.records import migration_number

_LAMBDA_HINT = (
    "define it as a module-level function in the migration, e.g. "
    "`def forwards(apps, schema_editor): ...`, and pass that function to RunPython"
)
_NESTED_HINT = (
    "move the function to module level in the migration file (functions created inside "
    "another function cannot be copied into the squashed migration)"
)


@dataclass(frozen=True)
class ImportSpec:
    """One imported binding: ``import module`` / ``import module as asname`` /
    ``from module import name [as asname]``."""

    module: str
    name: str | None = None  # None: plain ``import module``
    asname: str | None = None

    @property
    def binding(self) -> str:
        if self.asname:
            return self.asname
        if self.name is not None:
            return self.name
        return self.module.split(".")[0]

    def identity(self) -> tuple[str, ...]:
        """What the binding refers to (two specs with equal identity can share a name)."""
        if self.name is None and not self.asname:
            return ("pkg", self.module.split(".")[0])
        if self.name is None:
            return ("mod", self.module)
        return ("attr", self.module, self.name)


@dataclass(frozen=True)
class CarriedItem:
    """A piece of code copied into the squashed migration (for the report)."""

    source_module: str
    source_path: Path
    name: str
    local_name: str
    kind: str  # "function", "class", "constant", "import", "operation"


def parse_import_line(line: str) -> list[ImportSpec]:
    """Parse an import line as Django's serializer produces (``import x.y``,
    ``from a import b, c``)."""
    line = line.strip()
    m = re.fullmatch(r"from\s+([\w.]+)\s+import\s+(.+)", line)
    if m:
        out = []
        for part in m.group(2).split(","):
            bits = part.split()
            if len(bits) == 3 and bits[1] == "as":
                out.append(ImportSpec(m.group(1), bits[0], bits[2]))
            elif bits:
                out.append(ImportSpec(m.group(1), bits[0]))
        return out
    m = re.fullmatch(r"import\s+([\w.]+)(?:\s+as\s+(\w+))?", line)
    if m:
        return [ImportSpec(m.group(1), None, m.group(2))]
    raise ValueError(f"unsupported import line: {line!r}")


def render_imports(specs: Iterable[ImportSpec]) -> list[str]:
    """Import lines, plain imports first, then ``from`` imports grouped by module."""
    plain: set[str] = set()
    froms: dict[str, set[str]] = {}
    for spec in specs:
        if spec.name is None:
            plain.add(f"import {spec.module}" + (f" as {spec.asname}" if spec.asname else ""))
        else:
            alias = spec.name + (f" as {spec.asname}" if spec.asname else "")
            froms.setdefault(spec.module, set()).add(alias)
    lines = sorted(plain, key=lambda s: s.split()[1])
    for module in sorted(froms):
        lines.append(f"from {module} import {', '.join(sorted(froms[module]))}")
    return lines


def is_migration_module(module_name: str | None, known: Iterable[str] = ()) -> bool:
    """True for modules that cannot be imported from a migration by name
    (``app.migrations.0012_x``) or that are known migration modules."""
    if not module_name:
        return False
    if module_name in set(known):
        return True
    return any(not part.isidentifier() for part in module_name.split("."))


def function_location(func: Callable[..., Any]) -> tuple[str | None, int | None]:
    code = getattr(func, "__code__", None)
    if code is None:
        return None, None
    return code.co_filename, code.co_firstlineno


def check_carriable(func: Callable[..., Any]) -> None:
    """Raise :class:`CarryError` for a lambda or a nested function."""
    path, line = function_location(func)
    name = getattr(func, "__name__", repr(func))
    qualname = getattr(func, "__qualname__", name)
    if name == "<lambda>":
        raise CarryError(
            "a lambda passed to RunPython cannot be carried into the squashed migration",
            path=path, line=line, hint=_LAMBDA_HINT,
        )
    if "<locals>" in qualname:
        raise CarryError(
            f"function {qualname!r} is defined inside another function and cannot be "
            "carried into the squashed migration",
            path=path, line=line, hint=_NESTED_HINT,
        )


class _NodeCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.nodes: set[int] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.nodes.add(id(node))
        return True


def _bindings(scope: GlobalScope) -> list[Assignment]:
    """The module's own bindings, each with its node (builtins are bound in the parent
    scope, never in a module's global scope)."""
    return [a for a in scope.assignments if isinstance(a, Assignment)]


class _Renamer(cst.CSTTransformer):
    def __init__(self, renames: dict[int, str]) -> None:
        self.renames = renames

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.renames.get(id(original_node))
        return updated_node.with_changes(value=new) if new is not None else updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        # a reference recorded on a dotted name (``os.path``) renames its leftmost Name
        new = self.renames.get(id(original_node))
        if new is None:
            return updated_node
        inner: cst.BaseExpression = updated_node
        chain = []
        while isinstance(inner, cst.Attribute):
            chain.append(inner)
            inner = inner.value
        if isinstance(inner, cst.Name):
            result: cst.BaseExpression = inner.with_changes(value=new)
            for attr in reversed(chain):
                result = attr.with_changes(value=result)
            return result
        return updated_node


def _renamed(node: cst.CSTNode, renames: dict[int, str]) -> cst.CSTNode:
    """``node`` with the names of ``renames`` (by node id) replaced."""
    if not renames:
        return node
    renamed = node.visit(_Renamer(renames))
    if not isinstance(renamed, cst.CSTNode):  # pragma: no cover - a rename never removes a node
        raise TypeError(f"renaming removed {type(node).__name__}")
    return renamed


class _ModuleInfo:
    """A parsed source module with scope analysis."""

    def __init__(self, module_name: str, path: Path, source: str) -> None:
        self.module_name = module_name
        self.path = path
        try:
            parsed = cst.parse_module(source)
        except cst.ParserSyntaxError as exc:
            raise CarryError(
                f"cannot parse {module_name} to carry code from it: {exc.message}",
                path=path, line=exc.raw_line,
            ) from exc
        self.wrapper = MetadataWrapper(parsed, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        scopes = self.wrapper.resolve(ScopeProvider)
        self.positions = self.wrapper.resolve(PositionProvider)
        self.scope: GlobalScope = next(s for s in scopes.values() if isinstance(s, GlobalScope))
        self.statement_nodes: list[set[int]] = []
        for stmt in self.module.body:
            collector = _NodeCollector()
            stmt.visit(collector)
            self.statement_nodes.append(collector.nodes)
        package = module_name.rpartition(".")[0]
        self.package = package
        self.code = self.module.code_for_node

    def statement_index(self, node: cst.CSTNode) -> int | None:
        key = id(node)
        for i, nodes in enumerate(self.statement_nodes):
            if key in nodes:
                return i
        return None

    def line_of(self, index: int) -> int:
        return self.positions[self.module.body[index]].start.line

    def resolve_relative(self, node: cst.ImportFrom) -> str:
        module = self.code(node.module) if node.module is not None else ""
        dots = len(node.relative)
        if not dots:
            return module
        parts = self.package.split(".") if self.package else []
        base = parts[: len(parts) - (dots - 1)] if dots > 1 else parts
        return ".".join([*base, module] if module else base)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


@dataclass
class Carrier:
    """Collects code carried into one new migration module."""

    known_migration_modules: set[str] = field(default_factory=set)
    _namespace: dict[str, tuple] = field(default_factory=dict)  # local name -> identity
    _imports: list[ImportSpec] = field(default_factory=list)
    _statements: list[str] = field(default_factory=list)
    _memo: dict[tuple[str, str], str] = field(default_factory=dict)
    _emitted: set[tuple[str, int]] = field(default_factory=set)
    _modules: dict[str, _ModuleInfo] = field(default_factory=dict)
    _function_names: dict[int, str] = field(default_factory=dict)
    carried: list[CarriedItem] = field(default_factory=list)

    # -- namespace -----------------------------------------------------------------
    def reserve_import(self, spec: ImportSpec) -> None:
        """A binding the writer itself produces (``migrations``, ``models``, ``settings``...)."""
        self._namespace.setdefault(spec.binding, spec.identity())

    def reserve_name(self, name: str) -> None:
        self._namespace.setdefault(name, ("reserved", name))

    def _free(self, desired: str, identity: tuple, number: str) -> str:
        taken = self._namespace.get(desired)
        if taken is None or taken == identity:
            self._namespace[desired] = identity
            return desired
        base = f"m{number}_{desired}" if number else f"carried_{desired}"
        candidate, n = base, 2
        while candidate in self._namespace and self._namespace[candidate] != identity:
            candidate = f"{base}_{n}"
            n += 1
        self._namespace[candidate] = identity
        return candidate

    # -- modules -------------------------------------------------------------------
    def _module(self, module_name: str, fallback_path: str | None = None) -> _ModuleInfo:
        info = self._modules.get(module_name)
        if info is not None:
            return info
        mod = sys.modules.get(module_name)
        path_str = getattr(mod, "__file__", None) or fallback_path
        if not path_str:
            raise CarryError(f"cannot find the source of module {module_name}")
        path = Path(path_str)
        try:
            source = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CarryError(f"cannot read the source of {module_name}: {exc}", path=path) from exc
        info = _ModuleInfo(module_name, path, source)
        self._modules[module_name] = info
        return info

    @staticmethod
    def _number(module_name: str) -> str:
        return migration_number(module_name.rsplit(".", 1)[-1])

    # -- public API ----------------------------------------------------------------
    def needs_carry(self, func: Callable[..., Any]) -> bool:
        return is_migration_module(getattr(func, "__module__", None), self.known_migration_modules)

    def carry_function(self, func: Callable[..., Any]) -> str:
        """Carry ``func`` (and what it needs); return the expression naming it in the new module."""
        cached = self._function_names.get(id(func))
        if cached is not None:
            return cached
        check_carriable(func)
        module_name = func.__module__
        path, line = function_location(func)
        info = self._module(module_name, path)
        top, _, rest = func.__qualname__.partition(".")
        if not self._global_assignments(info, top):
            raise CarryError(
                f"function {func.__qualname__!r} is not defined at module level in {module_name}",
                path=info.path, line=line, hint=_NESTED_HINT,
            )
        local = self._carry_name(info, top)
        expr = f"{local}.{rest}" if rest else local
        self._function_names[id(func)] = expr
        return expr

    def is_migration_module(self, module_name: str | None) -> bool:
        return is_migration_module(module_name, self.known_migration_modules)

    def carry_qualname(self, module_name: str, name: str) -> str:
        """Carry the module-level binding ``name`` of ``module_name``; return its local name."""
        info = self._module(module_name)
        if not self._global_assignments(info, name):
            raise CarryError(
                f"{name!r} is not defined at module level in {module_name}",
                path=info.path, hint=_NESTED_HINT,
            )
        return self._carry_name(info, name)

    def local_qualname(self, module_name: str, qualname: str) -> str:
        """The name a carried object has in the new module (carrying it if needed)."""
        top, _, rest = qualname.partition(".")
        local = self._memo.get((module_name, top)) or self.carry_qualname(module_name, top)
        return f"{local}.{rest}" if rest else local

    def carry_operation_source(self, module_name: str, index: int) -> str:
        """Source text of ``Migration.operations[index]`` in ``module_name`` (names it uses
        carried and renamed). Raises :class:`CarryError` when it cannot be located."""
        info = self._module(module_name)
        element = self._operation_element(info, index)
        # names the expression reads that resolve to module-level bindings
        collector = _NodeCollector()
        element.visit(collector)
        renames: dict[int, str] = {}
        for assignment in info.scope.assignments:
            refs = [r for r in assignment.references if id(r.node) in collector.nodes]
            if not refs:
                continue
            local = self._carry_name(info, assignment.name.split(".")[0])
            if local != assignment.name.split(".")[0]:
                for ref in refs:
                    renames[id(ref.node)] = local
        text = info.module.code_for_node(_renamed(element, renames))
        self.carried.append(
            CarriedItem(module_name, info.path, f"operations[{index}]", text.split("(")[0], "operation")
        )
        return text

    def add_statement(self, name: str, source: str) -> str:
        """Add a module-level definition written by squasher itself; return its local name."""
        key = ("<squasher>", name)
        if key in self._memo:
            return self._memo[key]
        local = self._free(name, ("def", "<squasher>", name), "")
        if local != name:
            source = source.replace(f"def {name}(", f"def {local}(", 1)
        self._memo[key] = local
        self._statements.append(source.strip("\n"))
        return local

    def import_specs(self) -> list[ImportSpec]:
        return list(self._imports)

    def code(self) -> str:
        """The carried statements, in dependency order, separated by blank lines."""
        return "\n\n\n".join(s.strip("\n") for s in self._statements)

    # -- internals -----------------------------------------------------------------
    def _operation_element(self, info: _ModuleInfo, index: int) -> cst.BaseExpression:
        for stmt in info.module.body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Migration":
                for line in stmt.body.body:
                    if not isinstance(line, cst.SimpleStatementLine):
                        continue
                    for small in line.body:
                        targets = []
                        if isinstance(small, cst.Assign):
                            targets = [t.target for t in small.targets]
                            value = small.value
                        elif isinstance(small, cst.AnnAssign) and small.value is not None:
                            targets = [small.target]
                            value = small.value
                        is_operations = any(
                            isinstance(t, cst.Name) and t.value == "operations" for t in targets
                        )
                        if is_operations and isinstance(value, cst.List | cst.Tuple):
                            elements = value.elements
                            literal = all(not isinstance(e, cst.StarredElement) for e in elements)
                            if literal and index < len(elements):
                                return elements[index].value
        raise CarryError(
            f"cannot locate operation #{index + 1} in the source of {info.module_name} "
            "(operations is not a literal list)",
            path=info.path,
            hint="write the operation so that deconstruct() returns its constructor arguments",
        )

    @staticmethod
    def _global_assignments(info: _ModuleInfo, name: str) -> list[Assignment]:
        return [a for a in _bindings(info.scope) if a.name == name or a.name.split(".")[0] == name]

    def _carry_name(self, info: _ModuleInfo, name: str) -> str:
        """Carry the module-level binding ``name`` of ``info``; return its local name."""
        key = (info.module_name, name)
        if key in self._memo:
            return self._memo[key]
        if name in dir(builtins) and not self._global_assignments(info, name):
            return name
        assignments = self._global_assignments(info, name)
        if not assignments:
            return name  # unbound in the source module too: leave as is
        number = self._number(info.module_name)
        # imports written as a plain top-level statement are carried alias by alias
        import_specs: list[ImportSpec] = []
        other: list[Assignment] = []
        for a in assignments:
            if isinstance(a, ImportAssignment):
                idx = info.statement_index(a.node)
                if idx is not None and isinstance(info.module.body[idx], cst.SimpleStatementLine):
                    spec = self._import_spec(info, a.node, a.name)
                    if spec is not None:
                        import_specs.append(spec)
                        continue
            other.append(a)
        if import_specs and not other:
            spec = import_specs[-1]
            if is_migration_module(spec.module) or (
                spec.name is not None and is_migration_module(f"{spec.module}.{spec.name}")
            ):
                raise CarryError(
                    f"{info.module_name} imports {name!r} from another migration module",
                    path=info.path,
                    hint="define the helper in a project module and import it from there",
                )
            local = self._free(spec.binding, spec.identity(), number)
            if local != spec.binding:
                spec = ImportSpec(spec.module, spec.name or None, local) if spec.name else spec
            if spec not in self._imports:
                self._imports.append(spec)
            self._memo[key] = local
            self.carried.append(CarriedItem(info.module_name, info.path, name, local, "import"))
            return local
        # definitions: carry the top-level statement(s) that bind the name
        indexes = sorted({i for a in other if (i := info.statement_index(a.node)) is not None})
        identity = ("def", info.module_name, name)
        local = self._free(name, identity, number)
        self._memo[key] = local
        for idx in indexes:
            self._emit_statement(info, idx)
        stmt = info.module.body[indexes[-1]] if indexes else None
        kind = (
            "function" if isinstance(stmt, cst.FunctionDef)
            else "class" if isinstance(stmt, cst.ClassDef) else "constant"
        )
        self.carried.append(CarriedItem(info.module_name, info.path, name, local, kind))
        return local

    def _emit_statement(self, info: _ModuleInfo, idx: int) -> None:
        if (info.module_name, idx) in self._emitted:
            return
        self._emitted.add((info.module_name, idx))
        stmt = info.module.body[idx]
        nodes = info.statement_nodes[idx]
        renames: dict[int, str] = {}
        for assignment in _bindings(info.scope):
            refs = [r.node for r in assignment.references if id(r.node) in nodes]
            defines = id(assignment.node) in nodes
            if not refs and not defines:
                continue
            base = assignment.name.split(".")[0]
            if defines and not isinstance(assignment, ImportAssignment):
                local = self._memo.get((info.module_name, base))
                if local is None:
                    local = self._free(base, ("def", info.module_name, base), self._number(info.module_name))
                    self._memo[(info.module_name, base)] = local
            elif defines:
                local = base
            else:
                local = self._carry_name(info, base)
            if local == base:
                continue
            for ref in refs:
                renames[id(ref)] = local
            if defines:
                target = assignment.node
                if isinstance(target, cst.FunctionDef | cst.ClassDef):
                    renames[id(target.name)] = local
                elif isinstance(target, cst.Name):
                    renames[id(target)] = local
        text = info.module.code_for_node(_renamed(stmt, renames))
        self._statements.append(
            f"# carried from {info.module_name} (line {info.line_of(idx)})\n{text.strip(chr(10))}"
        )

    def _import_spec(self, info: _ModuleInfo, node: cst.CSTNode, name: str) -> ImportSpec | None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = _dotted(alias.name)
                asname = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else None
                if (asname or dotted) == name or (not asname and dotted.split(".")[0] == name.split(".")[0]):
                    return ImportSpec(dotted, None, asname)
        if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            module = info.resolve_relative(node)
            for alias in node.names:
                dotted = _dotted(alias.name)
                asname = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else None
                if (asname or dotted) == name:
                    return ImportSpec(module, dotted, asname)
        return None
