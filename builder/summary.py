"""The model summary: totals, a per-layer table like Keras's, and the issues as a list that selects the node."""
from __future__ import annotations

import streamlit as st

from builder import markdown
from builder.node_card import shape_text
from builder.workspace import Workspace
from runtime.compiler import Compiled

BYTES_PER_WEIGHT = 4   # float32
LINE_PX, MAX_TABLE_PX = 22, 420     # the table's height: all of a small graph, a scrolled box for a large one


def memory_text(n_bytes: int) -> str:
    for size, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} B"


def layer_text(ws: Workspace, compiled: Compiled) -> str:
    """The per-layer table as Keras prints it: one line per node in execution order (unconnected
    nodes last), its output shape and parameter count, and whether it is in the model (a node not
    on a path from the Input to the Output is not)."""
    ordered = list(compiled.order) + [n.id for n in ws.graph.nodes if n.id not in compiled.order]
    rows = [("Layer (type)", "Output shape", "Param #", "")]
    for node_id in ordered:
        info = compiled.nodes.get(node_id)
        rows.append((f"{node_id} ({ws.graph.node(node_id).type})", shape_text(info.shape if info else None),
                     f"{info.num_params if info else 0:,}", "" if node_id in compiled.live else "not in the model"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{a:<{widths[0]}}   {b:<{widths[1]}}   {c:>{widths[2]}}   {d:<{widths[3]}}".rstrip()
             for a, b, c, d in rows]
    return "\n".join([lines[0], "─" * max(map(len, lines)), *lines[1:]])


def _select(ws: Workspace, node_id: str) -> None:
    ws.select(node_id)


def show(ws: Workspace, compiled: Compiled) -> None:
    total = compiled.total_params
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{total:,}")
    c2.metric("Weights in memory", memory_text(total * BYTES_PER_WEIGHT), help="float32, 4 bytes per parameter")
    c3.metric("Issues", len(compiled.errors), help="Errors block training; warnings do not.")
    if compiled.issues:
        st.markdown("**Issues** (click one to select its node)")
        for k, issue in enumerate(compiled.issues):
            icon = ":material/error:" if issue.severity == "error" else ":material/warning:"
            if issue.node_id and ws.has_node(issue.node_id):
                st.button(f"{markdown.escape(issue.node_id)}: {markdown.escape(issue.message)}", icon=icon,
                          key=f"issue_{k}", on_click=_select, args=(ws, issue.node_id), width="stretch")
            else:
                st.markdown(f"{icon} {markdown.escape(issue.message)}")
    if ws.graph.nodes:
        # Monospace text, not st.dataframe: the grid was rebuilt on every canvas event, and the browser
        # spent measurably more time before the canvas could draw (docs/benchmarks.md, canvas).
        lines = len(ws.graph.nodes) + 2
        st.code(layer_text(ws, compiled), language=None, height=min(LINE_PX * lines + 32, MAX_TABLE_PX))
