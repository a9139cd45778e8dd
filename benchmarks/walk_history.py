"""A second, independent history generator: a seeded random walk over a live model state.

``walk_history(n_ops, seed=0, app_label="app")`` returns exactly ``n_ops`` Django
``Operation`` objects (built directly, never rendered to source) that apply, one after the
other, to an empty ``ProjectState`` without error.  It was written separately from
``benchmarks/synthetic.py`` and walks differently, the way a developer's app
evolves over months of work:

* **long-lived core models** (``Account``, ``Workspace``, ``Ticket``) are created early,
  are never renamed or deleted, attract most relations and get edited again and again
  for the whole history;
* work comes in **sessions**: a burst of several consecutive edits to one model (add a
  field, tweak it twice, index it, rename it, drop a stale one); a new model created and
  polished right away; a cross-cutting change applied to many models in a row (the same
  option or field everywhere); a refactoring (``RenameModel``, whose new name every
  relation held in the walk's state follows, and ``RenameField``); a data migration in
  the "add nullable field → ``RunPython`` backfill → make it non-null" pattern;
* **churn**: short-lived feature models are created, used and retired again — their
  incoming relations are removed first, so ``DeleteModel`` only ever deletes a model
  nothing else points to;
* relations of every kind: ``ForeignKey``/``OneToOneField`` to older models, self
  foreign keys (``parent``), ``ManyToManyField`` (to others and to itself), non-null
  foreign keys added with a one-off default (``preserve_default=False``);
* indexes (added, renamed with ``RenameIndex``, removed), check and unique constraints,
  ``unique_together``, model options (ordering, verbose names, permissions), and
  ``RunPython`` (reading core models through ``apps.get_model`` only, or using the schema
  editor; some elidable) and ``RunSQL`` (some elidable, a few with ``state_operations``).

Every field object is built fresh for each operation (Django's state code mutates field
objects), and model, field, index and constraint names are never reused.  The
``RunPython`` functions look models up in app ``"app"`` (the default ``app_label``); with
another label they are opaque to squasher's RunPython reader, i.e. full barriers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

import django
from django.db import migrations, models
from django.db.migrations.operations.base import Operation

CORE = ("Account", "Workspace", "Ticket")
MODEL_WORDS = ("Invoice", "Comment", "Tag", "Report", "Export", "Webhook", "Plan", "Audit",
               "Draft", "Import", "Badge", "Quota", "Note", "Label", "Digest", "Session")
FIELD_WORDS = ("title", "status", "amount", "slug", "score", "notes", "kind", "rank",
               "count", "flag", "code", "label", "total", "stamp", "level", "body")
PLAIN_KINDS = ("int", "bigint", "char", "text", "bool", "decimal", "datetime", "slug")
RELATION_KINDS = ("fk", "o2o", "m2m")


# --- data migrations (module level, so squasher's RunPython reader can inspect them) ----

def backfill_accounts(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Touches Account only, through apps.get_model."""
    account = apps.get_model("app", "Account")
    account.objects.using(schema_editor.connection.alias).filter(pk__gt=0).update()


def sync_ticket_workspaces(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Reads Workspace, writes Ticket."""
    workspace = apps.get_model("app", "Workspace")
    ticket = apps.get_model("app", "Ticket")
    for ws in workspace.objects.all():
        ticket.objects.filter(pk=ws.pk).exists()


def backfill_tickets(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Touches Ticket only."""
    ticket = apps.get_model("app.Ticket")
    ticket.objects.all().update()


def raw_cleanup(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Uses the schema editor: a barrier for every model."""
    schema_editor.execute("SELECT 1")


BACKFILLS = {"Account": backfill_accounts, "Workspace": sync_ticket_workspaces,
             "Ticket": backfill_tickets}


# --- the walk's own view of the state ---------------------------------------------------

@dataclass
class _Field:
    kind: str
    kw: dict = field(default_factory=dict)
    target: str | None = None  # current model name for relations


@dataclass
class _Model:
    name: str
    core: bool
    fields: dict[str, _Field] = field(default_factory=dict)  # without the primary key
    indexes: dict[str, list[str]] = field(default_factory=dict)  # name -> fields
    constraints: dict[str, list[str]] = field(default_factory=dict)  # name -> fields
    together: list[tuple[str, ...]] = field(default_factory=list)

    def pinned(self) -> set[str]:
        """Fields an index or constraint names (RenameField would leave them stale)."""
        out = {f for fs in self.indexes.values() for f in fs}
        out |= {f for fs in self.constraints.values() for f in fs}
        return out

    def plain(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.kind not in RELATION_KINDS]

    def concrete(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.kind != "m2m"]


def _condition_kw() -> str:
    return "condition" if django.VERSION >= (5, 1) else "check"


class _Walk:
    def __init__(self, seed: int, app_label: str) -> None:
        self.rng = random.Random(seed)
        self.app = app_label
        self.ops: list[Operation] = []
        self.models: dict[str, _Model] = {}
        self.counter = 0
        self.recent: list[str] = []  # models in the order they were last worked on

    # -- helpers --------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, op: Operation) -> None:
        self.ops.append(op)

    def ref(self, name: str) -> str:
        return f"{self.app}.{name.lower()}"

    def build(self, spec: _Field, preserve_default: bool = True) -> models.Field:
        """A fresh field object for ``spec`` (plus a one-off default when not preserved)."""
        kw = dict(spec.kw)
        kind = spec.kind
        if kind == "fk":
            on_delete = kw.pop("on_delete", models.CASCADE)
            if not preserve_default:
                kw["default"] = 1
            return models.ForeignKey(self.ref(spec.target or ""), on_delete, **kw)
        if kind == "o2o":
            return models.OneToOneField(self.ref(spec.target or ""), kw.pop("on_delete"), **kw)
        if kind == "m2m":
            return models.ManyToManyField(self.ref(spec.target or ""), **kw)
        if not preserve_default:
            kw["default"] = {"int": 0, "bigint": 0, "char": "", "text": "", "bool": False,
                             "decimal": Decimal("0"), "slug": "x"}.get(kind, 0)
        cls = {"int": models.IntegerField, "bigint": models.BigIntegerField,
               "char": models.CharField, "text": models.TextField,
               "bool": models.BooleanField, "decimal": models.DecimalField,
               "datetime": models.DateTimeField, "slug": models.SlugField}[kind]
        return cls(**kw)

    def plain_spec(self) -> _Field:
        rng = self.rng
        kind = rng.choice(PLAIN_KINDS)
        kw: dict = {}
        if kind in ("int", "bigint"):
            kw["default"] = rng.choice([0, 1, 10])
        elif kind == "char":
            kw["max_length"] = rng.choice([32, 64, 128, 255])
            kw["blank"] = rng.random() < 0.5
        elif kind == "text":
            kw["blank"] = True
        elif kind == "bool":
            kw["default"] = rng.random() < 0.3
        elif kind == "decimal":
            kw.update(max_digits=rng.choice([8, 12]), decimal_places=2, default=Decimal("0"))
        elif kind == "datetime":
            if rng.random() < 0.5:
                kw["auto_now_add"] = True
            else:
                kw["null"] = True
        elif kind == "slug":
            kw["max_length"] = 50
            kw["unique"] = rng.random() < 0.3
        if kind not in ("datetime", "text") and rng.random() < 0.15:
            kw["db_index"] = True
        return _Field(kind, kw)

    def relation_spec(self, owner: str, kind: str | None = None, target: str | None = None) -> _Field:
        rng = self.rng
        kind = kind or rng.choices(RELATION_KINDS, weights=[7, 1, 2])[0]
        if target is None:
            target = self.pick_target(owner)
        kw: dict = {}
        if kind in ("fk", "o2o"):
            nullable = target == owner or rng.random() < 0.6
            kw["on_delete"] = (models.SET_NULL if nullable and rng.random() < 0.5
                               else models.CASCADE)
            if nullable:
                kw.update(null=True, blank=True)
            if rng.random() < 0.4:
                kw["related_name"] = self.fresh("rel_") if target != owner else "children"
        else:
            kw["blank"] = True
            if rng.random() < 0.4:
                kw["related_name"] = self.fresh("m2m_")
        return _Field(kind, kw, target)

    def pick_target(self, owner: str) -> str:
        names = sorted(self.models)
        if not names:
            return owner
        weights = [6.0 if self.models[n].core else 1.0 for n in names]
        return self.rng.choices(names, weights=weights)[0]

    def field_name(self, word: str | None = None) -> str:
        return self.fresh((word or self.rng.choice(FIELD_WORDS)) + "_")

    def pick_model(self) -> _Model:
        """Core models and recently worked-on ones are much more likely."""
        names = sorted(self.models)
        hot = set(self.recent[-4:])
        weights = [(4.0 if self.models[n].core else 1.0) * (3.0 if n in hot else 1.0)
                   for n in names]
        return self.models[self.rng.choices(names, weights=weights)[0]]

    def touch(self, m: _Model) -> None:
        self.recent.append(m.name)
        del self.recent[:-20]

    def incoming(self, name: str) -> list[tuple[_Model, str]]:
        return [(m, f) for m in self.models.values() if m.name != name
                for f, spec in m.fields.items() if spec.target == name]

    # -- model-level operations -----------------------------------------------------------

    def create(self, name: str | None = None) -> _Model:
        rng = self.rng
        core = name is not None
        name = name or self.fresh(rng.choice(MODEL_WORDS))
        m = _Model(name, core)
        for _ in range(rng.randint(1, 5)):
            m.fields[self.field_name()] = self.plain_spec()
        if self.models:
            for _ in range(rng.choices([0, 1, 2], weights=[3, 5, 2])[0]):
                m.fields[self.field_name("ref")] = self.relation_spec(name)
        if rng.random() < 0.15:
            m.fields["parent"] = self.relation_spec(name, "fk", name)
        if rng.random() < 0.1:
            m.fields[self.field_name("peers")] = self.relation_spec(name, "m2m", name)
        fields = [("id", models.BigAutoField(auto_created=True, primary_key=True,
                                             serialize=False, verbose_name="ID"))]
        fields += [(f, self.build(spec)) for f, spec in m.fields.items()]
        options: dict = {}
        if rng.random() < 0.3:
            options["ordering"] = [rng.choice(["-id", "id"])]
        if rng.random() < 0.2:
            options["verbose_name"] = name.lower()
        self.emit(migrations.CreateModel(name, fields, options=options))
        self.models[name] = m
        self.touch(m)
        return m

    def rename_model(self, m: _Model) -> None:
        base = m.name.rstrip("0123456789")
        new = self.fresh(base + "V" if self.rng.random() < 0.5 else self.rng.choice(MODEL_WORDS))
        self.emit(migrations.RenameModel(m.name, new))
        old = m.name
        del self.models[old]
        m.name = new
        self.models[new] = m
        for other in self.models.values():
            for spec in other.fields.values():
                if spec.target == old:
                    spec.target = new
        self.recent = [new if r == old else r for r in self.recent]

    def retire(self, m: _Model) -> None:
        """Remove every relation pointing to ``m``, then delete it."""
        for other, fname in self.incoming(m.name):
            self.remove_field(other, fname)
        self.emit(migrations.DeleteModel(m.name))
        del self.models[m.name]
        self.recent = [r for r in self.recent if r != m.name]

    # -- field-level operations -----------------------------------------------------------

    def add_field(self, m: _Model) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25 and len(self.models) > 1:
            spec = self.relation_spec(m.name)
            if spec.kind == "fk" and not spec.kw.get("null") and rng.random() < 0.7:
                # a non-null FK on existing rows: makemigrations asks for a one-off default
                self.add(m, self.field_name("ref"), spec, preserve_default=False)
                return
            self.add(m, self.field_name("ref"), spec)
        elif roll < 0.3 and "parent" not in m.fields:
            self.add(m, "parent", self.relation_spec(m.name, "fk", m.name))
        else:
            spec = self.plain_spec()
            one_off = (spec.kind in ("int", "char", "bool", "decimal", "slug")
                       and rng.random() < 0.3)
            if one_off:
                spec.kw.pop("default", None)
            self.add(m, self.field_name(), spec, preserve_default=not one_off)

    def add(self, m: _Model, name: str, spec: _Field, preserve_default: bool = True) -> None:
        self.emit(migrations.AddField(m.name, name, self.build(spec, preserve_default),
                                      preserve_default=preserve_default))
        m.fields[name] = spec

    def alter_field(self, m: _Model) -> None:
        rng = self.rng
        names = [f for f in m.concrete() if f not in m.pinned()] or m.concrete()
        if not names:
            return self.add_field(m)
        fname = rng.choice(names)
        spec = m.fields[fname]
        kw = dict(spec.kw)
        kind = spec.kind
        if kind in ("fk", "o2o"):
            choice = rng.randrange(3)
            if choice == 0 and spec.target != m.name:
                kw["null"] = not kw.get("null", False)
                kw["blank"] = kw["null"]
                if not kw["null"]:
                    kw["on_delete"] = models.CASCADE
            elif choice == 1:
                kw["on_delete"] = (models.PROTECT if kw.get("on_delete") is models.CASCADE
                                   else models.CASCADE)
            else:
                kw["related_name"] = self.fresh("rel_")
        else:
            choice = rng.randrange(4)
            if choice == 0 and kind in ("char", "slug"):
                kw["max_length"] = rng.choice([64, 100, 200, 255, 512])
            elif choice == 1 and kind in ("int", "bigint", "bool"):
                kw["default"] = (not kw.get("default") if kind == "bool"
                                 else rng.choice([0, 1, 5, 100]))
            elif choice == 2 and kind == "int" and rng.random() < 0.5:
                kind = "bigint"
            elif choice == 2:
                kw["help_text"] = self.fresh("help ")
            elif not kw.get("unique"):
                kw["db_index"] = not kw.get("db_index", False)
            else:
                kw["null"] = not kw.get("null", False)
        if kind == "datetime" and kw.get("auto_now_add") and kw.get("null"):
            kw.pop("null")
        new = _Field(kind, kw, spec.target)
        self.emit(migrations.AlterField(m.name, fname, self.build(new)))
        m.fields[fname] = new

    def rename_field(self, m: _Model) -> None:
        pinned = m.pinned()
        names = [f for f in m.fields if f not in pinned]
        if not names:
            return self.alter_field(m)
        old = self.rng.choice(names)
        new = self.field_name(old.split("_")[0] if old != "parent" else "parent")
        self.emit(migrations.RenameField(m.name, old, new))
        m.fields = {(new if k == old else k): v for k, v in m.fields.items()}
        # Django's RenameField rewrites unique_together itself
        m.together = [tuple(new if f == old else f for f in t) for t in m.together]

    def remove_field(self, m: _Model, fname: str | None = None) -> None:
        if fname is None:
            if len(m.fields) < 2:
                return self.add_field(m)
            fname = self.rng.choice(sorted(m.fields))
        for iname in [i for i, fs in m.indexes.items() if fname in fs]:
            self.emit(migrations.RemoveIndex(m.name, iname))
            del m.indexes[iname]
        for cname in [c for c, fs in m.constraints.items() if fname in fs]:
            self.emit(migrations.RemoveConstraint(m.name, cname))
            del m.constraints[cname]
        if any(fname in t for t in m.together):
            m.together = [t for t in m.together if fname not in t]
            self.emit(migrations.AlterUniqueTogether(m.name, set(m.together)))
        self.emit(migrations.RemoveField(m.name, fname))
        del m.fields[fname]

    # -- options, indexes, constraints ----------------------------------------------------

    def add_index(self, m: _Model) -> None:
        names = m.concrete()
        if not names:
            return self.add_field(m)
        cols = self.rng.sample(names, min(len(names), self.rng.choice([1, 1, 2])))
        iname = self.fresh("ix") + "_" + cols[0][:12]
        self.emit(migrations.AddIndex(m.name, models.Index(fields=cols, name=iname)))
        m.indexes[iname] = cols

    def remove_index(self, m: _Model) -> None:
        if not m.indexes:
            return self.add_index(m)
        iname = self.rng.choice(sorted(m.indexes))
        self.emit(migrations.RemoveIndex(m.name, iname))
        del m.indexes[iname]

    def rename_index(self, m: _Model) -> None:
        if not m.indexes:
            return self.add_index(m)
        old = self.rng.choice(sorted(m.indexes))
        new = self.fresh("ix") + "_" + m.indexes[old][0][:12]
        self.emit(migrations.RenameIndex(m.name, new_name=new, old_name=old))
        m.indexes[new] = m.indexes.pop(old)

    def add_constraint(self, m: _Model) -> None:
        numeric = [f for f in m.plain() if m.fields[f].kind in ("int", "bigint", "decimal")]
        if numeric and self.rng.random() < 0.6:
            f = self.rng.choice(numeric)
            cname = self.fresh("ck") + "_" + f[:12]
            constraint: models.BaseConstraint = models.CheckConstraint(
                **{_condition_kw(): models.Q(**{f"{f}__gte": 0})}, name=cname)
            cols = [f]
        else:
            names = m.concrete()
            if not names:
                return self.add_field(m)
            cols = self.rng.sample(names, min(len(names), 2))
            cname = self.fresh("uq") + "_" + cols[0][:12]
            constraint = models.UniqueConstraint(fields=cols, name=cname)
        self.emit(migrations.AddConstraint(m.name, constraint))
        m.constraints[cname] = cols

    def remove_constraint(self, m: _Model) -> None:
        if not m.constraints:
            return self.add_constraint(m)
        cname = self.rng.choice(sorted(m.constraints))
        self.emit(migrations.RemoveConstraint(m.name, cname))
        del m.constraints[cname]

    def alter_options(self, m: _Model) -> None:
        rng = self.rng
        options = rng.choice([
            {"ordering": ["-id"]},
            {"ordering": ["id"], "verbose_name": m.name.lower()},
            {"verbose_name": self.fresh("item "), "verbose_name_plural": self.fresh("items ")},
            {"permissions": [(self.fresh("export_"), "Can export")]},
            {"get_latest_by": "id"},
            {},
        ])
        self.emit(migrations.AlterModelOptions(m.name, options))

    def alter_together(self, m: _Model) -> None:
        names = m.concrete()
        if len(names) >= 2 and (not m.together or self.rng.random() < 0.6):
            m.together = [tuple(self.rng.sample(names, 2))]
        else:
            m.together = []
        self.emit(migrations.AlterUniqueTogether(m.name, set(m.together)))

    # -- data migrations ------------------------------------------------------------------

    def run_python(self, model: str | None = None) -> None:
        rng = self.rng
        live = [c for c in CORE if c in self.models]
        if model in BACKFILLS and rng.random() < 0.8:
            code = BACKFILLS[model]
        elif live and rng.random() < 0.75:
            code = BACKFILLS[rng.choice(live)]
        else:
            code = raw_cleanup
        if code is sync_ticket_workspaces and not {"Workspace", "Ticket"} <= set(live):
            code = raw_cleanup
        self.emit(migrations.RunPython(code, migrations.RunPython.noop,
                                       elidable=rng.random() < 0.4))

    def run_sql(self) -> None:
        rng = self.rng
        m = self.pick_model()
        table = f"{self.app}_{m.name.lower()}"
        if rng.random() < 0.25:
            # a column added by hand, told to the state through state_operations
            fname = self.field_name("legacy")
            spec = _Field("int", {"null": True})
            self.emit(migrations.RunSQL(
                f"ALTER TABLE {table} ADD COLUMN {fname} integer NULL",
                f"ALTER TABLE {table} DROP COLUMN {fname}",
                state_operations=[migrations.AddField(m.name, fname, self.build(spec))]))
            m.fields[fname] = spec
            return
        self.emit(migrations.RunSQL(f"UPDATE {table} SET id = id", migrations.RunSQL.noop,
                                    elidable=rng.random() < 0.3))

    # -- sessions -------------------------------------------------------------------------

    EDITS = ("add_field", "alter_field", "rename_field", "remove_field", "add_index",
             "remove_index", "rename_index", "add_constraint", "remove_constraint",
             "alter_options", "alter_together")
    EDIT_WEIGHTS = (24, 26, 6, 8, 6, 3, 3, 4, 3, 7, 4)

    def edit(self, m: _Model) -> None:
        kind = self.rng.choices(self.EDITS, weights=self.EDIT_WEIGHTS)[0]
        getattr(self, kind)(m)
        self.touch(m)

    def burst(self, m: _Model, size: int) -> None:
        for _ in range(size):
            if m.name not in self.models:
                return
            self.edit(m)

    def burst_size(self, mean: float) -> int:
        # geometric number of edits, >= 1: long tails of heavy editing happen
        size = 1
        while self.rng.random() > 1 / mean and size < 25:
            size += 1
        return size

    def session(self) -> None:
        rng = self.rng
        missing_core = [c for c in CORE if c not in self.models]
        if missing_core and (not self.models or rng.random() < 0.3):
            self.burst(self.create(missing_core[0]), rng.randint(0, 3))
            return
        roll = rng.random()
        short_lived = [m for m in self.models.values() if not m.core]
        if roll < 0.12 or not self.models:
            # a new feature model, polished right away
            self.burst(self.create(), self.burst_size(2.5) - 1)
        elif roll < 0.57:
            self.burst(self.pick_model(), self.burst_size(5.0))
        elif roll < 0.65 and short_lived:
            # churn: an older feature model is dropped (its incoming relations first)
            old = sorted(short_lived, key=lambda m: self.recent.count(m.name))
            self.retire(old[0] if rng.random() < 0.6 else rng.choice(short_lived))
        elif roll < 0.70 and short_lived:
            m = rng.choice(short_lived)
            self.rename_model(m)
            if rng.random() < 0.5:
                self.rename_field(m)
        elif roll < 0.78:
            # cross-cutting change: the same kind of edit over several models in a row
            kind = rng.choice(["alter_options", "add_field", "alter_field", "add_index"])
            names = sorted(self.models)
            for name in rng.sample(names, min(len(names), rng.randint(2, 8))):
                getattr(self, kind)(self.models[name])
        elif roll < 0.85:
            # data migration: add nullable, backfill, then make it required
            live = [self.models[c] for c in CORE if c in self.models]
            m = rng.choice(live) if live else self.pick_model()
            fname = self.field_name()
            spec = _Field("int", {"null": True})
            self.add(m, fname, spec)
            self.run_python(m.name)
            if rng.random() < 0.7:
                m.fields[fname] = _Field("int", {"default": 0})
                self.emit(migrations.AlterField(m.name, fname, self.build(m.fields[fname])))
        elif roll < 0.91:
            self.run_python()
        elif roll < 0.93:
            self.run_sql()
        else:
            # a lone edit on a model nobody worked on lately
            self.edit(self.models[rng.choice(sorted(self.models))])


def walk_history(n_ops: int, seed: int = 0, app_label: str = "app") -> list[Operation]:
    """Exactly ``n_ops`` operations of a random walk (see the module docstring)."""
    walk = _Walk(seed, app_label)
    while len(walk.ops) < n_ops:
        walk.session()
    return walk.ops[:n_ops]
