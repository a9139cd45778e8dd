"""``squasher graph --collapse N``: a long line of plain migrations is one box in dot,
Mermaid and the HTML page (which expands it); merges, branches, cross-app dependencies
and marked migrations stay visible; graph walks stay finite on cyclic graphs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require, run_squasher
from support.trees import chain, make_tree
from synthetic import generate_project  # benchmarks/, on sys.path by conftest

from squasher.graph.check import check_project
from squasher.graph.graph import linear_runs
from squasher.graph.project import Project
from squasher.graph.render import (
    DEFAULT_COLLAPSE,
    CollapsedRun,
    _Context,
    _flags,
    collapsed_runs,
    render,
)

APP = "app000"


def _key(index: int, app: str = APP) -> tuple[str, str]:
    return (app, f"{index:04d}_auto_{index}")


@pytest.fixture(scope="module")
def long_line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic generator's plain app: 60 migrations in one line."""
    return generate_project(tmp_path_factory.mktemp("line") / "proj", apps=1, per_app=60)


def load(root: Path) -> Project:
    return Project.load(root, settings_module="settings", use_cache=False)


def drawn_ids(text: str) -> set[str]:
    """Ids of the migration nodes and collapsed boxes in dot or Mermaid output."""
    return set(re.findall(r"^    ([nc]_\w+)(?: \[|\[|\()", text, re.M))


def test_a_60_migration_line_is_one_box_between_its_ends(long_line: Path) -> None:
    graph = load(long_line).graph
    runs = collapsed_runs(graph, [APP], DEFAULT_COLLAPSE)
    assert [run.members for run in runs] == [tuple(_key(i) for i in range(2, 60))]
    box = runs[0]
    assert box.label == "0002 … 0059 (58 migrations)"
    first, last = "n_app000__0001_auto_1", "n_app000__0060_auto_60"
    dot = render(graph, "dot", [APP], legend=True, collapse=DEFAULT_COLLAPSE)
    assert drawn_ids(dot) == {first, box.id, last}
    assert f'{box.id} [label="0002 … 0059 (58 migrations)"' in dot
    assert re.findall(r"^  (\w+) -> (\w+)", dot, re.M) == [(first, box.id), (box.id, last)]
    assert 'legend_collapsed [label="line of migrations, collapsed"' in dot
    mermaid = render(graph, "mermaid", [APP], legend=True, collapse=DEFAULT_COLLAPSE)
    assert drawn_ids(mermaid) == {first, box.id, last}
    assert f'    {box.id}["0002 … 0059 (58 migrations)"]' in mermaid
    assert f"  {first} --> {box.id}" in mermaid and f"  {box.id} --> {last}" in mermaid
    assert re.search(rf"^  class {box.id}(,legend_collapsed)? collapsed$", mermaid, re.M)


def test_collapse_0_draws_every_migration_and_text_json_ignore_the_flag(long_line: Path) -> None:
    every = {f"n_{APP}__{_key(i)[1]}" for i in range(1, 61)}
    for argv in (["--collapse", "0"], ["--no-collapse"]):
        for fmt in ("dot", "mermaid"):
            proc = run_squasher("graph", "--format", fmt, *argv, cwd=long_line)
            assert proc.returncode == 0, proc.stderr
            assert drawn_ids(proc.stdout) == every, (argv, fmt)
    default = run_squasher("graph", "--format", "dot", cwd=long_line).stdout
    assert len(drawn_ids(default)) == 3
    assert len(drawn_ids(run_squasher("graph", "--format", "dot", "--collapse", "59",
                                      cwd=long_line).stdout)) == 60  # a 58-line is shorter
    for fmt in ("text", "json"):
        plain = run_squasher("graph", "--format", fmt, "--no-collapse", cwd=long_line).stdout
        assert run_squasher("graph", "--format", fmt, cwd=long_line).stdout == plain
    assert len(json.loads(plain)["nodes"]) == 60


def test_collapse_1_and_negative_lengths_are_usage_errors(long_line: Path) -> None:
    for value in ("1", "-3", "many"):
        proc = run_squasher("graph", "--format", "dot", "--collapse", value, cwd=long_line)
        assert proc.returncode == 2 and "--collapse" in proc.stderr, value


def _shapes_spec() -> dict[str, list[tuple[str, dict]]]:
    """a: 0001..0040 in a line, except: 0015 also needs b.0001 (cross-app in), b.0002
    needs a.0030 (cross-app out), 0041 branches off 0035, and 0042 merges 0040 and 0041."""
    a = chain("a", 40)
    a[14][1]["deps"].append(("b", "0001_initial"))
    a.append(("0041_branch", {"deps": [("a", "0035_m35")]}))
    a.append(("0042_merge", {"deps": [("a", "0040_m40"), ("a", "0041_branch")]}))
    b = [("0001_initial", {"initial": True}),
         ("0002_x", {"deps": [("b", "0001_initial"), ("a", "0030_m30")]})]
    return {"a": a, "b": b}


def test_merges_branches_and_cross_app_dependencies_break_the_line(tmp_path: Path) -> None:
    graph = load(make_tree(tmp_path / "proj", _shapes_spec())).graph
    runs = [[name[:4] for _, name in run.members] for run in collapsed_runs(graph, ["a"], 5)]
    span = lambda lo, hi: [f"{i:04d}" for i in range(lo, hi + 1)]  # noqa: E731
    # 0031..0034 (4 long) stays drawn at 5; 0036..0040 ends on the merge's parent
    assert runs == [span(2, 14), span(16, 29), span(36, 40)]
    dot = render(graph, "dot", ["a"], collapse=5)
    for name in ("0001_m1", "0015_m15", "0030_m30", "0031_m31", "0034_m34", "0035_m35",
                 "0041_branch", "0042_merge"):
        assert f"n_a__{name} [" in dot, name
    assert "n_b__0001_initial [" in dot and "n_b__0002_x [" in dot  # the other app's neighbours
    assert "n_b__0001_initial -> n_a__0015_m15;" in dot
    assert "c_a__0016_m16 -> n_a__0030_m30;" in dot and "n_a__0030_m30 -> n_b__0002_x;" in dot
    assert len(collapsed_runs(graph, ["a"], 4)) == 4  # now 0031..0034 too
    assert collapsed_runs(graph, ["b"], 2) == []  # a's nodes are neighbours only: never boxed


def _marked_spec() -> dict[str, list[tuple[str, dict]]]:
    """a line of 40 with: a squash of 0010..0012 (originals on disk), an unreadable 0020, a
    dangling dependency in 0025, and two leaves (0040 and 0041_other off 0039)."""
    a = chain("a", 40)
    a[19] = ("0020_m20", {"raw": "this is not ( python\n"})
    a[24][1]["deps"].append(("a", "0999_missing"))
    a.append(("0010_squashed_0012", {"replaces": [("a", f"00{i}_m{i}") for i in (10, 11, 12)],
                                      "deps": [("a", "0009_m9")]}))
    a.append(("0041_other", {"deps": [("a", "0039_m39")]}))
    return {"a": a}


def test_collapse_never_hides_a_marked_migration_or_a_problem(tmp_path: Path) -> None:
    project = load(make_tree(tmp_path / "proj", _marked_spec()))
    graph = project.graph
    runs = collapsed_runs(graph, ["a"], 2)
    hidden = {key for run in runs for key in run.members}
    assert runs and hidden
    ctx = _Context(graph)
    for key in hidden:
        assert set(_flags(graph, key, ctx)) <= {"initial", "leaf"}, key
    problems = {p.key for p in check_project(project) if p.key is not None}
    assert problems and not problems & hidden
    dot = render(graph, "dot", ["a"], collapse=2)
    for name in ("0010_m10", "0011_m11", "0012_m12", "0010_squashed_0012", "0013_m13",
                 "0020_m20", "0025_m25", "0999_missing", "0040_m40", "0041_other", "0039_m39"):
        assert f"n_a__{name} [" in dot, name
    assert "c_a__0002_m2" in dot  # 0002..0008: plain, and long enough
    kept = render(graph, "dot", ["a"], collapse=2, keep={("a", "0005_m5")})
    assert "n_a__0005_m5 [" in kept  # kept: the line is cut in two around it
    assert "c_a__0002_m2" in kept and "c_a__0006_m6" in kept
    cli = run_squasher("graph", "a", "--format", "dot", "--collapse", "2", cwd=project.root)
    assert cli.returncode == 0, cli.stderr
    for _, name in problems:
        assert f"n_a__{name} [" in cli.stdout, name


def test_linear_runs_terminate_on_cycles() -> None:
    """A ring of plain nodes has no start; a tail into a ring stops where the ring closes."""
    ring = [(("a", f"{i}"), ("a", f"{(i + 1) % 50}")) for i in range(50)]
    assert linear_runs(ring, lambda key: True, 2) == []
    tail = [(("a", "t0"), ("a", "t1")), (("a", "t1"), ("a", "0")), *ring]
    runs = linear_runs(tail, lambda key: True, 2)
    assert runs == [[("a", f"{i}") for i in range(1, 50)]]  # "0" has two parents
    assert linear_runs(ring, lambda key: True, 0) == []


@pytest.mark.timeout(60)
def test_dot_and_mermaid_of_cyclic_projects_finish_and_keep_the_cycle(tmp_path: Path) -> None:
    ring = chain("a", 20)
    ring[0][1]["deps"].append(("a", "0020_m20"))  # 0001 <- 0020: the whole app is one ring
    loop = chain("a", 20)
    loop[14][1]["deps"].append(("a", "0018_m18"))  # 0015 -> 0018 -> 0015
    for name, spec in (("ring", {"a": ring}), ("loop", {"a": loop})):
        graph = load(make_tree(tmp_path / name, spec)).graph
        assert graph.cycles()
        for fmt in ("dot", "mermaid"):
            text = render(graph, fmt, None, legend=True, collapse=2)
            for index in (1, 15, 16, 17, 18, 20):  # a migration on a cycle is never hidden
                assert f"n_a__{index:04d}_m{index}" in text, (name, fmt, index)
            assert ("c_a__0002_m2" in text) == (name == "loop")  # 0002..0014 before the loop


def _open_probe(page: Path, probe: str, tmp_path: Path, fragment: str = "") -> dict:
    """``page`` with ``probe`` (a script that writes JSON into ``#probe``) run after the
    page's own script in headless Chromium; the JSON."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    require(browser is not None, "Chromium (.ci/run installs it)")
    copy = tmp_path / f"probe-{page.name}"
    copy.write_text(page.read_text().replace("</body>", f"<script>{probe}</script>\n</body>"))
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1400,900", "--dump-dom", copy.as_uri() + fragment],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', proc.stdout, re.S)
    assert found is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    import html

    return json.loads(html.unescape(found.group(1)))


_CLICK_PROBE = """
(function () {
  function nodes() {
    return Array.prototype.map.call(document.querySelectorAll("#canvas g.node > title"),
                                    function (t) { return t.textContent; });
  }
  var out = {before: nodes()};
  var box = Array.prototype.filter.call(document.querySelectorAll("#canvas g.node"), function (g) {
    return g.querySelector("title").textContent.indexOf("c_") === 0; })[0];
  box.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  var details = document.getElementById("details");
  out.panel = details.textContent;
  out.links = Array.prototype.map.call(details.querySelectorAll("li a"), function (a) { return a.textContent; });
  out.boxSelected = box.classList.contains("selected");
  details.querySelectorAll("li a")[29].click();
  out.member = details.textContent;
  document.getElementById("expand").click();
  out.after = nodes();
  out.selected = Array.prototype.map.call(document.querySelectorAll("#canvas g.node.selected > title"),
                                          function (t) { return t.textContent; });
  var pre = document.createElement("pre"); pre.id = "probe"; pre.hidden = true;
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
"""


def test_html_box_lists_its_migrations_and_expands(long_line: Path, tmp_path: Path) -> None:
    require(shutil.which("dot") is not None, "Graphviz (dot)")
    page = tmp_path / "graph.html"
    proc = run_squasher("graph", "-o", str(page), cwd=long_line)
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    data = json.loads(re.search(r'id="squasher-data">(.*?)</script>', text, re.S).group(1))
    box_id = "c_app000__0002_auto_2"
    assert data["collapsed"][box_id]["label"] == "0002 … 0059 (58 migrations)"
    assert len(data["collapsed"][box_id]["members"]) == 58
    assert len(data["nodes"]) == 60  # every migration can be inspected
    assert '<template id="expanded-drawing">' in text and 'id="expand"' in text

    seen = _open_probe(page, _CLICK_PROBE, tmp_path)
    assert set(seen["before"]) >= {box_id, "n_app000__0001_auto_1", "n_app000__0060_auto_60"}
    assert not any(n.startswith("n_app000__0030") for n in seen["before"])
    assert seen["boxSelected"] and "0002 … 0059 (58 migrations)" in seen["panel"]
    assert seen["links"] == [f"{i:04d}_auto_{i}" for i in range(2, 60)]
    assert "app000.0031_auto_31" in seen["member"] and "operations" in seen["member"]
    assert "hidden in the collapsed line" in seen["member"]
    migrations = [n for n in seen["after"] if n.startswith("n_app000__")]
    assert len(migrations) == 60 and box_id not in seen["after"]
    assert seen["selected"] == ["n_app000__0031_auto_31"]  # the member stays selected

    hashed = _open_probe(page, """
      var pre = document.createElement("pre"); pre.id = "probe";
      pre.textContent = JSON.stringify({panel: document.getElementById("details").textContent,
        selected: Array.prototype.map.call(document.querySelectorAll("g.node.selected > title"),
                                           function (t) { return t.textContent; })});
      document.body.appendChild(pre);""", tmp_path, "#app000.0040_auto_40")
    assert "app000.0040_auto_40" in hashed["panel"]
    assert hashed["selected"] == [box_id]  # hidden in the box: the box is selected


def test_page_without_collapsed_lines_has_no_second_drawing(long_line: Path, tmp_path: Path) -> None:
    require(shutil.which("dot") is not None, "Graphviz (dot)")
    page = tmp_path / "graph.html"
    assert run_squasher("graph", "--no-collapse", "-o", str(page), cwd=long_line).returncode == 0
    text = page.read_text()
    assert '<template id="expanded-drawing">' not in text and '<button id="expand"' not in text
    assert text.count('class="node"') == 60 + 1  # + the legend's "migration"


def test_run_ids_never_collide_with_node_ids() -> None:
    run = CollapsedRun((("shop", "0002_a"), ("shop", "0003_b")))
    assert run.id == "c_shop__0002_a" and run.label == "0002 … 0003 (2 migrations)"
    assert CollapsedRun((("shop", "initial"), ("shop", "final"))).label == "initial … final (2 migrations)"
