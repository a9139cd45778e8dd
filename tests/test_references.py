"""libcst rewriting of migration references (shared by rebase and finalize)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from squasher.errors import MigrationParseError
from squasher.lifecycle.references import entry_lines, rewrite_project_references, rewrite_source
from squasher.records import MigrationRecord, Problem, Reference, Span

SOURCE = '''\
# A hand-written header comment.
from django.conf import settings
from django.db import migrations, models


def forwards(apps, schema_editor):
    dependencies = [("blog", "0002_b")]  # not the class attribute
    return dependencies


class Migration(migrations.Migration):
    """Docstring."""

    replaces = [
        ('blog', '0002_b'),
        ('blog', '0003_c'),
    ]

    dependencies = [
        # keep me
        ("blog", "0001_initial"),
        ('blog', '0002_b'),  # the second
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    run_before = [("newsletter", "0001_initial")]

    operations = [
        migrations.RunPython(forwards),  # "0002_b" in a comment stays
    ]
'''


def _parse(text: str) -> dict[str, list]:
    tree = ast.parse(text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration")
    out: dict[str, list] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            try:
                out[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                out[stmt.targets[0].id] = ast.unparse(stmt.value)
    return out


def test_rename_keeps_quotes_comments_and_other_code():
    result = rewrite_source(SOURCE, rename={("blog", "0002_b"): ("blog", "0004_b")})
    text = result.text
    assert "('blog', '0004_b'),  # the second" in text
    assert "        # keep me\n" in text
    assert "# A hand-written header comment." in text
    assert 'dependencies = [("blog", "0002_b")]  # not the class attribute' in text
    assert '"0002_b" in a comment stays' in text
    assert "migrations.swappable_dependency(settings.AUTH_USER_MODEL)," in text
    values = _parse(text)
    assert values["replaces"] == [("blog", "0004_b"), ("blog", "0003_c")]
    assert {(a, k) for a, k, _ in result.rewritten} == {
        ("replaces", ("blog", "0002_b")), ("dependencies", ("blog", "0002_b")),
    }
    # Only the changed strings differ.
    changed = [(a, b) for a, b in zip(SOURCE.splitlines(), text.splitlines(), strict=True) if a != b]
    assert len(changed) == 2


def test_rename_to_same_target_deduplicates_and_drop_replaces():
    rename = {("blog", "0002_b"): ("blog", "0001_squashed"), ("blog", "0001_initial"): ("blog", "0001_squashed")}
    result = rewrite_source(SOURCE, rename=rename, drop_attributes=["replaces"], lists=["dependencies", "run_before"])
    values = _parse(result.text)
    assert "replaces" not in values
    assert values["dependencies"].startswith("[('blog', '0001_squashed'), migrations.swappable_dependency")
    assert result.text.count("0001_squashed") == 1
    assert "# keep me" in result.text
    assert result.dropped_attributes == ["replaces"]
    compile(result.text, "m.py", "exec")


def test_remove_entry_with_none_and_empty_list():
    src = 'from django.db import migrations\n\nclass Migration(migrations.Migration):\n    run_before = [("a", "0001")]\n    dependencies = ("b", "0001"), ("a", "0002")\n'
    result = rewrite_source(src, rename={("a", "0001"): None, ("a", "0002"): None})
    values = _parse(result.text)
    assert values["run_before"] == []
    assert values["dependencies"] == (("b", "0001"),)
    compile(result.text, "m.py", "exec")


def test_add_dependencies_multiline_single_line_and_missing():
    result = rewrite_source(SOURCE, add_dependencies=[("blog", "0003_x"), ("blog", "0001_initial")])
    values = _parse(result.text)
    assert result.added == [("blog", "0003_x")]
    assert '        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n        ("blog", "0003_x"),\n    ]' in result.text

    single = 'class Migration:\n    dependencies = [("a", "0001")]\n    operations = []\n'
    values = _parse(rewrite_source(single, add_dependencies=[("b", "0002")]).text)
    assert values["dependencies"] == [("a", "0001"), ("b", "0002")]

    empty = 'class Migration:\n    dependencies = []\n'
    assert _parse(rewrite_source(empty, add_dependencies=[("b", "0002")]).text)["dependencies"] == [("b", "0002")]

    none = 'class Migration:\n    """Doc."""\n    operations = []\n'
    res = rewrite_source(none, add_dependencies=[("b", "0002")])
    assert _parse(res.text)["dependencies"] == [("b", "0002")]
    assert res.added == [("b", "0002")]
    assert res.text.index("Doc.") < res.text.index("dependencies")


def test_syntax_error_is_a_clear_error():
    with pytest.raises(MigrationParseError) as info:
        rewrite_source("class Migration(:\n", rename={}, path=Path("x.py"))
    assert info.value.path == Path("x.py") and info.value.line == 1


def test_entry_lines():
    lines = entry_lines(SOURCE, "dependencies")
    assert lines[("blog", "0002_b")] == 22


def _record(path: Path, app: str, name: str, deps=(), problems=()) -> MigrationRecord:
    refs = tuple(Reference(a, n, Span(i + 1)) for i, (a, n) in enumerate(deps))
    return MigrationRecord(app, name, path, Span(1), dependencies=refs, parse_problems=tuple(problems))


def test_project_rewrite_and_refusals(tmp_path: Path):
    good = tmp_path / "0002_news.py"
    good.write_text('class Migration:\n    dependencies = [("blog", "0002_b")]\n')
    other = tmp_path / "0003_other.py"
    other.write_text('class Migration:\n    dependencies = [("blog", "0001")]\n')
    records = [
        _record(good, "news", "0002_news", [("blog", "0002_b")]),
        _record(other, "news", "0003_other", [("blog", "0001")]),
    ]
    out = rewrite_project_references(records, {("blog", "0002_b"): ("blog", "0005_b")})
    assert list(out) == [good]
    assert '("blog", "0005_b")' in out[good].text
    assert good.read_text().count("0002_b") == 1  # planning only: nothing written

    broken = tmp_path / "0004_broken.py"
    broken.write_text('class Migration(:\n    dependencies = [("blog", "0002_b")]\n')
    problem = Problem("SQ006", "syntax error", broken, Span(1))
    records.append(_record(broken, "news", "0004_broken", problems=[problem]))
    with pytest.raises(MigrationParseError) as info:
        rewrite_project_references(records, {("blog", "0002_b"): ("blog", "0005_b")})
    assert info.value.path == broken and info.value.line == 2

    dynamic = tmp_path / "0005_dyn.py"
    dynamic.write_text('X = ("blog", "0002_b")\nclass Migration:\n    dependencies = [X]\n')
    records = [_record(dynamic, "news", "0005_dyn", [("blog", "0002_b")])]
    with pytest.raises(MigrationParseError, match="not a literal"):
        rewrite_project_references(records, {("blog", "0002_b"): ("blog", "0005_b")})


def test_add_run_before_and_swappable_dependency():
    src = (
        "import re\n\nfrom django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [\n        ('shop', '0001_initial'),  # first\n    ]\n\n"
        "    operations = []\n"
    )
    result = rewrite_source(src, add_run_before=[("news", "0001_initial")],
                            add_swappable=["AUTH_USER_MODEL"])
    assert result.added_run_before == [("news", "0001_initial")]
    assert result.added_swappable == ["AUTH_USER_MODEL"]
    assert result.text == (
        "import re\n\nfrom django.conf import settings\nfrom django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [\n        ('shop', '0001_initial'),  # first\n"
        "        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n    ]\n"
        "    run_before = [(\"news\", \"0001_initial\")]\n\n"
        "    operations = []\n"
    )
    # an existing run_before list is appended to; `settings` naming something else: an alias
    src = ("from django.db import migrations\nfrom myproject import settings\n\n"
           "class Migration(migrations.Migration):\n    dependencies = []\n"
           "    run_before = [('a', '0001')]\n")
    result = rewrite_source(src, add_run_before=[("a", "0001"), ("b", "0002")],
                            add_swappable=["AUTH_USER_MODEL"])
    assert result.added_run_before == [("b", "0002")]
    assert "from django.conf import settings as django_settings\n" in result.text
    assert "dependencies = [migrations.swappable_dependency(django_settings.AUTH_USER_MODEL)]" in result.text
    assert "run_before = [('a', '0001'), ('b', '0002')]" in result.text
    # dependencies that are not a literal list: nothing added (finalize warns)
    src = ("from django.db import migrations\n\nBASE = []\n\n"
           "class Migration(migrations.Migration):\n    dependencies = BASE + []\n")
    result = rewrite_source(src, add_swappable=["AUTH_USER_MODEL"])
    assert result.added_swappable == [] and result.text == src
