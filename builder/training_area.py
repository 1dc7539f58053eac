"""Below the canvas: train, see results, try the model, compare runs, export. One tab each.

Only the open tab runs and is sent to the page (the tabs rerun the app when another one is chosen):
every element on the page costs the browser time on each script run, a canvas event's included. The
open tab is in the URL (?training_tab=...), so a reload keeps it; builder/tab_state.py keeps the values
of the widgets in a tab while another one is open.
"""
from __future__ import annotations

import streamlit as st

from builder import exporting, playground, results, run_control, run_history, training_panel
from builder.workspace import Workspace

TABS = ["Data & training", "Results", "Playground", "Runs", "Export"]
TAB_KEY = "training_tab"


def show(ws: Workspace) -> None:
    run_id = training_panel.watched_run(ws)
    views = {"Data & training": lambda: training_panel.show(ws), "Results": lambda: results.show(run_id),
             "Playground": lambda: playground.show(run_id), "Runs": lambda: run_history.show(ws),
             "Export": lambda: exporting.show(ws, run_id)}
    tabs = dict(zip(TABS, st.tabs(TABS, key=TAB_KEY, on_change="rerun", bind="query-params")))
    for name, tab in tabs.items():
        if tab.open:
            with tab:
                views[name]()
    if not tabs["Data & training"].open:
        rerun_when_ended(run_id)


def rerun_when_ended(run_id: str | None) -> None:
    """While the run is live and its live view (which reruns the page when the run ends) is not on
    the page: check every second and rerun the page once it has ended, so that the open tab shows it."""
    job = run_control.registry().job(run_id) if run_id else None
    if job is not None and job.live:
        st.fragment(_rerun_if_ended, run_every=training_panel.REFRESH_S)(run_id)


def _rerun_if_ended(run_id: str) -> None:
    job = run_control.registry().job(run_id)
    if job is None or not job.live:
        st.rerun()
