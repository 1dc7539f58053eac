"""Projects on the page: which one is open, autosave, and the menu to create, open, rename,
duplicate, delete, download and upload them. The open project follows the browser tab: its id is
in the URL (?project=<id>, or ?project=new for an empty canvas not saved yet), so a reload, a
bookmark or a restarted server reopens it, and two tabs keep two projects. An uploaded ONNX model
is opened by builder/onnx_open.py."""
from __future__ import annotations

import time

import streamlit as st

from builder import markdown, onnx_open
from builder.projects import file_stem, store, templates
from builder.workspace import Workspace
from runtime.graph import Graph, Project, ProjectFileError, parse_project
from runtime.layout import layout
from runtime.projects import compile_project
from runtime.store import ProjectInfo, StoreError
from runtime.timestamps import short_time

WS_KEY = "workspace"
SAVED_KEY = "saved_text"       # the project text last written, to save only real changes
NOTICE_KEY = "project_notice"  # a message that must outlive the reruns of one click
NEW = "new"                    # ?project=new: this tab shows an empty canvas, saved from its first change
DELETING_KEY = "project_to_delete"   # the saved project whose Delete was pressed, awaiting confirmation


def _open(ws: Workspace) -> None:
    ws.frame()
    st.session_state[WS_KEY] = ws
    st.session_state[SAVED_KEY] = ws.project.to_json()
    st.query_params["project"] = ws.project_id or NEW


def _new(project: Project) -> None:
    project_id, _ = store().save_project(project)
    _open(Workspace(project, project_id))


def _new_empty() -> None:
    """An empty canvas, saved (and listed) from its first change on."""
    _open(Workspace(Project("Untitled network", Graph())))


def current_workspace() -> Workspace:
    """The open project; on a fresh session the one in the URL, else the latest edited, else a new empty one."""
    ws = st.session_state.get(WS_KEY)
    if ws is not None:
        return ws
    wanted = st.query_params.get("project")
    if wanted == NEW:
        _new_empty()
        return st.session_state[WS_KEY]
    entries = store().list_projects()
    for project_id in ([wanted] if wanted else []) + [e.id for e in entries]:
        try:
            _open(Workspace(store().load_project(project_id), project_id))
            return st.session_state[WS_KEY]
        except (ProjectFileError, StoreError) as e:
            st.session_state[NOTICE_KEY] = f"Could not open the saved project: {e}"
    _new_empty()
    return st.session_state[WS_KEY]


def autosave(ws: Workspace) -> None:
    text = ws.project.to_json()
    if text != st.session_state.get(SAVED_KEY):
        ws.project_id, _ = store().save_project(ws.project, ws.project_id)
        if st.query_params.get("project") != ws.project_id:   # setting it, even unchanged, messages the page
            st.query_params["project"] = ws.project_id
        st.session_state[SAVED_KEY] = text


def saved_facts(entry: ProjectInfo, now: float) -> list[str]:
    """When the project was last saved and how many nodes it has, to tell apart projects of one
    name: ["today 14:05", "12 nodes"], ["3 Dec 09:41", "1 node"], ["24 Dec 2025", "no nodes"]."""
    when = short_time(entry.updated, now)
    if entry.nodes is None:
        return [when]
    return [when, {0: "no nodes", 1: "1 node"}.get(entry.nodes, f"{entry.nodes} nodes")]


# --- callbacks (on_click: they run before the page, so no click is lost) ------------------------
def _undo(ws: Workspace) -> None:
    if not ws.undo():
        st.session_state[NOTICE_KEY] = "Nothing to undo."


def _redo(ws: Workspace) -> None:
    if not ws.redo():
        st.session_state[NOTICE_KEY] = "Nothing to redo."


def _tidy(ws: Workspace) -> None:
    from builder import canvas    # here, in a script run: the component registers only then (builder/serve.py)
    ws.arrange(layout(ws.graph, {node_id: height for node_id, (_, height) in canvas.card_sizes(ws).items()}))
    ws.frame()


def _rename(ws: Workspace) -> None:
    ws.rename(st.session_state["project_name"])


def _open_saved(project_id: str) -> None:
    try:
        _open(Workspace(store().load_project(project_id), project_id))
    except (ProjectFileError, StoreError) as e:
        st.session_state[NOTICE_KEY] = str(e)


def _duplicate(ws: Workspace) -> None:
    autosave(ws)
    _open_saved(store().duplicate_project(ws.project_id))


def _ask_delete(project_id: str | None) -> None:
    st.session_state[DELETING_KEY] = project_id


def _delete(project_id: str) -> None:
    st.session_state.pop(DELETING_KEY, None)
    try:
        store().delete_project(project_id)
    except StoreError as e:
        st.session_state[NOTICE_KEY] = str(e)
    ws = st.session_state.get(WS_KEY)
    if ws is not None and ws.project_id == project_id:
        del st.session_state[WS_KEY]
        st.query_params.clear()


def _from_template(stem: str) -> None:
    _new(templates()[stem].copy())


def _upload() -> None:
    upload = st.session_state.get("project_upload")
    if upload is None:
        return
    try:
        project = parse_project(upload.getvalue())
    except ProjectFileError as e:
        st.session_state[NOTICE_KEY] = f"{upload.name} was not opened: {e}"
        return
    _new(project)
    problems = len(compile_project(project).issues)
    st.session_state[NOTICE_KEY] = f"Opened {upload.name}." + (
        f" It has {problems} issue(s): see the model summary and the red nodes." if problems else "")


# --- drawing -----------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _template_facts() -> dict[str, tuple[str, int, int]]:
    """Name, node count and parameter count of each template (compiled once per server)."""
    out = {}
    for stem, project in templates().items():
        out[stem] = (project.name, len(project.graph.nodes), compile_project(project).total_params)
    return out


def show_gallery() -> None:
    for stem, (name, n_nodes, n_params) in _template_facts().items():
        c1, c2 = st.columns([3, 1])
        c1.markdown(f"**{markdown.escape(name)}**  \n{n_nodes} nodes · {n_params:,} parameters")
        c2.button("Open", key=f"template_{stem}", on_click=_from_template, args=(stem,), width="stretch")
    st.button("Empty canvas", key="template_empty", on_click=_new_empty)


def show_header(ws: Workspace) -> None:
    name_col, undo_col, redo_col, tidy_col, down_col, new_col, menu_col = st.columns([2.8, 1, 1, 1.2, 1.4, 1.7, 1.5])
    if st.session_state.get("project_name_for") != (ws.token, ws.revision):
        st.session_state["project_name"] = ws.project.name      # show renames done by undo, open, ...
        st.session_state["project_name_for"] = (ws.token, ws.revision)
    name_col.text_input("Project name", key="project_name", on_change=_rename, args=(ws,),
                        label_visibility="collapsed", max_chars=200)
    # Always enabled: canvas edits rerun only the builder's fragment, so a disabled state drawn
    # here would go stale.
    undo_col.button("Undo", key="undo", on_click=_undo, args=(ws,), width="stretch")
    redo_col.button("Redo", key="redo", on_click=_redo, args=(ws,), width="stretch")
    tidy_col.button("Tidy up", key="tidy", on_click=_tidy, args=(ws,), help="Lay the graph out in ranks",
                    width="stretch", disabled=not ws.graph.nodes)
    down_col.download_button("Download", lambda: ws.project.to_json(),
                             file_name=f"{file_stem(ws.project, unnamed='project')}.json", mime="application/json",
                             key="download", width="stretch", on_click="ignore")
    with new_col.popover("Templates", width="stretch"):
        show_gallery()
    with menu_col.popover("Projects", width="stretch"):
        st.button("Duplicate this project", key="duplicate_project", on_click=_duplicate, args=(ws,),
                  disabled=ws.project_id is None)
        st.file_uploader("Open a project file (.json)", type=["json"], key="project_upload",
                         on_change=_upload)
        onnx_open.show_uploader(_open, NOTICE_KEY)
        st.markdown("**Saved projects**")
        now = time.time()
        for entry in store().list_projects():
            c1, c2, c3 = st.columns([1.6, 1, 1.1])
            if st.session_state.get(DELETING_KEY) == entry.id:     # a deleted project cannot be undone
                c1.markdown(f"Delete **{markdown.escape(entry.name)}** "
                            f"({', '.join(saved_facts(entry, now))}) for good?")
                c2.button("Keep", key=f"keep_{entry.id}", on_click=_ask_delete, args=(None,))
                c3.button("Delete", key=f"delete_{entry.id}", on_click=_delete, args=(entry.id,),
                          type="primary")
                continue
            c1.markdown(("▶ " if entry.id == ws.project_id else "") + markdown.escape(entry.name) + "".join(
                f"  \n:gray[:small[{fact}]]" for fact in saved_facts(entry, now)))   # a line each: the column is narrow
            c2.button("Open", key=f"open_{entry.id}", on_click=_open_saved, args=(entry.id,),
                      disabled=entry.id == ws.project_id)
            c3.button("Delete", key=f"ask_delete_{entry.id}", on_click=_ask_delete, args=(entry.id,))
    onnx_open.show_refusal()
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.toast(markdown.escape(notice))
