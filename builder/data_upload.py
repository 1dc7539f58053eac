"""Your own data: a CSV with a chosen target column and task, an NPZ of arrays x and y, or a zip of
image folders. The runtime checks the file by loading it and keeps it in the data directory; the
project then names it (upload:<id>) like a sample dataset, so runs, the CLI and a restarted server
load it too. A refused file gets the runtime's message, never a traceback. An upload that no project
trains on can be removed again."""
from __future__ import annotations

import re
from typing import Callable

import streamlit as st

from builder import markdown
from builder.projects import store
from runtime import datasets
from runtime.datasets.uploads import MAX_UPLOAD_BYTES
from runtime.projects import remove_upload

COUNT_KEY = "data_upload_count"     # part of the uploader's key: a new key empties it after a success
# The two sections are drawn only while unfolded (keyed expanders that rerun the page): every element on
# the page costs the browser time on each script run, a canvas event's included.
FORM_OPEN_KEY = "data_upload_open"
UPLOADS_OPEN_KEY = "data_uploads_open"
NOTICE_KEY = "data_upload_notice"   # ("error" | "success", text), shown once after the click
TASKS = ("infer from the target", "classification", "regression")
FILE_TYPES = ["csv", "tsv", "txt", "npz", "zip"]


def _key(name: str) -> str:
    return f"upload_{name}_{st.session_state.get(COUNT_KEY, 0)}"


def parse_image_size(text: str) -> list[int] | None:
    """"32, 32" or "32x32" -> [32, 32]; blank keeps the images' own size."""
    if not text.strip():
        return None
    parts = [p for p in re.split(r"[\s,x×]+", text.strip().lower()) if p]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise datasets.DatasetError(f"Resize to {text!r}: expected height and width in pixels, like 32, 32 "
                                    "(or leave it blank to keep the images' size).")
    return [int(p) for p in parts]


def _add(choose: Callable[[str], None]) -> None:
    upload = st.session_state.get(_key("file"))
    if upload is None:
        return
    options = {}
    try:
        fmt = datasets.upload_format(upload.name)
        if fmt == "csv":
            options["target"] = st.session_state[_key("target")]
        if fmt in ("csv", "npz") and st.session_state[_key("task")] != TASKS[0]:
            options["task"] = st.session_state[_key("task")]
        if fmt == "zip":
            options["image_size"] = parse_image_size(st.session_state[_key("image_size")])
        with st.spinner(f"Checking {upload.name}…"):
            declared = datasets.save_upload(upload.getvalue(), upload.name, **options)
    except datasets.DatasetError as e:
        st.session_state[NOTICE_KEY] = ("error", f"{upload.name} was not added: {e}")
        return
    choose(declared.id)
    st.session_state[COUNT_KEY] = st.session_state.get(COUNT_KEY, 0) + 1
    st.session_state[NOTICE_KEY] = ("success", f"Added {declared.title} ({declared.size}): it is "
                                               "chosen above and stays in the dataset list.")


def _options(upload) -> bool:
    """The options that fit the file's format; False when the file cannot be used at all."""
    try:
        fmt = datasets.upload_format(upload.name)
        if fmt == "csv":
            columns = datasets.csv_columns(upload.getvalue(), upload.name)
            st.selectbox("Target column (what to predict)", columns, index=len(columns) - 1, key=_key("target"))
    except datasets.DatasetError as e:
        st.error(markdown.escape(str(e)))
        return False
    if fmt in ("csv", "npz"):
        st.selectbox("Task", TASKS, key=_key("task"),
                     help="Inferred: text labels or a few whole numbers are classes, other numbers regression.")
    if fmt == "zip":
        st.text_input("Resize images to (height, width)", key=_key("image_size"), placeholder="keep their size",
                      help="Needed when the images do not all have the same size.")
    return True


def _remove(name: str) -> None:
    try:
        title = remove_upload(store(), name)
    except datasets.DatasetError as e:
        st.session_state[NOTICE_KEY] = ("error", str(e))
        return
    st.session_state[NOTICE_KEY] = ("success", f"Removed {title} from the data directory.")


def show_uploads() -> None:
    """Your uploads, one of which can be removed while no project trains on it."""
    uploads = {d.id: d for d in datasets.saved_uploads()}
    if not uploads:
        return
    box = st.expander("Your uploads", key=UPLOADS_OPEN_KEY, on_change="rerun")
    if not box.open:
        return
    with box:
        name = st.selectbox("Upload", list(uploads), key="upload_remove_choice",
                            format_func=lambda n: f"{uploads[n].title} · {uploads[n].size}")
        users = store().dataset_users().get(name)
        if users:
            st.caption(markdown.escape(f"The dataset of {', '.join(repr(u) for u in users)}: choose another "
                                       "dataset there to remove it."))
        st.button("Remove this upload", key="upload_remove", disabled=bool(users), on_click=_remove, args=(name,),
                  help="Deletes the file from the data directory. Runs that trained on it keep their curves "
                       "and weights; their results and playground need the data and say so.")


def show(choose: Callable[[str], None]) -> None:
    """The upload form; `choose(name)` makes the project train on the added dataset."""
    box = st.expander("Upload your own data", key=FORM_OPEN_KEY, on_change="rerun")
    if box.open:
        with box:
            _form(choose)
    show_uploads()
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        getattr(st, notice[0])(markdown.escape(notice[1]))


def _form(choose: Callable[[str], None]) -> None:
    st.caption("A **CSV** with a header row (pick the column to predict), an **NPZ** with arrays x and y "
               "(optionally x_test, y_test), or a **zip** with one folder of images per class. "
               f"Up to {MAX_UPLOAD_BYTES / 1e6:,.0f} MB; nothing in it is ever run.")
    upload = st.file_uploader("Data file", type=FILE_TYPES, key=_key("file"),
                              max_upload_size=MAX_UPLOAD_BYTES // 1_000_000)
    if upload is not None and _options(upload):
        st.button("Add this dataset", key=_key("add"), type="primary", on_click=_add, args=(choose,))
