"""Open an ONNX model as an editable project: the Projects menu's .onnx uploader.

The runtime's importer reads the upload (size limit, protobuf data only, no external data, checker),
maps it onto catalog layers and proves the result against onnxruntime; a refusal is its message, shown
on the page until the next upload or "Dismiss". An accepted model becomes a new project in the store,
named after the file and laid out, with its imported weights kept (runtime/initial_weights.py), so the
Train and Export panels start from them.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import streamlit as st

from builder import markdown
from builder.projects import store
from builder.workspace import Workspace
from runtime import initial_weights
from runtime.onnx.errors import OnnxError
from runtime.onnx.importer import import_upload

UPLOAD_KEY = "onnx_upload"
REFUSAL_KEY = "onnx_refusal"      # the last refusal, shown under the header until dismissed

log = logging.getLogger(__name__)


def open_model(data: bytes, file_name: str) -> tuple[Workspace, str]:
    """The uploaded model as a new saved project with its weights kept, and a sentence about it.
    Raises OnnxError with the importer's message when the file is refused."""
    imported = import_upload(data, file_name)
    project = imported.project
    project.name = Path(file_name).stem[:200] or project.name
    project_id, _ = store().save_project(project)
    initial_weights.save(store(), project_id, imported.weights, file_name)
    layers = [n for n in project.graph.nodes if n.type not in ("Input", "Output")]
    return Workspace(project, project_id), (
        f"Opened {file_name}: {len(layers)} layers, with its weights (they reproduce onnxruntime within "
        f"{imported.max_abs_diff:.1g}). Training and export start from them.")


def _upload(open_workspace: Callable[[Workspace], None], notice_key: str) -> None:
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        return
    try:
        ws, notice = open_model(upload.getvalue(), upload.name)
    except OnnxError as e:
        st.session_state[REFUSAL_KEY] = f"{upload.name} was not opened: {e}"
        return
    except Exception as e:       # a file no importer rule foresaw: a message on the page, the trace in the log
        log.exception("ONNX import of %s failed", upload.name)
        st.session_state[REFUSAL_KEY] = (f"{upload.name} was not opened: the importer failed on it "
                                         f"({type(e).__name__}: {str(e)[:300]}).")
        return
    st.session_state.pop(REFUSAL_KEY, None)
    open_workspace(ws)
    st.session_state[notice_key] = notice


def show_uploader(open_workspace: Callable[[Workspace], None], notice_key: str) -> None:
    """The uploader; `open_workspace` puts an accepted model on the canvas, `notice_key` takes the toast."""
    st.file_uploader("Open an ONNX model (.onnx)", type=["onnx"], key=UPLOAD_KEY, on_change=_upload,
                     args=(open_workspace, notice_key),
                     help="Becomes a new project with the model's layers and weights, when every operator "
                          "maps onto a layer of the palette. One self-contained file (weights inside).")


def show_refusal() -> None:
    refusal = st.session_state.get(REFUSAL_KEY)
    if refusal is None:
        return
    text_col, button_col = st.columns([9, 1])
    text_col.error(markdown.escape(refusal), icon="⚠️")
    button_col.button("Dismiss", key="onnx_refusal_dismiss", on_click=_dismiss)


def _dismiss() -> None:
    st.session_state.pop(REFUSAL_KEY, None)
