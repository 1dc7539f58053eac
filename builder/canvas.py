"""The canvas: the only module that knows streamlit-flow (see shared/notes/streamlit-flow.md).

The project's Graph is the truth. Each run, `take_report` reads what the browser last sent
(node drags, new edges, deletions, clicks) from the component's widget value and applies it to
the Workspace; then `show` paints the graph, with the compiler's shapes and issues, and pushes it.
The push carries the timestamp of the browser's last report, so the browser accepts it unless
something newer happened there (its own state then comes back and wins).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from streamlit_flow import StreamlitFlowEdge, StreamlitFlowNode, StreamlitFlowState, streamlit_flow
from streamlit_flow.layouts import ManualLayout

from builder import node_card, training_panel
from builder.workspace import Workspace
from runtime.compiler import Compiled
from runtime.layers import AUTO, LAYERS

KEY = "canvas"              # the component's widget key: its value is the browser's last report
SEEN_KEY = "canvas_seen"    # what that report contained (see CanvasMemory)
POSITION_LIMIT = 1e6        # positions from a file beyond this (or NaN) are drawn at the origin


@dataclass
class Report:
    """One message from the browser, as plain data."""
    timestamp: int
    positions: dict[str, tuple[float, float]]
    edges: list[tuple[str, str]]
    selected: str | None
    token: str | None = None       # Workspace token the browser's nodes were drawn for


@dataclass
class CanvasMemory:
    """What the browser has acknowledged: a node missing from a report is a deletion only if an
    earlier report had it (otherwise Python just added it and the browser has not drawn it yet);
    an edge in a report that the graph lacks is new only if no earlier report had it."""
    timestamp: int = 0
    token: str | None = None
    nodes: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)
    pushed: tuple = ((), 0, {})    # (drawing, timestamp, node sizes) last sent to the browser


def parse_report(value: Any) -> Report | None:
    """The component's raw value (a dict from the browser) as a Report; None if it is not one."""
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        return None
    try:
        positions, tokens = {}, set()
        for n in value["nodes"]:
            pos = n.get("position") or {}
            positions[str(n.get("id"))] = (float(pos.get("x", 0.0)), float(pos.get("y", 0.0)))
            tokens.add((n.get("data") or {}).get("token"))
        edges = [(str(e.get("source")), str(e.get("target"))) for e in value.get("edges") or []]
        timestamp = int(value.get("timestamp") or 0)
    except (AttributeError, TypeError, ValueError):
        return None          # not what the component sends
    selected = value.get("selectedId")
    return Report(timestamp, positions, edges, selected if isinstance(selected, str) else None,
                  tokens.pop() if len(tokens) == 1 else None)


def apply_report(ws: Workspace, report: Report, memory: CanvasMemory) -> None:
    """Applies what the user did on the canvas to the workspace, and remembers the report."""
    if report.timestamp == memory.timestamp:
        return
    memory.timestamp = report.timestamp
    if report.positions and report.token != ws.token:
        return       # drawn for another project or before a reload of this one: stale
    if memory.token != ws.token:
        memory.nodes, memory.edges = set(), set()    # nothing of this workspace acknowledged yet
    graph_nodes = {n.id for n in ws.graph.nodes}
    gone = (graph_nodes & memory.nodes) - set(report.positions)
    ws.delete_nodes(gone)
    moved = {i: p for i, p in report.positions.items() if ws.has_node(i) and _moved(ws, i, p)}
    if moved:
        ws.move_nodes(moved)
    pairs = {(e.source, e.target) for e in ws.graph.edges}
    reported = set(report.edges)
    ws.disconnect([p for p in (pairs & memory.edges) - reported if not {*p} & gone])
    for source, target in report.edges:
        if (source, target) not in pairs and (source, target) not in memory.edges:
            ws.connect(source, target)
    if report.selected is not None and ws.has_node(report.selected):
        ws.select(report.selected)
    memory.token, memory.nodes, memory.edges = report.token, set(report.positions), reported


def _moved(ws: Workspace, node_id: str, position: tuple[float, float]) -> bool:
    old = ws.graph.node(node_id).position
    return old is None or abs(old[0] - position[0]) > 0.5 or abs(old[1] - position[1]) > 0.5


def take_report(ws: Workspace) -> None:
    """Reads the browser's last report from the widget value; call before anything is drawn."""
    memory = st.session_state.setdefault(SEEN_KEY, CanvasMemory())
    report = parse_report(st.session_state.get(KEY))
    if report is not None:
        apply_report(ws, report, memory)


def _position(node) -> tuple[float, float]:
    x, y = node.position if node.position is not None else (0.0, 0.0)
    ok = all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) < POSITION_LIMIT for v in (x, y))
    return (float(x), float(y)) if ok else (0.0, 0.0)


def shown_params(given: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the file has them (a wrong value shows as it is, beside its issue), with
    what "auto" resolved to: out_features "auto (10)"."""
    shown = dict(given)
    for name, value in given.items():
        if value == AUTO and resolved.get(name, AUTO) != AUTO:
            shown[name] = f"{AUTO} ({resolved[name]})"
    return shown


def flow_nodes(ws: Workspace, compiled: Compiled) -> list[StreamlitFlowNode]:
    nodes = []
    health = training_panel.node_health(ws)        # colours from the last run's gradients
    for node in ws.graph.nodes:
        layer = LAYERS[node.type]
        info = compiled.nodes.get(node.id)
        issues = compiled.issues_of(node.id)
        severity = "error" if any(i.severity == "error" for i in issues) else ("warning" if issues else None)
        n_inputs = len(ws.graph.inputs_of(node.id))
        params = shown_params(node.params, info.params if info else {})
        if node.type == "Input" and compiled.spec is not None:     # the dataset's shape, not the file's
            params["shape"] = list(compiled.spec.input_shape)
        content = node_card.node_content(
            node.id, layer, params,
            info.shape if info else None, info.num_params if info else None,
            [(i.message, i.severity) for i in issues], n_inputs if layer.inputs[1] > 1 else 0)
        kind = "input" if layer.inputs[1] == 0 else ("output" if node.type == "Output" else "default")
        nodes.append(StreamlitFlowNode(
            node.id, _position(node), {"content": content, "token": ws.token}, node_type=kind,
            source_position="bottom", target_position="top",
            selectable=True, connectable=True, deletable=True,          # the defaults are all False
            style=node_card.node_style(layer.family, severity, node.id == ws.selected,
                                       health.get(node.id))))
    return nodes


def card_sizes(ws: Workspace) -> dict[str, tuple[float, float]]:
    """Node id -> (width, height) of the cards as the browser last drew them, for placing new cards."""
    measured = measured_sizes(st.session_state.get(KEY), ws.token)
    return {node_id: (size["width"], size["height"]) for node_id, size in measured.items()}


def measured_sizes(value: Any, token: str) -> dict[str, dict[str, float]]:
    """Node id -> {"width", "height"} as the browser measured the nodes it drew for this workspace.

    Pushed back with the nodes, they keep React Flow from hiding every node and measuring it
    again: a node pushed without a size is drawn invisible until measured, and that measuring
    (every node's box and handles) was most of the time a change took to show on ResNet-18. A
    node whose card changed size is measured again anyway (React Flow observes every node's size)."""
    sizes = {}
    for n in value.get("nodes") or [] if isinstance(value, dict) else []:
        if not isinstance(n, dict) or (n.get("data") or {}).get("token") != token:
            continue
        width, height = n.get("width"), n.get("height")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < POSITION_LIMIT
               for v in (width, height)):
            sizes[str(n.get("id"))] = {"width": width, "height": height}
    return sizes


def flow_edges(ws: Workspace, compiled: Compiled) -> list[StreamlitFlowEdge]:
    edges, used = [], set()
    for target in dict.fromkeys(e.target for e in ws.graph.edges):
        multi = LAYERS[ws.graph.node(target).type].inputs[1] > 1
        for number, source in enumerate(ws.graph.inputs_of(target), start=1):
            edge_id = f"{source}->{target}"
            while edge_id in used:
                edge_id += "'"
            used.add(edge_id)
            info = compiled.nodes.get(source)
            label = node_card.edge_label(info.shape if info else None, number if multi else None)
            edges.append(StreamlitFlowEdge(
                edge_id, source, target, edge_type="default", marker_end={"type": "arrowclosed"},
                deletable=True, focusable=True, label=label, label_show_bg=True,
                label_style={"fontSize": "11px"}, label_bg_style={"fill": "#ffffff"}, style={}))
    return edges


def _drawing(nodes: list[dict], edges: list[dict]) -> tuple:
    """What the user sees of a canvas state, comparable between the browser's copy and ours."""
    return (tuple((n.get("id"), (n.get("position") or {}).get("x"), (n.get("position") or {}).get("y"),
                   (n.get("data") or {}).get("content"), json.dumps(n.get("style"), sort_keys=True))
                  for n in nodes),
            tuple((e.get("source"), e.get("target"), e.get("label")) for e in edges))


def show(ws: Workspace, compiled: Compiled, height: int = 640) -> None:
    """Draws the canvas. What the user does on it arrives with the next run (take_report).

    The component takes a pushed state when its timestamp is not older than the browser's last
    report, then reports back: a new timestamp each time. Pushing that timestamp on every run would
    start the exchange again forever, so the timestamp moves only when the browser's copy differs
    from ours; otherwise the arguments stay byte-identical and the browser is left alone.

    The view is never fitted automatically: fitting on every change zooms a small graph in and a
    large one into a blur, and throws away the user's pan and zoom. The canvas opens at the
    graph's top-left corner at full size (see Workspace.frame); its controls have a fit button."""
    memory = st.session_state.setdefault(SEEN_KEY, CanvasMemory())
    nodes, edges = flow_nodes(ws, compiled), flow_edges(ws, compiled)
    ours = _drawing([n.asdict() for n in nodes], [e.asdict() for e in edges])
    value = st.session_state.get(KEY)
    theirs = _drawing(value.get("nodes") or [], value.get("edges") or []) if isinstance(value, dict) else None
    if theirs != ours and memory.pushed[:2] != (ours, memory.timestamp):
        memory.pushed = (ours, memory.timestamp, measured_sizes(value, ws.token))
    for node in nodes:      # the sizes of that push, so the arguments stay byte-identical until the next
        node.kwargs.update(memory.pushed[2].get(node.id, {}))    # (extra keys go to the browser as they are)
    state = StreamlitFlowState(nodes, edges, selected_id=ws.selected, timestamp=memory.pushed[1])
    streamlit_flow(KEY, state, height=height, fit_view=False, allow_new_edges=True,
                   get_node_on_click=True, enable_node_menu=True, enable_edge_menu=True,
                   hide_watermark=True, layout=ManualLayout(), min_zoom=0.2)
