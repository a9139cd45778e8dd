"""``squasher check`` and ``squasher graph`` through the real CLI (subprocess)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_squasher, snapshot_tree
from support.trees import chain, make_tree


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


# -- check --------------------------------------------------------------------------

def test_check_sample_apps_reports_blog_conflict(sample_project: Path) -> None:
    before = snapshot_tree(sample_project)
    proc = run_squasher("check", "--no-cache", cwd=sample_project)
    no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    sq001 = [line for line in proc.stdout.splitlines() if " SQ001 " in line]
    assert len(sq001) == 2
    assert all(re.match(r"blog/migrations/\d{4}_\w+\.py:\d+: SQ001 error: ", line) for line in sq001)
    assert snapshot_tree(sample_project) == before  # check never writes project files


def test_check_selected_apps_clean(sample_project: Path) -> None:
    proc = run_squasher("check", "catalog", "billing", "orders", "accounts", cwd=sample_project)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout
    assert "no problems" in proc.stdout or " info" in proc.stdout


def test_check_selected_apps_counts_only_those(sample_project: Path) -> None:
    catalog = len(list((sample_project / "catalog" / "migrations").glob("[0-9]*.py")))
    proc = run_squasher("check", "catalog", cwd=sample_project)
    assert f"{catalog} migrations in 1 app: " in proc.stdout
    data = json.loads(run_squasher("check", "catalog", "--format", "json", cwd=sample_project).stdout)
    assert data["migrations"] == catalog and data["apps"] == ["catalog"]


def test_check_json(sample_project: Path) -> None:
    proc = run_squasher("check", "--format", "json", cwd=sample_project)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    leaves = {p["migration"] for p in data["problems"] if p["code"] == "SQ001"}
    assert len(leaves) == 2 and all(m.startswith("blog.") for m in leaves)
    for problem in data["problems"]:
        assert (sample_project / problem["path"]).is_file() and problem["line"] >= 1


def test_check_unknown_app_is_usage_error(sample_project: Path) -> None:
    proc = run_squasher("check", "catalgo", cwd=sample_project)
    no_traceback(proc)
    assert proc.returncode == 2
    assert "unknown app 'catalgo'" in proc.stderr and "catalog" in proc.stderr


def test_check_missing_and_empty_root(tmp_path: Path) -> None:
    proc = run_squasher("check", "--root", str(tmp_path / "nope"), cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run_squasher("check", "--root", str(tmp_path / "empty"), cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 2 and "no migrations packages" in proc.stderr


def test_check_bad_input_files(tmp_path: Path) -> None:
    spec = {"shop": chain("shop", 1) + [
        ("0002_syntax", {"raw": "from django.db import migrations\n\nclass Migration(migrations.Migration:\n    pass\n"}),
        ("0003_noclass", {"raw": "x = 1\n"}),
        ("0004_deps", {"raw": "from django.db import migrations\nDEPS = []\n\nclass Migration(migrations.Migration):\n"
                              "    dependencies = DEPS\n"}),
    ]}
    root = make_tree(tmp_path / "p", spec)
    (root / "shop" / "migrations" / "0005_latin.py").write_bytes(b"# \xe9\xe9\nclass Migration:\n    pass\n")
    proc = run_squasher("check", "--root", str(root), cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 1
    out = proc.stdout
    assert "shop/migrations/0002_syntax.py:3: SQ006 error: syntax error" in out
    assert "shop/migrations/0003_noclass.py:1: SQ006 error: no `class Migration`" in out
    assert "shop/migrations/0004_deps.py:5: SQ006 error: `dependencies` is not a literal list" in out
    assert "shop/migrations/0005_latin.py:1: SQ006 error: file is not valid UTF-8" in out
    # graph still renders, marking the broken files
    proc = run_squasher("graph", "--root", str(root), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    flags = {n["name"]: n["flags"] for n in json.loads(proc.stdout)["nodes"]}
    assert "unparsable" in flags["0002_syntax"] and "unparsable" not in flags["0001_m1"]


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = run_squasher("check", "--debug", "--root", str(tmp_path / "nope"), cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


# -- graph --------------------------------------------------------------------------

def test_graph_text_marks_squash_replaced_conflict_merge(sample_project: Path) -> None:
    proc = run_squasher("graph", cwd=sample_project)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"^blog \(\d+ migrations, CONFLICT: 2 leaves\)", out, re.M)
    assert re.search(r"^  \S+squashed\S*  \[squash of \d+", out, re.M)
    assert "replaced (not in the plan):" in out
    assert re.search(r"^  \S*merge\S*  \[merge", out, re.M)


def test_graph_mermaid_ids_map_to_json_nodes(sample_project: Path) -> None:
    # every migration drawn (by default long lines are one box: tests/test_graph_collapse.py)
    mermaid = run_squasher("graph", "--format", "mermaid", "--no-collapse", cwd=sample_project)
    data = json.loads(run_squasher("graph", "--format", "json", cwd=sample_project).stdout)
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart")
    ids = set(re.findall(r"^    (n_\w+)[\[\(\{]", mermaid.stdout, re.M))
    assert ids == {n["id"] for n in data["nodes"]}
    for flag in ("squash", "replaced", "conflict", "merge"):
        assert re.search(rf"^  class \S+ {flag}$", mermaid.stdout, re.M), flag
    by_id = {n["id"]: n for n in data["nodes"]}
    for node in data["nodes"]:
        if node["path"]:
            assert (sample_project / node["path"]).is_file()
    for edge in data["edges"]:
        assert edge["from"] in by_id and edge["to"] in by_id
        assert edge["kind"] in ("effective", "replaced")
    assert any(e["kind"] == "replaced" for e in data["edges"])


def test_graph_dot_to_file_and_app_filter(sample_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    proc = run_squasher("graph", "billing", "--format", "dot", "-o", str(out), cwd=sample_project)
    assert proc.returncode == 0 and proc.stdout == ""
    text = out.read_text()
    assert text.startswith("digraph migrations {") and text.rstrip().endswith("}")
    assert 'label="billing"' in text and "shape=box3d" in text and "dashed" in text
    assert 'label="blog"' not in text


@pytest.mark.parametrize("fmt", ["text", "dot", "mermaid", "json"])
def test_graph_unknown_app(sample_project: Path, fmt: str) -> None:
    proc = run_squasher("graph", "nosuchapp", "--format", fmt, cwd=sample_project)
    no_traceback(proc)
    assert proc.returncode == 2 and "unknown app 'nosuchapp'" in proc.stderr


def test_graph_bad_format_is_usage_error(sample_project: Path) -> None:
    proc = run_squasher("graph", "--format", "png", cwd=sample_project)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_pre_commit_hook_definition() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "squasher-check"]
    assert hook["entry"].split() == ["squasher", "check"] and hook["pass_filenames"] is False
    # a commit that only deletes a migration has no file for `files` to match (pre-commit
    # lists added/changed files only): the hook must run anyway
    assert hook["always_run"] is True
    files = re.compile(hook["files"])
    assert files.search("shop/migrations/0001_initial.py")
    assert files.search("proj/settings.py") and files.search("shop/apps.py")
    assert not files.search("shop/views.py")
