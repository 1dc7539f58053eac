"""Browser reports applied to the graph, and the graph painted for the browser."""
import html

from builder import canvas
from builder.canvas import CanvasMemory, Report, apply_report, parse_report
from builder.workspace import Workspace
from runtime.compiler import compile
from runtime.graph import Graph, Project, parse_project


def lenet_like() -> Workspace:
    ws = Workspace(Project("t", Graph()))
    for t in ("Input", "Conv2d", "Flatten", "Linear", "Output"):
        ws.add_layer(t)
    ws.select(None)
    return ws


def report(ws: Workspace, ts: int, **change) -> Report:
    """What the browser would send for the current graph, with `change` applied."""
    positions = {n.id: n.position for n in ws.graph.nodes}
    edges = [(e.source, e.target) for e in ws.graph.edges]
    return Report(ts, change.get("positions", positions), change.get("edges", edges),
                  change.get("selected"), ws.token)


def test_parse_report_reads_the_components_value():
    value = {"nodes": [{"id": "a", "position": {"x": 1, "y": 2}, "data": {"token": "k"}}],
             "edges": [{"id": "e", "source": "a", "target": "b"}], "selectedId": "a", "timestamp": 7}
    assert parse_report(value) == Report(7, {"a": (1.0, 2.0)}, [("a", "b")], "a", "k")
    assert parse_report(None) is None and parse_report({"nodes": "x"}) is None


def test_a_drag_moves_a_node_and_a_click_selects_it():
    ws, memory = lenet_like(), CanvasMemory()
    apply_report(ws, report(ws, 1), memory)
    apply_report(ws, report(ws, 2, positions={**report(ws, 2).positions, "conv1": (300.0, 40.0)},
                            selected="flatten1"), memory)
    assert ws.graph.node("conv1").position == (300.0, 40.0) and ws.selected == "flatten1"


def test_a_connection_drawn_in_the_browser_becomes_an_edge():
    ws, memory = lenet_like(), CanvasMemory()
    ws.add_layer("ReLU")
    apply_report(ws, report(ws, 1), memory)
    apply_report(ws, report(ws, 2, edges=report(ws, 2).edges + [("fc1", "relu1")]), memory)
    assert ws.graph.inputs_of("relu1") == ["fc1"]


def test_a_node_deleted_in_the_browser_is_deleted_and_its_chain_bridged():
    ws, memory = lenet_like(), CanvasMemory()
    apply_report(ws, report(ws, 1), memory)
    r = report(ws, 2)
    del r.positions["flatten1"]
    r.edges = [p for p in r.edges if "flatten1" not in p]
    apply_report(ws, r, memory)
    assert not ws.has_node("flatten1") and ws.graph.inputs_of("fc1") == ["conv1"]
    assert ws.undo() and ws.has_node("flatten1")


def test_an_edge_deleted_in_the_browser_is_removed():
    ws, memory = lenet_like(), CanvasMemory()
    apply_report(ws, report(ws, 1), memory)
    apply_report(ws, report(ws, 2, edges=[p for p in report(ws, 2).edges if p != ("flatten1", "fc1")]),
                 memory)
    assert ws.graph.inputs_of("fc1") == []


def test_a_node_added_in_python_is_not_deleted_by_a_report_that_predates_it():
    ws, memory = lenet_like(), CanvasMemory()
    apply_report(ws, report(ws, 1), memory)
    stale = report(ws, 2)
    ws.add_layer("ReLU")                    # the browser has not drawn relu1 yet
    apply_report(ws, stale, memory)
    assert ws.has_node("relu1")


def test_an_edge_removed_in_python_is_not_brought_back_by_a_stale_report():
    ws, memory = lenet_like(), CanvasMemory()
    apply_report(ws, report(ws, 1), memory)
    stale = report(ws, 2)
    ws.disconnect([("conv1", "flatten1")])
    apply_report(ws, stale, memory)
    assert ws.graph.inputs_of("flatten1") == []


def test_reports_drawn_for_another_workspace_or_repeated_are_ignored():
    ws, memory = lenet_like(), CanvasMemory()
    other = lenet_like()
    apply_report(ws, report(other, 1, positions={"input1": (999.0, 999.0)}), memory)
    assert ws.graph.node("input1").position != (999.0, 999.0)
    apply_report(ws, report(ws, 1, positions={"input1": (5.0, 5.0)}), memory)   # same timestamp again
    assert ws.graph.node("input1").position != (5.0, 5.0)


def test_flow_nodes_show_shapes_issues_and_escape_file_text():
    project = parse_project('{"format_version": 1, "name": "x", "graph": {"nodes": ['
                            '{"id": "<script>alert(1)</script>", "type": "Input", "params": {"shape": [3]}},'
                            '{"id": "lin", "type": "Linear", "params": {"out_features": 4}},'
                            '{"id": "out", "type": "Output"}], "edges": ['
                            '{"source": "<script>alert(1)</script>", "target": "lin"}]}}')
    ws = Workspace(project)
    compiled = compile(ws.graph)
    nodes = {n.id: n for n in canvas.flow_nodes(ws, compiled)}
    evil = nodes["<script>alert(1)</script>"]
    assert "<script>" not in evil.data["content"] and html.escape("<script>") in evil.data["content"]
    assert evil.type == "input" and nodes["out"].type == "output" and nodes["lin"].type == "default"
    assert all(n.connectable and n.selectable and n.deletable for n in nodes.values())
    assert "→ 4" in nodes["lin"].data["content"] and "16 params" in nodes["lin"].data["content"]
    assert "3px solid" in nodes["out"].style["border"]          # Output has no input: an error
    assert nodes["lin"].style is not nodes["out"].style
    edges = canvas.flow_edges(ws, compiled)
    assert [(e.source, e.target, e.label) for e in edges] == [("<script>alert(1)</script>", "lin", "3")]


def test_multi_input_edges_are_numbered_and_bad_positions_drawn_at_the_origin():
    project = parse_project('{"format_version": 1, "name": "x", "graph": {"nodes": ['
                            '{"id": "a", "type": "Input", "params": {"shape": [4]}, "position": [1e300, 0]},'
                            '{"id": "b", "type": "ReLU"}, {"id": "c", "type": "Concat"}], "edges": ['
                            '{"source": "a", "target": "b"}, {"source": "b", "target": "c"},'
                            '{"source": "a", "target": "c"}]}}')
    ws = Workspace(project)
    compiled = compile(ws.graph)
    labels = {(e.source, e.target): e.label for e in canvas.flow_edges(ws, compiled)}
    assert labels == {("a", "b"): "4", ("b", "c"): "#1 · 4", ("a", "c"): "#2 · 4"}
    nodes = {n.id: n for n in canvas.flow_nodes(ws, compiled)}
    assert nodes["a"].position == {"x": 0.0, "y": 0.0}
    assert "2 inputs" in nodes["c"].data["content"]


def test_a_new_workspace_does_not_inherit_what_the_browser_acknowledged_for_the_last_one():
    old, memory = lenet_like(), CanvasMemory()
    apply_report(old, report(old, 1), memory)          # the browser had conv1 of the old project
    new = Workspace(Project("n", Graph()))
    new.add_layer("Input")
    first = report(new, 2)                             # the browser drew input1 of the new one ...
    new.add_layer("Conv2d")                            # ... before Python added conv1
    apply_report(new, first, memory)
    assert new.has_node("conv1")


def test_junk_in_the_components_value_is_not_a_report():
    assert parse_report({"nodes": [{"id": "a", "position": {"x": "left"}}]}) is None
    assert parse_report({"nodes": [], "timestamp": "soon"}) is None


def test_cards_show_the_files_values_and_what_auto_became():
    assert canvas.shown_params({"shape": [1, 1e308], "out_features": "auto"}, {"out_features": 10}) == \
        {"shape": [1, 1e308], "out_features": "auto (10)"}
    assert canvas.shown_params({"out_features": "auto"}, {}) == {"out_features": "auto"}


def test_measured_sizes_are_the_browsers_for_this_workspace_only():
    value = {"nodes": [{"id": "a", "width": 210, "height": 58.5, "data": {"token": "k"}},
                       {"id": "b", "width": 210, "height": 40, "data": {"token": "other"}},
                       {"id": "c", "data": {"token": "k"}},                                # not measured yet
                       {"id": "d", "width": "wide", "height": True, "data": {"token": "k"}},
                       {"id": "e", "width": 1e308, "height": 0, "data": {"token": "k"}}, "junk"]}
    assert canvas.measured_sizes(value, "k") == {"a": {"width": 210, "height": 58.5}}
    assert canvas.measured_sizes(None, "k") == {} and canvas.measured_sizes({"nodes": None}, "k") == {}
