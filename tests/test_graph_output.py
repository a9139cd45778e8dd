"""``squasher graph -o FILE`` picks the format from the extension; pictures via Graphviz;
dot and Mermaid carry a legend (issue 13)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import require, run_squasher, snapshot_tree


@pytest.mark.parametrize(("name", "check"), [
    ("g.dot", lambda text: text.startswith("digraph migrations {")),
    ("g.gv", lambda text: text.startswith("digraph migrations {")),
    ("g.mmd", lambda text: text.startswith("flowchart TB")),
    ("g.json", lambda text: "nodes" in json.loads(text)),
    ("g.txt", lambda text: re.search(r"^blog \(\d+ migrations, CONFLICT", text, re.M) is not None),
])
def test_format_follows_the_extension(sample_project: Path, tmp_path: Path, name: str,
                                      check) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / name
    proc = run_squasher("graph", "-o", str(out), cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    assert check(out.read_text())


def test_legend_lists_the_styles_that_occur(sample_project: Path) -> None:
    dot = run_squasher("graph", "--format", "dot", cwd=sample_project).stdout
    legend = dot[dot.index("subgraph cluster_legend"):]
    for flag in ("squash", "replaced", "merge", "conflict"):  # all occur in sample_apps
        assert f"legend_{flag} [" in legend, flag
    assert "legend_missing" not in legend  # nothing is missing in sample_apps
    mermaid = run_squasher("graph", "--format", "mermaid", cwd=sample_project).stdout
    assert 'subgraph legend["legend"]' in mermaid
    assert re.search(r"^  class \S*legend_squash\S* squash$", mermaid, re.M)
    plain = run_squasher("graph", "--format", "mermaid", "--no-legend", cwd=sample_project).stdout
    assert "legend" not in plain


def test_unknown_extension_and_mismatched_format_are_usage_errors(sample_project: Path,
                                                                  tmp_path: Path) -> None:
    before = snapshot_tree(sample_project)
    for argv, needle in ((["-o", str(tmp_path / "g.foo")], "cannot tell the format"),
                         (["--format", "json", "-o", str(tmp_path / "g.svg")], "not --format json")):
        proc = run_squasher("graph", *argv, cwd=sample_project)
        assert proc.returncode == 2
        assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("g.*"))
    assert snapshot_tree(sample_project) == before


def test_svg_and_png_pictures_drawn_by_graphviz(sample_project: Path, tmp_path: Path) -> None:
    require(shutil.which("dot") is not None, "Graphviz (dot)")
    svg = tmp_path / "graph.svg"
    proc = run_squasher("graph", "-o", str(svg), cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    texts = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert "legend" in texts and "squash (replaces migrations)" in texts
    assert any(t and t.startswith("0029_") for t in texts)
    png = tmp_path / "graph.png"
    assert run_squasher("graph", "-o", str(png), cwd=sample_project).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_picture_without_graphviz_is_one_clear_line(sample_project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "graph.svg"
    proc = run_squasher("graph", "-o", str(out), cwd=sample_project,
                        env={"PATH": str(empty) + os.pathsep + "/nonexistent"})
    assert proc.returncode == 2
    assert "needs Graphviz's `dot` program" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_html_page_is_self_contained_and_shows_a_clicked_migration(sample_project: Path,
                                                                   tmp_path: Path) -> None:
    """``-o graph.html``: one file (inline SVG, data and script, nothing fetched); opened in
    a real headless Chromium on ``#billing.0003_payment``, the panel shows that migration."""
    require(shutil.which("dot") is not None, "Graphviz (dot)")
    page = tmp_path / "graph.html"
    proc = run_squasher("graph", "-o", str(page), cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<?xml" not in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing from the network
    assert text.count('class="node"') >= 70 and ">legend<" in text
    data = json.loads(re.search(r'id="squasher-data">(.*?)</script>', text, re.S).group(1))
    node = data["nodes"][data["ids"]["billing.0003_payment"]]
    assert node["operations"] == ["CreateModel billing.payment"]
    assert node["replaced_by"] == "billing.0001_squashed_0004_alter_invoice_number"

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    require(browser is not None, "Chromium (.ci/run installs it)")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         page.as_uri() + "#billing.0003_payment"],
        capture_output=True, text=True, timeout=120).stdout
    details = re.search(r'<div id="details">(.*?)</div></aside>', dom, re.S)
    assert details is not None, dom[-2000:]
    shown = details.group(1)
    assert "<h2>billing.0003_payment</h2>" in shown
    assert "billing/migrations/0003_payment.py:" in shown
    assert "replaced by the squash billing.0001_squashed_0004_alter_invoice_number" in shown
    assert "<li>billing.0002_invoice_amount</li>" in shown
    assert "<li>CreateModel billing.payment</li>" in shown
    assert 'class="node selected"' in dom  # the drawing marks it too


def test_merge_migration_is_a_normal_sized_box_with_a_marker(sample_project: Path,
                                                              tmp_path: Path) -> None:
    """A merge used to be a diamond several times the height of its neighbours."""
    require(shutil.which("dot") is not None, "Graphviz (dot)")
    mermaid = run_squasher("graph", "catalog", "--format", "mermaid", cwd=sample_project).stdout
    assert '("◆ 0022_merge_supplier_phone_category_description")' in mermaid
    assert "{" not in mermaid.split("classDef")[0]  # no rhombus shapes at all
    svg = tmp_path / "catalog.svg"
    assert run_squasher("graph", "catalog", "-o", str(svg), cwd=sample_project).returncode == 0
    heights: dict[str, float] = {}
    for node in ET.fromstring(svg.read_bytes()).iter():
        if not (node.tag.endswith("g") and node.get("class") == "node"):
            continue
        title = next(t.text for t in node if t.tag.endswith("title"))
        shape = next(c for c in node.iter() if c.tag.endswith(("path", "polygon")))
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?",
                                                shape.get("d") or shape.get("points") or "")]
        ys = numbers[1::2]
        heights[title] = max(ys) - min(ys)
    merge = heights["n_catalog__0022_merge_supplier_phone_category_description"]
    normal = heights["n_catalog__0021_alter_supplier_phone"]
    assert merge <= normal * 1.1, (merge, normal)


#: a script run after the page's own: where the legend and every node ended up on screen
_GEOMETRY_PROBE = """<script>
(function () {
  function box(g) { var r = g.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  var out = {legend: null, nodes: {}};
  document.querySelectorAll("#canvas g.cluster, #canvas g.node").forEach(function (g) {
    var title = g.querySelector("title"); if (!title) { return; }
    if (title.textContent === "cluster_legend") { out.legend = box(g); }
    else if (g.classList.contains("node")) { out.nodes[title.textContent] = box(g); }
  });
  var pre = document.createElement("pre"); pre.id = "geometry"; pre.hidden = true;
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
"""
WINDOW = (1400, 900)
#: fill colours of the legend entries sample_apps shows (squash, merge, collapsed line)
SQUASH_FILL, MERGE_FILL, COLLAPSED_FILL = (0xD0, 0xE8, 0xFF), (0xFF, 0xF4, 0xD0), (0xE6, 0xF4, 0xEA)


def _near(colour: tuple[int, int, int], tolerance: int = 4):  # type: ignore[no-untyped-def]
    return lambda r, g, b: max(abs(r - colour[0]), abs(g - colour[1]), abs(b - colour[2])) <= tolerance


def _ink(r: int, g: int, b: int) -> bool:
    """A pixel of a line or a letter (the drawing's background is white)."""
    return max(r, g, b) < 170


def _headless(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=120)


def test_html_screenshot_shows_the_legend_and_the_nodes(sample_project: Path, tmp_path: Path) -> None:
    """The page in a real headless Chromium: its screenshot has the legend (with the squash,
    merge and collapsed-line colours inside the legend's box) and every node drawn (ink in
    each node's box), at the places the page's own layout put them."""
    require(shutil.which("dot") is not None, "Graphviz (dot)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    require(browser is not None, "Chromium (.ci/run installs it)")
    from support.png import read_png

    page = tmp_path / "graph.html"
    proc = run_squasher("graph", "-o", str(page), cwd=sample_project)
    assert proc.returncode == 0, proc.stderr
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", _GEOMETRY_PROBE + "</body>"))
    dom = _headless(browser, tmp_path, "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'<pre id="geometry" hidden="">(.*?)</pre>', dom, re.S)
    assert found is not None, dom[-2000:]
    geometry = json.loads(html.unescape(found.group(1)))
    shot = tmp_path / "graph.png"
    _headless(browser, tmp_path, f"--screenshot={shot}", probe.as_uri())
    image = read_png(shot.read_bytes())
    assert (image.width, image.height) == WINDOW

    legend = geometry["legend"]
    assert legend is not None, "no legend in the drawing"
    assert legend[0] >= 0 and legend[1] >= 0 and legend[2] <= WINDOW[0] and legend[3] <= WINDOW[1]
    for name, colour in (("squash", SQUASH_FILL), ("merge", MERGE_FILL), ("collapsed", COLLAPSED_FILL)):
        assert image.count(legend, _near(colour)) >= 40, f"legend entry {name} not on the screenshot"
    assert image.count(legend, _ink) >= 200  # its texts

    migrations = {k: v for k, v in geometry["nodes"].items() if k.startswith("n_")}
    boxes = {k: v for k, v in geometry["nodes"].items() if k.startswith("c_")}
    assert len(migrations) >= 40 and len(boxes) == 3  # catalog: 3 lines collapsed
    for node, where in migrations.items():
        assert where[0] >= 0 and where[2] <= WINDOW[0] and where[3] <= WINDOW[1], node
        assert image.count(where, _ink) >= 20, f"{node} is not drawn"
    for node, where in boxes.items():
        assert image.count(where, _near(COLLAPSED_FILL)) >= 40, f"{node} is not drawn"
    squash = geometry["nodes"]["n_billing__0001_squashed_0004_alter_invoice_number"]
    assert image.count(squash, _near(SQUASH_FILL)) >= 40
    # outside every box: the page's background, not more of the same
    empty = (WINDOW[0] - 300, WINDOW[1] - 60, WINDOW[0] - 20, WINDOW[1] - 20)  # the panel's foot
    assert image.count(empty, _near(SQUASH_FILL)) == 0
