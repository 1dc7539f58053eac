"""The layer palette: the catalog grouped by family, searchable; a click adds the layer.

Only the buttons of open families are drawn: each family is a keyed expander that reruns the page when
it is opened or closed. Every element on the page costs the browser time on each script run, a canvas
event's included, and the buttons of folded families were 40 of the page's ~100 elements
(docs/benchmarks.md, "Builder canvas")."""
from __future__ import annotations

import hashlib

import streamlit as st

from builder.workspace import Workspace
from runtime.layers import FAMILIES, LAYERS, Layer

OPEN_AT_START = ("Input / Output", "Dense & shape")


def matching(query: str) -> dict[str, list[Layer]]:
    """Layers whose type, family or explanation contains every word of `query`, by family."""
    words = query.lower().split()
    groups: dict[str, list[Layer]] = {family: [] for family in FAMILIES}
    for layer in LAYERS.values():
        text = f"{layer.type} {layer.family} {layer.doc}".lower()
        if all(w in text for w in words):
            groups[layer.family].append(layer)
    return {family: layers for family, layers in groups.items() if layers}


def family_key(family: str, query: str) -> str:
    """The key of a family's expander: one per family and search, so that a new search opens every
    family it finds, and the families open as at the start once the search is cleared."""
    words = " ".join(query.lower().split())
    return "palette_open_" + hashlib.sha1(f"{family}\n{words}".encode()).hexdigest()[:12]


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
        box = st.expander(family, expanded=bool(query) or family in OPEN_AT_START,
                          key=family_key(family, query), on_change="rerun")
        if not box.open:
            continue
        with box:
            for layer in layers:
                st.button(layer.type, key=f"palette_{layer.type}", help=layer.doc, on_click=_add,
                          args=(ws, layer.type), width="stretch")
