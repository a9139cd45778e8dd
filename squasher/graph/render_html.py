"""``squasher graph -o graph.html``: one self-contained page (no network, no external file).

The picture is Graphviz's SVG of the dot rendering (legend included), inlined; a few lines of
script add pan (drag), zoom (wheel, +/-, fit) and a panel that shows a clicked migration: its
file and line, marks (squash, replaced, merge, leaf...), what it replaces or is replaced by,
its dependencies and its operations as the static reader saw them (``graph.html#app.name``
opens on that migration). Static side only.

A line of migrations collapsed into one box (``graph --collapse N``) expands: a click on
the box lists its migrations in the panel (each opens like a clicked node), and the
"expand" button (or the panel's) swaps in a second inlined drawing with every migration,
drawn by Graphviz too; a migration hidden in a box selects that box.
"""

from __future__ import annotations

import html
import json
from collections.abc import Collection
from pathlib import Path

from squasher.graph.graph import MigrationGraph
from squasher.graph.render import node_id
from squasher.records import JSON_VERSION, MigrationKey, Reference

__all__ = ["render_html"]


def render_html(graph: MigrationGraph, apps: list[str], svg: str, root: Path | None = None,
                title: str = "migration graph", *, expanded_svg: str | None = None,
                collapse: int = 0, keep: Collection[MigrationKey] = ()) -> str:
    """The page for ``apps``; ``svg`` is Graphviz's drawing of the dot rendering with
    lines of ``collapse`` migrations as boxes, ``expanded_svg`` the drawing of every
    migration (given when a line was collapsed); ``keep`` as :func:`squasher.graph.render.render`'s."""
    from squasher.graph.render import collapsed_runs, graph_json

    document = graph_json(graph, apps, root)
    details: dict[str, dict[str, object]] = {}
    for node in document["nodes"]:
        key = (node["app"], node["name"])
        record = graph.records.get(key)
        details[node["id"]] = {
            **node,
            # as the file writes them (a replaced migration is out of the effective graph)
            "dependencies": [_reference(ref) for ref in record.dependencies] if record else [],
            "operations": [op.describe(key[0]) for op in record.operations] if record else [],
        }
    runs = collapsed_runs(graph, apps, collapse, keep=keep)
    data = {"version": JSON_VERSION, "title": title, "nodes": details,
            "ids": {f"{n['app']}.{n['name']}": n["id"] for n in document["nodes"]},
            "collapsed": {run.id: {"app": run.app, "label": run.label,
                                   "members": [node_id(key) for key in run.members]}
                          for run in runs}}
    # "</" would end the <script> element early; JSON allows the escaped slash
    payload = json.dumps(data).replace("</", "<\\/")
    expanded = ""
    if expanded_svg is not None and runs:
        expanded = ('<template id="expanded-drawing">' + _strip_xml_prologue(expanded_svg)
                    + "</template>")
    return (_PAGE.replace("{{title}}", html.escape(title))
            .replace("{{expand}}", _EXPAND_BUTTON if expanded else "")
            .replace("{{svg}}", _strip_xml_prologue(svg))
            .replace("{{expanded}}", expanded)
            .replace("{{data}}", payload))


def _reference(ref: Reference) -> str:
    if ref.swappable_setting:
        return f"settings.{ref.swappable_setting} ({ref.app_label or 'unresolved'}.{ref.name})"
    return f"{ref.app_label}.{ref.name}"


def _strip_xml_prologue(svg: str) -> str:
    """Graphviz's SVG starts with an XML declaration and a DOCTYPE: not allowed inline."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


_EXPAND_BUTTON = ('<button id="expand" title="draw every migration (collapsed lines '
                  'expanded)">expand</button>')

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}}</title>
<style>
  html, body { margin: 0; height: 100%; font: 14px system-ui, sans-serif; }
  body { display: flex; }
  #view { flex: 1; overflow: hidden; position: relative; cursor: grab; background: #fafafa; }
  #view.dragging { cursor: grabbing; }
  #canvas { transform-origin: 0 0; position: absolute; top: 0; left: 0; }
  #panel { width: 340px; overflow: auto; border-left: 1px solid #ddd; padding: 12px; }
  #panel h2 { font-size: 15px; margin: 0 0 8px; word-break: break-all; }
  #panel ul { padding-left: 18px; margin: 4px 0 10px; }
  #tools { position: absolute; top: 8px; left: 8px; z-index: 1; }
  #tools button { font-size: 14px; min-width: 32px; }
  g.node { cursor: pointer; }
  g.node.selected polygon, g.node.selected ellipse, g.node.selected path { stroke: #d33; stroke-width: 3; }
  .muted { color: #777; }
  #details a { color: #0645ad; cursor: pointer; text-decoration: underline; }
  #details button { margin: 0 0 10px; }
</style>
</head>
<body>
<div id="view">
  <div id="tools"><button id="zoom-in" title="zoom in">+</button>
    <button id="zoom-out" title="zoom out">&minus;</button>
    <button id="fit" title="fit to the window">fit</button>
    {{expand}}</div>
  <div id="canvas">{{svg}}</div>
</div>
{{expanded}}
<aside id="panel"><h2>{{title}}</h2>
  <p class="muted">Click a migration to see its file, marks, dependencies and operations,
  a collapsed line to list its migrations. Drag to pan; wheel or +/&minus; to zoom.</p>
  <div id="details"></div></aside>
<script type="application/json" id="squasher-data">{{data}}</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("squasher-data").textContent);
  var view = document.getElementById("view"), canvas = document.getElementById("canvas");
  var scale = 1, x = 0, y = 0, drag = null;
  function apply() { canvas.style.transform = "translate(" + x + "px," + y + "px) scale(" + scale + ")"; }
  function zoom(factor, cx, cy) {
    var next = Math.min(8, Math.max(0.05, scale * factor));
    x = cx - (cx - x) * next / scale; y = cy - (cy - y) * next / scale; scale = next; apply();
  }
  function fit() {
    var svg = canvas.querySelector("svg"); if (!svg) { return; }
    var box = svg.getBoundingClientRect(), w = box.width / scale, h = box.height / scale;
    scale = Math.min(1, view.clientWidth / w, (view.clientHeight - 52) / h) || 1;
    x = (view.clientWidth - w * scale) / 2; y = 44; apply();  // below the tool buttons
  }
  view.addEventListener("wheel", function (e) {
    e.preventDefault(); var r = view.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  view.addEventListener("mousedown", function (e) {
    drag = {sx: e.clientX - x, sy: e.clientY - y, moved: false}; view.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; } drag.moved = true; x = e.clientX - drag.sx; y = e.clientY - drag.sy; apply();
  });
  window.addEventListener("mouseup", function () { view.classList.remove("dragging"); setTimeout(function () { drag = null; }, 0); });
  document.getElementById("zoom-in").onclick = function () { zoom(1.25, view.clientWidth / 2, view.clientHeight / 2); };
  document.getElementById("zoom-out").onclick = function () { zoom(0.8, view.clientWidth / 2, view.clientHeight / 2); };
  document.getElementById("fit").onclick = fit;

  function text(tag, value, cls) {
    var el = document.createElement(tag); el.textContent = value; if (cls) { el.className = cls; } return el;
  }
  function list(title, items, target) {
    target.appendChild(text("strong", title + " (" + items.length + ")"));
    var ul = document.createElement("ul");
    items.forEach(function (item) { ul.appendChild(text("li", item)); });
    if (!items.length) { ul.appendChild(text("li", "none", "muted")); }
    target.appendChild(ul);
  }
  var collapsed = data.collapsed || {}, boxOf = {}, current = null;
  Object.keys(collapsed).forEach(function (boxId) {
    collapsed[boxId].members.forEach(function (id) { boxOf[id] = boxId; });
  });
  var compact = canvas.querySelector("svg"), template = document.getElementById("expanded-drawing");
  var expanded = null, expandButton = document.getElementById("expand");
  function drawn(id) {
    var found = null;
    canvas.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title"); if (t && t.textContent === id) { found = g; }
    });
    return found;
  }
  function select(id) {
    canvas.querySelectorAll("g.node.selected").forEach(function (g) { g.classList.remove("selected"); });
    // a migration hidden in a collapsed line selects its box
    var g = id && (drawn(id) || (boxOf[id] && drawn(boxOf[id])));
    if (g) { g.classList.add("selected"); }
  }
  function setExpanded(on) {
    if (!template) { return; }
    if (!expanded) { expanded = document.importNode(template.content, true).querySelector("svg"); }
    var next = on ? expanded : compact;
    if (canvas.firstElementChild !== next) { canvas.replaceChild(next, canvas.firstElementChild); }
    expandButton.textContent = on ? "collapse" : "expand";
    document.body.classList.toggle("expanded", on);
    fit(); select(current);
  }
  if (expandButton) {
    expandButton.onclick = function () { setExpanded(canvas.firstElementChild === compact); };
  }
  function link(id) {
    var node = data.nodes[id], a = text("a", node ? node.name : id);
    a.onclick = function () { show(id); }; return a;
  }
  function showRun(boxId) {
    var run = collapsed[boxId], box = document.getElementById("details");
    box.textContent = ""; current = boxId; select(boxId);
    box.appendChild(text("h2", run.app + ": " + run.label));
    box.appendChild(text("p", run.members.length + " migrations in a line (one parent and one " +
      "child each, in " + run.app + ", nothing marked), drawn as one box.", "muted"));
    if (template) {
      var button = text("button", "show them in the drawing");
      button.onclick = function () { setExpanded(true); }; box.appendChild(button);
    }
    box.appendChild(text("strong", "migrations (" + run.members.length + ")"));
    var ul = document.createElement("ul");
    run.members.forEach(function (id) { var li = document.createElement("li"); li.appendChild(link(id)); ul.appendChild(li); });
    box.appendChild(ul);
  }
  function show(id) {
    if (collapsed[id]) { showRun(id); return; }
    var node = data.nodes[id], box = document.getElementById("details");
    box.textContent = "";
    if (!node) { return; }
    current = id; select(id);
    box.appendChild(text("h2", node.app + "." + node.name));
    if (boxOf[id]) {
      var p = text("p", "hidden in the collapsed line ", "muted"), a = text("a", collapsed[boxOf[id]].label);
      a.onclick = function () { showRun(boxOf[id]); }; p.appendChild(a); box.appendChild(p);
    }
    box.appendChild(text("p", node.path ? node.path + (node.line ? ":" + node.line : "") : "not in this project", "muted"));
    if (node.flags.length) { box.appendChild(text("p", "marks: " + node.flags.join(", "))); }
    if (node.replaced_by) { box.appendChild(text("p", "replaced by the squash " + node.replaced_by)); }
    if (node.replaces.length) { list("replaces", node.replaces, box); }
    list("dependencies", node.dependencies, box);
    list("operations", node.operations, box);
  }
  canvas.addEventListener("click", function (e) {
    if (drag && drag.moved) { return; }
    var g = e.target.closest ? e.target.closest("g.node") : null;
    var t = g && g.querySelector("title"); if (t) { show(t.textContent); }
  });
  window.squasherShow = function (name) { show(data.ids[name] || name); };
  // graph.html#app.name opens on that migration (a link from a review, a CI log...)
  function fromHash() { if (location.hash.length > 1) { window.squasherShow(decodeURIComponent(location.hash.slice(1))); } }
  window.addEventListener("hashchange", fromHash);
  fit();
  fromHash();
})();
</script>
</body>
</html>
"""
