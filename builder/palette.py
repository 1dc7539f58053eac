"""The layer palette: the catalog grouped by family, searchable; a click adds the layer.

Only the buttons of open families are drawn: each family is a keyed expander that reruns the page when
it is opened or closed. Every element on the page costs the browser time on each script run, a canvas
event's included, and the buttons of folded families were 40 of the page's ~100 elements
(docs/benchmarks.md, "Builder canvas").

A search lists the layers it finds by name first (type or family, by family); those found only in
their explanation follow in one folded expander ("Also mentioned in 8 explanations"), so a search
for "Output" does not bury the Output layer among the layers whose explanation mentions outputs."""
from __future__ import annotations

import hashlib

import streamlit as st

from builder.workspace import Workspace
from runtime.layers import FAMILIES, LAYERS, Layer

OPEN_AT_START = ("Input / Output", "Dense & shape")
MENTIONED = "mentioned in explanations"   # the expander of layers found by their explanation only


def _mentions(text: str, words: list[str]) -> bool:
    text = text.lower()
    return all(w in text for w in words)


def matching(query: str) -> tuple[dict[str, list[Layer]], list[Layer]]:
    """Layers that match every word of `query`, in two lists: those whose name (type or family)
    matches, by family, the type matches first; then those whose explanation is needed to match."""
    words = query.lower().split()
    by_name: dict[str, list[Layer]] = {family: [] for family in FAMILIES}
    in_explanation = []
    for layer in LAYERS.values():
        if _mentions(f"{layer.type} {layer.family}", words):
            by_name[layer.family].append(layer)
        elif _mentions(f"{layer.type} {layer.family} {layer.doc}", words):
            in_explanation.append(layer)
    return ({family: sorted(layers, key=lambda layer: not _mentions(layer.type, words))
             for family, layers in by_name.items() if layers}, in_explanation)


def family_key(family: str, query: str) -> str:
    """The key of a family's expander: one per family and search, so that a new search opens every
    family it finds, and the families open as at the start once the search is cleared."""
    words = " ".join(query.lower().split())
    return "palette_open_" + hashlib.sha1(f"{family}\n{words}".encode()).hexdigest()[:12]


def _add(ws: Workspace, layer_type: str) -> None:
    """Adds the layer where it covers no card, as big as the browser last measured the cards."""
    from builder import canvas    # here, in a script run: the component registers only then (builder/serve.py)
    ws.add_layer(layer_type, canvas.card_sizes(ws))


def _group(ws: Workspace, label: str, layers: list[Layer], expanded: bool, key: str) -> None:
    """An expander of layer buttons, drawn only while it is open."""
    box = st.expander(label, expanded=expanded, key=key, on_change="rerun")
    if box.open:
        with box:
            for layer in layers:
                st.button(layer.type, key=f"palette_{layer.type}", help=layer.doc, on_click=_add,
                          args=(ws, layer.type), width="stretch")


def show(ws: Workspace) -> None:
    st.subheader("Layers")
    st.caption("A click adds the layer after the selected node and wires it; with nothing selected "
               "(✕ in the inspector), beside the graph, to wire by dragging from handle to handle.")
    query = st.text_input("Search layers", key="palette_search", placeholder="conv, pool, attention…",
                          label_visibility="collapsed")
    by_name, in_explanation = matching(query)
    if not by_name and not in_explanation:
        st.info(f"No layer matches {query!r}.")
    for family, layers in by_name.items():
        _group(ws, family, layers, bool(query) or family in OPEN_AT_START, family_key(family, query))
    if in_explanation:      # folded below the name matches; open when they are all there is
        count = f"{len(in_explanation)} explanation" + ("s" if len(in_explanation) > 1 else "")
        _group(ws, f":gray[{'Also mentioned' if by_name else 'Mentioned'} in {count}]", in_explanation,
               not by_name, family_key(MENTIONED, query))
