"""Verification of squashes on real databases (``squasher verify``, ``verify_squash``)."""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import SAMPLE_APPS, require, run_squasher, snapshot_tree
from support.verify_project import SQUASH_NAME, make_project, write_files

from squasher.errors import (
    DatabaseUnavailableError,
    SettingsError,
    UnknownAppError,
    UsageError,
    VerificationError,
)
from squasher.runtime.django_setup import resolve_settings_module
from squasher.runtime.sandbox import copy_project
from squasher.runtime.verify import verify_squash

PG_ENV = "SQUASHER_POSTGRES_DSN"


@pytest.fixture
def created_tmp_dirs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Temporary directories verify_squash creates in this test (others may run concurrently)."""
    import squasher.runtime.verify as verify_module

    made: list[Path] = []
    real = tempfile.mkdtemp

    def recording(*args: object, **kw: object) -> str:
        path = real(*args, **kw)  # type: ignore[call-overload]
        made.append(Path(path))
        return path

    monkeypatch.setattr(verify_module.tempfile, "mkdtemp", recording)
    return made


@pytest.fixture
def created_pg_databases(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the throwaway databases verify_squash creates in this test."""
    import squasher.runtime.sandbox as sandbox

    names: list[str] = []
    original = sandbox.postgres_databases

    @contextmanager
    def recording(server, count: int, **kw):  # type: ignore[no-untyped-def]
        with original(server, count, **kw) as dbs:
            names.extend(db["NAME"] for db in dbs)
            yield dbs

    monkeypatch.setattr(sandbox, "postgres_databases", recording)
    return names


def _pg_databases(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'squasher_verify_%'").fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- sqlite


def test_correct_squash_verifies_and_leaves_nothing_behind(
        tmp_path: Path, created_tmp_dirs: list[Path]) -> None:
    project = make_project(tmp_path / "proj")
    before_tree = snapshot_tree(project)

    report = verify_squash(project, "shop", "0001_squashed", settings_module="tinysite.settings")

    assert report.ok, report.render()
    assert report.differences == []
    assert report.squash == SQUASH_NAME  # the prefix was resolved
    assert report.replaces == ["shop.0001_initial", "shop.0002_product_price", "shop.0003_seed",
                               "shop.0004_product_sku"]
    # partial application: half of the range applied with the originals, then the rest
    assert report.partial_target == "shop.0002_product_price"
    assert any(c.startswith("partial") for c in report.checks)
    assert any("makemigrations" in c for c in report.checks)
    assert {"original", "squashed", "partial", "total"} <= set(report.timings)
    assert "OK" in report.render().splitlines()[0]
    assert snapshot_tree(project) == before_tree
    assert not (project / "db.sqlite3").exists()
    # one folder for the verification (and one for the worker job that read the settings'
    # DATABASES), every one removed
    assert [d.name.split("-")[1] for d in created_tmp_dirs] == ["job", "verify"]
    assert not any(d.exists() for d in created_tmp_dirs)


@pytest.mark.parametrize(("kind", "expected"), [
    ("no_index", ['table shop_product: index (name) [idx] named "shop_product_name_idx"',
                  "state: shop.product option indexes differs"]),
    ("no_seed", ["table shop_category: data differs (2 rows in original, 0 in squashed",
                 'only in original: {"id": 1, "name": "books"}']),
    ("no_sku", ["table shop_product: column sku (varchar(20) NULL) only in original",
                "state: shop.product.sku only in original: models.CharField(max_length=20, "
                "null=True, unique=True)"]),
])
def test_wrong_squash_is_reported(tmp_path: Path, kind: str, expected: list[str]) -> None:
    project = make_project(tmp_path / "proj", squash=kind)
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert not report.ok
    text = "\n".join(report.differences)
    for needle in expected:
        assert needle in text, report.render()
    assert "difference(s)" in report.render().splitlines()[0]


def test_missing_index_cli_exit_1_with_readable_diff(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", squash="no_index")
    # no --settings, no DJANGO_SETTINGS_MODULE: read from manage.py in the current directory
    result = run_squasher("verify", "shop", "0001", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "shop_product_name_idx" in result.stdout
    assert "makemigrations --check shop reports changes" in result.stdout
    assert "Create index shop_product_name_idx" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_json_format(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", squash="no_seed")
    result = run_squasher("verify", "shop", SQUASH_NAME, "--format", "json", "--root", str(project),
                          cwd=tmp_path, env={"DJANGO_SETTINGS_MODULE": "tinysite.settings"})
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["database"] == "sqlite"
    assert any("shop_category: data differs" in d for d in data["differences"])


def test_cli_ok_exit_0(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    result = run_squasher("verify", "shop", SQUASH_NAME, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify shop.0001_squashed_0004_product_sku on sqlite: OK" in result.stdout


def test_squashed_history_that_fails_to_migrate(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    squash = project / "shop/migrations" / f"{SQUASH_NAME}.py"
    squash.write_text(squash.read_text().replace(
        '    Category = apps.get_model("shop", "Category")\n',
        '    Category = apps.get_model("shop", "Category")\n    raise ValueError("boom")\n', 1))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert not report.ok
    (message,) = report.differences
    assert message.startswith("the squashed history does not migrate: migrate failed while "
                              "applying shop.0001_squashed_0004_product_sku: ValueError: boom")
    # the location is shown in the user's project, not in the temporary copy
    assert f"({squash}:" in message


def test_partial_application_failure_is_reported(tmp_path: Path) -> None:
    """A failure that only happens when the originals are applied in two runs is reported.

    0002 records in a module global that it ran, 0004 insists on it: fine in one process (the
    original history), fine with the squash, broken when the database was migrated to 0002
    earlier (the partial check migrates to 0002, then to the end in a new process).
    """
    project = make_project(tmp_path / "proj")
    (project / "shop/state.py").write_text("ran_0002 = False\n")
    m0002 = project / "shop/migrations/0002_product_price.py"
    m0002.write_text(m0002.read_text().replace("    operations = [", (
        "    operations = [\n"
        "        migrations.RunPython(lambda apps, se: setattr(__import__('shop.state').state,"
        " 'ran_0002', True)),"), 1))
    m0004 = project / "shop/migrations/0004_product_sku.py"
    m0004.write_text(m0004.read_text().replace("    operations = [", (
        "    operations = [\n"
        "        migrations.RunPython(lambda apps, se: __import__('shop.state').state.ran_0002"
        " or 1 / 0),"), 1))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert not report.ok
    (message,) = report.differences
    assert message.startswith(
        "partial (migrated to shop.0002_product_price with the originals, then to the end) "
        "failed: migrate failed while applying shop.0004_product_sku: ZeroDivisionError"), message
    assert f"({m0004}:" in message


def test_squash_that_does_not_import(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    squash = project / "shop/migrations" / f"{SQUASH_NAME}.py"
    squash.write_text(squash.read_text().replace("initial = True", "initial = True\n    1/0", 1))
    with pytest.raises(VerificationError, match="the migrations cannot be loaded: "
                       "ZeroDivisionError: division by zero") as info:
        verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert info.value.path == squash and info.value.line == 14
    result = run_squasher("verify", "shop", SQUASH_NAME, cwd=project)
    assert result.returncode == 1
    assert f"{squash}:14: the migrations cannot be loaded" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["good", "no_sku"])
def test_migration_written_after_the_squash_depends_on_it(tmp_path: Path, kind: str) -> None:
    """0005 depends on the squash by name: the original history points it at 0004 instead."""
    project = make_project(tmp_path / "proj", squash=kind)
    (project / "shop/migrations/0006_product_note.py").write_text(
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0005_product_active')]\n"
        "    operations = [migrations.AddField('product', 'note', models.TextField(default=''))]\n")
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    if kind == "good":
        # the model lacks `note`: makemigrations reports it on both histories -> warning only
        assert report.ok, report.render()
        assert any("reports changes with the original history too" in w for w in report.warnings)
    else:
        assert any(d.startswith("makemigrations --check shop reports other changes with the "
                                "squashed history than with the original one")
                   and "Add field sku to product" in d for d in report.differences), report.render()


# --------------------------------------------------------------------------- bad input


BROKEN_SETTINGS = "import not_a_module_xyz\nSECRET_KEY = 'x'\n"


def test_settings_that_fail_to_import(tmp_path: Path, created_tmp_dirs: list[Path]) -> None:
    project = make_project(tmp_path / "proj", settings=BROKEN_SETTINGS)
    before = snapshot_tree(project)
    with pytest.raises(SettingsError) as info:
        verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert "No module named 'not_a_module_xyz'" in str(info.value)
    assert info.value.path == project / "tinysite/settings.py" and info.value.line == 1
    assert len(created_tmp_dirs) == 1 and not created_tmp_dirs[0].exists()

    result = run_squasher("verify", "shop", SQUASH_NAME, cwd=project)
    assert result.returncode == 2
    assert "settings module 'tinysite.settings' failed to import" in result.stderr
    assert "ModuleNotFoundError: No module named 'not_a_module_xyz'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot_tree(project) == before


def test_no_settings_module_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    with pytest.raises(SettingsError, match="cannot tell which Django settings module"):
        resolve_settings_module(tmp_path)
    project = make_project(tmp_path / "proj")
    assert resolve_settings_module(project) == "tinysite.settings"
    assert resolve_settings_module(project, "other.settings") == "other.settings"


def test_unknown_app_migration_and_not_a_squash(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    kw = {"settings_module": "tinysite.settings"}
    with pytest.raises(UnknownAppError, match="unknown app 'nope'") as info:
        verify_squash(project, "nope", "0001", **kw)
    assert "shop" in (info.value.hint or "")
    with pytest.raises(UsageError, match="no migration of shop matches '0099'") as info:
        verify_squash(project, "shop", "0099", **kw)
    assert SQUASH_NAME in (info.value.hint or "")
    (project / "shop/migrations/0001_squashed_0002_other.py").write_text(
        (project / "shop/migrations" / f"{SQUASH_NAME}.py").read_text())
    with pytest.raises(UsageError, match="'0001' matches several migrations of shop: 0001_initial, "
                       "0001_squashed_0002_other, 0001_squashed_0004_product_sku"):
        verify_squash(project, "shop", "0001", **kw)
    with pytest.raises(UsageError, match="is not a squashed migration"):
        verify_squash(project, "shop", "0002", **kw)
    result = run_squasher("verify", "nope", "0001", cwd=project)
    assert result.returncode == 2 and "unknown app 'nope'" in result.stderr


def test_copy_skips_vcs_venv_and_databases(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    write_files(project, {".git/HEAD": "ref", "venv/pyvenv.cfg": "x", "env2/pyvenv.cfg": "x",
                          "node_modules/x.js": "", "db.sqlite3": "", "shop/__pycache__/a.pyc": ""})
    copied = copy_project(project, tmp_path / "copy")
    names = {str(p.relative_to(copied)) for p in copied.rglob("*")}
    assert "shop/migrations/0001_initial.py" in names and "manage.py" in names
    assert not names & {".git", "venv", "env2", "node_modules", "db.sqlite3", "shop/__pycache__"}


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_verify_and_throwaway_databases_dropped(
        tmp_path: Path, require_postgres: str, monkeypatch: pytest.MonkeyPatch,
        created_pg_databases: list[str]) -> None:
    monkeypatch.setenv(PG_ENV, require_postgres)
    good = verify_squash(make_project(tmp_path / "good"), "shop", SQUASH_NAME,
                         settings_module="tinysite.settings", verify_on="postgresql")
    assert good.ok, good.render()
    assert good.database == "postgresql" and good.server == PG_ENV
    bad = verify_squash(make_project(tmp_path / "bad", squash="no_index"), "shop", SQUASH_NAME,
                        settings_module="tinysite.settings", verify_on="postgresql")
    assert not bad.ok
    assert any('named "shop_product_name_idx": CREATE INDEX ON public.shop_product USING btree '
               "(name) only in original" in d for d in bad.differences), bad.render()
    assert len(created_pg_databases) == 6
    assert all(name.startswith("squasher_verify_") for name in created_pg_databases)
    assert not set(created_pg_databases) & set(_pg_databases(require_postgres))


@pytest.mark.postgres
def test_postgres_databases_dropped_on_failure(tmp_path: Path, require_postgres: str,
                                               monkeypatch: pytest.MonkeyPatch,
                                               created_pg_databases: list[str]) -> None:
    monkeypatch.setenv(PG_ENV, require_postgres)
    project = make_project(tmp_path / "proj")
    squash = project / "shop/migrations" / f"{SQUASH_NAME}.py"
    squash.write_text(squash.read_text().replace(
        "    operations = [", "    operations = [\n        migrations.RunSQL('SELECT 1/0'),", 1))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings",
                           verify_on="postgresql")
    assert not report.ok
    assert any("DataError: division by zero" in d for d in report.differences), report.render()
    assert len(created_pg_databases) == 3
    assert not set(created_pg_databases) & set(_pg_databases(require_postgres))


@pytest.mark.postgres
def test_postgres_cli(tmp_path: Path, require_postgres: str) -> None:
    project = make_project(tmp_path / "proj", squash="no_seed")
    result = run_squasher("verify", "shop", SQUASH_NAME, "--verify-on", "postgresql", cwd=project,
                          env={PG_ENV: require_postgres})
    assert result.returncode == 1, result.stderr
    assert f"on postgresql ({PG_ENV}): 1 difference(s)" in result.stdout
    assert "table shop_category: data differs" in result.stdout


def test_unreachable_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              created_tmp_dirs: list[Path]) -> None:
    project = make_project(tmp_path / "proj")
    monkeypatch.setenv(PG_ENV, "postgresql://u:p@127.0.0.1:1/postgres")
    with pytest.raises(DatabaseUnavailableError, match="cannot connect to PostgreSQL at 127.0.0.1:1"):
        verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings",
                      verify_on="postgresql")
    result = run_squasher("verify", "shop", SQUASH_NAME, "--verify-on", "postgresql", cwd=project,
                          env={PG_ENV: "postgresql://u:p@127.0.0.1:1/postgres"})
    assert result.returncode == 2
    assert "cannot connect to PostgreSQL at 127.0.0.1:1" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert created_tmp_dirs == []  # refused before copying anything


def test_postgres_without_dsn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_ENV, raising=False)
    with pytest.raises(DatabaseUnavailableError, match=f"{PG_ENV} is not set"):
        verify_squash(make_project(tmp_path / "proj"), "shop", SQUASH_NAME,
                      settings_module="tinysite.settings", verify_on="postgresql")


# --------------------------------------------------------------------------- sample_apps


def _billing_squash(root: Path) -> str:
    for path in sorted((root / "billing/migrations").glob("*.py")):
        if "replaces" in path.read_text():
            return path.stem
    raise AssertionError("sample_apps/billing ships no squash")


@pytest.fixture
def sample_billing(sample_project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    require((SAMPLE_APPS / "billing/migrations").is_dir(), "sample_apps with the billing app")
    monkeypatch.setenv("SAMPLE_APPS_WITHOUT_CONFLICT", "1")
    return sample_project, _billing_squash(sample_project)


def test_sample_apps_billing_squash_sqlite(sample_billing: tuple[Path, str]) -> None:
    root, squash = sample_billing
    report = verify_squash(root, "billing", squash, settings_module="settings")
    assert report.ok, report.render()
    print(report.render())


@pytest.mark.postgres
def test_sample_apps_billing_squash_postgres(sample_billing: tuple[Path, str], require_postgres: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PG_ENV, require_postgres)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    root, squash = sample_billing
    report = verify_squash(root, "billing", squash, settings_module="settings", verify_on="postgresql")
    assert report.ok, report.render()
    print(report.render())



# --------------------------------------------------------------------------- squash over a squash


def _older_squash(project: Path) -> Path:
    """``0001_squashed_0002_product_price``: an older squash of 0001 and 0002."""
    src = (project / "shop/migrations/0001_initial.py").read_text()
    src = src.replace("    initial = True\n", "    initial = True\n    replaces = [('shop', "
                      "'0001_initial'), ('shop', '0002_product_price')]\n")
    src = src.replace(
        '            ("category", models.ForeignKey(on_delete=models.deletion.CASCADE, '
        'to="shop.category")),\n',
        '            ("category", models.ForeignKey(on_delete=models.deletion.CASCADE, '
        'to="shop.category")),\n'
        '            ("price", models.DecimalField(max_digits=8, decimal_places=2, default=0)),\n')
    src = src.replace("    ]\n", "        migrations.AddIndex('product', models.Index(fields=["
                      "'name'], name='shop_product_name_idx')),\n    ]\n")
    path = project / "shop/migrations/0001_squashed_0002_product_price.py"
    path.write_text(src)
    return path


def test_squash_over_an_older_squash_with_flattened_replaces_is_refused(tmp_path: Path) -> None:
    """Django 4.2/5.2 keep the older squash as its own node: two leaves, tables created twice."""
    project = make_project(tmp_path / "proj")
    _older_squash(project)
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert not report.ok
    assert report.differences[0].startswith(
        "the older squash shop.0001_squashed_0002_product_price replaces only migrations that "
        "shop.0001_squashed_0004_product_sku replaces too, but is not itself in its replaces")
    assert any("the squashed history does not migrate" in d and "already exists" in d
               for d in report.differences), report.render()


def test_squash_over_an_older_squash_with_nested_replaces(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    _older_squash(project)
    squash = project / "shop/migrations" / f"{SQUASH_NAME}.py"
    squash.write_text(squash.read_text().replace(
        '[("shop", "0001_initial"), ("shop", "0002_product_price"), ("shop", "0003_seed"),',
        '[("shop", "0001_squashed_0002_product_price"), ("shop", "0003_seed"),'))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert report.ok, report.render()
    assert report.replaces[0] == "shop.0001_squashed_0002_product_price"
    # the original history uses the older squash for 0001-0002: the partial stop is after it
    assert report.partial_target == "shop.0003_seed"


def test_squash_with_a_syntax_error(tmp_path: Path) -> None:
    """Django's own squashmigrations writes ``code=app.migrations.0004_x.f`` for RunPython."""
    project = make_project(tmp_path / "proj")
    squash = project / "shop/migrations" / f"{SQUASH_NAME}.py"
    squash.write_text(squash.read_text().replace(
        "migrations.RunPython(seed, ", "migrations.RunPython(shop.migrations.0003_seed.seed, ", 1))
    line = squash.read_text().splitlines().index(
        next(x for x in squash.read_text().splitlines() if "0003_seed.seed" in x)) + 1
    with pytest.raises(VerificationError, match="SyntaxError: invalid decimal literal") as info:
        verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert (info.value.path, info.value.line) == (squash, line)


def test_random_values_and_set_order_in_data_migrations(tmp_path: Path) -> None:
    """uuid4(), random and set iteration give the same rows in both histories."""
    project = make_project(tmp_path / "proj")
    body = ('    import random, uuid\n'
            '    for name in {"books", "music", "films", "games", "maps"}:\n'
            '        Category.objects.create(name=f"{name}-{uuid.uuid4().hex[:8]}-{random.random():.5f}")\n')
    loop = '    for name in ("books", "music"):\n        Category.objects.create(name=name)\n'
    for path in (project / "shop/migrations/0003_seed.py",
                 project / "shop/migrations" / f"{SQUASH_NAME}.py"):
        assert loop in path.read_text()
        path.write_text(path.read_text().replace(loop, body))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert report.ok, report.render()


def test_elidable_data_migration_dropped_by_the_squash(tmp_path: Path) -> None:
    """Django's squashmigrations drops elidable operations: compare without them, and say so."""
    project = make_project(tmp_path / "proj", squash="no_seed")
    seed = project / "shop/migrations/0003_seed.py"
    seed.write_text(seed.read_text().replace("RunPython.noop)", "RunPython.noop, elidable=True)"))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert report.ok, report.render()
    assert report.warnings == [
        "the squash drops elidable operations; compared with the original history without them: "
        "shop.0003_seed: RunPython seed"]
    # a squash that keeps the elidable operation is compared with the full originals
    project = make_project(tmp_path / "kept")
    for path in (project / "shop/migrations/0003_seed.py",
                 project / "shop/migrations" / f"{SQUASH_NAME}.py"):
        path.write_text(path.read_text().replace("RunPython.noop)", "RunPython.noop, elidable=True)"))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert report.ok and report.warnings == [], report.render()


def test_dropped_elidable_ignores_constraint_checkpoints_and_kept_operations() -> None:
    """Which elidable operations of the originals a squash dropped (not a count comparison)."""
    from django.db import migrations

    from squasher.runtime.worker import CHECKPOINT_NAME, _dropped_elidable

    def backfill(apps, schema_editor):  # noqa: ANN001
        pass

    def seed(apps, schema_editor):  # noqa: ANN001
        pass

    def checkpoint(apps, schema_editor):  # noqa: ANN001
        pass

    checkpoint.__name__ = CHECKPOINT_NAME
    originals = [
        (("shop", "0002_backfill"), 0, migrations.RunPython(backfill, elidable=True)),
        (("shop", "0003_seed"), 1, migrations.RunPython(seed, elidable=True)),
        (("shop", "0004_sql"), 0, migrations.RunSQL("UPDATE x SET y = 1", elidable=True)),
    ]
    squash = [migrations.RunPython(seed, elidable=True),
              migrations.RunPython(checkpoint, checkpoint, elidable=True),
              migrations.RunSQL("SELECT 1")]
    dropped = _dropped_elidable(originals, squash)
    assert [(k, i) for k, i, _ in dropped] == [(("shop", "0002_backfill"), 0),
                                               (("shop", "0004_sql"), 0)]
    # A carried function renamed in the squash still stands for the original of its kind.
    renamed = migrations.RunPython(checkpoint, elidable=True)
    renamed.code = backfill
    backfill.__name__ = "backfill_2"
    assert [k for k, _, _ in _dropped_elidable(originals[:1], [renamed])] == []


def test_sample_apps_squash_dropping_elidable_with_constraint_checkpoint(sample_project: Path) -> None:
    """catalog 0018..0045: 0039's elidable backfill is dropped and a checkpoint is added after
    0018's RunSQL; the original history is compared without 0039's backfill (it used to be
    compared with it, since the squash had as many elidable operations as the originals)."""
    result = run_squasher("squash", "catalog", "0018", "0045", "--no-verify", cwd=sample_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "constraint checkpoints: 1" in result.stdout and "1 elidable operation(s) dropped" in result.stdout
    report = verify_squash(sample_project, "catalog", "0018_insert_default_tags_squashed_0045",
                           settings_module="settings")
    assert report.ok, report.render()
    assert report.warnings == [
        "the squash drops elidable operations; compared with the original history without them: "
        "catalog.0039_backfill_search_name: RunPython backfill_search_name"]
