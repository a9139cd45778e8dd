"""Compose the source of a squashed migration.

Operations are serialized with Django's own ``OperationWriter``/serializer (so the file
looks like what ``makemigrations`` writes), then:

* every reference Django would write to a migration module (``app.migrations.0012_x.f``,
  which cannot even be imported, and for which Django writes its "manual porting
  required" comment) is replaced by a local name and the code is carried with
  :class:`squasher.squash.carry.Carrier`; ``RunPython.noop`` is written ``migrations.RunPython.noop``;
* ``elidable`` is written explicitly for ``RunPython``/``RunSQL`` (Django drops it);
* swappable dependencies are written ``migrations.swappable_dependency(settings.X)``;
* a custom operation whose ``deconstruct()`` does not reproduce its constructor
  arguments is carried as source text from its original migration (or refused);
* the module is formatted with the ``ruff`` squasher depends on (never one found on PATH);
* the result is imported in isolation and its operations compared with the intended
  ones by ``deconstruct()`` equality (:func:`roundtrip_check`).

Needs a configured Django (``django.setup()`` done by the caller).
"""

from __future__ import annotations

import datetime
import functools
import re
import subprocess
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from squasher.errors import CarryError, SquasherError
from squasher.squash.carry import (
    CarriedItem,
    Carrier,
    ImportSpec,
    check_carriable,
    parse_import_line,
    render_imports,
)

if TYPE_CHECKING:
    from django.db.migrations.state import ProjectState

MigrationKey = tuple[str, str]

_MIGRATION_REF = re.compile(r"(?P<module>[A-Za-z_][\w]*(?:\.[\w]+)*\.\d[\w]*)\.(?P<name>[A-Za-z_]\w*)(?P<rest>(?:\.[A-Za-z_]\w*)*)")
_NOOP_PATH = "django.db.migrations.operations.special.RunPython.noop"


CHECKPOINT_NAME = "squasher_constraint_checkpoint"
CHECKPOINT_SOURCE = '''
def squasher_constraint_checkpoint(apps, schema_editor):
    # Added by squasher where the original migrations ended a transaction between data
    # changes and the schema changes after them. On PostgreSQL, in one transaction, ALTER
    # TABLE fails while foreign-key checks of the rows just written are still deferred
    # ("pending trigger events"), and SQL Django defers to the end of a migration (indexes)
    # would collide with the schema changes that follow; run both now, as the end of the
    # original migration did.
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in list(schema_editor.deferred_sql):
        schema_editor.execute(sql)
    schema_editor.deferred_sql.clear()
    if schema_editor.connection.in_atomic_block:
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
'''
_checkpoint_namespace: dict[str, Any] = {"__name__": __name__}
exec(compile(CHECKPOINT_SOURCE, __file__, "exec"), _checkpoint_namespace)
#: the function object used in planned operations (written as carried code, never imported)
constraint_checkpoint = _checkpoint_namespace[CHECKPOINT_NAME]


def _is_data_op(op: Any) -> bool:
    from django.db.migrations import RunPython, RunSQL

    return isinstance(op, RunPython | RunSQL)


def _op_models(op: Any) -> set[str] | None:
    """Lower-case names of the models whose tables ``op`` changes, plus the models its
    relational fields point at; None when unknown (custom operations,
    SeparateDatabaseAndState: they may alter any table)."""
    from django.db.migrations import operations as ops
    from django.db.migrations.operations.fields import FieldOperation
    from django.db.migrations.operations.models import IndexOperation, ModelOperation

    if type(op).__module__.split(".")[:3] != ["django", "db", "migrations"] or isinstance(
            op, ops.SeparateDatabaseAndState):
        return None
    names: set[str] = set()
    if isinstance(op, ops.RenameModel):
        names |= {op.old_name_lower, op.new_name_lower}
    elif isinstance(op, ModelOperation):
        names.add(op.name_lower)
    elif isinstance(op, FieldOperation | IndexOperation):
        names.add(op.model_name_lower)
    else:
        return None
    fields = [getattr(op, "field", None), *(f for _, f in getattr(op, "fields", None) or ())]
    for f in fields:
        target = getattr(getattr(f, "remote_field", None), "model", None)
        if isinstance(target, str):
            names.add(target.rsplit(".", 1)[-1].lower())
        elif target is not None and hasattr(target, "_meta"):
            names.add(target._meta.model_name)
    return names


def _fk_models(operations: list[Any], from_state: ProjectState | None, app_label: str | None) -> set[str] | None:
    """Models of the squashed app that take part in a foreign key (hold one or are the
    target of one) anywhere in ``from_state`` or in the operations; None = unknown."""
    if from_state is None:
        return None  # models from before the range are unknown
    out: set[str] = set()
    for (app, name), model in from_state.models.items():
        for f in model.fields.values():
            target = getattr(getattr(f, "remote_field", None), "model", None)
            if target is None:
                continue
            if app == app_label:
                out.add(name)
            if isinstance(target, str):
                t_app, _, t_name = target.lower().rpartition(".")
                if (t_app or app) == app_label:
                    out.add(t_name)
    for op in operations:
        if _is_data_op(op):
            continue
        names = _op_models(op)
        if names is None:
            return None
        fields = [getattr(op, "field", None), *(f for _, f in getattr(op, "fields", None) or ())]
        if any(getattr(f, "remote_field", None) is not None for f in fields if f is not None):
            out |= names
    return out


def with_constraint_checkpoints(operations: list[Any], app_label: str | None = None,
                                from_state: ProjectState | None = None) -> tuple[list[Any], int]:
    """Insert a checkpoint after a RunPython/RunSQL only where something can be pending.

    What the end of an original migration's transaction did, and a squash no longer does,
    matters on PostgreSQL in two cases only:

    1. *Deferred foreign-key checks.* Django creates FK constraints ``DEFERRABLE INITIALLY
       DEFERRED``; rows a RunPython/RunSQL writes leave trigger events pending on tables
       that hold a foreign key or are the target of one, and ``ALTER TABLE`` of such a
       table then fails ("pending trigger events").  Which tables the code writes is not
       known (treated as any table), so a checkpoint is needed when a later schema
       operation of the squash changes a table taking part in a foreign key (from the
       state before the squash or from any operation of it — a superset), or adds or
       alters a relation.
    2. *Django's deferred SQL* (indexes, constraints queued until the end of a migration)
       queued by schema operations before the RunPython/RunSQL could collide with a
       later schema operation on the same model (the optimizer cannot merge across the
       RunPython/RunSQL): a checkpoint is needed when a schema operation before it, since
       the previous checkpoint, and one after it share a model.

    Operations of unknown effect (custom operations, SeparateDatabaseAndState) count as
    changing every table.  ``app_label=None`` keeps the old conservative behaviour (a
    checkpoint after every RunPython/RunSQL directly followed by a schema change).

    The checkpoints are elidable no-ops outside PostgreSQL and counted apart from the
    squash's operations (``constraint checkpoints: N``); with this rule they appear only
    where the original migration boundary did real work, so they never outnumber the
    boundaries the squash removed (each sits where a migration ended in the history).
    """
    if app_label is None:
        out: list[Any] = []
        added = 0
        for i, op in enumerate(operations):
            out.append(op)
            nxt = operations[i + 1] if i + 1 < len(operations) else None
            if _is_data_op(op) and nxt is not None and not _is_data_op(nxt):
                out.append(_checkpoint_op())
                added += 1
        return out, added

    fk_models = _fk_models(operations, from_state, app_label)
    schema_models = [None if _is_data_op(op) else _op_models(op) for op in operations]
    out = []
    added = 0
    since_flush: set[str] | None = set()  # models with schema changes since the last flush
    for i, op in enumerate(operations):
        out.append(op)
        if not _is_data_op(op):
            names = schema_models[i]
            if since_flush is not None:
                since_flush = None if names is None else since_flush | names
            continue
        nxt = operations[i + 1] if i + 1 < len(operations) else None
        if nxt is None or _is_data_op(nxt):
            continue  # the next RunPython/RunSQL decides for both
        needed = False
        for j in range(i + 1, len(operations)):
            if _is_data_op(operations[j]):
                continue
            later = schema_models[j]
            relational = any(
                getattr(f, "remote_field", None) is not None
                for f in [getattr(operations[j], "field", None),
                          *(f for _, f in getattr(operations[j], "fields", None) or ())]
                if f is not None)
            if (later is None or fk_models is None or relational or later & fk_models
                    or since_flush is None or later & since_flush):
                needed = True
                break
        if needed:
            out.append(_checkpoint_op())
            added += 1
            since_flush = set()
    return out, added


def _checkpoint_op() -> Any:
    from django.db.migrations import RunPython

    return RunPython(constraint_checkpoint, constraint_checkpoint, elidable=True)


@dataclass
class SquashedMigration:
    """Everything the written file contains."""

    app_label: str
    name: str
    operations: list[Any]
    replaces: list[MigrationKey]
    dependencies: list[tuple[str, str]]  # ("__setting__", "AUTH_USER_MODEL") for swappable
    run_before: list[MigrationKey] = field(default_factory=list)
    initial: bool = False
    atomic: bool = True
    atomic_reason: str | None = None
    header: list[str] = field(default_factory=list)
    #: id(operation) -> (module name, index in its Migration.operations) for source carrying
    operation_origins: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: module names of migration modules (functions defined there are carried)
    migration_modules: set[str] = field(default_factory=set)


@dataclass
class RenderedMigration:
    text: str
    carried: list[CarriedItem]
    source_operations: list[str]
    formatter: str | None


# ---------------------------------------------------------------------------------------
# value walking


def _walk(value: Any, visit: Callable[[Any], None], seen: set[int] | None = None) -> None:
    """Visit every function/type reachable from ``value`` through deconstruct()."""
    from django.db.migrations.operations.base import Operation

    seen = seen if seen is not None else set()
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, types.FunctionType | types.MethodType | types.BuiltinFunctionType):
        visit(value)
        return
    if isinstance(value, functools.partial):
        _walk(value.func, visit, seen)
        _walk(value.args, visit, seen)
        _walk(value.keywords, visit, seen)
        return
    if isinstance(value, type):
        return
    if isinstance(value, Operation):
        _, args, kwargs = value.deconstruct()
        _walk(list(args), visit, seen)
        _walk(kwargs, visit, seen)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(k, visit, seen)
            _walk(v, visit, seen)
        return
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _walk(item, visit, seen)
        return
    deconstruct = getattr(value, "deconstruct", None)
    if callable(deconstruct):
        try:
            parts = deconstruct()
        except Exception:  # noqa: BLE001 - not every deconstruct is callable unbound
            return
        if isinstance(parts, tuple) and len(parts) >= 2:
            _walk(parts[-2], visit, seen)
            _walk(parts[-1], visit, seen)


# ---------------------------------------------------------------------------------------
# serialization


def _serialize_operation(op: Any, indentation: int = 2) -> tuple[str, set[str]]:
    from django.db.migrations.writer import OperationWriter

    try:
        text, imports = OperationWriter(op, indentation=indentation).serialize()
    except ValueError as exc:
        raise CarryError(
            f"operation {type(op).__name__} cannot be serialized: {str(exc).splitlines()[0]}",
            hint="make its arguments serializable (see Django's 'Migration serializing' docs)",
        ) from exc
    text = _add_elidable(op, text, indentation)
    return text, set(imports)


def _add_elidable(op: Any, text: str, indentation: int) -> str:
    from django.db.migrations import RunPython, RunSQL
    from django.utils.inspect import get_func_args

    if not isinstance(op, RunPython | RunSQL):
        return text
    if "elidable" not in get_func_args(type(op).__init__):
        return text
    _, _, kwargs = op.deconstruct()
    if "elidable" in kwargs:
        return text
    lines = text.splitlines()
    pad = " " * ((indentation + 1) * 4)
    lines.insert(len(lines) - 1, f"{pad}elidable={bool(op.elidable)!r},")
    return "\n".join(lines)


def _localize(text: str, imports: set[str], carrier: Carrier) -> tuple[str, set[str]]:
    """Replace references to migration modules by carried local names."""
    text = text.replace(_NOOP_PATH, "migrations.RunPython.noop")
    imports = {i for i in imports if i != "import django.db.migrations.operations.special"}
    checkpoint_path = f"{__name__}.{CHECKPOINT_NAME}"
    if checkpoint_path in text:
        local = carrier.add_statement(CHECKPOINT_NAME, CHECKPOINT_SOURCE)
        text = text.replace(checkpoint_path, local)
        imports = {i for i in imports if i != f"import {__name__}"}
    migration_imports = {
        line.split()[1] for line in imports
        if line.startswith("import ") and carrier.is_migration_module(line.split()[1])
    }
    if not migration_imports:
        return text, imports

    def replace(match: re.Match[str]) -> str:
        module = match.group("module")
        if module not in migration_imports:
            return match.group(0)
        local = carrier.carry_qualname(module, match.group("name"))
        return local + match.group("rest")

    text = _MIGRATION_REF.sub(replace, text)
    imports = {i for i in imports if not (i.startswith("import ") and i.split()[1] in migration_imports)}
    return text, imports


def _render_dependency(dep: tuple[str, str]) -> str:
    if dep[0] == "__setting__":
        return f"migrations.swappable_dependency(settings.{dep[1]})"
    return repr(tuple(dep))


def _render_module(spec: SquashedMigration, import_lines: list[str], carried_code: str,
                   op_texts: list[str]) -> str:
    out: list[str] = []
    for line in spec.header:
        out.append(f"# {line}" if line else "#")
    if spec.header:
        out.append("")
    out.extend(import_lines)
    out.append("")
    if carried_code:
        out.append("")
        out.append(carried_code)
        out.append("")
    out.append("")
    out.append("class Migration(migrations.Migration):")
    out.extend(_key_list("replaces", spec.replaces))
    if spec.initial:
        out.append("    initial = True")
        out.append("")
    if not spec.atomic:
        if spec.atomic_reason:
            out.append(f"    # {spec.atomic_reason}")
        out.append("    atomic = False")
        out.append("")
    out.append("    dependencies = [")
    out.extend(f"        {line}," for line in sorted(_render_dependency(d) for d in spec.dependencies))
    out.append("    ]")
    out.append("")
    out.extend(_key_list("run_before", spec.run_before))
    out.append("    operations = [")
    out.extend(op_texts)
    out.append("    ]")
    return "\n".join(out) + "\n"


def _key_list(attribute: str, keys: list[MigrationKey]) -> list[str]:
    """``attribute = [...]`` lines (one migration key a line) and a blank line; none when empty."""
    if not keys:
        return []
    return [f"    {attribute} = [", *(f"        {tuple(key)!r}," for key in keys), "    ]", ""]


def default_header(spec: SquashedMigration, members: int) -> list[str]:
    import django

    from squasher import __version__

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    return [
        f"Generated by squasher {__version__} (Django {django.get_version()}) on {now}",
        f"Squashes {members} migration(s) of '{spec.app_label}'; the replaced files stay until "
        "`squasher finalize`.",
    ]


def render(spec: SquashedMigration, *, format_path: Path | None = None,
           check: bool = True) -> RenderedMigration:
    """Produce the text of ``spec``; raises :class:`CarryError` for code that cannot be carried."""
    # lambdas / nested functions anywhere in the operations: clear error first
    def visit(func: Any) -> None:
        # a function with deconstruct() (models.SET(...) returns one) is written by Django's
        # serializer as the call that made it; only plain functions are carried
        if isinstance(func, types.FunctionType) and not hasattr(func, "deconstruct"):
            check_carriable(func)

    for op in spec.operations:
        # a custom operation's own functions (wagtail's BootstrapTranslatableModel builds one in
        # __init__) are its business: it is written as its call, from its source text, below
        if type(op).__module__.startswith("django.") or not check:
            _walk(op, visit)

    carrier = Carrier(known_migration_modules=set(spec.migration_modules))
    carrier.reserve_name("Migration")
    # pass 1: what Django's serializer imports (the carrier must not shadow those names)
    raw: list[tuple[str | None, set[str]]] = []
    failures: dict[int, CarryError] = {}
    for i, op in enumerate(spec.operations):
        try:
            raw.append(_serialize_operation(op))
        except CarryError as exc:
            if type(op).__module__.startswith("django.") or not check:
                raise
            failures[i] = exc  # a custom operation: try its source text below
            raw.append((None, set()))
    base_imports: set[str] = {"from django.db import migrations"}
    if any(d[0] == "__setting__" for d in spec.dependencies):
        base_imports.add("from django.conf import settings")
    for _, imps in raw:
        base_imports |= {
            i for i in imps
            if not (i.startswith("import ") and carrier.is_migration_module(i.split()[1]))
            and i not in ("import django.db.migrations.operations.special", f"import {__name__}")
        }
    for line in base_imports:
        for s in parse_import_line(line):
            carrier.reserve_import(s)

    op_texts: list[str | None] = []
    imports: set[str] = set(base_imports)
    for text, imps in raw:
        if text is not None:
            text, imps = _localize(text, imps, carrier)
            imports |= imps
        op_texts.append(text)

    # per-operation round trip: custom operations that do not reproduce themselves
    source_ops: list[str] = []
    if check:
        prelude = _prelude(imports, carrier)
        namespace = _exec_prelude(prelude, spec)
        for i, op in enumerate(spec.operations):
            text_i = op_texts[i]
            if text_i is not None and _op_roundtrips(text_i, op, namespace, carrier, spec):
                continue
            if type(op).__module__.startswith("django."):
                raise SquasherError(
                    f"operation {type(op).__name__} does not survive serialization",
                    hint="report this as a squasher bug",
                )
            origin = spec.operation_origins.get(id(op))
            if origin is None and i in failures:
                raise failures[i]
            if origin is None:
                raise CarryError(
                    f"custom operation {type(op).__module__}.{type(op).__qualname__} cannot be "
                    "written: its deconstruct() does not reproduce its constructor arguments, "
                    "and the optimizer changed it so its source cannot be copied",
                    hint="fix deconstruct() or squash with --no-optimize",
                )
            text = carrier.carry_operation_source(*origin)
            op_texts[i] = "        " + text.strip() + ","
            source_ops.append(f"{type(op).__qualname__} (from {origin[0]}, operation #{origin[1] + 1})")
            prelude = _prelude(imports, carrier)
            namespace = _exec_prelude(prelude, spec)
            if not _op_roundtrips(op_texts[i] or "", op, namespace, carrier, spec):
                raise CarryError(
                    f"custom operation {type(op).__qualname__} from {origin[0]} cannot be carried: "
                    "neither deconstruct() nor its source text reproduce it",
                    hint="fix the operation's deconstruct() to return its constructor arguments",
                )

    all_specs: list[ImportSpec] = []
    for line in imports:
        all_specs.extend(parse_import_line(line))
    all_specs.extend(carrier.import_specs())
    texts = [t for t in op_texts if t is not None]
    text = _render_module(spec, render_imports(all_specs), carrier.code(),
                          texts)
    text, formatter = format_source(text, format_path)
    if check:
        roundtrip_check(text, spec, carrier)
    return RenderedMigration(text, list(carrier.carried), source_ops, formatter)


def _prelude(imports: Iterable[str], carrier: Carrier) -> str:
    specs: list[ImportSpec] = []
    for line in imports:
        specs.extend(parse_import_line(line))
    specs.extend(carrier.import_specs())
    return "\n".join(render_imports(specs)) + "\n\n" + carrier.code() + "\n"


def _module_name(spec: SquashedMigration) -> str:
    return f"{spec.app_label}_squasher_roundtrip_{spec.name}".replace(".", "_")


def _exec_prelude(prelude: str, spec: SquashedMigration) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": _module_name(spec)}
    try:
        exec(compile(prelude, f"<squashed {spec.name}>", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001 - report any import-time failure
        raise CarryError(
            f"the carried code does not import: {type(exc).__name__}: {exc}",
            hint="the carried helpers depend on something that cannot be imported",
        ) from exc
    return namespace


def _op_roundtrips(text: str, op: Any, namespace: dict[str, Any], carrier: Carrier,
                   spec: SquashedMigration) -> bool:
    expr = text.strip().rstrip(",")
    try:
        rebuilt = eval(compile(expr, "<operation>", "eval"), dict(namespace))  # noqa: S307
    except Exception:  # noqa: BLE001
        return False
    return normalize(rebuilt, carrier, _module_name(spec)) == normalize(op, carrier, _module_name(spec))


def normalize(value: Any, carrier: Carrier, local_module: str) -> Any:
    """A comparable form of an operation/value (deconstruct() applied recursively)."""
    from django.db.migrations.operations.base import Operation

    def norm(v: Any) -> Any:
        if isinstance(v, Operation):
            name, args, kwargs = v.deconstruct()
            return ("op", name, norm(list(args)), norm(kwargs), getattr(v, "elidable", None))
        if v is constraint_checkpoint:
            return ("checkpoint",)
        if isinstance(v, types.FunctionType | types.MethodType):
            module = getattr(v, "__module__", None)
            if module == local_module and v.__name__.startswith(CHECKPOINT_NAME):
                return ("checkpoint",)
            qual = getattr(v, "__qualname__", getattr(v, "__name__", ""))
            if module == local_module:
                return ("carried", qual)
            if module is not None and carrier.is_migration_module(module):
                return ("carried", carrier.local_qualname(module, qual))
            return ("func", module, qual)
        if isinstance(v, functools.partial):
            return ("partial", norm(v.func), norm(list(v.args)), norm(v.keywords))
        if isinstance(v, type):
            module = v.__module__
            if module == local_module:
                return ("carried", v.__qualname__)
            if carrier.is_migration_module(module):
                return ("carried", carrier.local_qualname(module, v.__qualname__))
            return ("type", module, v.__qualname__)
        if isinstance(v, dict):
            return ("dict", tuple(sorted(((repr(k), norm(x)) for k, x in v.items()), key=lambda t: t[0])))
        if isinstance(v, list | tuple):
            return ("seq", tuple(norm(x) for x in v))
        if isinstance(v, set | frozenset):
            return ("set", tuple(sorted((norm(x) for x in v), key=repr)))
        deconstruct = getattr(v, "deconstruct", None)
        if callable(deconstruct) and not isinstance(v, type):
            try:
                parts = deconstruct()
            except Exception:  # noqa: BLE001
                return ("value", repr(v))
            if isinstance(parts, tuple):
                return ("dec", type(v).__name__, tuple(norm(p) for p in parts))
        cls_module = type(v).__module__
        if (cls_module == local_module or carrier.is_migration_module(cls_module)) and hasattr(
                v, "__dict__"):
            # an instance of a class carried from a migration module: the copy is another
            # class, so compare by name and attributes
            return ("obj", type(v).__qualname__, norm(dict(vars(v))))
        return ("value", v)

    return norm(value)


def roundtrip_check(text: str, spec: SquashedMigration, carrier: Carrier) -> None:
    """Import ``text`` as an isolated module and compare it with ``spec``."""
    name = _module_name(spec)
    module = types.ModuleType(name)
    try:
        exec(compile(text, f"<squashed {spec.name}>", "exec"), module.__dict__)
    except Exception as exc:  # noqa: BLE001
        raise SquasherError(
            f"the generated migration does not import: {type(exc).__name__}: {exc}",
            hint="this is a squasher bug; re-run with --debug and report it",
        ) from exc
    migration = module.Migration
    got = normalize(list(migration.operations), carrier, name)
    want = normalize(list(spec.operations), carrier, name)
    if got != want:
        for i, (a, b) in enumerate(zip(migration.operations, spec.operations, strict=False)):
            if normalize(a, carrier, name) != normalize(b, carrier, name):
                raise SquasherError(
                    f"round-trip check failed: operation #{i + 1} ({type(b).__name__}) is written "
                    "differently from what was loaded",
                    hint="this is a squasher bug; re-run with --debug and report it",
                )
        raise SquasherError(
            f"round-trip check failed: {len(migration.operations)} operations written, "
            f"{len(spec.operations)} expected",
        )
    if [tuple(k) for k in migration.replaces] != [tuple(k) for k in spec.replaces]:
        raise SquasherError("round-trip check failed: replaces differ")
    written_deps = {(d.setting,) if hasattr(d, "setting") else tuple(d) for d in migration.dependencies}
    from django.conf import settings

    wanted_deps = {
        (str(getattr(settings, d[1])),) if d[0] == "__setting__" else tuple(d)
        for d in spec.dependencies
    }
    if written_deps != wanted_deps:
        raise SquasherError("round-trip check failed: dependencies differ")


def _ruff_binary() -> str | None:
    """The ruff that ships with squasher (a dependency), never whichever ``ruff`` is on PATH,
    so the written squash is the same on every machine."""
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:  # pragma: no cover - ruff is a dependency; an odd install lacks it
        return None
    try:
        return str(find_ruff_bin())
    except FileNotFoundError:  # pragma: no cover
        return None


def format_source(text: str, path: Path | None = None) -> tuple[str, str | None]:
    """Sort imports and format with squasher's own ``ruff`` (the project's ruff settings apply
    through ``--stdin-filename``); unchanged when ruff cannot run."""
    ruff = _ruff_binary()
    if ruff is None:
        return text, None
    cwd = str(path.parent) if path is not None and path.parent.exists() else None
    stdin_name = ["--stdin-filename", str(path)] if path is not None else []
    steps = (
        # imports sorted by the project's isort settings first (stdlib / third party / first party)
        [ruff, "check", "--select", "I", "--fix", "--exit-zero", "--quiet", *stdin_name, "-"],
        [ruff, "format", *stdin_name, "-"],
    )
    formatted = False
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=60,
                                  cwd=cwd)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and "class Migration" in proc.stdout:
            text = proc.stdout
            formatted = formatted or cmd[1] == "format"
    return text, "ruff" if formatted else None
