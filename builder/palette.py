"""The layer palette: the catalog grouped by family, searchable; a click adds the layer."""
from __future__ import annotations

import streamlit as st

from builder.workspace import Workspace
from runtime.layers import FAMILIES, LAYERS, Layer


def matching(query: str) -> dict[str, list[Layer]]:
    """Layers whose type, family or explanation contains every word of `query`, by family."""
    words = query.lower().split()
    groups: dict[str, list[Layer]] = {family: [] for family in FAMILIES}
    for layer in LAYERS.values():
        text = f"{layer.type} {layer.family} {layer.doc}".lower()
        if all(w in text for w in words):
            groups[layer.family].append(layer)
    return {family: layers for family, layers in groups.items() if layers}


def _add(ws: Workspace, layer_type: str) -> None:
    ws.add_layer(layer_type)


def show(ws: Workspace) -> None:
    st.subheader("Layers")
    st.caption("A click adds the layer after the selected node and wires it; with nothing selected "
               "(✕ in the inspector), beside the graph, to wire by dragging from handle to handle.")
    query = st.text_input("Search layers", key="palette_search", placeholder="conv, pool, attention…",
                          label_visibility="collapsed")
    groups = matching(query)
    if not groups:
        st.info(f"No layer matches {query!r}.")
    for family, layers in groups.items():
        with st.expander(family, expanded=bool(query) or family in ("Input / Output", "Dense & shape")):
            for layer in layers:
                st.button(layer.type, key=f"palette_{layer.type}", help=layer.doc, on_click=_add,
                          args=(ws, layer.type), width="stretch")
