"""Open an ONNX model as an editable project: the Projects menu's .onnx uploader.

The runtime's importer reads the upload (size limit, protobuf data only, no external data, checker),
maps it onto catalog layers and proves the result against onnxruntime; a refusal is its message, shown
on the page until the next upload or "Dismiss". An accepted model becomes a new project in the store,
named after the file and laid out, with its imported weights kept (runtime/initial_weights.py), so the
Train and Export panels start from them.
"""
from __future__ import annotations

import logging
import math
import re
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
SHAPE_KEY = "onnx_sample_shape"
REFUSAL_KEY = "onnx_refusal"      # the last refusal, shown under the header until dismissed
MAX_VALUES = 10_000_000           # per sample: the import runs the model on a small batch of this size

log = logging.getLogger(__name__)


def open_model(data: bytes, file_name: str, input_shape: list[int] | None = None) -> tuple[Workspace, str]:
    """The uploaded model as a new saved project with its weights kept, and a sentence about it;
    `input_shape` (one sample) where the file leaves sizes open. Raises OnnxError with the importer's
    message when the file is refused."""
    imported = import_upload(data, file_name, input_shape)
    project = imported.project
    project.name = Path(file_name).stem[:200] or project.name
    project_id, _ = store().save_project(project)
    initial_weights.save(store(), project_id, imported.weights, file_name)
    layers = [n for n in project.graph.nodes if n.type not in ("Input", "Output")]
    return Workspace(project, project_id), (
        f"Opened {file_name}: {len(layers)} layers, with its weights (they reproduce onnxruntime within "
        f"{imported.max_abs_diff:.1g}). Training and export start from them.")


def sample_shape(text: str) -> list[int] | None:
    """ "50 3", "50, 3" or "50x3" -> [50, 3]; blank -> None (the file's own sizes). ValueError says why not."""
    parts = [p for p in re.split(r"[\s,x×]+", text.strip().lower()) if p]
    if not parts:
        return None
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"Sample shape {text.strip()[:40]!r} is not a list of positive sizes: write one "
                         "sample's shape without the batch, e.g. 50 for 50 steps, or 50 3.")
    shape = [int(p) for p in parts]
    if math.prod(shape) > MAX_VALUES:
        raise ValueError(f"Sample shape {shape} holds {math.prod(shape):,} values; at most {MAX_VALUES:,} per "
                         "sample are imported here.")
    return shape


def _upload(open_workspace: Callable[[Workspace], None], notice_key: str) -> None:
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        return
    try:
        shape = sample_shape(st.session_state.get(SHAPE_KEY, ""))
    except ValueError as e:
        st.session_state[REFUSAL_KEY] = f"{upload.name} was not opened: {e}"
        return
    try:
        ws, notice = open_model(upload.getvalue(), upload.name, shape)
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
    st.text_input("Sample shape, for a model that leaves sizes open", key=SHAPE_KEY, on_change=_retry,
                  args=(open_workspace, notice_key), placeholder="from the file, e.g. 50 for 50 steps",
                  max_chars=60)


def _retry(open_workspace: Callable[[Workspace], None], notice_key: str) -> None:
    """A shape typed after a refusal imports the same upload again (after a success it waits for the next)."""
    if REFUSAL_KEY in st.session_state:
        _upload(open_workspace, notice_key)


def show_refusal() -> None:
    refusal = st.session_state.get(REFUSAL_KEY)
    if refusal is None:
        return
    text_col, button_col = st.columns([9, 1])
    text_col.error(markdown.escape(refusal), icon="⚠️")
    button_col.button("Dismiss", key="onnx_refusal_dismiss", on_click=_dismiss)


def _dismiss() -> None:
    st.session_state.pop(REFUSAL_KEY, None)
