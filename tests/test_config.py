"""``[tool.squasher]`` in pyproject.toml and ``# squasher: ignore[...]`` comments (issue 13).

Each key end to end through the real CLI on a private copy of ``sample_apps`` (whose blog
app has an SQ001 conflict: two leaves, 0003_post_status and 0005_post_reading_time); the
language server's diagnostics go through the same :func:`squasher.graph.check.apply_config`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree

from squasher.config import SquasherConfig, load_config
from squasher.errors import UsageError
from squasher.graph.check import apply_config, suppressions
from squasher.records import Problem, Severity, Span


def write_config(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(
        '[project]\nname = "site"\n\n[tool.squasher]\n' + textwrap.dedent(body))


def check_json(root: Path, *args: str) -> tuple[int, dict]:
    proc = run_squasher("check", "--format", "json", *args, cwd=root)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def sq001(report: dict) -> list[dict]:
    return [p for p in report["problems"] if p["code"] == "SQ001"]


def test_without_config_the_blog_conflict_fails(sample_project: Path) -> None:
    code, report = check_json(sample_project)
    assert code == 1
    assert [p["path"] for p in sq001(report)] == ["blog/migrations/0003_post_status.py",
                                                   "blog/migrations/0005_post_reading_time.py"]
    assert report["suppressed"] == 0


def test_disable_hides_a_code_and_passes(sample_project: Path) -> None:
    write_config(sample_project, 'disable = ["SQ001"]\n')
    code, report = check_json(sample_project)
    assert code == 0
    assert sq001(report) == []
    assert report["suppressed"] == 2
    text = run_squasher("check", cwd=sample_project)
    assert text.returncode == 0
    assert "SQ001" not in text.stdout and "2 suppressed" in text.stdout


def test_severity_downgrade_changes_report_and_exit_status(sample_project: Path) -> None:
    write_config(sample_project, """\
        [tool.squasher.severity]
        SQ001 = "info"
        """)
    code, report = check_json(sample_project)
    assert code == 0
    assert [p["severity"] for p in sq001(report)] == ["info", "info"]
    text = run_squasher("check", cwd=sample_project)
    assert text.returncode == 0
    assert "SQ001 info:" in text.stdout and "2 info" in text.stdout


def test_severity_upgrade_makes_an_info_fail(sample_project: Path) -> None:
    """An info finding (SQ004 while the replaced file still exists) exits 0; raised to error
    it exits 1. The blog conflict is disabled so only SQ004 decides."""
    squash = sample_project / "orders" / "migrations" / "0004_squashed.py"
    squash.write_text(textwrap.dedent("""\
        from django.db import migrations


        class Migration(migrations.Migration):
            replaces = [("orders", "0001_initial"), ("orders", "0002_orderline")]
            dependencies = []
            operations = []
        """))
    write_config(sample_project, 'disable = ["SQ001"]\n')
    code, report = check_json(sample_project)
    infos = [p for p in report["problems"] if p["code"] == "SQ004"]
    assert infos and {p["severity"] for p in infos} == {"info"} and code == 0
    write_config(sample_project, 'disable = ["SQ001"]\nseverity = { SQ004 = "error" }\n')
    code, report = check_json(sample_project)
    assert {p["severity"] for p in report["problems"] if p["code"] == "SQ004"} == {"error"}
    assert code == 1


def test_ignore_apps_hides_only_that_apps_problems(sample_project: Path) -> None:
    # a second finding elsewhere: a dangling dependency (and so a second leaf) in catalog
    (sample_project / "catalog" / "migrations" / "0999_dangling.py").write_text(textwrap.dedent("""\
        from django.db import migrations


        class Migration(migrations.Migration):
            dependencies = [("catalog", "0998_missing")]
            operations = []
        """))
    write_config(sample_project, 'ignore-apps = ["blog"]\n')
    code, report = check_json(sample_project)
    assert code == 1
    assert report["problems"], "catalog's problems are still reported"
    assert all(not p["path"].startswith("blog/") for p in report["problems"])
    assert {p["migration"].split(".")[0] for p in report["problems"]} == {"catalog"}
    code, report = check_json(sample_project, "blog")
    assert (code, report["problems"]) == (0, [])


def test_settings_key_is_used_when_no_settings_are_given(sample_project: Path) -> None:
    """The settings module exists only under another name than the one manage.py names."""
    (sample_project / "settings.py").rename(sample_project / "project_settings.py")
    # Django side: squash imports the project with the settings module
    args = ("squash", "accounts", "0001", "0002", "--dry-run", "--no-verify")
    without = run_squasher(*args, cwd=sample_project)
    assert without.returncode == 2 and "'settings'" in without.stderr
    write_config(sample_project, 'settings = "project_settings"\n')
    with_config = run_squasher(*args, cwd=sample_project)
    assert with_config.returncode == 0, with_config.stderr
    assert "class Migration" in with_config.stdout
    # --settings still wins over the configuration
    explicit = run_squasher(*args, "--settings", "nowhere_settings", cwd=sample_project)
    assert explicit.returncode == 2 and "nowhere_settings" in explicit.stderr



def test_settings_key_is_read_by_the_static_check(sample_project: Path) -> None:
    """check stays static but reads INSTALLED_APPS from the configured module: a dependency on
    an app that is not installed becomes SQ007 (with manage.py's module, whose INSTALLED_APPS
    is computed, squasher cannot tell and says nothing)."""
    (sample_project / "ci_settings.py").write_text(
        'INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "accounts", '
        '"catalog", "orders", "billing", "blog", "newsletter"]\n'
        'AUTH_USER_MODEL = "accounts.User"\n')
    first = sample_project / "catalog" / "migrations" / "0001_initial.py"
    first.write_text(first.read_text().replace(
        "migrations.swappable_dependency(settings.AUTH_USER_MODEL),",
        "migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n        ('ghost', '0001_initial'),"))
    _code, report = check_json(sample_project)
    assert not [p for p in report["problems"] if p["code"] == "SQ007"]
    write_config(sample_project, 'settings = "ci_settings"\n')
    _code, report = check_json(sample_project)
    assert [p["migration"] for p in report["problems"] if p["code"] == "SQ007"] == \
        ["catalog.0001_initial"]


def test_keep_last_is_the_default_of_suggest(sample_project: Path) -> None:
    def ranges(*args: str) -> tuple[int, list]:
        proc = run_squasher("suggest", "--format", "json", *args, cwd=sample_project)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        return data["keep_last"], [(s["app"], s["first"], s["last"]) for s in data["suggestions"]]

    default = ranges()
    assert default[0] == 0
    write_config(sample_project, "keep-last = 3\n")
    configured = ranges()
    assert configured == ranges("--keep-last", "3")
    assert configured[0] == 3 and configured[1] != default[1]
    assert ranges("--keep-last", "0") == default  # the flag wins


def test_inline_ignore_hides_just_that_problem(sample_project: Path) -> None:
    _code, report = check_json(sample_project)
    target = next(p for p in sq001(report) if p["path"].endswith("0003_post_status.py"))
    path = sample_project / target["path"]
    lines = path.read_text().split("\n")
    assert lines[target["line"] - 1].startswith("class Migration")
    lines[target["line"] - 1] += "  # squasher: ignore[SQ004]"  # another code: still reported
    path.write_text("\n".join(lines))
    code, report = check_json(sample_project)
    assert (code, len(sq001(report))) == (1, 2)
    lines[target["line"] - 1] = lines[target["line"] - 1].replace("[SQ004]", "[SQ004, SQ001]")
    path.write_text("\n".join(lines))
    code, report = check_json(sample_project)
    assert code == 1  # the other leaf still conflicts
    assert [p["path"] for p in sq001(report)] == ["blog/migrations/0005_post_reading_time.py"]
    assert report["suppressed"] == 1


@pytest.mark.parametrize(("body", "needle"), [
    ("ignore_apps = ['blog']\n", "ignore_apps"),  # unknown key (did you mean ignore-apps?)
    ("disable = ['SQ999']\n", "disable"),
    ("disable = 'SQ001'\n", "disable"),
    ("severity = { SQ001 = 'fatal' }\n", "severity"),
    ("keep-last = -1\n", "keep-last"),
    ("settings = 42\n", "settings"),
    ("disable = [\n", "not valid TOML"),
])
def test_bad_configuration_is_one_line_exit_2_and_changes_nothing(
        sample_project: Path, body: str, needle: str) -> None:
    write_config(sample_project, body)
    before = snapshot_tree(sample_project)
    for args in (("merge", "blog"), ("check",), ("suggest",)):
        proc = run_squasher(*args, cwd=sample_project)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "pyproject.toml" in lines[0] and needle in lines[0], lines[0]
        assert "hint:" in lines[0]
    assert snapshot_tree(sample_project) == before  # merge wrote nothing


def test_bad_configuration_as_json(sample_project: Path) -> None:
    write_config(sample_project, "colour = 'blue'\n")
    proc = run_squasher("check", "--format", "json", cwd=sample_project)
    assert proc.returncode == 2
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "UsageError" and error["path"].endswith("pyproject.toml")
    assert error["line"] == 5 and "colour" in error["message"]


# ------------------------------------------------------------------ units


def test_load_config_reads_every_key(tmp_path: Path) -> None:
    assert load_config(tmp_path) == SquasherConfig()  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert load_config(tmp_path) == SquasherConfig()  # no [tool.squasher]
    write_config(tmp_path, """\
        settings = "mysite.settings"
        ignore-apps = ["legacy"]
        disable = ["sq004"]
        keep-last = 2
        severity = { SQ007 = "error", SQ001 = "WARNING" }
        against = "origin/main"
        """)
    config = load_config(tmp_path)
    assert config.settings == "mysite.settings" and config.keep_last == 2
    assert config.against == "origin/main"
    assert config.ignore_apps == {"legacy"} and config.disable == {"SQ004"}
    assert dict(config.severity) == {"SQ007": Severity.ERROR, "SQ001": Severity.WARNING}
    assert load_config(tmp_path) is config  # parsed once
    write_config(tmp_path, "keep-last = true\n")
    with pytest.raises(UsageError, match="keep-last") as error:
        load_config(tmp_path)
    assert error.value.path == tmp_path / "pyproject.toml" and error.value.hint
    write_config(tmp_path, 'against = "--all"\n')
    with pytest.raises(UsageError, match="against"):
        load_config(tmp_path)


def test_suppressions_are_comments_only() -> None:
    lines = [
        "class Migration:  # squasher: ignore[SQ001, sq004]",
        "    x = '# squasher: ignore'",  # inside a string: not a comment
        "    y = 1  # noqa  # squasher: ignore",
        '    z = """',
        "# squasher: ignore[SQ002]",  # inside a triple-quoted string
        '"""',
        "    w = 2  # squasher: ignore[]",
    ]
    assert suppressions(lines) == {1: frozenset({"SQ001", "SQ004"}), 3: None, 7: frozenset()}
    # a file the tokenizer cannot finish is scanned line by line
    assert suppressions(["class Migration(  # squasher: ignore[SQ006]", "    x = ("]) == {
        1: frozenset({"SQ006"})}


def test_apply_config_reads_lines_through_the_callers_hook(tmp_path: Path) -> None:
    """The language server passes its unsaved buffers; nothing is read from disk then."""
    path = tmp_path / "0002_x.py"  # does not exist on disk
    problems = [
        Problem("SQ001", "conflict", path, Span(3), key=("shop", "0002_x")),
        Problem("SQ002", "dangling", path, Span(5), key=("shop", "0002_x")),
        Problem("SQ004", "replaced", path, Span(6), severity=Severity.INFO, key=("shop", "0002_x")),
        Problem("SQ002", "dangling", path, Span(7), key=("notes", "0001_y")),
    ]
    buffer = ["", "", "class Migration:  # squasher: ignore[SQ001]", "", "  ('a', 'b'),", "", ""]
    config = SquasherConfig(severity={"SQ004": Severity.WARNING}, ignore_apps=frozenset({"notes"}))
    shown = apply_config(problems, config, lines_of=lambda p: buffer if p == path else None)
    assert [(p.code, p.severity) for p in shown] == [("SQ002", Severity.ERROR),
                                                     ("SQ004", Severity.WARNING)]
    assert apply_config(problems, None, lines_of=lambda p: None) == problems


def test_language_server_diagnostics_honour_the_configuration(sample_project: Path) -> None:
    """The server publishes ``WorkspaceIndex.problems_by_path``: configuration, severities
    and ignore comments of unsaved buffers apply there, and a changed pyproject.toml is re-read."""
    from lsp_server.index import WorkspaceIndex

    write_config(sample_project, '[tool.squasher.severity]\nSQ001 = "warning"\n')
    index = WorkspaceIndex(logger=lambda message: None)
    index.use_cache = False
    state = index.add_root(sample_project)
    assert state is not None and state.config_error is None
    leaf = (sample_project / "blog" / "migrations" / "0003_post_status.py").resolve()
    other = (sample_project / "blog" / "migrations" / "0005_post_reading_time.py").resolve()
    by_path = index.problems_by_path(state)
    assert [(p.code, p.severity) for p in by_path[leaf]] == [("SQ001", Severity.WARNING)]
    from lsp_server.features.commands import conflict_count

    assert conflict_count(index) == {"count": 1}  # the status bar: blog

    # an unsaved ignore comment on the class line hides that leaf's diagnostic only
    text = leaf.read_text().replace("class Migration(migrations.Migration):",
                                    "class Migration(migrations.Migration):  # squasher: ignore[SQ001]")
    index.set_buffer(leaf, text)
    by_path = index.problems_by_path(state)
    assert leaf not in by_path and [p.code for p in by_path[other]] == ["SQ001"]
    index.drop_buffer(leaf)

    # pyproject.toml changed on disk (the server watches it): disable wins now
    write_config(sample_project, 'disable = ["SQ001"]\n')
    state = index.file_changed_on_disk(sample_project.resolve() / "pyproject.toml")
    assert state is not None
    assert not [p for ps in index.problems_by_path(state).values() for p in ps if p.code == "SQ001"]
    assert conflict_count(index) == {"count": 0}  # as the diagnostics: nothing to count

    # a bad file: the defaults apply and the reason is kept for the server to show
    write_config(sample_project, "colour = 'blue'\n")
    state = index.file_changed_on_disk(sample_project.resolve() / "pyproject.toml")
    assert state is not None and "colour" in (state.config_error or "")
    assert [p.code for p in index.problems_by_path(state)[leaf]] == ["SQ001"]
