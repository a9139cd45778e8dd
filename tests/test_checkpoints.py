"""PostgreSQL constraint checkpoints go only where a deferred constraint or deferred SQL can
be pending (squasher.squash.writer.with_constraint_checkpoints); the case that needs one is
migrated on PostgreSQL by tests/test_squash_verify.py."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(INSTALLED_APPS=[], USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.AutoField")
    django.setup()

from django.db import migrations, models  # noqa: E402
from django.db.migrations.state import ModelState, ProjectState  # noqa: E402

from squasher.squash.writer import CHECKPOINT_NAME, with_constraint_checkpoints  # noqa: E402

APP = "shop"


def noop(apps, schema_editor):  # type: ignore[no-untyped-def]
    pass


def state() -> ProjectState:
    """Customer and Order (Order.customer -> Customer), and Tag without any relation."""
    s = ProjectState()
    pk = ("id", models.AutoField(primary_key=True))
    s.add_model(ModelState(APP, "Customer", [pk]))
    s.add_model(ModelState(APP, "Order", [("id", models.AutoField(primary_key=True)),
                                          ("customer", models.ForeignKey("shop.customer",
                                                                         models.CASCADE))]))
    s.add_model(ModelState(APP, "Tag", [("id", models.AutoField(primary_key=True))]))
    return s


def names(ops: list) -> list[str]:
    return [getattr(getattr(op, "code", None), "__name__", type(op).__name__) for op in ops]


def test_no_checkpoint_before_a_schema_change_of_an_unrelated_model() -> None:
    ops = [migrations.RunPython(noop), migrations.AddField("Tag", "label", models.CharField(max_length=9, default=""))]
    out, added = with_constraint_checkpoints(ops, APP, state())
    assert added == 0 and out == ops
    # the old rule put one there
    assert with_constraint_checkpoints(ops)[1] == 1


def test_checkpoint_before_altering_a_table_with_a_foreign_key() -> None:
    for model in ("Order", "Customer"):  # holds the FK / is its target
        ops = [migrations.RunPython(noop),
               migrations.AddField(model, "note", models.CharField(max_length=9, default=""))]
        out, added = with_constraint_checkpoints(ops, APP, state())
        assert added == 1 and names(out) == ["noop", CHECKPOINT_NAME, "AddField"], model


def test_checkpoint_when_the_later_operation_adds_a_relation() -> None:
    ops = [migrations.RunSQL("UPDATE x SET y = 1"),
           migrations.AddField("Tag", "owner", models.ForeignKey("shop.customer", models.CASCADE, null=True))]
    assert with_constraint_checkpoints(ops, APP, state())[1] == 1


def test_checkpoint_for_deferred_sql_of_the_same_model() -> None:
    """Tag has no relation, but an index queued before the RunPython and a later change of
    Tag's table would collide without the flush."""
    ops = [migrations.AddField("Tag", "label", models.CharField(max_length=9, default="", db_index=True)),
           migrations.RunPython(noop),
           migrations.AlterField("Tag", "label", models.CharField(max_length=12, default=""))]
    assert with_constraint_checkpoints(ops, APP, state())[1] == 1
    unrelated = [ops[0], ops[1], migrations.AddField("Order", "x", models.IntegerField(default=0))]
    # Order holds a foreign key: needed for that reason instead
    assert with_constraint_checkpoints(unrelated, APP, state())[1] == 1


def test_unknown_state_or_operations_stay_conservative() -> None:
    ops = [migrations.RunPython(noop), migrations.AddField("Tag", "label", models.CharField(max_length=9, default=""))]
    assert with_constraint_checkpoints(ops, APP, None)[1] == 1
    custom = [migrations.RunPython(noop),
              migrations.SeparateDatabaseAndState(database_operations=[ops[1]]),
              ops[1]]
    assert with_constraint_checkpoints(custom, APP, state())[1] == 1


def test_data_operations_in_a_row_share_one_checkpoint() -> None:
    ops = [migrations.RunPython(noop), migrations.RunSQL("SELECT 1"),
           migrations.AddField("Order", "n", models.IntegerField(default=0))]
    out, added = with_constraint_checkpoints(ops, APP, state())
    assert added == 1 and names(out)[2] == CHECKPOINT_NAME
