"""Does the static graph agree with the graph Django's ``MigrationLoader`` builds?"""

from __future__ import annotations


def assert_agree(graph, dj: dict) -> None:
    dj_nodes = {tuple(k): ext for k, ext in dj["nodes"]}
    dj_edges = {(tuple(a), tuple(b)) for a, b in dj["edges"]}
    project = {k for k, ext in dj_nodes.items() if not ext}
    static_project = {k for k in graph.nx if graph.is_project_node(k)}
    assert static_project == project, "project nodes differ"
    assert not [k for k, d in graph.nx.nodes(data=True) if d.get("missing")], "static graph has missing nodes"

    def ends(app: str, which: str) -> tuple[str, str]:
        nodes = [k for k in dj_nodes if k[0] == app]
        if which == "__first__":
            cands = [k for k in nodes if not any(a[0] == app and b == k for a, b in dj_edges)]
        else:
            cands = [k for k in nodes if not any(b[0] == app and a == k for a, b in dj_edges)]
        return sorted(cands)[0]

    def real(key):
        if key[1] in ("__first__", "__latest__"):
            assert graph.nx.nodes[key]["external"]
            return ends(key[0], key[1])
        return key

    static_edges = {(real(a), real(b)) for a, b in graph.nx.edges()}
    touching = {(a, b) for a, b in dj_edges if a in project or b in project}
    assert static_edges == touching, (
        f"only static: {sorted(static_edges - touching)}; only Django: {sorted(touching - static_edges)}")
    for k in graph.nx:
        if graph.nx.nodes[k]["external"] and k[1] not in ("__first__", "__latest__"):
            assert dj_nodes.get(k) is True, f"external node {k} unknown to Django"
    plans = 0
    for leaf, plan in dj["plans"]:
        leaf = tuple(leaf)
        if leaf in project:
            expected = [tuple(k) for k in plan if tuple(k) in project]
            assert [k for k in graph.forwards_plan(leaf) if k in static_project] == expected
            plans += 1
    assert plans == len({k for k in static_project if k in {tuple(lf) for lf, _ in dj["plans"]}})
    # conflicts as Django's detect_conflicts sees them
    leaves: dict[str, list] = {}
    for leaf, _ in dj["plans"]:
        if tuple(leaf) in project:
            leaves.setdefault(leaf[0], []).append(tuple(leaf))
    assert graph.conflicts() == {a: sorted(ls) for a, ls in leaves.items() if len(ls) > 1}
