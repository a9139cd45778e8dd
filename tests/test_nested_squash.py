"""Squashing over an unfinalized squash (issue 15, item 3): ``squasher squash billing 0001 0008``.

sample_apps' billing keeps its squash ``0001_squashed_0004_alter_invoice_number`` next to the
four migrations it replaces. On Django 6+ the new squash lists it in ``replaces`` (nested, as
Django 6 writes it); on Django 4.2/5.2 it absorbs it: what it replaced is listed instead, its
file is deleted and ``0005_taxrate`` (which depended on it) now depends on
``0004_alter_invoice_number``. Either way Django's loader must load the result under any hash
seed (4.2/5.2 process replacements in file-listing order), and databases in every state a
real project has (fresh, partially applied before the old squash existed, migrated with the
old squash, fully applied) must migrate to the schema of the original history and record the
new squash as applied (else it could never be finalized).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import _COPY_IGNORE, SAMPLE_APPS, run_squasher
from support.agreement import assert_agree
from support.squash_db import migrate, schema

from squasher.graph.project import Project
from squasher.runtime.worker import WorkerClient

OLD = "0001_squashed_0004_alter_invoice_number"
NEW = f"{OLD}_squashed_0008_default_invoice_tax_rate"
ORIGINALS = ["0001_initial", "0002_invoice_amount", "0003_payment", "0004_alter_invoice_number"]
LATER = ["0005_taxrate", "0006_seed_tax_rates", "0007_invoice_tax_rate",
         "0008_default_invoice_tax_rate"]
SEEDS = ["0", "1", "2", "3", "5", "8", "13"]


def nested_supported() -> bool:
    from squasher.squash.plan import nested_replaces_supported

    return nested_replaces_supported()


@dataclass
class Trees:
    before: Path  # sample_apps as shipped (the old squash and its originals)
    older: Path  # as before the old squash existed (no squash, 0005 depends on 0004)
    after: Path  # after `squasher squash billing 0001 0008`
    output: str


def _copy(dest: Path) -> Path:
    shutil.copytree(SAMPLE_APPS, dest, ignore=_COPY_IGNORE)
    return dest


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Trees:
    base = tmp_path_factory.mktemp("nested")
    before = _copy(base / "before" / "sample_apps")
    older = _copy(base / "older" / "sample_apps")
    migrations = older / "billing" / "migrations"
    (migrations / f"{OLD}.py").unlink()
    taxrate = migrations / "0005_taxrate.py"
    taxrate.write_text(taxrate.read_text().replace(OLD, ORIGINALS[-1]))
    after = _copy(base / "after" / "sample_apps")
    # `0001` is ambiguous among the files (0001_initial, 0001_squashed_...): it means the
    # squash, the only one of them in the graph. Verified on SQLite (the default).
    proc = run_squasher("squash", "billing", "0001", "0008", cwd=after)
    assert proc.returncode == 0, proc.stderr
    assert f"verify billing.{NEW} on sqlite: OK" in proc.stdout
    return Trees(before=before, older=older, after=after, output=proc.stdout)


def load_with_django(root: Path, applied: list[tuple[str, str]] | None, seed: str
                     ) -> dict[str, Any]:
    """Django's MigrationLoader in a worker process (the ``graph`` job of
    :mod:`squasher.runtime.worker`; ``applied`` recorded in an in-memory SQLite database
    first): the worker's answer."""
    step: dict[str, Any] = {"op": "graph"}
    if applied is not None:
        step["applied"] = [list(key) for key in applied]
    return WorkerClient("settings", timeout=300, hash_seed=seed).run(root, None, [step])


def billing_file(root: Path, name: str) -> Path:
    return root / "billing" / "migrations" / f"{name}.py"


def test_files_written(trees: Trees) -> None:
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("new_squash", billing_file(trees.after, NEW))
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    replaces = [name for _, name in module.Migration.replaces]
    taxrate = billing_file(trees.after, "0005_taxrate").read_text()
    if nested_supported():
        assert replaces == [OLD, *LATER]  # what Django 6's squashmigrations writes
        assert billing_file(trees.after, OLD).is_file()
        assert f"('billing', '{OLD}')" in taxrate
    else:
        assert replaces == [*ORIGINALS, *LATER]
        assert not billing_file(trees.after, OLD).exists()
        assert "('billing', '0004_alter_invoice_number')" in taxrate and OLD not in taxrate
        assert f"absorbs the squash {OLD}" in trees.output
        assert "references to it now point at billing.0004_alter_invoice_number (dependencies)" in trees.output
        assert "(rewritten: 0005_taxrate.py)" in trees.output
    for name in ORIGINALS + LATER:
        assert billing_file(trees.after, name).is_file()


def test_check_is_clean(trees: Trees) -> None:
    proc = run_squasher("check", "billing", "orders", cwd=trees.after)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("applied", [None, [("billing", n) for n in ORIGINALS[:2]]],
                         ids=["nothing-applied", "two-originals-applied"])
def test_django_loads_under_every_hash_seed(trees: Trees, applied: list[tuple[str, str]] | None
                                            ) -> None:
    """Django 4.2/5.2 process replacements in the order of a set of module names: the graph
    must be the same whatever PYTHONHASHSEED is (one loader process per seed)."""
    expected = ({("billing", NEW), ("billing", "0009_demo_invoices")} if applied is None else
                {("billing", n) for n in [*ORIGINALS, *LATER, "0009_demo_invoices"]})
    for seed in SEEDS:
        result = load_with_django(trees.after, applied, seed)
        assert result["ok"], f"PYTHONHASHSEED={seed}: {result['error']}"
        data = result["results"][0]
        billing = {tuple(k) for k, external in data["nodes"] if k[0] == "billing"}
        assert billing == expected, f"PYTHONHASHSEED={seed}"
        if applied is None and seed == SEEDS[0]:
            # squasher's static graph sees what Django sees
            assert_agree(Project.load(trees.after, use_cache=False).graph, data)


# --------------------------------------------------------------------------- databases

#: name -> (tree migrated first, its targets); None: a fresh database
SCENARIOS: dict[str, tuple[str, str | list[tuple[str, str]]] | None] = {
    "fresh": None,
    "partial-before-old-squash": ("older", [("billing", "0002_invoice_amount")]),
    "old-squash-applied": ("before", [("billing", OLD)]),
    "fully-applied": ("before", "all"),
}


def _check_scenario(trees: Trees, name: str, baseline: dict[str, Any],
                    **db: Any) -> None:
    scenario = SCENARIOS[name]
    if scenario is not None:
        tree, targets = scenario
        first = migrate(getattr(trees, tree), targets, **db)
        if name == "partial-before-old-squash":
            assert [a for a in first["applied"] if a.startswith("billing.")] == [
                f"billing.{n}" for n in ORIGINALS[:2]]
        elif name == "old-squash-applied":
            assert f"billing.{OLD}" in first["plan"]
    result = migrate(trees.after, **db)
    assert schema(result) == schema(baseline), name
    # Django recorded the new squash as applied (finalize --database needs it)
    assert f"billing.{NEW}" in result["applied"], name
    billing_plan = [m for m in result["plan"] if m.startswith("billing.")]
    if name == "fresh":
        assert billing_plan == [f"billing.{NEW}", "billing.0009_demo_invoices"]
    elif name == "partial-before-old-squash":
        assert billing_plan == [f"billing.{n}" for n in [*ORIGINALS[2:], *LATER,
                                                         "0009_demo_invoices"]]
    elif name == "old-squash-applied":
        assert billing_plan == [f"billing.{n}" for n in [*LATER, "0009_demo_invoices"]]
    else:
        assert result["plan"] == []


@pytest.fixture(scope="module")
def sqlite_baseline(trees: Trees, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return migrate(trees.before, db=tmp_path_factory.mktemp("nested-db") / "baseline.sqlite3")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_databases_migrate_sqlite(trees: Trees, sqlite_baseline: dict[str, Any], scenario: str,
                                  tmp_path: Path) -> None:
    _check_scenario(trees, scenario, sqlite_baseline, db=tmp_path / "db.sqlite3")


@pytest.fixture
def postgres_dbs(require_postgres: str) -> Iterator[list[dict[str, Any]]]:
    from squasher.runtime.sandbox import postgres_databases

    with postgres_databases(require_postgres, len(SCENARIOS) + 1) as dbs:
        yield dbs


@pytest.mark.postgres
def test_databases_migrate_postgres(trees: Trees, postgres_dbs: list[dict[str, Any]]) -> None:
    baseline = migrate(trees.before, database=postgres_dbs[0])
    for name, database in zip(SCENARIOS, postgres_dbs[1:], strict=True):
        _check_scenario(trees, name, baseline, database=database)


@pytest.mark.postgres
def test_verify_on_postgres(trees: Trees, require_postgres: str) -> None:
    proc = run_squasher("verify", "billing", NEW, "--verify-on", "postgresql", cwd=trees.after,
                        env={"SQUASHER_POSTGRES_DSN": require_postgres})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"verify billing.{NEW} on postgresql (SQUASHER_POSTGRES_DSN): OK" in proc.stdout
    assert "partial (migrated to billing." in proc.stdout


def test_finalize_afterwards(trees: Trees, tmp_path: Path) -> None:
    """The new squash finalizes like any other (the absorbed squash is already gone)."""
    root = tmp_path / "sample_apps"
    shutil.copytree(trees.after, root, ignore=_COPY_IGNORE)
    proc = run_squasher("finalize", "billing", NEW, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert not billing_file(root, OLD).exists()
    assert not billing_file(root, "0005_taxrate").exists()
    assert run_squasher("check", "billing", "orders", cwd=root).returncode == 0


def test_references_from_other_apps(tmp_path: Path) -> None:
    """A dependency on the old squash (orders) points at the last migration it replaced, a
    ``run_before`` naming it (accounts) at the first one; Django loads the result and the
    squash verifies."""
    root = _copy(tmp_path / "sample_apps")
    shipped = root / "orders" / "migrations" / "0004_order_shipped_at.py"
    shipped.write_text(shipped.read_text().replace(
        "('orders', '0003_order_note'),", f"('orders', '0003_order_note'),\n        ('billing', '{OLD}'),"))
    bio = root / "accounts" / "migrations" / "0002_user_bio.py"
    bio.write_text(bio.read_text().replace(
        "    operations = [", f"    run_before = [\n        ('billing', '{OLD}'),\n    ]\n\n    operations = [", 1))
    assert run_squasher("check", "billing", "orders", "accounts", cwd=root).returncode == 0
    proc = run_squasher("squash", "billing", "0001", "0008", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert f"verify billing.{NEW} on sqlite: OK" in proc.stdout
    if nested_supported():
        assert f"('billing', '{OLD}')" in shipped.read_text()
        assert f"('billing', '{OLD}')" in bio.read_text()
    else:
        assert "('billing', '0004_alter_invoice_number')," in shipped.read_text()
        assert "('billing', '0001_initial')," in bio.read_text().split("operations")[0]
        assert OLD not in shipped.read_text() + bio.read_text()
        assert "0002_user_bio.py" in proc.stdout and "0004_order_shipped_at.py" in proc.stdout
    assert run_squasher("check", "billing", "orders", "accounts", cwd=root).returncode == 0
    for seed in SEEDS[:3]:
        loaded = load_with_django(root, None, seed)
        assert loaded["ok"], f"PYTHONHASHSEED={seed}: {loaded['error']}"
