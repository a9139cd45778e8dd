"""Snapshot a migrated database (schema, data, migration state) and compare two snapshots.

Two halves:

* **Snapshotting** (:func:`snapshot_schema`, :func:`snapshot_data`, :func:`snapshot_state`) runs
  inside a Django process (the verification worker) and turns what Django's
  ``connection.introspection`` reports, the rows of every table and the final
  ``ProjectState`` into plain JSON-able dictionaries.
* **Comparing** (:func:`compare_snapshots` and friends) is pure Python over those
  dictionaries and produces readable one-line differences.

Names that legitimately differ between two histories are not compared: Django builds index,
foreign-key, unique and check constraint names from the table and column names plus a hash
(``catalog_product_name_1a2b3c4d_uniq``), so a history that renamed a table or created a column
later ends up with other names for the same constraint. Those constraints are compared by what
they are (kind, columns, referenced column, index type, definition). Names the user chose
(``Meta.indexes``/``Meta.constraints``) are compared as well. Column order is ignored too: a
squashed ``CreateModel`` creates at once columns the original history added one by one.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.migrations.state import ProjectState

Snapshot = dict[str, Any]

#: Tables never compared: their content depends on the history itself.
IGNORED_TABLES = frozenset({"django_migrations"})

_HASH_SEGMENT = re.compile(r"_[0-9a-f]{8}(?:_|$)")
_PG_AUTO_SUFFIX = re.compile(r"_(?:pkey|key|check|fkey|excl)\d*$")
_INDEX_NAME_IN_SQL = re.compile(r'^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:"[^"]+"|\S+)\s+ON\s+', re.I)


# --------------------------------------------------------------------------- snapshotting


def is_generated_name(name: str, table: str, columns: Iterable[str | None] = ()) -> bool:
    """True when ``name`` is one Django or the database made up (it may differ between histories).

    PostgreSQL names inline constraints ``<table>_pkey`` and ``<table>_<columns>_key/_check``
    after the table they were created on, which may have been renamed since.
    """
    lowered = name.lower()
    if lowered.startswith(("sqlite_autoindex_", "__unnamed_constraint_")) or lowered == "__primary__":
        return True
    if re.fullmatch(r"fk_\d+", lowered):  # SQLite foreign keys as Django's introspection names them
        return True
    if _HASH_SEGMENT.search(lowered):
        return True
    # PostgreSQL's own names for inline constraints: <table>_pkey, <table>_<columns>_key ...
    if not _PG_AUTO_SUFFIX.search(lowered):
        return False
    if lowered.startswith(table.lower() + "_") or lowered.endswith("_pkey"):
        return True
    joined = "_".join(str(c).lower() for c in columns if c)
    stem = _PG_AUTO_SUFFIX.sub("", lowered)
    return bool(joined) and stem.endswith("_" + joined) and len(stem) > len(joined) + 1


def _table_names(connection: Any) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        infos = connection.introspection.get_table_list(cursor)
    return sorted((info.name, info.type) for info in infos if info.type in {"t", "v", "p"})


def _columns_postgres(cursor: Any, table: str) -> dict[str, dict[str, Any]]:
    cursor.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, co.collname
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
             AND co.collname <> 'default'
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        """,
        [connection_quote_pg(table)],
    )
    columns: dict[str, dict[str, Any]] = {}
    for name, type_, null, default, identity, collation in cursor.fetchall():
        columns[name] = {
            "type": type_ + (" identity" if identity else ""),
            "null": bool(null),
            "default": default,
            "collation": collation,
        }
    return columns


def connection_quote_pg(table: str) -> str:
    return '"{}"'.format(table.replace('"', '""'))


def _columns_generic(connection: Any, cursor: Any, table: str) -> dict[str, dict[str, Any]]:
    columns: dict[str, dict[str, Any]] = {}
    for info in connection.introspection.get_table_description(cursor, table):
        type_ = str(info.type_code)
        if connection.vendor != "sqlite":
            sizes = [info.internal_size, info.precision, info.scale]
            if any(s not in (None, -1) for s in sizes):
                type_ += "({})".format(",".join("" if s is None else str(s) for s in sizes))
        columns[info.name] = {
            "type": type_.lower() if connection.vendor == "sqlite" else type_,
            "null": bool(info.null_ok),
            "default": None if info.default is None else str(info.default),
            "collation": getattr(info, "collation", None),
        }
    return columns


def _pg_definitions(cursor: Any, table: str) -> dict[str, str]:
    """Constraint and index definitions of a PostgreSQL table, by name, without the name."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
        [connection_quote_pg(table)],
    )
    found = {name: definition for name, definition in cursor.fetchall()}
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
        [connection_quote_pg(table)],
    )
    for name, definition in cursor.fetchall():
        found.setdefault(name, _INDEX_NAME_IN_SQL.sub(r"CREATE \1INDEX ON ", definition))
    return found


def _balanced(text: str, start: int) -> str:
    """The parenthesised text starting at ``text[start] == '('``."""
    depth = 0
    for pos in range(start, len(text)):
        if text[pos] == "(":
            depth += 1
        elif text[pos] == ")":
            depth -= 1
            if depth == 0:
                return text[start : pos + 1]
    return text[start:]


def _sqlite_definitions(cursor: Any, table: str) -> dict[str, str]:
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = %s", [table])
    found: dict[str, str] = {}
    for name, sql in cursor.fetchall():
        if not sql:
            continue
        if name == table:
            for match in re.finditer(r'CONSTRAINT\s+"([^"]+)"\s+CHECK\s*(?=\()', sql, re.I):
                found[match.group(1)] = "CHECK " + _balanced(sql, match.end())
        else:
            found[name] = _INDEX_NAME_IN_SQL.sub(r"CREATE \1INDEX ON ", sql)
    return found


def _constraint_kind(info: dict[str, Any]) -> str:
    if info.get("primary_key"):
        return "primary key"
    if info.get("foreign_key"):
        return "foreign key"
    if info.get("check"):
        return "check"
    if info.get("index"):
        return "unique index" if info.get("unique") else "index"
    if info.get("unique"):
        return "unique"
    return "constraint"


def snapshot_schema(connection: Any) -> Snapshot:
    """Tables, columns, primary keys, indexes and constraints of the connected database."""
    tables: dict[str, Any] = {}
    vendor = connection.vendor
    for table, kind in _table_names(connection):
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                columns = _columns_postgres(cursor, table)
                definitions = _pg_definitions(cursor, table)
            else:
                columns = _columns_generic(connection, cursor, table)
                definitions = _sqlite_definitions(cursor, table) if vendor == "sqlite" else {}
            raw = connection.introspection.get_constraints(cursor, table)
        constraints = []
        for name, info in sorted(raw.items()):
            fk = info.get("foreign_key")
            constraints.append({
                "name": name,
                "generated_name": is_generated_name(name, table, info.get("columns") or ()),
                "kind": _constraint_kind(info),
                "columns": [c for c in (info.get("columns") or [])],
                "unique": bool(info.get("unique")),
                "foreign_key": list(fk) if fk else None,
                "type": info.get("type"),
                "orders": info.get("orders"),
                "definition": definitions.get(name) or info.get("definition"),
            })
        tables[table] = {"kind": kind, "columns": columns, "constraints": constraints}
    return {"vendor": vendor, "tables": tables}


#: Placeholder for date/time values that fall inside the run of the migrations: they come from
#: ``timezone.now()``/``auto_now_add`` and differ between any two runs.
NOW = "<now>"


def _in_window(value: Any, window: tuple[datetime.datetime, datetime.datetime] | None) -> bool:
    if window is None:
        return False
    start, end = window
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # naive: local time (USE_TZ=False) or UTC (SQLite, USE_TZ=True)
            return any(start.astimezone(tz).replace(tzinfo=None) <= value
                       <= end.astimezone(tz).replace(tzinfo=None)
                       for tz in (None, datetime.UTC))
        return start <= value <= end
    if isinstance(value, datetime.date):
        return start.date() <= value <= end.date() or (
            start.astimezone().date() <= value <= end.astimezone().date())
    return False


def _jsonable(value: Any, window: tuple[datetime.datetime, datetime.datetime] | None = None) -> Any:
    if _in_window(value, window):
        return NOW
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value.normalize()) if value == value else "NaN"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return f"timedelta({value.total_seconds()})"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview | bytes | bytearray):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def snapshot_data(connection: Any, tables: Iterable[str] | None = None, *,
                  now_window: tuple[datetime.datetime, datetime.datetime] | None = None
                  ) -> Snapshot:
    """Every row of every table (except :data:`IGNORED_TABLES`), as canonical JSON strings.

    Date/time values inside ``now_window`` (aware datetimes: when the migrations ran) are
    replaced by :data:`NOW`, so that ``timezone.now()`` defaults compare equal.
    """
    names = [t for t, kind in _table_names(connection) if kind != "v"] if tables is None else list(tables)
    data: dict[str, Any] = {}
    quote = connection.ops.quote_name
    for table in names:
        if table in IGNORED_TABLES:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            columns = [col[0] for col in cursor.description]
            rows = [
                json.dumps({c: _jsonable(v, now_window) for c, v in zip(columns, row, strict=True)},
                           sort_keys=True)
                for row in cursor.fetchall()
            ]
        data[table] = sorted(rows)
    return data


def _serialize(value: Any) -> str:
    from django.db.migrations.writer import MigrationWriter

    try:
        return MigrationWriter.serialize(value)[0]
    except Exception:  # a value the migration writer cannot serialize: compare its repr
        return repr(value)


def snapshot_state(state: ProjectState) -> Snapshot:
    """A ``ProjectState`` as JSON: models with deconstructed fields, options, bases, managers."""
    models: dict[str, Any] = {}
    for (app_label, model_name), model in sorted(state.models.items()):
        options: dict[str, str] = {}
        for key, value in sorted(model.options.items()):
            if key in {"indexes", "constraints"}:
                options[key] = "[{}]".format(", ".join(sorted(_serialize(v) for v in value)))
            elif isinstance(value, set | frozenset):
                options[key] = _serialize(sorted(tuple(v) if isinstance(v, list) else v for v in value))
            else:
                options[key] = _serialize(value)
        models[f"{app_label}.{model_name}"] = {
            "name": model.name,
            "fields": {name: _serialize(field) for name, field in model.fields.items()},
            "field_order": list(model.fields),
            "options": options,
            "bases": [_serialize(base) for base in model.bases],
            "managers": [[name, _serialize(manager)] for name, manager in model.managers],
        }
    return {"models": models}


# --------------------------------------------------------------------------- comparing


def _describe_column(col: dict[str, Any]) -> str:
    text = col["type"] + (" NULL" if col["null"] else " NOT NULL")
    if col.get("default") is not None:
        text += f" DEFAULT {col['default']}"
    if col.get("collation"):
        text += f" COLLATE {col['collation']}"
    return text


def constraint_signature(item: dict[str, Any]) -> str:
    """What a constraint/index is, without a name that may legitimately differ."""
    parts = [item["kind"], "(" + ", ".join(str(c) for c in item["columns"]) + ")"]
    if item.get("foreign_key"):
        parts.append("-> {}.{}".format(*tuple(item["foreign_key"])))
    if item.get("type") and item["kind"] in {"index", "unique index"}:
        parts.append(f"[{item['type']}]")
    if item.get("orders") and any(o != "ASC" for o in item["orders"]):
        parts.append("orders " + ",".join(item["orders"]))
    if not item.get("generated_name"):
        parts.append(f'named "{item["name"]}"')
    text = " ".join(parts)
    definition = item.get("definition")
    return f"{text}: {definition}" if definition else text


def _counter_diff(left: Counter[str], right: Counter[str]) -> tuple[list[str], list[str]]:
    only_left = sorted((left - right).elements())
    only_right = sorted((right - left).elements())
    return only_left, only_right


def _split_keys(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Keys only in ``a``, only in ``b``, and in both (each sorted)."""
    return sorted(set(a) - set(b)), sorted(set(b) - set(a)), sorted(set(a) & set(b))


def compare_schemas(a: Snapshot, b: Snapshot, *, left: str = "original",
                    right: str = "squashed") -> list[str]:
    """Differences between two :func:`snapshot_schema` results."""
    out: list[str] = []
    ta, tb = a["tables"], b["tables"]
    only_a, only_b, both = _split_keys(ta, tb)
    out.extend(f"table {table}: only in {left}" for table in only_a)
    out.extend(f"table {table}: only in {right}" for table in only_b)
    for table in both:
        ca, cb = ta[table]["columns"], tb[table]["columns"]
        cols_a, cols_b, cols = _split_keys(ca, cb)
        out.extend(f"table {table}: column {col} ({_describe_column(ca[col])}) only in {left}"
                   for col in cols_a)
        out.extend(f"table {table}: column {col} ({_describe_column(cb[col])}) only in {right}"
                   for col in cols_b)
        for col in cols:
            da, db = _describe_column(ca[col]), _describe_column(cb[col])
            if da != db:
                out.append(f"table {table}: column {col} differs: {left} {da}; {right} {db}")
        sa = Counter(constraint_signature(c) for c in ta[table]["constraints"])
        sb = Counter(constraint_signature(c) for c in tb[table]["constraints"])
        only_a, only_b = _counter_diff(sa, sb)
        out.extend(f"table {table}: {sig} only in {left}" for sig in only_a)
        out.extend(f"table {table}: {sig} only in {right}" for sig in only_b)
    return out


def _short(row: str, limit: int = 160) -> str:
    return row if len(row) <= limit else row[: limit - 3] + "..."


def _paired(only_a: list[str], only_b: list[str], key: list[str]
            ) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[str], list[str]]:
    """Pair differing rows by primary key; the rest stays unpaired."""
    def pk(row: dict[str, Any]) -> str | None:
        return json.dumps([row.get(k) for k in key]) if key and all(k in row for k in key) else None

    by_key: dict[str, list[dict[str, Any]]] = {}
    for text in only_b:
        row = json.loads(text)
        by_key.setdefault(pk(row) or "", []).append(row)
    pairs, rest_a = [], []
    for text in only_a:
        row = json.loads(text)
        k = pk(row)
        if k is not None and by_key.get(k):
            pairs.append((row, by_key[k].pop()))
        else:
            rest_a.append(text)
    rest_b = [json.dumps(r, sort_keys=True) for rows in by_key.values() for r in rows]
    return pairs, rest_a, sorted(rest_b)


def differing_data_tables(a: Snapshot, b: Snapshot) -> list[str]:
    """Tables whose rows differ between two :func:`snapshot_data` results (in both)."""
    return sorted(t for t in set(a) & set(b) if Counter(a[t]) != Counter(b[t]))


def compare_data(a: Snapshot, b: Snapshot, *, left: str = "original", right: str = "squashed",
                 examples: int = 3, keys: dict[str, list[str]] | None = None,
                 skip: Iterable[str] = ()) -> list[str]:
    """Order-insensitive differences between two :func:`snapshot_data` results.

    Rows are compared on the columns both tables have (a missing column is a schema difference,
    reported by :func:`compare_schemas`). With ``keys`` (primary-key columns per table), rows
    with the same key are shown column by column. Tables in ``skip`` (non-deterministic: they
    differ between two runs of the same history) are not compared.
    """
    out: list[str] = []
    skipped = set(skip)
    for table in sorted((set(a) & set(b)) - skipped):
        rows_a, rows_b = [json.loads(r) for r in a[table]], [json.loads(r) for r in b[table]]
        common = None
        if rows_a and rows_b:
            common = set(rows_a[0]) & set(rows_b[0])

        def key(row: dict[str, Any], common: set[str] | None = common) -> str:
            return json.dumps({k: v for k, v in row.items() if common is None or k in common},
                              sort_keys=True)

        only_a, only_b = _counter_diff(Counter(map(key, rows_a)), Counter(map(key, rows_b)))
        if not only_a and not only_b:
            continue
        text = (f"table {table}: data differs ({len(rows_a)} rows in {left}, {len(rows_b)} in "
                f"{right}; {len(only_a)} only in {left}, {len(only_b)} only in {right})")
        pairs, only_a, only_b = _paired(only_a, only_b, (keys or {}).get(table, []))
        for row_a, row_b in pairs[:examples]:
            ident = ", ".join(f"{k}={row_a[k]}" for k in (keys or {})[table])
            changed = [c for c in sorted(set(row_a) | set(row_b)) if row_a.get(c) != row_b.get(c)]
            text += f"\n    row {ident}: " + "; ".join(
                f"{c} {left} {_short(json.dumps(row_a.get(c)), 60)}, {right} "
                f"{_short(json.dumps(row_b.get(c)), 60)}" for c in changed)
        if len(pairs) > examples:
            text += f"\n    ... {len(pairs) - examples} more rows that differ"
        for label, rows in ((left, only_a), (right, only_b)):
            for row in rows[:examples]:
                text += f"\n    only in {label}: {_short(row)}"
            if len(rows) > examples:
                text += f"\n    ... {len(rows) - examples} more only in {label}"
        out.append(text)
    for table in sorted(set(a) ^ set(b)):
        side = left if table in a else right
        rows = (a if table in a else b)[table]
        if rows:  # a table only on one side is already a schema difference; mention its rows
            out.append(f"table {table}: {len(rows)} rows only in {side}")
    return out


def compare_states(a: Snapshot, b: Snapshot, *, left: str = "original",
                   right: str = "squashed") -> list[str]:
    """Differences between two :func:`snapshot_state` results (final ``ProjectState``)."""
    out: list[str] = []
    ma, mb = a["models"], b["models"]
    only_a, only_b, both = _split_keys(ma, mb)
    out.extend(f"state: model {key} only in {left}" for key in only_a)
    out.extend(f"state: model {key} only in {right}" for key in only_b)
    for key in both:
        x, y = ma[key], mb[key]
        if x["name"] != y["name"]:
            out.append(f"state: model {key} is named {x['name']} in {left}, {y['name']} in {right}")
        fa, fb = x["fields"], y["fields"]
        names_a, names_b, names = _split_keys(fa, fb)
        out.extend(f"state: {key}.{name} only in {left}: {fa[name]}" for name in names_a)
        out.extend(f"state: {key}.{name} only in {right}: {fb[name]}" for name in names_b)
        for name in names:
            if fa[name] != fb[name]:
                out.append(f"state: {key}.{name} differs: {left} {fa[name]}; {right} {fb[name]}")
        oa, ob = x["options"], y["options"]
        for opt in sorted(set(oa) | set(ob)):
            if oa.get(opt) != ob.get(opt):
                out.append(f"state: {key} option {opt} differs: {left} {oa.get(opt, '(unset)')}; "
                           f"{right} {ob.get(opt, '(unset)')}")
        if x["bases"] != y["bases"]:
            out.append(f"state: {key} bases differ: {left} {x['bases']}; {right} {y['bases']}")
        if x["managers"] != y["managers"]:
            out.append(f"state: {key} managers differ: {left} {x['managers']}; {right} {y['managers']}")
    return out


#: Tables whose ids depend on the order a history created the models in (``post_migrate`` and
#: ``create_permissions`` insert a row per model in the order of the migration state's apps,
#: which changes whenever an operation re-renders a related model): compared by natural key.
NATURAL_KEYS = {"django_content_type": ("app_label", "model"),
                "auth_permission": ("content_type_id", "codename")}


def naturalize(data: Snapshot, schema: Snapshot | None) -> Snapshot:
    """``data`` with the ids of content types and permissions replaced by their natural keys
    (``app.model``, ``app.model.codename``), in those tables and in every foreign key to them,
    and without the ``id`` of many-to-many link tables."""
    tables = (schema or {}).get("tables", {})
    links = {t for t in data if _is_link_table(tables.get(t))}
    if not links and not any(t in data for t in NATURAL_KEYS):
        return data
    natural: dict[str, dict[Any, str]] = {}
    for table, fields in NATURAL_KEYS.items():  # content types first: permissions refer to them
        mapping: dict[Any, str] = {}
        for text in data.get(table, []):
            row = json.loads(text)
            parts = []
            for name in fields:
                value = row.get(name)
                if name == "content_type_id":
                    value = natural.get("django_content_type", {}).get(value, value)
                parts.append(str(value))
            mapping[row.get("id")] = ".".join(parts)
        natural[table] = mapping
    out: dict[str, Any] = {}
    for table, rows in data.items():
        columns = {"id": table} if table in NATURAL_KEYS else {}
        for constraint in tables.get(table, {}).get("constraints", []):
            fk = constraint.get("foreign_key")
            if fk and fk[0] in NATURAL_KEYS and len(constraint["columns"]) == 1:
                columns[constraint["columns"][0]] = fk[0]
        if not columns and table not in links:
            out[table] = rows
            continue
        converted = []
        for text in rows:
            row = json.loads(text)
            for column, target in columns.items():
                if row.get(column) is not None:
                    row[column] = natural[target].get(row[column], row[column])
            if table in links:  # the pair is the row; its id only says when it was inserted
                row.pop("id", None)
            converted.append(json.dumps(row, sort_keys=True))
        out[table] = sorted(converted)
    return out


def _is_link_table(info: dict[str, Any] | None) -> bool:
    """A many-to-many link table as Django creates it: ``id`` plus two foreign keys, unique
    together (``auth_group_permissions``): its ids follow the order rows were inserted in."""
    columns = (info or {}).get("columns", {})
    if len(columns) != 3 or "id" not in columns:
        return False
    assert info is not None
    others = set(info["columns"]) - {"id"}
    constraints = info.get("constraints", [])
    fks = {c["columns"][0] for c in constraints
           if c.get("foreign_key") and len(c.get("columns") or []) == 1}
    unique = any(c.get("unique") and set(c.get("columns") or []) == others
                 for c in constraints)
    return others <= fks and unique


def compare_snapshots(a: Snapshot, b: Snapshot, *, left: str = "original",
                      right: str = "squashed", skip_data: Iterable[str] = ()) -> list[str]:
    """Compare whatever parts (``schema``, ``data``, ``state``) both snapshots carry; the rows
    of the tables in ``skip_data`` are not compared (their schema is)."""
    out: list[str] = []
    if "schema" in a and "schema" in b:
        out += compare_schemas(a["schema"], b["schema"], left=left, right=right)
    if "data" in a and "data" in b:
        keys = {}
        for table, info in a.get("schema", {}).get("tables", {}).items():
            for constraint in info["constraints"]:
                if constraint["kind"] == "primary key":
                    keys[table] = list(constraint["columns"])
        out += compare_data(naturalize(a["data"], a.get("schema")),
                            naturalize(b["data"], b.get("schema")), left=left, right=right,
                            keys=keys, skip=skip_data)
    if "state" in a and "state" in b:
        out += compare_states(a["state"], b["state"], left=left, right=right)
    return out
