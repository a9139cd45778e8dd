"""The sample Django project: its histories migrate, match the models, and are reproducible.

Django runs in subprocesses through the project's own ``manage.py`` (what a user does),
always in a private copy of ``sample_apps`` (the ``sample_project`` fixture).
"""

from __future__ import annotations

import ast
import os
import sqlite3
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from conftest import SAMPLE_APPS, require

APPS = ["accounts", "catalog", "orders", "billing", "blog", "newsletter"]

EXPECTED_PRODUCTS = [
    # (name, price, SKU prefix, category slug); SKU = f"{prefix}-{pk:05d}" (0007_fill_product_sku)
    ("Django for Professionals", Decimal("39.90"), "BOO", "books"),
    ("Two Scoops of Django", Decimal("45.00"), "BOO", "books"),
    ("Rake", Decimal("12.50"), "GAR", "garden-tools"),
    ("Chef's Knife", Decimal("89.99"), "KIT", "kitchen-dining"),
    ("Cast-Iron Pan", Decimal("54.25"), "KIT", "kitchen-dining"),
]


def expected_products(pks: list[int]) -> list[tuple]:
    """Rows (pk, name, price, sku, search_name, category slug) the data migrations write."""
    rows = []
    for pk, (name, price, prefix, category) in zip(pks, EXPECTED_PRODUCTS, strict=True):
        sku = f"{prefix}-{pk:05d}"
        rows.append((pk, name, price, sku, f"{name.lower()} {sku.lower()}", category))
    return rows


def manage(project: Path, *args: str, db: Path | None = None, without_conflict: bool = False,
           database_url: str | None = None, python: str = sys.executable,
           ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SAMPLE_APPS_WITHOUT_CONFLICT",
                        "SAMPLE_APPS_SQLITE")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if db is not None:
        env["SAMPLE_APPS_SQLITE"] = str(db)
    if without_conflict:
        env["SAMPLE_APPS_WITHOUT_CONFLICT"] = "1"
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([python, "manage.py", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def migration_names(app: str, root: Path = SAMPLE_APPS) -> list[str]:
    return sorted(p.stem for p in (root / app / "migrations").glob("0*.py"))


def migration_class(app: str, name: str) -> dict[str, ast.expr]:
    tree = ast.parse((SAMPLE_APPS / app / "migrations" / f"{name}.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration")
    return {s.targets[0].id: s.value for s in cls.body if isinstance(s, ast.Assign)}


def dependencies(app: str, name: str) -> list[str]:
    return [ast.unparse(e) for e in migration_class(app, name)["dependencies"].elts]


def operations(app: str, name: str) -> list[str]:
    return [e.func.attr for e in migration_class(app, name)["operations"].elts]


# --------------------------------------------------------------------------- static facts


def test_layout_and_settings() -> None:
    assert (SAMPLE_APPS / "manage.py").is_file()
    assert (SAMPLE_APPS / "README.md").is_file()
    for app in APPS:
        for part in ("__init__.py", "models.py", "apps.py", "migrations/__init__.py"):
            assert (SAMPLE_APPS / app / part).is_file(), (app, part)
    assert 'label = "catalog"' in (SAMPLE_APPS / "catalog" / "apps.py").read_text()
    settings = (SAMPLE_APPS / "settings.py").read_text()
    assert 'AUTH_USER_MODEL = "accounts.User"' in settings
    assert "DEFAULT_AUTO_FIELD" in settings


def test_histories_carry_the_documented_traps() -> None:
    catalog = migration_names("catalog")
    assert len(catalog) >= 45
    all_ops = {op for name in catalog for op in operations("catalog", name)}
    assert {
        "CreateModel", "DeleteModel", "AddField", "AlterField", "RemoveField", "RenameField",
        "RenameModel", "AlterModelOptions", "AlterModelTable", "AlterUniqueTogether",
        "AddIndex", "RemoveIndex", "AddConstraint", "RemoveConstraint", "RunPython", "RunSQL",
    } <= all_ops
    # merge in the middle, with real operations on both branches
    merge = "0022_merge_supplier_phone_category_description"
    assert dependencies("catalog", merge) == [
        "('catalog', '0020_category_description')", "('catalog', '0021_alter_supplier_phone')"]
    assert operations("catalog", "0020_category_description") == ["AddField"]
    assert operations("catalog", "0021_alter_supplier_phone") == ["AlterField"]
    # rename chain a -> b -> a
    assert "RenameField" in operations("catalog", "0013_rename_name_product_title")
    assert "RenameField" in operations("catalog", "0023_rename_title_product_name")
    src = (SAMPLE_APPS / "catalog/migrations/0006_product_sku.py").read_text()
    assert "preserve_default=False" in src
    assert 'through="ProductTag"' in (SAMPLE_APPS / "catalog/models.py").read_text()
    # RunPython with module-level helpers and imports
    seed = (SAMPLE_APPS / "catalog/migrations/0004_seed_catalog.py").read_text()
    for needle in ("import re\n", "from decimal import Decimal\n", "SLUG_RE = ",
                   "def _slugify(", "RunPython(seed_catalog, unseed_catalog)"):
        assert needle in seed
    assert "RunPython.noop" in (SAMPLE_APPS / "catalog/migrations/0007_fill_product_sku.py").read_text()
    assert "elidable=True" in (SAMPLE_APPS / "catalog/migrations/0039_backfill_search_name.py").read_text()
    assert "reverse_sql=" in (SAMPLE_APPS / "catalog/migrations/0018_insert_default_tags.py").read_text()
    # swappable user model
    assert dependencies("catalog", "0001_initial") == [
        "migrations.swappable_dependency(settings.AUTH_USER_MODEL)"]
    assert "migrations.swappable_dependency(settings.AUTH_USER_MODEL)" in dependencies(
        "orders", "0001_initial")
    # cross-app FKs both ways: catalog 0010 <- orders 0002 <- catalog 0030
    assert "('catalog', '0010_producttag_product_tags')" in dependencies("orders", "0002_orderline")
    assert "('orders', '0002_orderline')" in dependencies("catalog", "0030_review")
    # billing: squash with originals on disk, atomic=False, run_before
    squash = migration_class("billing", "0001_squashed_0004_alter_invoice_number")
    assert [ast.literal_eval(e) for e in squash["replaces"].elts] == [
        ("billing", n) for n in ("0001_initial", "0002_invoice_amount", "0003_payment",
                                 "0004_alter_invoice_number")]
    assert {"0001_initial", "0004_alter_invoice_number"} <= set(migration_names("billing"))
    assert dependencies("billing", "0005_taxrate") == [
        "('billing', '0001_squashed_0004_alter_invoice_number')"]
    assert ast.literal_eval(migration_class("billing", "0006_seed_tax_rates")["atomic"]) is False
    assert ast.literal_eval(
        migration_class("billing", "0008_default_invoice_tax_rate")["run_before"]
    ) == [("orders", "0004_order_shipped_at")]
    # blog: two leaves, one branch three long; newsletter inside the long branch
    assert migration_names("blog") == [
        "0001_initial", "0002_post_slug", "0003_post_status", "0003_post_tags",
        "0004_post_summary", "0005_post_reading_time"]
    assert dependencies("blog", "0003_post_status") == ["('blog', '0002_post_slug')"]
    assert dependencies("blog", "0003_post_tags") == ["('blog', '0002_post_slug')"]
    assert dependencies("newsletter", "0001_initial") == ["('blog', '0004_post_summary')"]
    # hand-added dependencies of the cross-app data migrations
    assert "('catalog', '0048_assign_default_brand')" in dependencies("orders", "0005_demo_orders")
    assert "('orders', '0005_demo_orders')" in dependencies("billing", "0009_demo_invoices")


def test_readme_names_only_existing_migrations() -> None:
    import re

    readme = (SAMPLE_APPS / "README.md").read_text()
    on_disk = {name for app in APPS for name in migration_names(app)}
    for name in set(re.findall(r"`(\d{4}_[a-z0-9_]+)`", readme)):
        assert name in on_disk, name


# --------------------------------------------------------------------------- Django behaviour


def check_sqlite_data(db: Path, fresh: bool = True) -> None:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT p.id, p.name, p.price, p.sku, p.search_name, c.slug FROM catalog_product p "
            "JOIN catalog_category c ON c.id = p.category_id ORDER BY p.id").fetchall()
        rows = [(r[0], r[1], Decimal(str(r[2])).quantize(Decimal("0.01")), *r[3:]) for r in rows]
        pks = [r[0] for r in rows]
        if fresh:
            assert pks == [1, 2, 3, 4, 5]
        assert rows == expected_products(pks)
        assert con.execute("SELECT slug, name FROM catalog_category ORDER BY id").fetchall() == [
            ("books", "Books"), ("garden-tools", "Garden Tools"),
            ("kitchen-dining", "Kitchen & Dining")]
        assert con.execute("SELECT slug, color FROM catalog_tag ORDER BY id").fetchall() == [
            ("new", "#999999"), ("sale", "#999999"), ("bestseller", "#999999")]
        assert con.execute(
            "SELECT pt.product_id FROM catalog_producttag pt JOIN catalog_tag t ON t.id = pt.tag_id "
            "WHERE t.slug = 'new' ORDER BY 1").fetchall() == [(pk,) for pk in pks]
        assert con.execute(
            "SELECT DISTINCT b.name FROM catalog_product p JOIN catalog_brand b ON b.id = p.brand_id"
        ).fetchall() == [("Acme",)]
        assert [(n, Decimal(str(r))) for n, r in con.execute(
            "SELECT name, rate FROM billing_taxrate ORDER BY id")] == [
            ("standard", Decimal("0.2")), ("reduced", Decimal("0.055")), ("zero", Decimal("0"))]
        # cross-app demo data: orders 0005_demo_orders, billing 0009_demo_invoices
        assert con.execute("SELECT username, password FROM accounts_user").fetchall() == [
            ("demo", "!")]
        assert con.execute(
            "SELECT o.status, o.note FROM orders_order o JOIN accounts_user u "
            "ON u.id = o.customer_id WHERE u.username = 'demo'").fetchall() == [
            ("paid", "Demo order: 169.79 EUR")]
        lines = con.execute(
            "SELECT p.name, l.quantity, l.unit_price FROM orders_orderline l "
            "JOIN catalog_product p ON p.id = l.product_id ORDER BY l.id").fetchall()
        assert [(n, q, Decimal(str(u)).quantize(Decimal("0.01"))) for n, q, u in lines] == [
            ("Django for Professionals", 2, Decimal("39.90")),
            ("Chef's Knife", 1, Decimal("89.99"))]
        invoices = con.execute(
            "SELECT i.number, i.amount, t.name, o.note, pay.amount FROM billing_invoice i "
            "JOIN billing_taxrate t ON t.id = i.tax_rate_id "
            "JOIN orders_order o ON o.id = i.order_id "
            "JOIN billing_payment pay ON pay.invoice_id = i.id").fetchall()
        assert [(n, Decimal(str(a)), t, note, Decimal(str(p)))
                for n, a, t, note, p in invoices] == [
            (f"INV-{order_pk:06d}", Decimal("203.75"), "standard", "Demo order: 169.79 EUR",
             Decimal("203.75"))
            for (order_pk,) in con.execute("SELECT id FROM orders_order")]
    finally:
        con.close()


def test_migrate_fresh_sqlite_writes_data_and_rolls_back(sample_project: Path) -> None:
    db = sample_project / "test.sqlite3"
    out = ok(manage(sample_project, "migrate", "--noinput", db=db, without_conflict=True))
    assert "Applying catalog.0048_assign_default_brand... OK" in out
    assert "Applying billing.0009_demo_invoices... OK" in out
    assert "Applying billing.0001_squashed_0004_alter_invoice_number... OK" in out
    assert "billing.0001_initial" not in out  # the squash is used on a fresh database
    check_sqlite_data(db)

    # every migration is reversible: roll catalog back before its first data migration ...
    out = ok(manage(sample_project, "migrate", "catalog", "0003_category_slug", db=db,
                    without_conflict=True))
    assert "Unapplying catalog.0004_seed_catalog... OK" in out
    assert "Unapplying orders.0002_orderline... OK" in out  # depends on catalog 0010
    assert "Unapplying billing.0009_demo_invoices... OK" in out
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM catalog_category").fetchone() == (0,)
    assert con.execute("SELECT COUNT(*) FROM accounts_user").fetchone() == (0,)
    con.close()
    # ... and forwards again gives the same data (new primary keys, so new SKUs)
    ok(manage(sample_project, "migrate", db=db, without_conflict=True))
    check_sqlite_data(db, fresh=False)


def test_conflict_makes_django_refuse(sample_project: Path) -> None:
    proc = manage(sample_project, "migrate", db=sample_project / "c.sqlite3")
    assert proc.returncode != 0
    assert "Conflicting migrations detected" in proc.stderr
    assert "(0003_post_status, 0005_post_reading_time in blog)" in proc.stderr


def test_histories_match_models(sample_project: Path) -> None:
    db = sample_project / "m.sqlite3"
    out = ok(manage(sample_project, "makemigrations", "--check", "--dry-run", db=db,
                    without_conflict=True))
    assert "No changes detected" in out
    # blog/newsletter too: once the conflict is merged, the models hold no pending change
    out = ok(manage(sample_project, "makemigrations", "blog", "--merge", "--noinput", db=db))
    assert "0006_merge" in out
    out = ok(manage(sample_project, "makemigrations", "--check", "--dry-run", db=db))
    assert "No changes detected" in out


def write_stub_squash(project: Path, members: list[str], dependencies: list[str]) -> None:
    """A catalog squash with only ``replaces`` and external ``dependencies`` (no operations):
    enough for Django's loader to decide whether the replacement is circular."""
    name = f"{members[0][:4]}_squashed_{members[-1]}"
    replaces = ", ".join(f"('catalog', {m!r})" for m in members)
    (project / "catalog" / "migrations" / f"{name}.py").write_text(
        "from django.conf import settings\n"
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    replaces = [{replaces}]\n"
        f"    dependencies = [{', '.join(dependencies)}]\n"
        "    operations = []\n"
    )


def test_whole_catalog_squash_is_circular(sample_project: Path) -> None:
    members = migration_names("catalog")
    write_stub_squash(sample_project, members, [
        "migrations.swappable_dependency(settings.AUTH_USER_MODEL)",
        "('orders', '0002_orderline')", "('orders', '0004_order_shipped_at')"])
    proc = manage(sample_project, "showmigrations", "catalog", db=sample_project / "s.sqlite3",
                  without_conflict=True)
    assert proc.returncode != 0
    assert "CircularDependencyError" in proc.stderr
    assert "orders.0002_orderline" in proc.stderr


def test_catalog_squash_up_to_0029_is_not_circular(sample_project: Path) -> None:
    members = [n for n in migration_names("catalog") if n < "0030"]
    write_stub_squash(sample_project, members,
                      ["migrations.swappable_dependency(settings.AUTH_USER_MODEL)"])
    out = ok(manage(sample_project, "showmigrations", "catalog", "orders",
                    db=sample_project / "s.sqlite3", without_conflict=True))
    assert "0001_squashed_0029_remove_product_catalog_unique_active_name_per_category" in out


@pytest.mark.postgres
def test_migrate_postgresql(sample_project: Path, require_postgres: str) -> None:
    import psycopg

    dbname = f"squasher_sample_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(require_postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    url = urlunparse(urlparse(require_postgres)._replace(path=f"/{dbname}"))
    try:
        out = ok(manage(sample_project, "migrate", "--noinput", database_url=url,
                        without_conflict=True))
        assert "Applying catalog.0048_assign_default_brand... OK" in out
        with psycopg.connect(url) as con:
            assert con.execute(
                "SELECT sku, search_name FROM catalog_product ORDER BY id").fetchall() == [
                (p[3], p[4]) for p in expected_products([1, 2, 3, 4, 5])]
            assert con.execute("SELECT COUNT(*) FROM catalog_producttag").fetchone() == (5,)
            assert con.execute("SELECT name FROM billing_taxrate ORDER BY id").fetchall() == [
                ("standard",), ("reduced",), ("zero",)]
            assert con.execute("SELECT number, amount FROM billing_invoice").fetchall() == [
                ("INV-000001", Decimal("203.75"))]
        out = ok(manage(sample_project, "migrate", "catalog", "0003_category_slug",
                        database_url=url, without_conflict=True))
        assert "Unapplying catalog.0018_insert_default_tags... OK" in out
    finally:
        with psycopg.connect(require_postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.mark.parametrize("variable, version", [("SQUASHER_DJANGO42_PYTHON", "4.2"),
                                               ("SQUASHER_DJANGO61_PYTHON", "6.1")])
def test_migrate_on_other_django(sample_project: Path, variable: str, version: str) -> None:
    """``SQUASHER_DJANGO42_PYTHON`` / ``SQUASHER_DJANGO61_PYTHON``: interpreters with Django
    4.2 / 6.1 (e.g. /tmp/dj42/bin/python); .ci/run makes both."""
    python = os.environ.get(variable)
    require(bool(python), f"an interpreter with Django {version} ({variable})")
    db = sample_project / "other.sqlite3"
    ok(manage(sample_project, "migrate", db=db, without_conflict=True, python=python))
    check_sqlite_data(db)
    out = ok(manage(sample_project, "makemigrations", "--check", "--dry-run", db=db,
                    without_conflict=True, python=python))
    assert "No changes detected" in out


@pytest.mark.slow
def test_regenerate_is_deterministic(sample_project: Path) -> None:
    import django

    if django.VERSION[:2] != (5, 2):
        pytest.skip("the committed files were generated with Django 5.2")
    committed = {
        str(p.relative_to(SAMPLE_APPS)): p.read_bytes()
        for app in APPS
        for p in [SAMPLE_APPS / app / "models.py",
                  *sorted((SAMPLE_APPS / app / "migrations").glob("0*.py"))]
    }
    # wipe the copy's outputs so nothing can survive from the committed files
    for app in APPS:
        for p in (sample_project / app / "migrations").glob("0*.py"):
            p.unlink()
        (sample_project / app / "models.py").write_text("")
    proc = subprocess.run([sys.executable, "regenerate.py"], cwd=sample_project,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    regenerated = {
        str(p.relative_to(sample_project)): p.read_bytes()
        for app in APPS
        for p in [sample_project / app / "models.py",
                  *sorted((sample_project / app / "migrations").glob("0*.py"))]
    }
    assert sorted(regenerated) == sorted(committed)
    for path, data in committed.items():
        assert regenerated[path] == data, f"{path} differs from the regenerated file"


def test_regenerate_rejects_a_non_project_target(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SAMPLE_APPS / "regenerate.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not a copy of sample_apps" in proc.stderr
