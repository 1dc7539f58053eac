"""Below the canvas: train, see results, try the model, compare runs, export. One tab each."""
from __future__ import annotations

import streamlit as st

from builder import exporting, playground, results, run_history, training_panel
from builder.workspace import Workspace

TABS = ["Data & training", "Results", "Playground", "Runs", "Export"]


def show(ws: Workspace) -> None:
    train, result, play, runs, export = st.tabs(TABS)
    run_id = training_panel.watched_run(ws)
    with train:
        training_panel.show(ws)
    with result:
        results.show(run_id)
    with play:
        playground.show(run_id)
    with runs:
        run_history.show(ws)
    with export:
        exporting.show(ws, run_id)
