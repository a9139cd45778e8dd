"""A tiny Django project with a hand-written squash, for the verification tests.

``make_project(path, squash=...)`` writes ``manage.py``, ``tinysite/settings.py`` and an app
``shop`` with four migrations (create models, add a field and an index, a data migration,
a unique field) plus ``0001_squashed_0004_product_sku`` replacing them, and ``0005`` written
after the squash (it depends on the squash by name, as makemigrations would write it).
``squash`` picks a correct squash (``"good"``) or a deliberately wrong one.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SETTINGS = '''
SECRET_KEY = "test"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
'''

MANAGE = '''
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

MODELS = '''
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=50)


class Product(models.Model):
    name = models.CharField(max_length=200)
    category = models.ForeignKey(Category, models.CASCADE)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    sku = models.CharField(max_length=20, unique=True, null=True)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["name"], name="shop_product_name_idx")]
'''

M0001 = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Category", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("name", models.CharField(max_length=50)),
        ]),
        migrations.CreateModel("Product", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("name", models.CharField(max_length=100)),
            ("category", models.ForeignKey(on_delete=models.deletion.CASCADE, to="shop.category")),
        ]),
    ]
'''

M0002 = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddField("product", "price", models.DecimalField(max_digits=8, decimal_places=2, default=0)),
        migrations.AddIndex("product", models.Index(fields=["name"], name="shop_product_name_idx")),
    ]
'''

M0003 = '''
from django.db import migrations


def seed(apps, schema_editor):
    Category = apps.get_model("shop", "Category")
    for name in ("books", "music"):
        Category.objects.create(name=name)


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_product_price")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
'''

M0004 = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_seed")]
    operations = [
        migrations.AddField("product", "sku", models.CharField(max_length=20, unique=True, null=True)),
        migrations.AlterField("product", "name", models.CharField(max_length=200)),
    ]
'''

M0005 = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_squashed_0004_product_sku")]
    operations = [migrations.AddField("product", "active", models.BooleanField(default=True))]
'''

SQUASH_TEMPLATE = '''
from django.db import migrations, models


def seed(apps, schema_editor):
    Category = apps.get_model("shop", "Category")
    for name in ("books", "music"):
        Category.objects.create(name=name)


class Migration(migrations.Migration):
    replaces = [("shop", "0001_initial"), ("shop", "0002_product_price"), ("shop", "0003_seed"),
                ("shop", "0004_product_sku")]
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Category", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("name", models.CharField(max_length=50)),
        ]),
        migrations.CreateModel("Product", [
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("name", models.CharField(max_length=200)),
            ("category", models.ForeignKey(on_delete=models.deletion.CASCADE, to="shop.category")),
            ("price", models.DecimalField(max_digits=8, decimal_places=2, default=0)),
            #SKU ("sku", models.CharField(max_length=20, unique=True, null=True)),
        ]),
        #INDEX migrations.AddIndex("product", models.Index(fields=["name"], name="shop_product_name_idx")),
        #SEED migrations.RunPython(seed, migrations.RunPython.noop),
    ]
'''

SQUASHES = {
    "good": {"INDEX": True, "SEED": True, "SKU": True},
    "no_index": {"INDEX": False, "SEED": True, "SKU": True},
    "no_seed": {"INDEX": True, "SEED": False, "SKU": True},
    "no_sku": {"INDEX": True, "SEED": True, "SKU": False},
}

SQUASH_NAME = "0001_squashed_0004_product_sku"


def squash_source(kind: str = "good") -> str:
    source = SQUASH_TEMPLATE
    for marker, keep in SQUASHES[kind].items():
        source = source.replace(f"#{marker} ", "" if keep else "# dropped: ")
    return textwrap.dedent(source).lstrip()


def write_files(path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return path


def make_project(path: Path, squash: str = "good", settings: str = SETTINGS) -> Path:
    files = {
        "manage.py": MANAGE,
        "tinysite/__init__.py": "",
        "tinysite/settings.py": settings,
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/migrations/__init__.py": "",
        "shop/migrations/0001_initial.py": M0001,
        "shop/migrations/0002_product_price.py": M0002,
        "shop/migrations/0003_seed.py": M0003,
        "shop/migrations/0004_product_sku.py": M0004,
        "shop/migrations/0005_product_active.py": M0005,
    }
    write_files(path, files)
    (path / "shop/migrations" / f"{SQUASH_NAME}.py").write_text(squash_source(squash))
    return path
