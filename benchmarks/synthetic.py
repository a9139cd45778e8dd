"""Synthetic Django migration histories, for the benchmarks and the tests (not in the wheel).

Two shapes of the same thing, one generator module:

**Project files** (Django not needed): ``generate_project(root, apps=100, per_app=100, seed=0)``
writes ``apps`` apps (``app000``...) with exactly ``per_app`` migration files each, a
``settings.py`` and a ``manage.py``. The histories look like real ones:

* a main chain per app, each migration with 1-4 operations (CreateModel, AddField,
  AlterField, ForeignKeys to models of other apps, an occasional RunPython);
* cross-app dependencies, always towards apps with a smaller index (so the graph is
  acyclic), and a swappable dependency on ``AUTH_USER_MODEL`` in some apps;
* every 5th app has a merge (two branches joined by a merge migration);
* every 10th app has a squash of its first migrations with ``replaces`` (originals
  kept on disk), depending on the union of their outside dependencies.

The project is importable by Django (``DJANGO_SETTINGS_MODULE=settings`` with the
root on ``sys.path``), so ``MigrationLoader`` can load the same tree.

**Operation lists** (for the optimizer; Django imported when called):
:func:`realistic_history` produces a valid (state-consistent) history of about ``n``
operations for app ``bench``: models are created with a few fields and foreign keys
to earlier models, then fields are added/altered/renamed/removed, indexes and
constraints added and removed, options changed, models renamed and deleted, with
occasional RunPython (half of them only use ``apps.get_model``, half use
``schema_editor``) and RunSQL.  :func:`cubic_history` is Django's worst case: many
irreducible operations followed by reducible pairs.

CLI: ``python benchmarks/synthetic.py ROOT [--apps N] [--per-app M] [--seed S]`` (a project).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- project files

HEADER = "from django.conf import settings\nfrom django.db import migrations, models\nimport django.db.models.deletion\n\n\n"


def _deps_source(deps: list[str]) -> str:
    if not deps:
        return "    dependencies = []\n"
    return "    dependencies = [\n" + "".join(f"        {d},\n" for d in deps) + "    ]\n"


def _migration(deps: list[str], ops: list[str], *, initial: bool = False,
               replaces: list[tuple[str, str]] | None = None) -> str:
    text = HEADER
    if any("RunPython(forwards" in op for op in ops):
        text += "def forwards(apps, schema_editor):\n    pass\n\n\n"
    text += "class Migration(migrations.Migration):\n"
    if initial:
        text += "    initial = True\n"
    if replaces:
        text += "    replaces = [\n" + "".join(f"        {r!r},\n" for r in replaces) + "    ]\n"
    text += _deps_source(deps)
    text += "    operations = [\n" + "".join(f"        {op},\n" for op in ops) + "    ]\n"
    return text


def _ops(rng: random.Random, app: int, step: int, models_by_app: dict[int, list[str]]) -> list[str]:
    ops: list[str] = []
    model = f"Model{app}_{max(step // 10, 0)}"
    if step % 10 == 0:
        ops.append(
            f"migrations.CreateModel(name={model!r}, fields=[('id', models.BigAutoField("
            "auto_created=True, primary_key=True, serialize=False, verbose_name='ID')), "
            "('name', models.CharField(max_length=100))])"
        )
        models_by_app.setdefault(app, []).append(model)
    for i in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.5:
            ops.append(
                f"migrations.AddField(model_name={model.lower()!r}, name='f{step}_{i}', "
                "field=models.IntegerField(default=0))"
            )
        elif kind < 0.8:
            ops.append(
                f"migrations.AlterField(model_name={model.lower()!r}, name='name', "
                f"field=models.CharField(max_length={100 + step}))"
            )
        elif kind < 0.95 and app > 0:
            other = rng.randrange(0, app)
            targets = models_by_app.get(other)
            if targets:
                ops.append(
                    f"migrations.AddField(model_name={model.lower()!r}, name='fk{step}_{i}', "
                    f"field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, "
                    f"to='app{other:03d}.{targets[0].lower()}'))"
                )
        else:
            ops.append("migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)")
    return ops


def generate_project(root: str | Path, apps: int = 100, per_app: int = 100, seed: int = 0) -> Path:
    """Write the synthetic project under ``root`` (created if needed) and return ``root``.

    Every app has exactly ``per_app`` files (``per_app >= 8`` keeps room for the merge
    and squash shapes; smaller values give plain chains).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    labels = [f"app{i:03d}" for i in range(apps)]
    (root / "settings.py").write_text(
        "SECRET_KEY = 'synthetic'\n"
        "INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes',\n"
        + "".join(f"    {label!r},\n" for label in labels)
        + "]\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}\n"
        "DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'\nUSE_TZ = True\n"
    )
    (root / "manage.py").write_text(
        "#!/usr/bin/env python\nimport os\nimport sys\n\nif __name__ == '__main__':\n"
        "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
        "    from django.core.management import execute_from_command_line\n"
        "    execute_from_command_line(sys.argv)\n"
    )
    models_by_app: dict[int, list[str]] = {}
    names_by_app: dict[int, list[str]] = {}
    for index, label in enumerate(labels):
        app_dir = root / label
        mig_dir = app_dir / "migrations"
        mig_dir.mkdir(parents=True, exist_ok=True)
        (app_dir / "__init__.py").write_text("")
        (app_dir / "models.py").write_text("")
        (mig_dir / "__init__.py").write_text("")
        has_merge = per_app >= 8 and index % 5 == 4
        has_squash = per_app >= 8 and index % 10 == 9
        chain_len = per_app - (2 if has_merge else 0) - (1 if has_squash else 0)
        files: dict[str, str] = {}
        names: list[str] = []
        outside: dict[str, list[str]] = {}
        merge_at = chain_len // 2 if has_merge else -1
        prev: list[str] = []
        step = 0
        for n in range(1, chain_len + 1):
            name = f"{len(files) + 1:04d}_auto_{n}"
            deps = [repr((label, p)) for p in prev]
            external: list[str] = []
            if n == 1 and index % 7 == 3:
                external.append("migrations.swappable_dependency(settings.AUTH_USER_MODEL)")
            if index > 0 and rng.random() < 0.15:
                other = rng.randrange(0, index)
                other_names = names_by_app.get(other, [])
                if other_names:
                    external.append(repr((labels[other], rng.choice(other_names))))
            ops = _ops(rng, index, step, models_by_app)
            step += 1
            files[name] = _migration(deps + external, ops, initial=n == 1)
            outside[name] = external
            names.append(name)
            prev = [name]
            if n == merge_at:
                # Two branches from here, joined by a merge migration.
                a = f"{len(files) + 1:04d}_branch_a"
                files[a] = _migration([repr((label, name))], _ops(rng, index, step, models_by_app))
                b = f"{len(files) + 1:04d}_branch_b"
                files[b] = _migration([repr((label, name))], _ops(rng, index, step + 1, models_by_app))
                step += 2
                names += [a, b]
                prev = [a, b]
        if has_squash:
            count = min(5, len(names) // 2)
            replaced = names[:count]
            ext = sorted({d for r in replaced for d in outside.get(r, [])})
            squash = f"{replaced[0][:4]}_squashed_{replaced[-1]}"
            ops = [op for r in replaced for op in [_squash_ops(files[r])] if op]
            files[squash] = _migration(ext, ops or ["migrations.RunPython(migrations.RunPython.noop)"],
                                       initial=True, replaces=[(label, r) for r in replaced])
        for name, text in files.items():
            (mig_dir / f"{name}.py").write_text(text)
        names_by_app[index] = [n for n in names if "branch" not in n]
    return root


def _squash_ops(source: str) -> str:
    """The operations of a generated migration, joined (good enough for a synthetic squash)."""
    body = source.split("    operations = [\n", 1)[1].rsplit("    ]\n", 1)[0]
    lines = [line.strip().rstrip(",") for line in body.splitlines() if line.strip()]
    return ",\n        ".join(line for line in lines if "RunPython(forwards" not in line)


# --------------------------------------------------------------------------- operation lists

APP = "bench"


def backfill_m1(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Data migration that only reaches M1 through apps.get_model."""
    model = apps.get_model("bench", "M1")
    for obj in model.objects.using(schema_editor.connection.alias).all():
        obj.save()


def backfill_m3(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Data migration that only reaches M3 through apps.get_model."""
    model = apps.get_model("bench", "M3")
    db_alias = schema_editor.connection.alias
    model.objects.using(db_alias).filter(pk__gt=0).update()


def raw_fix(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Data migration using the schema editor: a full barrier."""
    schema_editor.execute("SELECT 1")


@dataclass
class _Model:
    name: str
    fields: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    indexed: dict[str, str] = field(default_factory=dict)  # index name -> field
    unique: set[str] = field(default_factory=set)  # fields in unique_together


def _plain(rng: random.Random) -> Any:
    from django.db import models

    kind = rng.randrange(3)
    if kind == 0:
        return models.IntegerField(default=rng.randrange(100))
    if kind == 1:
        return models.CharField(max_length=rng.choice([20, 50, 100]), default="")
    return models.BooleanField(default=rng.random() < 0.5)


def realistic_history(n: int, seed: int = 0) -> list[Any]:
    """A valid history of ``n`` operations (see module docstring)."""
    from django.db import migrations, models

    rng = random.Random(seed)
    live: dict[str, _Model] = {}
    targets: set[str] = set()  # current names of models some relation points to
    touched: list[str] = []  # models in the order they were last worked on
    out: list[Any] = []
    counter = 0

    def new_name(prefix: str) -> str:
        nonlocal counter
        counter += 1
        return f"{prefix}{counter}"

    def create() -> None:
        name = f"M{len(live) + 1}" if f"M{len(live) + 1}" not in live else new_name("M")
        fields: list[tuple[str, Any]] = [("id", models.AutoField(primary_key=True))]
        model = _Model(name, ["id"])
        for _ in range(rng.randrange(1, 4)):
            fname = new_name("f")
            fields.append((fname, _plain(rng)))
            model.fields.append(fname)
        if live and rng.random() < 0.5:
            target = rng.choice(sorted(live))
            fname = new_name("fk")
            fields.append((fname, models.ForeignKey(f"{APP}.{target}", models.CASCADE, null=True)))
            model.fields.append(fname)
            targets.add(target)
        live[name] = model
        touched.append(name)
        out.append(migrations.CreateModel(name, fields))

    while len(out) < n:
        if not live or rng.random() < 0.08:
            create()
            continue
        # real histories work on a few models at a time (a feature's migrations)
        recent = [n for n in reversed(touched) if n in live][:3]
        if recent and rng.random() < 0.6:
            m = live[rng.choice(recent)]
        else:
            m = live[rng.choice(sorted(live))]
        touched.append(m.name)
        others = [f for f in m.fields if f != "id"]
        roll = rng.random()
        if roll < 0.25:
            fname = new_name("f")
            if rng.random() < 0.2 and len(live) > 1:
                target = rng.choice(sorted(live))
                fld: Any = models.ForeignKey(f"{APP}.{target}", models.SET_NULL, null=True)
                targets.add(target)
            else:
                fld = _plain(rng)
            pd = not (isinstance(fld, models.IntegerField) and rng.random() < 0.3)
            out.append(migrations.AddField(m.name, fname, fld, preserve_default=pd))
            m.fields.append(fname)
        elif roll < 0.45 and others:
            fname = rng.choice(others)
            out.append(migrations.AlterField(m.name, fname, _plain(rng)))
        elif roll < 0.50 and [f for f in others if f not in m.indexed.values()]:
            old = rng.choice([f for f in others if f not in m.indexed.values()])
            new = new_name("r")
            out.append(migrations.RenameField(m.name, old, new))
            m.fields[m.fields.index(old)] = new
            if old in m.unique:
                m.unique = (m.unique - {old}) | {new}
        elif roll < 0.56 and others:
            fname = rng.choice(others)
            for iname in [i for i, f in m.indexed.items() if f == fname]:
                out.append(migrations.RemoveIndex(m.name, iname))
                m.indexes.remove(iname)
                del m.indexed[iname]
            if fname in m.unique:
                out.append(migrations.AlterUniqueTogether(m.name, set()))
                m.unique = set()
            out.append(migrations.RemoveField(m.name, fname))
            m.fields.remove(fname)
        elif roll < 0.63 and others:
            iname = new_name("idx")
            fname = rng.choice(others)
            out.append(migrations.AddIndex(m.name, models.Index(fields=[fname], name=iname)))
            m.indexes.append(iname)
            m.indexed[iname] = fname
        elif roll < 0.66 and m.indexes:
            iname = m.indexes.pop()
            del m.indexed[iname]
            out.append(migrations.RemoveIndex(m.name, iname))
        elif roll < 0.70:
            cname = new_name("ck")
            out.append(
                migrations.AddConstraint(
                    m.name, models.CheckConstraint(**{_check_kw(): models.Q(id__gte=0)}, name=cname)
                )
            )
            m.constraints.append(cname)
        elif roll < 0.72 and m.constraints:
            out.append(migrations.RemoveConstraint(m.name, m.constraints.pop()))
        elif roll < 0.78:
            out.append(migrations.AlterModelOptions(m.name, {"verbose_name": new_name("v")}))
        elif roll < 0.80 and len(others) >= 2:
            pair = tuple(rng.sample(others, 2))
            out.append(migrations.AlterUniqueTogether(m.name, {pair}))
            m.unique = set(pair)
        elif roll < 0.82:
            out.append(migrations.AlterUniqueTogether(m.name, set()))
            m.unique = set()
        elif roll < 0.84 and m.name not in {"M1", "M3"}:
            new = new_name("N")
            out.append(migrations.RenameModel(m.name, new))
            del live[m.name]
            if m.name in targets:
                targets.add(new)
            m.name = new
            live[new] = m
            touched.append(new)
        elif roll < 0.86 and len(live) > 3 and m.name not in targets | {"M1", "M3"}:
            out.append(migrations.DeleteModel(m.name))
            del live[m.name]
        elif roll < 0.875 and "M1" in live:
            out.append(migrations.RunPython(backfill_m1, migrations.RunPython.noop))
        elif roll < 0.89 and "M3" in live:
            out.append(migrations.RunPython(backfill_m3))
        elif roll < 0.895:
            out.append(migrations.RunPython(raw_fix))
        elif roll < 0.90:
            out.append(migrations.RunSQL("SELECT 1", "SELECT 1"))
        else:
            fname = rng.choice(others) if others else None
            if fname:
                out.append(migrations.AlterField(m.name, fname, _plain(rng)))
    return out[:n]


def _check_kw() -> str:
    import django

    return "condition" if django.VERSION >= (5, 1) else "check"


def cubic_history(n: int, pairs: int = 50) -> list[Any]:
    """``n - 2*pairs`` irreducible operations, then ``pairs`` reducible pairs.

    The irreducible part alters one field on each of many models that exist before the
    range (``from_state`` of :func:`cubic_from_state`); the pairs add and alter a field
    on other pre-existing models.
    """
    from django.db import migrations, models

    irreducible = max(n - 2 * pairs, 0)
    out: list[Any] = []
    for i in range(irreducible):
        out.append(migrations.AlterField(f"P{i}", "value", models.IntegerField(default=i)))
    for i in range(pairs):
        out.append(migrations.AddField(f"Q{i}", "extra", models.IntegerField(default=0)))
    for i in range(pairs):
        out.append(migrations.AlterField(f"Q{i}", "extra", models.IntegerField(default=1)))
    return out[:n] if n >= 2 * pairs else out[: n - n % 2]


def cubic_from_state(n: int, pairs: int = 50):  # type: ignore[no-untyped-def]
    """The ``ProjectState`` the cubic history starts from."""
    from django.db import models
    from django.db.migrations.state import ModelState, ProjectState

    state = ProjectState()
    for name in [*(f"P{i}" for i in range(max(n - 2 * pairs, 0))), *(f"Q{i}" for i in range(pairs))]:
        state.add_model(
            ModelState(APP, name, [("id", models.AutoField(primary_key=True)),
                                   ("value", models.IntegerField(default=0))])
        )
    return state


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic Django project with many migrations.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--per-app", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    generate_project(args.root, args.apps, args.per_app, args.seed)
    total = sum(1 for _ in args.root.glob("*/migrations/0*.py"))
    print(f"{total} migrations in {args.apps} apps under {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
