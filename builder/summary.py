"""The model summary: totals, a per-layer table like Keras's, and the issues as a list that selects the node."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from builder import markdown
from builder.node_card import shape_text
from builder.workspace import Workspace
from runtime.compiler import Compiled

BYTES_PER_WEIGHT = 4   # float32


def memory_text(n_bytes: int) -> str:
    for size, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} B"


def layer_table(ws: Workspace, compiled: Compiled) -> pd.DataFrame:
    """One row per node in execution order (unconnected nodes last): node, type, output shape, parameters."""
    ordered = list(compiled.order) + [n.id for n in ws.graph.nodes if n.id not in compiled.order]
    rows = []
    for node_id in ordered:
        info = compiled.nodes.get(node_id)
        rows.append({"node": node_id, "type": ws.graph.node(node_id).type,
                     "output shape": shape_text(info.shape if info else None),
                     "parameters": info.num_params if info else 0,
                     "in the model": node_id in compiled.live})
    return pd.DataFrame(rows, columns=["node", "type", "output shape", "parameters", "in the model"])


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
        st.dataframe(layer_table(ws, compiled), hide_index=True, width="stretch",
                     column_config={"parameters": st.column_config.NumberColumn(format="localized")})
