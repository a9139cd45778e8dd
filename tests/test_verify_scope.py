"""Verification migrates only what a squash can affect and tells noise from differences.

The project: ``tokens`` (the range depends on it: the shared prefix, migrated once into a
template database), ``shop`` (squashed 0001..0003), ``audit`` (depends on ``shop.0002``: a
dependent of the range; its data migration writes random bytes from ``os.urandom``, which
differ between any two runs) and ``unrelated`` (depends on nothing of them; its migration fails
when it runs, so verification passes only when it is not migrated).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from squasher.runtime.dbcompare import compare_snapshots, naturalize
from squasher.runtime.verify import verify_squash

SQUASH = "0001_squashed_0003_item_sku"

FILES = {
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scopesite.settings")
            from django.core.management import execute_from_command_line
            execute_from_command_line(sys.argv)
    """,
    "scopesite/__init__.py": "",
    "scopesite/settings.py": """
        SECRET_KEY = "test"
        USE_TZ = True
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "tokens", "shop",
                          "audit", "unrelated"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    """,
    "tokens/__init__.py": "",
    "tokens/models.py": """
        from django.db import models


        class Token(models.Model):
            value = models.CharField(max_length=64)
    """,
    "tokens/migrations/__init__.py": "",
    "tokens/migrations/0001_initial.py": """
        import secrets

        from django.db import migrations, models


        def issue(apps, schema_editor):
            apps.get_model("tokens", "Token").objects.create(value=secrets.token_hex(16))


        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel("Token", [
                    ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                               serialize=False, verbose_name="ID")),
                    ("value", models.CharField(max_length=64)),
                ]),
                migrations.RunPython(issue, migrations.RunPython.noop),
            ]
    """,
    "shop/__init__.py": "",
    "shop/models.py": """
        from django.db import models


        class Item(models.Model):
            name = models.CharField(max_length=50)
            token = models.ForeignKey("tokens.Token", models.CASCADE)
            price = models.IntegerField(default=0)
            sku = models.CharField(max_length=20, null=True)
    """,
    "shop/migrations/__init__.py": "",
    "shop/migrations/0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            dependencies = [("tokens", "0001_initial")]
            operations = [
                migrations.CreateModel("Item", [
                    ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                               serialize=False, verbose_name="ID")),
                    ("name", models.CharField(max_length=50)),
                    ("token", models.ForeignKey(on_delete=models.CASCADE, to="tokens.token")),
                ]),
            ]
    """,
    "shop/migrations/0002_item_price.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("shop", "0001_initial")]
            operations = [migrations.AddField("item", "price", models.IntegerField(default=0))]
    """,
    "shop/migrations/0003_item_sku.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("shop", "0002_item_price")]
            operations = [
                migrations.AddField("item", "sku", models.CharField(max_length=20, null=True)),
            ]
    """,
    f"shop/migrations/{SQUASH}.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            replaces = [("shop", "0001_initial"), ("shop", "0002_item_price"),
                        ("shop", "0003_item_sku")]
            initial = True
            dependencies = [("tokens", "0001_initial")]
            operations = [
                migrations.CreateModel("Item", [
                    ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                               serialize=False, verbose_name="ID")),
                    ("name", models.CharField(max_length=50)),
                    ("token", models.ForeignKey(on_delete=models.CASCADE, to="tokens.token")),
                    ("price", models.IntegerField(default=0)),
                    ("sku", models.CharField(max_length=20, null=True)),
                ]),
            ]
    """,
    "audit/__init__.py": "",
    "audit/models.py": """
        from django.db import models


        class Entry(models.Model):
            nonce = models.CharField(max_length=64)
    """,
    "audit/migrations/__init__.py": "",
    "audit/migrations/0001_initial.py": """
        import os

        from django.db import migrations, models


        def record(apps, schema_editor):
            apps.get_model("audit", "Entry").objects.create(nonce=os.urandom(16).hex())


        class Migration(migrations.Migration):
            initial = True
            dependencies = [("shop", "0002_item_price")]
            operations = [
                migrations.CreateModel("Entry", [
                    ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                               serialize=False, verbose_name="ID")),
                    ("nonce", models.CharField(max_length=64)),
                ]),
                migrations.RunPython(record, migrations.RunPython.noop),
            ]
    """,
    "unrelated/__init__.py": "",
    "unrelated/models.py": """
        from django.db import models


        class Thing(models.Model):
            name = models.CharField(max_length=50)
    """,
    "unrelated/migrations/__init__.py": "",
    "unrelated/migrations/0001_initial.py": """
        from django.db import migrations, models


        def explode(apps, schema_editor):
            raise RuntimeError("the unrelated app was migrated")


        class Migration(migrations.Migration):
            initial = True
            dependencies = [("auth", "0012_alter_user_first_name_max_length")]
            operations = [
                migrations.CreateModel("Thing", [
                    ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                               serialize=False, verbose_name="ID")),
                    ("name", models.CharField(max_length=50)),
                ]),
                migrations.RunPython(explode, migrations.RunPython.noop),
            ]
    """,
}


def make(root: Path, *, wrong: bool = False) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    if wrong:  # the squash forgets the default of price: a real difference next to the noise
        squash = root / "shop/migrations" / f"{SQUASH}.py"
        squash.write_text(squash.read_text().replace(
            '("price", models.IntegerField(default=0))', '("price", models.IntegerField(default=1))'))
    return root


def test_only_the_squash_scope_is_migrated_and_random_rows_are_noise(tmp_path: Path) -> None:
    report = verify_squash(make(tmp_path / "proj"), "shop", SQUASH,
                           settings_module="scopesite.settings")
    # `unrelated` fails whenever it is migrated: verification never migrates it
    assert report.ok, report.render()
    assert report.scope == ["audit", "shop"]
    # the prefix is migrated once and copied: tokens' random row is the same in every run
    assert report.prefix == ["tokens.0001_initial"]
    assert "template" in report.timings
    # audit's os.urandom() row differs between two runs of the original history
    assert report.nondeterministic == ["audit_entry"]
    assert "original again" in report.timings
    text = report.render()
    assert "non-deterministic (rows differ between two runs of the original history; not " \
           "compared): audit_entry" in text
    assert "migrated: audit, shop" in text


def test_noise_does_not_hide_a_real_difference(tmp_path: Path) -> None:
    report = verify_squash(make(tmp_path / "proj", wrong=True), "shop", SQUASH,
                           settings_module="scopesite.settings")
    assert not report.ok
    assert report.nondeterministic == ["audit_entry"]
    assert any("state: shop.item.price differs" in d for d in report.differences), report.render()
    assert not any("audit_entry" in d for d in report.differences), report.render()


def _ct_snapshot(order: list[tuple[str, str]], granted: list[str]) -> dict:
    """Content types created in ``order``, one permission each, a group granted ``granted``."""
    import json

    cts = [json.dumps({"id": i, "app_label": a, "model": m}, sort_keys=True)
           for i, (a, m) in enumerate(order, 1)]
    perms = [json.dumps({"id": i, "content_type_id": i, "codename": f"add_{m}",
                         "name": f"Can add {m}"}, sort_keys=True)
             for i, (_, m) in enumerate(order, 1)]
    ids = {f"add_{m}": i for i, (_, m) in enumerate(order, 1)}
    links = [json.dumps({"id": n, "group_id": 1, "permission_id": ids[c]}, sort_keys=True)
             for n, c in enumerate(granted, 1)]
    fk = {"kind": "foreign key", "columns": ["permission_id"], "unique": False,
          "foreign_key": ["auth_permission", "id"], "generated_name": True, "name": "fk_0"}
    ct_fk = {**fk, "columns": ["content_type_id"], "foreign_key": ["django_content_type", "id"]}
    group_fk = {**fk, "columns": ["group_id"], "foreign_key": ["auth_group", "id"]}
    pair = {"kind": "unique", "columns": ["group_id", "permission_id"], "unique": True,
            "foreign_key": None, "generated_name": True, "name": "x_uniq"}
    col = {"type": "integer", "null": False, "default": None, "collation": None}
    schema = {"tables": {"django_content_type": {"columns": {}, "constraints": []},
                         "auth_permission": {"columns": {}, "constraints": [ct_fk]},
                         "auth_group_permissions": {
                             "columns": {"id": col, "group_id": col, "permission_id": col},
                             "constraints": [fk, group_fk, pair]}}}
    return {"schema": schema, "data": {"django_content_type": cts, "auth_permission": perms,
                                       "auth_group_permissions": links}}


def test_content_types_and_permissions_compared_by_natural_key() -> None:
    """Their ids follow the order a history created the models in; what they are does not."""
    first = _ct_snapshot([("shop", "item"), ("shop", "order")], ["add_item"])
    other_order = _ct_snapshot([("shop", "order"), ("shop", "item")], ["add_item"])
    assert compare_snapshots(first, other_order) == []
    # a link table's row is its pair: the id only says in which order rows were inserted
    assert naturalize(first["data"], first["schema"])["auth_group_permissions"] == [
        '{"group_id": 1, "permission_id": "shop.item.add_item"}']
    both = _ct_snapshot([("shop", "item"), ("shop", "order")], ["add_item", "add_order"])
    swapped = _ct_snapshot([("shop", "item"), ("shop", "order")], ["add_order", "add_item"])
    assert compare_snapshots(both, swapped) == []
    other_grant = _ct_snapshot([("shop", "order"), ("shop", "item")], ["add_order"])
    diffs = compare_snapshots(first, other_grant)
    assert len(diffs) == 1 and "table auth_group_permissions: data differs" in diffs[0]
    assert 'only in squashed: {"group_id": 1, "permission_id": "shop.order.add_order"}' in diffs[0]
