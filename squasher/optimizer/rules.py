"""Pairwise reduction: Django's ``reduce()`` plus squasher's extra, provably safe rules.

:func:`reduce_pair` has the contract of ``Operation.reduce``: a list (the two operations
merge into it), ``True`` (``left`` may be moved across ``right``) or ``False``.  The
second return value names the extra rule that produced the answer (``None`` when it is
plain Django behaviour).

Extra rules (each can be switched off by leaving its name out of ``rules``):

``delete_model_collapse``
    a field, index/constraint or model-option operation on model *M* followed by
    ``DeleteModel(M)`` collapses to the ``DeleteModel`` (the table is dropped anyway;
    Django keeps AddField/AlterField/RenameField/index operations).
``identity_rename``
    a rename that returns to the original name (``RenameModel``/``RenameField``/
    ``RenameIndex`` a→b then b→a) disappears instead of leaving ``a→a``.
``option_passthrough``
    ``AlterModelOptions`` and ``AlterModelManagers`` have no database effect and only
    touch their own keys of the model state, so they commute with field, index and other
    option operations of the same model (Django stops at them), which lets consecutive
    option operations of one model merge.
``one_off_default``
    the one-off default of ``AddField``/``AlterField(preserve_default=False)`` is dropped
    when folded into ``CreateModel`` (Django ticket #26223: Django keeps it, so the model
    state differs from the unsquashed history); ``preserve_default=False`` survives a
    fold with ``RenameField``/``AlterField`` where Django loses it.

Always on (a correction, not an extra reduction): ``CreateModel`` + ``RenameModel``
retargets the model's self-referential relations to the new name (Django keeps the old
name, so its result no longer matches the history's state); counted as
``self_relation_fix``. ``AddField(preserve_default=False)`` + ``AlterField`` with a default
gives ``AddField(preserve_default=True)`` (Django 6.1 keeps ``False`` and loses the default
in the state); counted as ``preserve_default_fix``.  Likewise an operation naming either model of a
``RenameModel(P, B)`` is never moved across it (Django checks one name only, and may
leave a relation to the old name or rename a newer model of the same name).
"""

from __future__ import annotations

import copy

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.operations.models import IndexOperation
from django.db.models import NOT_PROVIDED, Field

from .touch import RelationGraph, touch

_NO_GRAPH = RelationGraph()

ALL_RULES: frozenset[str] = frozenset(
    {
        "elidable",
        "index_barrier",
        "runpython_barrier",
        "delete_model_barrier",
        "delete_model_collapse",
        "identity_rename",
        "option_passthrough",
        "one_off_default",
    }
)

ReduceResult = list[Operation] | bool

_PASSTHROUGH = (ops.AlterModelOptions, ops.AlterModelManagers)
_OPTION_OPS: tuple[type[Operation], ...] = (
    ops.AlterModelOptions,
    ops.AlterModelManagers,
    ops.AlterModelTable,
    ops.AlterUniqueTogether,
    ops.AlterOrderWithRespectTo,
)
if hasattr(ops, "AlterIndexTogether"):
    _OPTION_OPS = (*_OPTION_OPS, ops.AlterIndexTogether)
if hasattr(ops, "AlterModelTableComment"):
    _OPTION_OPS = (*_OPTION_OPS, ops.AlterModelTableComment)


def _model_of(op: Operation) -> str | None:
    if isinstance(op, (FieldOperation, IndexOperation)):
        return op.model_name_lower
    if isinstance(op, _OPTION_OPS):
        return op.name_lower
    return None


def _without_default(field: Field) -> Field:
    clone = field.clone()
    clone.default = NOT_PROVIDED
    return clone


def is_identity(op: Operation) -> bool:
    """A rename whose old and new name are identical (a no-op)."""
    if isinstance(op, (ops.RenameModel, ops.RenameField)):
        return op.old_name == op.new_name
    if isinstance(op, ops.RenameIndex):
        return op.old_name is not None and op.old_name == op.new_name
    return False


def django_reduce(left: Operation, right: Operation, app_label: str) -> ReduceResult:
    """``left.reduce(right, app_label)`` without its side effect on ``left``.

    Django's ``AddIndex.reduce()`` renames ``self.index`` in place before answering a
    ``RenameIndex``: the input list, which the Django comparison and the guard read
    again, would then hold an AddIndex already carrying the new name, and the
    RenameIndex after it no longer matches (results came out longer than Django's).
    A copy owning a clone of the index is reduced instead."""
    if isinstance(left, ops.AddIndex) and isinstance(right, ops.RenameIndex):
        left = copy.copy(left)
        left.index = left.index.clone()
    return left.reduce(right, app_label)


def reduce_pair(
    left: Operation, right: Operation, app_label: str, rules: frozenset[str]
) -> tuple[ReduceResult, str | None]:
    """Reduce ``left`` with the later ``right`` (see module docstring)."""
    if (
        "delete_model_collapse" in rules
        and type(right) is ops.DeleteModel
        and _model_of(left) == right.name_lower
        and not isinstance(left, (ops.RemoveField, *_OPTION_OPS))
    ):
        # RemoveField and the option operations already collapse in Django.
        return [right], "delete_model_collapse"

    try:
        result: ReduceResult = django_reduce(left, right, app_label)
    except Exception:  # a broken custom reduce(): treat as a barrier
        return False, None

    if isinstance(result, list):
        return _fix_result(left, right, result, rules, app_label)

    if result is True and (isinstance(right, ops.RenameModel) or isinstance(left, ops.RenameModel)):
        # Django's checks around RenameModel look at one name only: moving
        # CreateModel(C, fk=P) past RenameModel(P, B) leaves a relation to the old name,
        # and RenameModel(B, D) moved past a new CreateModel(B) renames the wrong model
        # (Django bugs).  Correction: never commute with an operation naming either name.
        rename, other = (right, left) if isinstance(right, ops.RenameModel) else (left, right)
        names = touch(other, app_label, _NO_GRAPH, frozenset()).keys
        if names is None or {rename.old_name_lower, rename.new_name_lower} & names:
            return False, None

    if (
        result is not True
        and "option_passthrough" in rules
        and (isinstance(left, _PASSTHROUGH) or isinstance(right, _PASSTHROUGH))
        and type(left) is not type(right)
        and _model_of(left) is not None
        and _model_of(left) == _model_of(right)
    ):
        return True, "option_passthrough"
    return result, None


def _retarget_self_relations(create: ops.CreateModel, old: str, app_label: str) -> None:
    """Point relations of a renamed CreateModel at its new name (Django keeps the old
    name for self-referential relations, leaving a dangling reference)."""
    fields = []
    for name, fld in create.fields:
        remote = getattr(fld, "remote_field", None)
        target = getattr(remote, "model", None)
        if isinstance(target, str) and (
            target.lower() == old.lower() or target.lower() == f"{app_label}.{old}".lower()
        ):
            _, _, args, kwargs = fld.deconstruct()
            kwargs["to"] = f"{app_label}.{create.name}"
            fld = type(fld)(*args, **kwargs)
        fields.append((name, fld))
    create.fields = fields


def _fix_result(
    left: Operation, right: Operation, result: list[Operation], rules: frozenset[str],
    app_label: str = "",
) -> tuple[ReduceResult, str | None]:
    rule: str | None = None
    if (
        isinstance(left, ops.CreateModel)
        and isinstance(right, ops.RenameModel)
        and len(result) == 1
        and isinstance(result[0], ops.CreateModel)
    ):
        before = [f.deconstruct() for _, f in result[0].fields]
        _retarget_self_relations(result[0], right.old_name, app_label)
        if before != [f.deconstruct() for _, f in result[0].fields]:
            rule = "self_relation_fix"
    if (
        isinstance(left, ops.AddField)
        and type(right) is ops.AlterField
        and left.preserve_default is False
        and right.preserve_default is not False
        and right.field.default is not NOT_PROVIDED
        and len(result) == 1
        and isinstance(result[0], ops.AddField)
        and result[0].preserve_default is False
    ):
        # Django 6.1 folds the AlterField into the AddField keeping the AddField's
        # preserve_default=False: the state then loses the default the AlterField sets
        # (Django 5.2 writes preserve_default=True, as here).
        result = [ops.AddField(model_name=left.model_name, name=right.name, field=right.field)]
        rule = "preserve_default_fix"
    if "one_off_default" in rules:
        pd_false = getattr(right, "preserve_default", True) is False
        if (
            isinstance(left, ops.CreateModel)
            and isinstance(right, (ops.AddField, ops.AlterField))
            and pd_false
            and len(result) == 1
            and isinstance(result[0], ops.CreateModel)
        ):
            new = result[0]
            new.fields = [
                (name, _without_default(fld) if name == right.name else fld)
                for name, fld in new.fields
            ]
            rule = "one_off_default"
        elif getattr(left, "preserve_default", True) is False and isinstance(
            left, (ops.AddField, ops.AlterField)
        ):
            if isinstance(right, ops.RenameField):
                for new in result:
                    if isinstance(new, type(left)):
                        new.preserve_default = False
                        rule = "one_off_default"
            elif (
                isinstance(left, ops.AddField)
                and isinstance(right, ops.AlterField)
                and len(result) == 1
                and isinstance(result[0], ops.AddField)
                and (right.field.default is NOT_PROVIDED or right.preserve_default is False)
            ):
                # keep filling existing rows with left's one-off default
                fld = right.field.clone()
                fld.default = left.field.default
                result = [
                    ops.AddField(
                        model_name=left.model_name, name=right.name, field=fld,
                        preserve_default=False,
                    )
                ]
                rule = "one_off_default"
    if "identity_rename" in rules and any(is_identity(op) for op in result):
        result = [op for op in result if not is_identity(op)]
        rule = "identity_rename"
    return result, rule
