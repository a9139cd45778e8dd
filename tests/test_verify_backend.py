"""Where verification migrates: ``--database ALIAS`` (Django's flag) and ``--verify-on``.

Like Django's test runner, verification makes its throwaway databases on the engine and server
of the project's ``DATABASES`` alias; ``--verify-on`` picks the engine instead, and
``SQUASHER_POSTGRES_DSN`` overrides the PostgreSQL server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.verify_project import SETTINGS, SQUASH_NAME, make_project

from squasher.errors import DatabaseUnavailableError, UsageError
from squasher.runtime.sandbox import (
    DSN_ENV,
    POSTGRESQL,
    SQLITE,
    choose_backend,
    normalize_verify_on,
    split_legacy_database,
)
from squasher.runtime.verify import verify_squash

SQLITE_ENTRY = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
PG_ENTRY = {"ENGINE": "django.contrib.gis.db.backends.postgis", "NAME": "proj",
            "USER": "app", "PASSWORD": "secret", "HOST": "db.internal", "PORT": "5433",
            "OPTIONS": {"sslmode": "require", "isolation_level": 3, "pool": True},
            "TEST": {"NAME": "test_proj"}}


# --------------------------------------------------------------------------- the choice


def test_auto_follows_the_alias_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    assert choose_backend(None, "default", {"default": SQLITE_ENTRY}).engine == SQLITE
    backend = choose_backend(None, "gis", {"default": SQLITE_ENTRY, "gis": PG_ENTRY})
    assert (backend.engine, backend.source) == (POSTGRESQL, "DATABASES['gis']")
    # throwaway databases keep the project's engine (PostGIS) and options, not its TEST name
    entry = backend.throwaway_entry("squasher_verify_x")
    assert entry["ENGINE"] == PG_ENTRY["ENGINE"] and entry["NAME"] == "squasher_verify_x"
    assert entry["HOST"] == "db.internal" and "TEST" not in entry
    # CREATE DATABASE runs in the maintenance database, with libpq options only
    params = backend.connect_params()
    assert params["dbname"] == "postgres" and params["port"] == "5433"
    assert params["sslmode"] == "require"
    assert "isolation_level" not in params and "pool" not in params


def test_dsn_overrides_the_server_not_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DSN_ENV, "postgresql://ci:pw@127.0.0.1:6000/postgres")
    # a SQLite project still verifies on SQLite: the variable says where, not whether
    assert choose_backend(None, "default", {"default": SQLITE_ENTRY}).engine == SQLITE
    backend = choose_backend(None, "default", {"default": PG_ENTRY})
    assert backend.source == DSN_ENV
    assert backend.entry["HOST"] == "127.0.0.1" and backend.entry["PORT"] == "6000"
    assert backend.entry["ENGINE"] == PG_ENTRY["ENGINE"]
    # --verify-on postgresql with the variable set needs no settings at all
    assert choose_backend(POSTGRESQL, "default", None).source == DSN_ENV


def test_explicit_engine_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    assert choose_backend(SQLITE, "default", None).engine == SQLITE
    with pytest.raises(DatabaseUnavailableError, match=r"DATABASES\['default'\] is "
                       r"django.db.backends.sqlite3 and SQUASHER_POSTGRES_DSN is not set"):
        choose_backend(POSTGRESQL, "default", {"default": SQLITE_ENTRY})
    with pytest.raises(UsageError, match="no database 'replica'") as info:
        choose_backend(None, "replica", {"default": SQLITE_ENTRY, "other": SQLITE_ENTRY})
    assert info.value.hint == "databases: default, other"
    mysql = choose_backend(None, "default", {"default": {"ENGINE": "django.db.backends.mysql"}})
    assert mysql.engine == SQLITE and mysql.note and "mysql" in mysql.note


def test_flag_spellings() -> None:
    assert normalize_verify_on("postgres") == POSTGRESQL
    assert normalize_verify_on(None) is None
    with pytest.raises(UsageError, match="unknown verification backend 'mysql'"):
        normalize_verify_on("mysql")
    alias, verify_on, warning = split_legacy_database("postgres", None)
    assert (alias, verify_on) == ("default", POSTGRESQL) and warning and "--verify-on" in warning
    assert split_legacy_database("replica", None) == ("replica", None, None)
    # with --verify-on given, --database postgres is an alias named "postgres"
    assert split_legacy_database("postgres", SQLITE) == ("postgres", SQLITE, None)


# --------------------------------------------------------------------------- on real servers


def _pg_settings(dsn: str, name: str, alias: str = "default") -> str:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    entry = {"ENGINE": "django.db.backends.postgresql", "NAME": name,
             "USER": info.get("user", ""), "PASSWORD": info.get("password", ""),
             "HOST": info.get("host", ""), "PORT": str(info.get("port", ""))}
    databases = {"default": SQLITE_ENTRY, alias: entry} if alias != "default" else {"default": entry}
    return SETTINGS.replace(
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}',
        f"DATABASES = {databases!r}")


@pytest.fixture
def project_database(require_postgres: str) -> Iterator[str]:
    """A database standing for the project's own: verification must never touch it."""
    import psycopg

    name = f"squasher_project_{os.getpid()}"
    with psycopg.connect(require_postgres, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(require_postgres, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(dsn: str, name: str) -> list[str]:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = {**conninfo_to_dict(dsn), "dbname": name}
    with psycopg.connect(make_conninfo(**params)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return [r[0] for r in rows]


def _verify_databases(dsn: str) -> set[str]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'squasher_verify_%'")
        return {r[0] for r in rows.fetchall()}


@pytest.mark.postgres
def test_project_postgres_server_used_without_dsn(tmp_path: Path, require_postgres: str,
                                                  project_database: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    before = _verify_databases(require_postgres)
    project = make_project(tmp_path / "proj", settings=_pg_settings(require_postgres, project_database))
    report = verify_squash(project, "shop", SQUASH_NAME, settings_module="tinysite.settings")
    assert report.ok, report.render()
    assert (report.database, report.server) == (POSTGRESQL, "DATABASES['default']")
    assert report.render().startswith(
        f"verify shop.{SQUASH_NAME} on postgresql (DATABASES['default']): OK")
    # the project's own database was not migrated; every throwaway database is gone
    assert _tables(require_postgres, project_database) == []
    assert _verify_databases(require_postgres) <= before


@pytest.mark.postgres
def test_cli_database_alias_and_verify_on(tmp_path: Path, require_postgres: str,
                                          project_database: str) -> None:
    project = make_project(tmp_path / "proj", squash="no_seed",
                           settings=_pg_settings(require_postgres, project_database, "warehouse"))
    no_dsn = {DSN_ENV: ""}
    # --database names the alias: its PostgreSQL server is used (the data difference is found)
    proc = run_squasher("verify", "shop", SQUASH_NAME, "--database", "warehouse", "--format",
                        "json", cwd=project, env=no_dsn)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["database"], data["alias"], data["server"]) == (
        POSTGRESQL, "warehouse", "DATABASES['warehouse']")
    assert any("shop_category: data differs" in d for d in data["differences"])
    # the default alias is SQLite: verified on SQLite
    proc = run_squasher("verify", "shop", SQUASH_NAME, cwd=project, env=no_dsn)
    assert proc.returncode == 1 and f"verify shop.{SQUASH_NAME} on sqlite: " in proc.stdout
    # an alias the project does not have: one line, exit 2
    proc = run_squasher("verify", "shop", SQUASH_NAME, "--database", "replica", cwd=project,
                        env=no_dsn)
    assert proc.returncode == 2
    assert proc.stderr.startswith("squasher: error: the project has no database 'replica'")
    assert "databases: default, warehouse" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_project_server(tmp_path: Path) -> None:
    """The project's PostgreSQL server is down: a clear refusal naming the alias, nothing
    copied or written; --verify-on sqlite still verifies."""
    settings = _pg_settings("postgresql://u:p@127.0.0.1:1/postgres", "proj")
    project = make_project(tmp_path / "proj", settings=settings)
    before = snapshot_tree(project)
    proc = run_squasher("verify", "shop", SQUASH_NAME, cwd=project, env={DSN_ENV: ""})
    assert proc.returncode == 2
    assert ("cannot connect to PostgreSQL at 127.0.0.1:1 (DATABASES['default'])"
            in proc.stderr), proc.stderr
    assert "--verify-on sqlite" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_squasher("verify", "shop", SQUASH_NAME, "--verify-on", "sqlite", cwd=project,
                        env={DSN_ENV: ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"verify shop.{SQUASH_NAME} on sqlite: OK" in proc.stdout
    assert snapshot_tree(project) == before


@pytest.mark.postgres
def test_squash_verifies_on_the_project_server(sample_project: Path, require_postgres: str,
                                               project_database: str) -> None:
    """sample_apps reads DATABASE_URL, as many projects do: squash verifies on that server."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(require_postgres)
    url = (f"postgres://{info.get('user', '')}:{info.get('password', '')}@"
           f"{info.get('host', '')}:{info.get('port', '')}/{project_database}")
    proc = run_squasher("squash", "catalog", "0019", "0023", cwd=sample_project,
                        env={DSN_ENV: "", "DATABASE_URL": url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on postgresql (DATABASES['default']): OK" in proc.stdout
    assert _tables(require_postgres, project_database) == []
