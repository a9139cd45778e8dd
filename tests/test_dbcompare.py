"""Snapshots of migrated databases and their comparison (``squasher.runtime.dbcompare``)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import django
import pytest
from support.verify_project import SETTINGS, write_files

from squasher.runtime import dbcompare
from squasher.runtime.dbcompare import (
    compare_data,
    compare_schemas,
    compare_snapshots,
    compare_states,
    constraint_signature,
    is_generated_name,
)
from squasher.runtime.verify import verify_squash
from squasher.runtime.worker import WorkerClient

# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(("name", "table", "generated"), [
    ("shop_product_category_id_14d7eea8", "shop_product", True),          # db_index / FK index
    ("shop_product_category_id_14d7eea8_fk_shop_category_id", "shop_product", True),
    ("shop_product_sku_0f3c9e12_uniq", "shop_product", True),
    ("shop_product_name_0f3c9e12_like", "shop_product", True),            # varchar_pattern_ops
    ("shop_product_pkey", "shop_product", True),                          # PostgreSQL inline
    ("shop_product_sku_key", "shop_product", True),
    ("shop_product_pages_check", "shop_product", True),
    # PostgreSQL's names keep the table name of when they were created (RenameModel since)
    ("lib_book_pkey", "lib_volume", True),
    ("lib_book_pages_check", "lib_volume", True),
    ("pages_check", "lib_volume", False),
    ("lib_book_other_check", "lib_volume", False),
    ("sqlite_autoindex_shop_product_1", "shop_product", True),
    ("__primary__", "shop_product", True),
    ("__unnamed_constraint_2__", "shop_product", True),
    ("fk_0", "shop_product", True),
    ("shop_product_name_idx", "shop_product", False),                     # Meta.indexes name
    ("price_positive", "shop_product", False),                            # Meta.constraints name
    ("uniq_sku_per_category", "shop_product", False),
])
def test_generated_names(name: str, table: str, generated: bool) -> None:
    assert is_generated_name(name, table, ["pages"]) is generated


# --------------------------------------------------------------------------- schema


def _constraint(name: str, kind: str, columns: list[str], table: str = "t", **kw: object) -> dict:
    return {"name": name, "generated_name": is_generated_name(name, table), "kind": kind,
            "columns": columns, "unique": kind in {"unique", "unique index"}, "foreign_key": None,
            "type": kw.get("type"), "orders": None, "definition": kw.get("definition"),
            **{k: v for k, v in kw.items() if k == "foreign_key"}}


def _schema(columns: dict[str, dict], constraints: list[dict]) -> dict:
    return {"vendor": "sqlite", "tables": {"t": {"kind": "t", "columns": columns,
                                                 "constraints": constraints}}}


COL_INT = {"type": "integer", "null": False, "default": None, "collation": None}
COL_TEXT = {"type": "varchar(20)", "null": True, "default": None, "collation": None}


def test_schema_ignores_generated_names_and_column_order() -> None:
    a = _schema({"id": COL_INT, "sku": COL_TEXT}, [
        _constraint("t_sku_0f3c9e12_uniq", "unique", ["sku"]),
        _constraint("t_old_id_1234abcd_fk_other_id", "foreign key", ["other_id"],
                    foreign_key=["other", "id"]),
    ])
    b = _schema({"sku": COL_TEXT, "id": COL_INT}, [
        _constraint("t_sku_key", "unique", ["sku"], table="t"),
        _constraint("t_other_id_99999999_fk_other_id", "foreign key", ["other_id"],
                    foreign_key=["other", "id"]),
    ])
    assert compare_schemas(a, b) == []


def test_schema_differences_are_readable() -> None:
    a = _schema({"id": COL_INT, "sku": COL_TEXT, "gone": COL_INT}, [
        _constraint("t_sku_idx", "index", ["sku"], type="btree",
                    definition='CREATE INDEX ON "t" ("sku")'),
        _constraint("price_positive", "check", ["price"], definition="CHECK (price > 0)"),
    ])
    b = _schema({"id": COL_INT, "sku": {**COL_TEXT, "null": False, "type": "varchar(30)"}}, [
        _constraint("t_sku_idx_renamed", "index", ["sku"], type="btree",
                    definition='CREATE INDEX ON "t" ("sku")'),
        _constraint("price_positive", "check", ["price"], definition="CHECK (price >= 0)"),
    ])
    assert compare_schemas(a, b) == [
        "table t: column gone (integer NOT NULL) only in original",
        "table t: column sku differs: original varchar(20) NULL; squashed varchar(30) NOT NULL",
        'table t: check (price) named "price_positive": CHECK (price > 0) only in original',
        'table t: index (sku) [btree] named "t_sku_idx": CREATE INDEX ON "t" ("sku") only in original',
        'table t: check (price) named "price_positive": CHECK (price >= 0) only in squashed',
        'table t: index (sku) [btree] named "t_sku_idx_renamed": CREATE INDEX ON "t" ("sku") '
        "only in squashed",
    ]


def test_tables_only_on_one_side_and_duplicate_indexes() -> None:
    a = {"vendor": "sqlite", "tables": {"x": {"kind": "t", "columns": {}, "constraints": []}}}
    b = {"vendor": "sqlite", "tables": {"y": {"kind": "t", "columns": {}, "constraints": []}}}
    assert compare_schemas(a, b, left="A", right="B") == ["table x: only in A", "table y: only in B"]
    # the same unnamed index twice in one history is a difference (counted, not a set)
    one = _schema({}, [_constraint("t_a_11111111", "index", ["a"])])
    two = _schema({}, [_constraint("t_a_11111111", "index", ["a"]),
                       _constraint("t_a_22222222", "index", ["a"])])
    assert compare_schemas(one, two) == ["table t: index (a) only in squashed"]
    assert constraint_signature(two["tables"]["t"]["constraints"][0]) == "index (a)"


# --------------------------------------------------------------------------- data and state


def _rows(*rows: dict) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def test_data_is_order_insensitive_and_reports_examples() -> None:
    a = {"t": _rows({"id": 1, "n": "a"}, {"id": 2, "n": "b"}), "u": []}
    b = {"t": list(reversed(_rows({"id": 1, "n": "a"}, {"id": 2, "n": "b"}))), "u": []}
    assert compare_data(a, b) == []
    c = {"t": _rows({"id": 1, "n": "a"}, {"id": 2, "n": "B"}), "u": _rows({"id": 1})}
    assert compare_data(a, c) == [
        "table t: data differs (2 rows in original, 2 in squashed; 1 only in original, 1 only in "
        'squashed)\n    only in original: {"id": 2, "n": "b"}\n    only in squashed: {"id": 2, "n": "B"}',
        "table u: data differs (0 rows in original, 1 in squashed; 0 only in original, 1 only in "
        'squashed)\n    only in squashed: {"id": 1}',
    ]


def test_data_compares_common_columns_only() -> None:
    a = {"t": _rows({"id": 1, "extra": 5})}
    b = {"t": _rows({"id": 1})}
    assert compare_data(a, b) == []  # the missing column is a schema difference


def test_values_written_during_the_run_compare_equal() -> None:
    start = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
    window = (start, start + datetime.timedelta(minutes=5))
    inside = start + datetime.timedelta(minutes=1)
    assert dbcompare._jsonable(inside, window) == dbcompare.NOW
    assert dbcompare._jsonable(inside.replace(tzinfo=None), window) == dbcompare.NOW  # naive UTC
    assert dbcompare._jsonable(datetime.date(2026, 1, 1), window) == dbcompare.NOW
    assert dbcompare._jsonable(datetime.datetime(2020, 5, 1, tzinfo=datetime.UTC), window) == (
        "2020-05-01T00:00:00+00:00")
    assert dbcompare._jsonable(inside) == inside.isoformat()


def test_states() -> None:
    model = {"name": "Product", "fields": {"id": "models.AutoField(primary_key=True)",
                                           "sku": "models.CharField(max_length=20)"},
             "field_order": ["id", "sku"], "options": {"indexes": "[]"},
             "bases": ["models.Model"], "managers": []}
    other = {**model, "fields": {"id": "models.AutoField(primary_key=True)",
                                 "sku": "models.CharField(max_length=30)"},
             "field_order": ["sku", "id"], "options": {}}
    a = {"models": {"shop.product": model, "shop.gone": model}}
    b = {"models": {"shop.product": other}}
    assert compare_states(a, b) == [
        "state: model shop.gone only in original",
        "state: shop.product.sku differs: original models.CharField(max_length=20); squashed "
        "models.CharField(max_length=30)",
        "state: shop.product option indexes differs: original []; squashed (unset)",
    ]
    assert compare_snapshots({"state": a}, {"state": a}) == []


# --------------------------------------------------------------------------- real databases

CHECK_KW = "condition" if django.VERSION >= (5, 1) else "check"

LIB_MODELS = f'''
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Volume(models.Model):
    title = models.CharField(max_length=100, unique=True)
    author = models.ForeignKey(Author, models.CASCADE)
    pages = models.PositiveIntegerField(default=1)
    code = models.CharField(max_length=10, db_index=True, default="")

    class Meta:
        constraints = [models.CheckConstraint({CHECK_KW}=models.Q(pages__gte=1), name="pages_gte_1")]
'''

AUTHOR = '''migrations.CreateModel("Author", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("name", models.CharField(max_length=50)),
        ])'''

LIB_0001 = f'''
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    operations = [
        {AUTHOR},
        migrations.CreateModel("Book", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("title", models.CharField(max_length=100)),
            ("author", models.ForeignKey(on_delete=models.deletion.CASCADE, to="lib.author")),
            ("pages", models.PositiveIntegerField(default=1)),
        ]),
        migrations.AddConstraint("book", models.CheckConstraint({CHECK_KW}=models.Q(pages__gte=1), name="pages_gte_1")),
    ]
'''

LIB_0002 = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lib", "0001_initial")]
    operations = [
        migrations.RenameModel("Book", "Volume"),
        migrations.AlterField("volume", "title", models.CharField(max_length=100, unique=True)),
        migrations.AddField("volume", "code", models.CharField(max_length=10, db_index=True, default="")),
    ]
'''

LIB_SQUASH = f'''
from django.db import migrations, models


class Migration(migrations.Migration):
    replaces = [("lib", "0001_initial"), ("lib", "0002_rename")]
    initial = True
    operations = [
        {AUTHOR},
        migrations.CreateModel("Volume", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("title", models.CharField(max_length=100, unique=True)),
            ("author", models.ForeignKey(on_delete=models.deletion.CASCADE, to="lib.author")),
            ("pages", models.PositiveIntegerField(default=1)),
            ("code", models.CharField(max_length=10, db_index=True, default="")),
        ], options={{"constraints": [models.CheckConstraint({CHECK_KW}=models.Q(pages__gte=1), name="pages_gte_1")]}}),
    ]
'''


def _lib_project(path: Path) -> Path:
    return write_files(path, {
        "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tinysite.settings')\n",
        "tinysite/__init__.py": "",
        "tinysite/settings.py": SETTINGS.replace('"shop"', '"lib"'),
        "lib/__init__.py": "",
        "lib/models.py": LIB_MODELS,
        "lib/migrations/__init__.py": "",
        "lib/migrations/0001_initial.py": LIB_0001,
        "lib/migrations/0002_rename.py": LIB_0002,
        "lib/migrations/0001_squashed_0002_rename.py": LIB_SQUASH,
    })


def _snapshot(project: Path, database: dict, tmp: Path) -> dict:
    worker = WorkerClient("tinysite.settings", tmp=tmp, origin=project)
    result = worker.run(project, database, [{"op": "migrate", "targets": None},
                                            {"op": "dump", "data": False, "state": False}])
    assert result["ok"], result
    return result["results"][1]["schema"]["tables"]["lib_volume"]


def test_renamed_table_generated_names_differ_but_verify_passes_sqlite(tmp_path: Path) -> None:
    project = _lib_project(tmp_path / "proj")
    report = verify_squash(project, "lib", "0001_squashed", settings_module="tinysite.settings")
    assert report.ok, report.render()

    table = _snapshot(project, {"ENGINE": "django.db.backends.sqlite3",
                                "NAME": str(tmp_path / "s.sqlite3")}, tmp_path)
    assert set(table["columns"]) == {"id", "title", "author_id", "pages", "code"}
    assert table["columns"]["title"] == {"type": "varchar(100)", "null": False, "default": None,
                                         "collation": None}
    sigs = {constraint_signature(c) for c in table["constraints"]}
    assert "primary key (id)" in sigs
    assert "unique (title)" in sigs
    assert "foreign key (author_id) -> lib_author.id" in sigs
    assert 'check (pages) named "pages_gte_1": CHECK ("pages" >= 1)' in sigs
    assert any(s.startswith("index (code) [idx]: CREATE INDEX ON") for s in sigs)


@pytest.mark.postgres
def test_renamed_table_generated_names_differ_but_verify_passes_postgres(
        tmp_path: Path, require_postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQUASHER_POSTGRES_DSN", require_postgres)
    project = _lib_project(tmp_path / "proj")
    report = verify_squash(project, "lib", "0001_squashed", settings_module="tinysite.settings",
                           database="postgres")
    assert report.ok, report.render()

    from squasher.runtime.sandbox import postgres_databases

    with postgres_databases(require_postgres, 1) as (db,):
        table = _snapshot(project, db, tmp_path)
    assert table["columns"]["id"]["type"] == "bigint identity"
    assert table["columns"]["title"]["type"] == "character varying(100)"
    sigs = {constraint_signature(c) for c in table["constraints"]}
    assert "primary key (id): PRIMARY KEY (id)" in sigs
    assert 'check (pages) named "pages_gte_1": CHECK ((pages >= 1))' in sigs
    assert "check (pages): CHECK ((pages >= 0))" in sigs  # PositiveIntegerField, PostgreSQL's name
    assert any(s.startswith("foreign key (author_id) -> lib_author.id: FOREIGN KEY (author_id) "
                            "REFERENCES lib_author(id)") for s in sigs)
    assert any("varchar_pattern_ops" in s for s in sigs)  # the _like index of an indexed CharField


def test_rows_with_the_same_primary_key_are_shown_column_by_column() -> None:
    schema = _schema({"id": COL_INT, "n": COL_TEXT},
                     [_constraint("__primary__", "primary key", ["id"])])
    a = {"schema": schema, "data": {"t": _rows({"id": 1, "n": "a"}, {"id": 2, "n": "b"},
                                               {"id": 3, "n": "c"})}}
    b = {"schema": schema, "data": {"t": _rows({"id": 1, "n": "a"}, {"id": 2, "n": None},
                                               {"id": 4, "n": "d"})}}
    assert compare_snapshots(a, b) == [
        "table t: data differs (3 rows in original, 3 in squashed; 2 only in original, 2 only in "
        'squashed)\n    row id=2: n original "b", squashed null'
        '\n    only in original: {"id": 3, "n": "c"}\n    only in squashed: {"id": 4, "n": "d"}',
    ]
