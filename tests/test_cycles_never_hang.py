"""Issue 10, cycles never hang: every graph query and command on a cyclic history stops
with a :class:`CircularDependencyError` naming the cycle and its file:line (exit 1).

Before the fix the depth-first walk went round the loop until memory ran out, so
each test has a short timeout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_squasher

from squasher.errors import CircularDependencyError
from squasher.graph.project import Project

pytestmark = pytest.mark.timeout(120)

CROSS_APP = ("orders/migrations/0002_orderline.py", "        ('orders', '0001_initial'),\n",
             "        ('catalog', '0031_rename_review_productreview'),\n")
IN_APP = ("blog/migrations/0002_post_slug.py", "        ('blog', '0001_initial'),\n",
          "        ('blog', '0004_post_summary'),\n")


def _plant(root: Path, edit: tuple[str, str, str]) -> Path:
    path = root / edit[0]
    text = path.read_text()
    assert edit[1] in text
    path.write_text(text.replace(edit[1], edit[1] + edit[2], 1))
    return path


@pytest.fixture(params=["cross_app", "in_app"])
def cyclic(request: pytest.FixtureRequest, sample_project: Path) -> tuple[Path, Path]:
    edit = CROSS_APP if request.param == "cross_app" else IN_APP
    return sample_project, _plant(sample_project, edit)


@pytest.mark.timeout(10)
def test_graph_queries_raise_naming_the_cycle(cyclic: tuple[Path, Path]) -> None:
    root, edited = cyclic
    graph = Project.load(root, use_cache=False).graph
    app = "blog" if "blog" in str(edited) else "orders"
    with pytest.raises(CircularDependencyError) as info:
        graph.app_plan(app)
    error = info.value
    assert error.cycle and error.cycle == graph.cycles()[0]
    assert error.path is not None and error.line
    names = ", ".join(f"{a}.{n}" for a, n in error.cycle)
    assert f"circular dependency: {names}" in str(error)  # Django's message: the nodes, ", "
    node = next(k for k in error.cycle if k[0] == app)
    with pytest.raises(CircularDependencyError):
        graph.forwards_plan(node)


@pytest.mark.timeout(10)
def test_error_points_at_the_dependency_closing_the_loop(sample_project: Path) -> None:
    edited = _plant(sample_project, IN_APP)
    graph = Project.load(sample_project, use_cache=False).graph
    with pytest.raises(CircularDependencyError) as info:
        graph.app_plan("blog")
    line = edited.read_text().splitlines().index(IN_APP[2].rstrip("\n")) + 1
    assert (info.value.path, info.value.line) == (edited, line)


@pytest.mark.parametrize("command", [
    ["suggest"], ["graph"], ["graph", "--format", "json"], ["compact", "--dry-run"],
    ["merge", "--dry-run"], ["merge", "blog", "--rebase", "--dry-run"],
    ["squash", "blog", "0001", "0002", "--dry-run"],  # Django's loader refuses; located statically
], ids=" ".join)
def test_commands_report_the_cycle_and_exit_1(sample_project: Path, command: list[str]) -> None:
    edited = _plant(sample_project, IN_APP)
    result = run_squasher(*command, cwd=sample_project)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{edited}:" in result.stderr and "circular dependency: blog." in result.stderr


@pytest.mark.parametrize("command", [["suggest"], ["graph", "--format", "json"]], ids=" ".join)
def test_commands_report_a_cross_app_cycle(sample_project: Path, command: list[str]) -> None:
    _plant(sample_project, CROSS_APP)
    result = run_squasher(*command, cwd=sample_project)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "circular dependency: " in result.stderr and "orders.0002_orderline" in result.stderr


@pytest.mark.timeout(10)
def test_split_of_members_across_apps_on_a_cyclic_graph_names_the_cycle(sample_project: Path) -> None:
    from squasher.graph.cycles import split_without_cycles

    _plant(sample_project, CROSS_APP)
    graph = Project.load(sample_project, use_cache=False).graph
    members = [("orders", "0003_order_note"), ("orders", "0001_initial"), ("catalog", "0001_initial")]
    with pytest.raises(CircularDependencyError) as info:  # was networkx's NetworkXUnfeasible
        split_without_cycles(graph, "orders", members)
    assert info.value.path is not None and "circular dependency: " in str(info.value)
