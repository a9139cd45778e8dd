"""Unit tests for squasher.optimizer: each reduction rule, its negative cases, the
Django reference computation and the equivalence guard."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(INSTALLED_APPS=[], USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.AutoField")
    django.setup()

import pytest  # noqa: E402
from django import VERSION as DJANGO_VERSION  # noqa: E402
from django.db import migrations, models  # noqa: E402
from django.db.migrations.optimizer import MigrationOptimizer  # noqa: E402
from django.db.migrations.state import ModelState, ProjectState  # noqa: E402
from synthetic import cubic_from_state, cubic_history, realistic_history  # noqa: E402 - benchmarks/

import squasher.optimizer as optimizer_pkg  # noqa: E402
from squasher.optimizer import ALL_RULES, optimize  # noqa: E402
from squasher.optimizer.django_ref import django_length, django_optimize  # noqa: E402
from squasher.optimizer.guard import project_state, state_differences  # noqa: E402
from squasher.optimizer.runpython import runpython_models  # noqa: E402

APP = "app"


# --------------------------------------------------------------------------- helpers
def pk() -> tuple[str, models.Field]:
    return ("id", models.AutoField(primary_key=True))


def create(name: str, *fields: tuple[str, models.Field]) -> migrations.CreateModel:
    return migrations.CreateModel(name, [pk(), *fields])


def state_with(*names: str, app: str = APP) -> ProjectState:
    """A project state where ``names`` already exist (before the optimized range)."""
    state = ProjectState()
    for name in names:
        state.add_model(
            ModelState(app, name, [pk(), ("x", models.IntegerField(default=0)),
                                   ("y", models.IntegerField(default=0))])
        )
    return state


def kinds(ops: list) -> list[str]:
    return [type(op).__name__ for op in ops]


def django(ops: list, app: str = APP) -> list:
    return MigrationOptimizer().optimize(list(ops), app)


def assert_equivalent(result, ops: list, from_state: ProjectState | None = None) -> None:
    before = project_state(ops, APP, from_state)
    after = project_state(result.operations, APP, from_state)
    assert state_differences(before, after) == []
    assert result.fallback is None, result.reason
    assert len(result.operations) <= result.django_count == len(django(ops))


# ----------------------------------------------------------------- Django's own rules
def test_django_reductions_are_reproduced() -> None:
    ops = [
        create("A"),
        migrations.AddField("A", "x", models.IntegerField(default=1)),
        migrations.AlterField("A", "x", models.IntegerField(default=2)),
        migrations.RenameField("A", "x", "z"),
        migrations.AlterModelTable("A", "a_table"),
        create("B", ("a", models.ForeignKey(f"{APP}.A", models.CASCADE))),
        migrations.DeleteModel("B"),
    ]
    result = optimize(ops, APP)
    # ground truth is the installed Django's reduce(): 4.2 does not fold AlterModelTable
    folds_table = DJANGO_VERSION >= (5, 0)
    assert kinds(result.operations) == kinds(django(ops))
    assert kinds(result.operations) == ["CreateModel"] + ([] if folds_table else ["AlterModelTable"])
    created = result.operations[0]
    assert [name for name, _ in created.fields] == ["id", "z"]
    assert created.fields[1][1].default == 2
    assert created.options == ({"db_table": "a_table"} if folds_table else {})
    assert result.stats["django_reduce"] >= (5 if folds_table else 4)
    assert_equivalent(result, ops)


def test_empty_and_single() -> None:
    assert optimize([], APP).operations == []
    one = [create("A")]
    result = optimize(one, APP)
    assert result.operations == one and result.django_count == 1


def test_app_label_required() -> None:
    with pytest.raises(TypeError):
        optimize([], None)  # type: ignore[arg-type]


# ------------------------------------------------------------- index/constraint barrier
def test_index_is_barrier_only_for_its_own_model() -> None:
    start = state_with("A", "B")
    ops = [
        migrations.AddField("A", "f", models.IntegerField(default=1)),
        migrations.AddIndex("B", models.Index(fields=["x"], name="b_x_idx")),
        migrations.AddConstraint("B", models.UniqueConstraint(fields=["y"], name="b_y_uniq")),
        migrations.AlterField("A", "f", models.IntegerField(default=2)),
    ]
    assert len(django(ops)) == 4  # Django: AddIndex/AddConstraint block every model
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddIndex", "AddConstraint", "AddField"]
    assert result.operations[-1].field.default == 2
    assert result.stats["crossed_index_barrier"] == 1
    assert_equivalent(result, ops, start)


def test_index_on_same_model_still_blocks() -> None:
    start = state_with("A")
    ops = [
        migrations.AddField("A", "f", models.IntegerField(default=1)),
        migrations.AddIndex("A", models.Index(fields=["f"], name="a_f_idx")),
        migrations.AlterField("A", "f", models.IntegerField(default=2)),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField", "AddIndex", "AlterField"]


# ------------------------------------------------------------- DeleteModel collapse
def test_field_and_index_ops_collapse_into_delete_model() -> None:
    start = state_with("A", "B")
    ops = [
        migrations.AddField("A", "f", models.IntegerField(default=1)),
        migrations.AlterField("A", "x", models.IntegerField(default=5)),
        migrations.RenameField("A", "y", "w"),
        migrations.AddIndex("A", models.Index(fields=["x"], name="a_x_idx")),
        migrations.AddField("B", "g", models.IntegerField(default=1)),
        migrations.DeleteModel("A"),
    ]
    assert len(django(ops)) == 6
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField", "DeleteModel"]
    assert result.operations[0].model_name == "B"
    assert result.stats["delete_model_collapse"] == 4
    assert_equivalent(result, ops, start)


def test_delete_then_create_same_name_is_kept() -> None:
    start = state_with("A")
    ops = [
        migrations.DeleteModel("A"),
        create("A", ("z", models.IntegerField(default=0))),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["DeleteModel", "CreateModel"]


def test_remove_then_add_same_field_is_kept() -> None:
    start = state_with("A")
    ops = [
        migrations.RemoveField("A", "x"),
        migrations.AddField("A", "x", models.IntegerField(default=3)),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["RemoveField", "AddField"]


# ------------------------------------------------------------- identity renames
def test_identity_renames_vanish() -> None:
    start = state_with("A")
    ops = [
        migrations.RenameModel("A", "B"),
        migrations.RenameModel("B", "A"),
        migrations.RenameField("A", "x", "x2"),
        migrations.RenameField("A", "x2", "x"),
    ]
    assert kinds(django(ops)) == ["RenameModel", "RenameField"]  # A→A, x→x left behind
    result = optimize(ops, APP, from_state=start)
    assert result.operations == []
    assert result.stats["identity_rename"] == 2
    assert_equivalent(result, ops, start)


def test_rename_chain_that_does_not_return_is_kept() -> None:
    start = state_with("A")
    ops = [migrations.RenameModel("A", "B"), migrations.RenameModel("B", "C")]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["RenameModel"]
    assert (result.operations[0].old_name, result.operations[0].new_name) == ("A", "C")


# ------------------------------------------------------------- option operations
def test_option_operations_merge_across_field_operations() -> None:
    start = state_with("A")
    ops = [
        migrations.AlterModelOptions("A", {"verbose_name": "one"}),
        migrations.AddField("A", "f", models.IntegerField(default=1)),
        migrations.AddIndex("A", models.Index(fields=["x"], name="a_x_idx")),
        migrations.AlterModelOptions("A", {"verbose_name": "two", "ordering": ["x"]}),
    ]
    assert len(django(ops)) == 4
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField", "AddIndex", "AlterModelOptions"]
    assert result.operations[-1].options == {"verbose_name": "two", "ordering": ["x"]}
    assert result.stats["option_passthrough"] >= 1
    assert_equivalent(result, ops, start)


def test_option_operations_do_not_cross_model_deletion_or_rename() -> None:
    start = state_with("A")
    ops = [
        migrations.AlterModelOptions("A", {"verbose_name": "one"}),
        migrations.RenameModel("A", "B"),
        migrations.AlterModelOptions("B", {"verbose_name": "two"}),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AlterModelOptions", "RenameModel", "AlterModelOptions"]


# ------------------------------------------------------------- one-off defaults
def test_one_off_default_dropped_when_folded_into_create_model() -> None:
    ops = [
        create("A"),
        migrations.AddField("A", "n", models.IntegerField(default=7), preserve_default=False),
    ]
    # Django folds the one-off default into the model (ticket #26223)...
    folded = django(ops)
    assert folded[0].fields[1][1].default == 7
    assert state_differences(project_state(ops, APP, None), project_state(folded, APP, None))
    # ...squasher drops it, so the state matches the history.
    result = optimize(ops, APP)
    assert kinds(result.operations) == ["CreateModel"]
    assert result.operations[0].fields[1][1].default is models.NOT_PROVIDED
    assert result.stats["one_off_default"] == 1
    assert result.fallback is None


def test_one_off_default_kept_through_rename_and_alter() -> None:
    start = state_with("A")
    ops = [
        migrations.AddField("A", "n", models.IntegerField(default=7), preserve_default=False),
        migrations.RenameField("A", "n", "m"),
        migrations.AlterField("A", "m", models.IntegerField()),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField"]
    add = result.operations[0]
    assert add.name == "m" and add.preserve_default is False and add.field.default == 7
    assert_equivalent(result, ops, start)


def test_without_one_off_rule_guard_leaves_out_that_reduction_only() -> None:
    """Django's CreateModel + AddField(preserve_default=False) keeps the one-off default in
    the state: the guard's local fallback leaves that reduction out and keeps the rest."""
    ops = [
        create("A"),
        migrations.AddField("A", "n", models.IntegerField(default=7), preserve_default=False),
        create("B"),
        migrations.AddField("B", "m", models.IntegerField(default=1)),
    ]
    result = optimize(ops, APP, rules=ALL_RULES - {"one_off_default"})
    assert result.fallback == "local"
    assert kinds(result.operations) == ["CreateModel", "AddField", "CreateModel"]
    [rejected] = result.rejected
    assert rejected.rule == "django_reduce"
    assert rejected.operations == ["Create model A", "Add field n to A"]
    assert "app.a: fields differ" in rejected.differences[0]
    assert "rule django_reduce left out: Create model A + Add field n to A" in (result.reason or "")
    assert "longer than Django's result, which changes the model state" in (result.reason or "")
    assert state_differences(project_state(ops, APP, None),
                             project_state(result.operations, APP, None)) == []



def test_rename_with_relation_to_old_name_between_keeps_squashers_own_result() -> None:
    """Django folds CreateModel(B) + RenameModel(B, E) across a CreateModel(A) whose FK
    still names B (the state then points at a model that no longer exists).  Squasher's
    own pass keeps the rename; that longer result is right, so it is returned as is
    (no fallback), not replaced by a re-run on Django's wrong, shorter result."""
    ops = [
        create("A"),
        create("B"),
        create("C"),
        migrations.AddField("A", "r1", models.ForeignKey("app.B", null=True, on_delete=models.SET_NULL)),
        migrations.RenameModel("B", "E"),
    ]
    result = optimize(ops, APP)
    before = project_state(ops, APP, None)
    assert state_differences(before, project_state(django(ops), APP, None)) != []
    assert state_differences(before, project_state(result.operations, APP, None)) == []
    assert result.fallback is None, result.reason
    assert kinds(result.operations) == ["CreateModel", "CreateModel", "CreateModel", "RenameModel"]
    assert "longer than Django's result, which changes the model state" in (result.reason or "")


# ------------------------------------------------------------- RunPython narrowing
def touch_a(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("app", "A")
    model.objects.filter(x__gt=0).update(y=models.F("x"))


def touch_b(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("app.B").objects.all().delete()


def uses_editor(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("app", "A")
    schema_editor.execute("UPDATE app_b SET x = 1")
    del model


def dynamic_name(apps, schema_editor):  # type: ignore[no-untyped-def]
    name = "A"
    apps.get_model("app", name).objects.all()


def _helper(apps):  # type: ignore[no-untyped-def]
    return apps.get_model("app", "B")


def calls_helper(apps, schema_editor):  # type: ignore[no-untyped-def]
    _helper(apps).objects.all()


def raw_sql(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("app", "A").objects.raw("SELECT * FROM app_b")


def imports_model(apps, schema_editor):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    User.objects.all()


def other_app(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("other", "Thing").objects.all()


@pytest.mark.parametrize(
    ("code", "reverse", "expected"),
    [
        (touch_a, None, {"a"}),
        (touch_a, touch_b, {"a", "b"}),
        (touch_a, migrations.RunPython.noop, {"a"}),
        (migrations.RunPython.noop, None, set()),
        (uses_editor, None, None),
        (dynamic_name, None, None),
        (calls_helper, None, None),
        (raw_sql, None, None),
        (imports_model, None, None),
        (other_app, None, None),
        (lambda apps, se: None, None, None),
        (touch_a, uses_editor, None),
    ],
)
def test_runpython_static_reading(code, reverse, expected) -> None:  # type: ignore[no-untyped-def]
    found = runpython_models(migrations.RunPython(code, reverse), APP)
    assert (set(found) if found is not None else None) == expected


def _runpython_case(code) -> tuple[list, ProjectState]:  # type: ignore[no-untyped-def]
    start = state_with("A", "B")
    return [
        migrations.AddField("B", "f", models.IntegerField(default=1)),
        migrations.RunPython(code),
        migrations.AlterField("B", "f", models.IntegerField(default=2)),
    ], start


def test_runpython_touching_other_model_is_not_a_barrier() -> None:
    ops, start = _runpython_case(touch_a)
    assert len(django(ops)) == 3
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["RunPython", "AddField"]
    assert result.stats["crossed_runpython_barrier"] == 1
    assert_equivalent(result, ops, start)


@pytest.mark.parametrize("code", [touch_b, uses_editor, dynamic_name, calls_helper, raw_sql,
                                  imports_model])
def test_runpython_barrier_kept(code) -> None:  # type: ignore[no-untyped-def]
    ops, start = _runpython_case(code)
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField", "RunPython", "AlterField"]


def test_runpython_barrier_covers_related_models() -> None:
    start = state_with("A")
    ops = [
        create("B", ("a", models.ForeignKey(f"{APP}.A", models.CASCADE))),
        migrations.RunPython(touch_a),  # A's queries may follow the relation to B
        migrations.AddField("B", "f", models.IntegerField(default=1)),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["CreateModel", "RunPython", "AddField"]


def test_runsql_is_a_full_barrier_and_elidable_ops_are_dropped() -> None:
    start = state_with("A", "B")
    ops = [
        migrations.AddField("B", "f", models.IntegerField(default=1)),
        migrations.RunSQL("UPDATE app_a SET x = 1", migrations.RunSQL.noop),
        migrations.AlterField("B", "f", models.IntegerField(default=2)),
        migrations.RunPython(touch_a, elidable=True),
        migrations.RunSQL("SELECT 1", elidable=True),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField", "RunSQL", "AlterField"]
    assert result.stats["elidable"] == 2


def test_elidable_runsql_with_state_operations_is_kept() -> None:
    ops = [
        migrations.RunSQL("CREATE TABLE t (id int)", elidable=True,
                          state_operations=[create("T")]),
    ]
    result = optimize(ops, APP)
    assert kinds(result.operations) == ["RunSQL"]
    assert result.fallback is None


# ------------------------------------------------------------- guard and fallbacks
def test_guard_falls_back_to_django(monkeypatch: pytest.MonkeyPatch) -> None:
    ops = [create("A"), migrations.AddField("A", "f", models.IntegerField(default=1))]

    def broken(operations, app_label, from_state=None, rules=ALL_RULES, gate=None):  # type: ignore[no-untyped-def]
        return [create("A")], {}

    monkeypatch.setattr(optimizer_pkg, "squasher_pass", broken)
    result = optimize(ops, APP)
    assert result.fallback == "django"
    assert "app.a: fields differ" in (result.reason or "")
    assert kinds(result.operations) == ["CreateModel"]
    assert [n for n, _ in result.operations[0].fields] == ["id", "f"]


def test_add_field_one_off_default_then_alter_field_with_default() -> None:
    """Django 6.1 folds these into AddField(preserve_default=False) with the AlterField's
    field: the state loses the default 13. squasher writes preserve_default=True."""
    start = state_with("A")
    ops = [migrations.AddField("A", "f", models.IntegerField(default=79), preserve_default=False),
           migrations.AlterField("A", "f", models.IntegerField(default=13))]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["AddField"]
    [add] = result.operations
    assert add.preserve_default is True and add.field.default == 13
    assert_equivalent(result, ops, start)


def test_guard_without_from_state_for_mid_history_range() -> None:
    ops = [migrations.AddField("A", "f", models.IntegerField(default=1))]
    result = optimize(ops, APP)
    assert result.fallback == "django"
    assert "from_state" in (result.reason or "")


def test_from_state_with_other_apps() -> None:
    start = state_with("Customer", app="crm")
    ops = [
        create("Order", ("customer", models.ForeignKey("crm.Customer", models.CASCADE))),
        migrations.AddField("Order", "total", models.IntegerField(default=0)),
    ]
    result = optimize(ops, APP, from_state=start)
    assert kinds(result.operations) == ["CreateModel"]
    assert_equivalent(result, ops, start)


# ------------------------------------------------------------- Django reference
def _deconstructed(ops: list) -> list:
    return [op.deconstruct() for op in ops]


def test_django_reference_is_exact_on_realistic_history() -> None:
    ops = realistic_history(250, seed=3)
    expected = django(ops, "bench")
    assert _deconstructed(django_optimize(ops, "bench")) == _deconstructed(expected)
    assert django_length(ops, "bench") == len(expected)


def test_django_length_by_components_on_cubic_history() -> None:
    ops = cubic_history(160, pairs=20)
    assert django_length(ops, "bench") == len(django(ops, "bench")) == 140


def test_realistic_history_never_longer_than_django_and_equivalent() -> None:
    ops = realistic_history(600, seed=7)
    result = optimize(ops, "bench")
    assert result.fallback is None, result.reason
    assert result.django_count == len(django(ops, "bench"))
    assert len(result.operations) < result.django_count
    before = project_state(ops, "bench", None)
    assert state_differences(before, project_state(result.operations, "bench", None)) == []


def test_cubic_history_optimized() -> None:
    ops = cubic_history(300, pairs=50)
    result = optimize(ops, "bench", from_state=cubic_from_state(300, pairs=50))
    assert result.fallback is None, result.reason
    assert len(result.operations) == result.django_count == 250


def uses_alias(apps, schema_editor):  # type: ignore[no-untyped-def]
    db_alias = schema_editor.connection.alias
    apps.get_model("app", "A").objects.using(db_alias).update(x=1)


def uses_connection(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.connection.cursor().execute("DELETE FROM app_b")
    apps.get_model("app", "A").objects.all()


def test_runpython_database_alias_is_allowed_but_connection_is_not() -> None:
    assert runpython_models(migrations.RunPython(uses_alias), APP) == {"a"}
    assert runpython_models(migrations.RunPython(uses_connection), APP) is None


def test_runpython_on_model_with_unknown_relations_is_a_full_barrier() -> None:
    # A exists before the range and no from_state: A's relations are unknown
    ops = [
        create("B"),
        migrations.RunPython(touch_a),
        migrations.AddField("B", "f", models.IntegerField(default=1)),
    ]
    result = optimize(ops, APP)
    assert kinds(result.operations) == ["CreateModel", "RunPython", "AddField"]
    # with from_state, A is known to be unrelated to B: the barrier narrows
    result = optimize(ops, APP, from_state=state_with("A"))
    assert kinds(result.operations) == ["RunPython", "CreateModel"]
    assert [n for n, _ in result.operations[1].fields] == ["id", "f"]


def test_local_fallback_keeps_every_other_reduction(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule made wrong on purpose (AlterField + AlterField of A.x keeps the first field):
    the guard finds that one reduction, leaves it out and keeps all the others; the squash's
    description and JSON details name the rule and the two operations' migrations."""
    from squasher.squash.plan import _optimize

    real = optimizer_pkg.reduce_pair

    def wrong(left, right, app_label, rules):  # type: ignore[no-untyped-def]
        if (isinstance(left, migrations.AlterField) and isinstance(right, migrations.AlterField)
                and left.model_name_lower == right.model_name_lower == "a"
                and left.name == right.name == "x"):
            return [left], "broken_rule"
        return real(left, right, app_label, rules)

    monkeypatch.setattr(optimizer_pkg, "reduce_pair", wrong)
    start = state_with("A", "C", "D")
    ops = [
        create("B"),
        migrations.AddField("B", "n", models.IntegerField(default=1)),
        migrations.AlterField("A", "x", models.IntegerField(default=2)),
        migrations.AlterField("A", "x", models.IntegerField(default=3)),
        migrations.AlterField("A", "y", models.IntegerField(default=4)),
        migrations.AlterField("A", "y", models.IntegerField(default=5)),
        migrations.RenameField("B", "n", "m"),
        migrations.AddField("C", "z", models.IntegerField(default=0)),
        migrations.DeleteModel("C"),
        migrations.AddField("D", "z", models.IntegerField(default=0)),
        migrations.DeleteModel("D"),
    ]
    result = optimize(ops, APP, from_state=start)
    assert result.fallback == "local", result.reason
    # B's three operations fold into one CreateModel, the y alterations into one, C's and
    # D's AddField into their DeleteModel (squasher rule); the x pair, which the broken rule
    # turns into the first AlterField, is the one reduction left out.  Rerun on Django's
    # result (where x is already folded) the rules give 5 operations: Django gives 7, the
    # old all-or-nothing fallback kept 11.
    [rejected] = result.rejected
    assert rejected.rule == "broken_rule"
    assert rejected.operations == ["Alter field x on A", "Alter field x on A"]
    assert "app.a: fields differ: x" in rejected.differences[0]
    # Django >= 5.0 folds AlterField + AlterField of one field itself; 4.2 does not, so there
    # both pairs stay in Django's result and in the rerun (7 of Django's 9 operations).
    expected, django_len, alters = (5, 7, 2) if DJANGO_VERSION >= (5, 0) else (7, 9, 4)
    assert len(result.operations) == expected < result.django_count == len(django(ops)) == django_len
    assert kinds(result.operations).count("AlterField") == alters
    assert state_differences(project_state(ops, APP, start),
                             project_state(result.operations, APP, start)) == []

    origins = {id(op): ("app.migrations.0002_change", i) for i, op in enumerate(ops)}
    out, django_count, description, details = _optimize(ops, APP, True, start, origins)
    assert len(out) == expected and django_count == django_len
    assert description.startswith("squasher (fallback: local: rule broken_rule left out: "
                                  "Alter field x on A + Alter field x on A")
    assert details is not None and details["kind"] == "local"
    assert details["rejected"][0]["rule"] == "broken_rule"
    assert details["rejected"][0]["migrations"] == ["0002_change[2]", "0002_change[3]"]
