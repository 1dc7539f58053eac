"""The selected node's parameters, as a form generated from its layer declaration.

Every widget applies its value at once (on_change) and the graph is checked again. Widget keys
carry the workspace revision, so after an undo or any other edit the form shows the graph's values.
"""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from builder import markdown
from builder.node_card import shape_text
from builder.workspace import Workspace
from runtime.compiler import Compiled
from runtime.layers import AUTO, LAYERS, Param

NUMBER = "a number"
MAX_INTS = 8
ERROR_KEY = "inspector_error"   # (widget key, node id, message) of the last value that could not be applied


def parse_ints(text: str) -> list[int]:
    """"1, 28, 28" or "[1, 28, 28]" -> [1, 28, 28]; ValueError with a plain message otherwise."""
    parts = [t for t in text.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    if not parts or len(parts) > MAX_INTS:
        raise ValueError(f"Enter 1 to {MAX_INTS} whole numbers separated by commas, e.g. 1, 28, 28.")
    try:
        return [int(t) for t in parts]
    except ValueError:
        raise ValueError(f"{text!r} is not a list of whole numbers: enter e.g. 1, 28, 28.") from None


def _apply(ws: Workspace, node_id: str, name: str, key: str, kind: str) -> None:
    if not ws.is_current(key):
        return
    value = st.session_state[key]
    if kind == "ints":
        try:
            value = parse_ints(value)
        except ValueError as e:
            st.session_state[ERROR_KEY] = (key, node_id, f"{name}: {e}")
            return
    elif kind == "int":
        value = int(value)
    st.session_state.pop(ERROR_KEY, None)
    ws.set_param(node_id, name, value)


def _apply_mode(ws: Workspace, node_id: str, p: Param, key: str) -> None:
    if not ws.is_current(key):
        return
    mode = st.session_state[key]
    ws.set_param(node_id, p.name, _number_fallback(p) if mode == NUMBER else mode)


def _number_fallback(p: Param) -> int | float:
    if isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
        return p.default
    return int(p.min) if p.min is not None and p.min >= 1 else 1


def _clamp(p: Param, value: Any) -> int | float:
    """A value the number widget can show (a file may hold anything; the issue list says what is wrong)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        value = _number_fallback(p)
    lo = p.min if p.min is not None else -1e12
    hi = p.max if p.max is not None else 1e12
    value = min(max(value, lo), hi)
    return int(value) if p.kind == "int" else float(value)


def param_widget(ws: Workspace, node_id: str, p: Param, value: Any, disabled: bool = False) -> None:
    key = ws.widget_key("param", node_id, p.name)
    args = (ws, node_id, p.name, key, p.kind)
    words = list(p.words) + ([AUTO] if p.auto else [])
    if words and p.kind in ("int", "float"):
        modes = [NUMBER, *words]
        st.selectbox(p.name, modes, index=modes.index(value) if value in words else 0, help=p.help,
                     key=key + "_mode", on_change=_apply_mode, args=(ws, node_id, p, key + "_mode"), disabled=disabled)
        if value in words:
            return
        label, visibility = f"{p.name} (number)", "collapsed"
    else:
        label, visibility = p.name, "visible"
    if p.kind == "bool":
        st.checkbox(p.name, value=bool(value) if isinstance(value, bool) else bool(p.default), help=p.help,
                    key=key, on_change=_apply, args=args, disabled=disabled)
    elif p.kind == "choice":
        index = p.choices.index(value) if value in p.choices else 0
        st.selectbox(p.name, p.choices, index=index, help=p.help, key=key, on_change=_apply, args=args,
                     disabled=disabled)
    elif p.kind == "ints":
        text = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        st.text_input(p.name, value=text, help=p.help + " Whole numbers separated by commas.", key=key,
                      on_change=_apply, args=args, disabled=disabled)
    elif p.kind == "int":
        st.number_input(label, value=_clamp(p, value), step=1, help=p.help, key=key, on_change=_apply, args=args,
                        label_visibility=visibility, disabled=disabled,
                        min_value=int(p.min) if p.min is not None else None,
                        max_value=int(p.max) if p.max is not None else None)
    else:
        st.number_input(label, value=_clamp(p, value), help=p.help, key=key, on_change=_apply, args=args,
                        label_visibility=visibility, disabled=disabled,
                        min_value=float(p.min) if p.min is not None else None,
                        max_value=float(p.max) if p.max is not None else None, format="%g")


def _delete(ws: Workspace, node_id: str) -> None:
    ws.delete_nodes({node_id})


def _duplicate(ws: Workspace, node_id: str) -> None:
    from builder import canvas    # here, in a script run: the component registers only then (builder/serve.py)
    ws.duplicate_node(node_id, canvas.card_sizes(ws))


def _move_up(ws: Workspace, node_id: str, index: int) -> None:
    ws.move_input_up(node_id, index)


def _deselect(ws: Workspace) -> None:
    ws.select(None)


def show(ws: Workspace, compiled: Compiled) -> None:
    if not ws.has_node(ws.selected):
        st.subheader("Inspector")
        st.caption("Click a node on the canvas to see and edit its parameters.")
        return
    node = ws.graph.node(ws.selected)
    layer = LAYERS[node.type]
    info = compiled.nodes.get(node.id)
    head, close = st.columns([4, 1])
    head.subheader(f"{markdown.escape(node.id)} · {layer.type}")
    close.button("✕", key="inspector_close", help="Deselect: the palette then adds beside the graph",
                 on_click=_deselect, args=(ws,))
    st.caption(layer.doc)
    in_shapes = info.in_shapes if info else []
    st.markdown("**In:** " + (", ".join(f"`{shape_text(s)}`" for s in in_shapes) or "—") +
                "  **Out:** " + f"`{shape_text(info.shape if info else None)}`" +
                (f"  **Parameters:** {info.num_params:,}" if info and info.num_params else ""))
    for issue in compiled.issues_of(node.id):
        (st.error if issue.severity == "error" else st.warning)(markdown.escape(issue.message))
    refused = st.session_state.get(ERROR_KEY)
    if refused and ws.is_current(refused[0]) and refused[1] == node.id:   # not another node's, nor a past one's
        st.error(markdown.escape(refused[2]))
    advanced = st.toggle("Advanced parameters", key="inspector_advanced")
    from_dataset = node.type == "Input" and compiled.spec is not None
    if from_dataset:
        st.info("The dataset sets this Input's shape: choose another dataset in Data & training to change it.")
    for p in layer.params:
        if p.advanced and not advanced:
            continue
        value = info.params.get(p.name) if from_dataset and info else node.params.get(p.name, p.default)
        param_widget(ws, node.id, p, value, disabled=from_dataset)
    sources = ws.graph.inputs_of(node.id)
    if layer.inputs[1] > 1 and len(sources) > 1:
        st.markdown("**Inputs, in order**")
        for k, source in enumerate(sources):
            c1, c2 = st.columns([4, 1])
            c1.markdown(f"#{k + 1} · {markdown.escape(source)}")
            if k:
                c2.button("↑", key=f"input_up_{node.id}_{k}", help="Move this input earlier",
                          on_click=_move_up, args=(ws, node.id, k))
    c1, c2 = st.columns(2)
    c1.button("Duplicate", key="inspector_duplicate", on_click=_duplicate, args=(ws, node.id),
              width="stretch")
    c2.button("Delete", key="inspector_delete", on_click=_delete, args=(ws, node.id), type="primary",
              width="stretch")
