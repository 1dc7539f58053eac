"""The page: project header, palette in the sidebar, canvas beside the inspector, summary below."""
from __future__ import annotations

import json

import streamlit as st

from builder import canvas, inspector, palette, project_menu, summary, training_area
from builder.workspace import Workspace
from runtime.compiler import Compiled
from runtime.projects import compile_project

COMPILED_KEY = "compiled"


def compiled_for(ws: Workspace) -> Compiled:
    """The compiler's findings, computed again only when the network (not a position) or the
    dataset it is sized for changed."""
    key = (ws.token, ws.revision, json.dumps(ws.project.dataset, sort_keys=True, default=str))
    cached = st.session_state.get(COMPILED_KEY)
    if cached is None or cached[0] != key:
        cached = (key, compile_project(ws.project))
        st.session_state[COMPILED_KEY] = cached
    return cached[1]


STYLE = """<style>
.block-container {padding-top: 1.2rem; padding-bottom: 1rem}
header[data-testid="stHeader"] {background: transparent; pointer-events: none}
header [data-testid="stToolbar"] {display: none}
header [data-testid="stExpandSidebarButton"] {pointer-events: auto}
section[data-testid="stSidebar"] .stButton button {min-height: 1.9rem; padding: 0.1rem 0.6rem}
section[data-testid="stSidebar"] [data-testid="stVerticalBlock"] {gap: 0.35rem}
</style>"""


def render() -> None:
    st.markdown(STYLE, unsafe_allow_html=True)
    ws = project_menu.current_workspace()
    project_menu.show_header(ws)
    with st.sidebar:
        palette.show(ws)
    builder_area()
    training_area.show(ws)


@st.fragment
def builder_area() -> None:
    """Canvas, inspector and summary. A fragment: a canvas event or an inspector edit reruns and
    redraws only this part, not the header, the palette and the training area with its charts."""
    ws = project_menu.current_workspace()
    canvas.take_report(ws)
    project_menu.autosave(ws)     # before drawing: a tab closed mid-run must not lose the edit
    compiled = compiled_for(ws)
    left, right = st.columns([3, 1.2])
    with left:
        canvas.show(ws, compiled)
    with right:
        if not ws.graph.nodes:
            st.info("The canvas is empty: add an **Input** from the palette on the left, or open one of "
                    "the **Templates** above.")
        inspector.show(ws, compiled)
    with st.expander("Model summary", expanded=True):
        summary.show(ws, compiled)
