"""Settings of the squasher sample project (``DJANGO_SETTINGS_MODULE=settings``).

Environment:

* ``SAMPLE_APPS_SQLITE`` -- path of the SQLite database (default ``db.sqlite3`` beside
  ``manage.py``).
* ``DATABASE_URL`` -- ``postgres://user:pass@host:port/dbname``: use PostgreSQL instead.
* ``SAMPLE_APPS_WITHOUT_CONFLICT=1`` -- leave ``blog`` (unresolved conflict) and
  ``newsletter`` (depends on blog) out of ``INSTALLED_APPS`` so ``migrate`` runs clean.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "sample-apps-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "accounts",
    "catalog",
    "orders",
    "billing",
    "blog",
    "newsletter",
    # squasher's commands through manage.py (`python manage.py squasher check`): no models,
    # no migrations, no system checks
    "squasher",
]

if os.environ.get("SAMPLE_APPS_WITHOUT_CONFLICT", "") not in ("", "0"):
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in ("blog", "newsletter")]

AUTH_USER_MODEL = "accounts.User"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _database_from_url(url):
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres://)")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": _database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SAMPLE_APPS_SQLITE") or str(BASE_DIR / "db.sqlite3"),
        }
    }
