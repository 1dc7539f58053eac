"""Every run of the project with its settings and final figures; several overlaid; what differs
between them (settings and graph); and a fork from a checkpoint with changed settings."""
from __future__ import annotations

import time
from typing import Any

import streamlit as st

from builder import charts, markdown, run_control, settings_form, tab_state
from builder.projects import store
from builder.workspace import Workspace
from runtime import datasets
from runtime.graph import Graph
from runtime.jobs import JobError
from runtime.store import RunInfo
from runtime.timestamps import short_time
from runtime.training import ConfigError

SELECT_KEY = "history_selected"     # + the number of runs: a new run resets the choice to the last two
NOTICE_KEY = "history_notice"
FIGURES = {"val/acc": "val acc", "val/r2": "val R²", "val/loss": "val loss", "train/loss_epoch": "train loss"}
NAME_PX = 120       # a fork of a fork of a fork is cut short here, not let push the other columns out of view
# The table of runs fits the main area at 1280 px: a name of any length in a column of its own width, the
# final figures under short headers next to it.
RUN_COLUMNS = {"run": st.column_config.TextColumn(width=NAME_PX, help="A long name ends where the column does: "
                                                                      "double-click it to read it whole."),
               **{metric: st.column_config.NumberColumn(header, help=f"{metric} at the run's end")
                  for metric, header in FIGURES.items()}}


def run_rows(runs: list[RunInfo], now: float) -> list[dict[str, Any]]:
    """The runs' names, statuses and final figures first, then their settings, when (as of `now`: "today
    14:05", "3 Dec 09:41") and id. The dataset only where they trained on more than one (the Data & training
    tab names the project's)."""
    figures = [k for k in FIGURES if any(r.final_metrics.get(k) is not None for r in runs)]
    several_datasets = len({r.dataset.get("name", "") for r in runs}) > 1
    rows = []
    for r in runs:
        row = {"run": r.name, "status": r.status, "epochs": r.epochs_done}
        row.update({k: None if r.final_metrics.get(k) is None else round(r.final_metrics[k], 4) for k in figures})
        row.update({"optimizer": r.config.get("optimizer"), "lr": r.config.get("lr"),
                    "batch": r.config.get("batch_size")})
        if several_datasets:
            row["dataset"] = r.dataset.get("name", "")
        row.update({"started": short_time(r.started or r.created, now), "id": r.id})
        rows.append(row)
    return rows


def labels(runs: list[RunInfo]) -> list[str]:
    """Each run's name, with its id where another of `runs` has the same name (two forks of one run are
    both "run 1 fork"): the column of a table, the line of a chart."""
    names = [r.name for r in runs]
    return [f"{r.name} ({r.id})" if names.count(r.name) > 1 else r.name for r in runs]


def compared(runs: list[RunInfo], chosen: list[str]) -> list[RunInfo]:
    """The chosen runs in the order they ran, whatever order they were picked in: the diff's columns, the
    charts' lines and "Graph from the first to the last" read in time."""
    return [r for r in runs if r.id in chosen]


def settings_diff(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """One row per setting (or dataset option) whose value is not the same in all the runs."""
    keys = sorted({k for r in runs for k in r.config} | {f"dataset.{k}" for r in runs for k in r.dataset})
    rows = []
    for key in keys:
        values = [r.dataset.get(key[8:]) if key.startswith("dataset.") else r.config.get(key) for r in runs]
        if any(v != values[0] for v in values):
            rows.append({"setting": key, **{label: str(v) for label, v in zip(labels(runs), values)}})
    return rows


def graph_diff(before: Graph, after: Graph) -> list[str]:
    """Plain sentences: nodes added or removed, parameters changed, edges added or removed."""
    old, new = {n.id: n for n in before.nodes}, {n.id: n for n in after.nodes}
    lines = [f"added {i} ({new[i].type})" for i in new if i not in old]
    lines += [f"removed {i} ({old[i].type})" for i in old if i not in new]
    for i in new.keys() & old.keys():
        for key in sorted(set(old[i].params) | set(new[i].params)):
            if old[i].params.get(key) != new[i].params.get(key):
                lines.append(f"{i}.{key}: {old[i].params.get(key)!r} → {new[i].params.get(key)!r}")
    old_edges = {(e.source, e.target) for e in before.edges}
    new_edges = {(e.source, e.target) for e in after.edges}
    lines += [f"wired {s} → {t}" for s, t in sorted(new_edges - old_edges)]
    lines += [f"unwired {s} → {t}" for s, t in sorted(old_edges - new_edges)]
    return lines


def graph_change(before: Graph, after: Graph) -> str | None:
    """What changed in the graph between two project versions as one line; None when nothing did (a new
    version may differ in its training settings alone)."""
    changes = graph_diff(before, after)
    if changes:
        return "; ".join(changes)
    if {n.id: n.position for n in before.nodes} != {n.id: n.position for n in after.nodes}:
        return "only positions moved"
    return None


def _fork(run_id: str, prefix: str) -> None:
    from builder.training_panel import watch
    info = store().run(run_id)
    try:
        changes = settings_form.values_from_state(lambda name: f"{prefix}_{name}")
        dataset = dict(info.dataset)
        settings_form.check({**info.config, **changes}, datasets.spec(dataset.pop("name"), **dataset))
        chosen = st.session_state[f"{prefix}_checkpoint"]
        checkpoint = next(p for p in store().checkpoints(run_id) if p.stem == chosen)
        job = run_control.fork(run_id, checkpoint, changes)
    except (ConfigError, JobError, datasets.DatasetError, StopIteration) as e:
        st.session_state[NOTICE_KEY] = str(e) or "That checkpoint is gone."
        return
    watch(job.project_id, job.id)


def show(ws: Workspace) -> None:
    runs = store().list_runs(ws.project_id) if ws.project_id else []
    if not runs:
        st.caption("No runs of this project yet.")
        return
    st.dataframe(run_rows(runs, time.time()), hide_index=True, column_config=RUN_COLUMNS)
    by_id = {r.id: r for r in runs}
    key = f"{SELECT_KEY}_{len(runs)}"
    default = [i for i in tab_state.kept(key, [r.id for r in runs[-2:]]) if i in by_id]
    chosen = st.multiselect("Compare runs", list(by_id), default=default, key=key, on_change=tab_state.keep,
                            args=(key,), format_func=lambda i: f"{by_id[i].name} ({i})")
    selected = compared(runs, chosen)
    if selected:
        # a run drawn beside its parent starts where it took over; without its parent, with the parent's start
        curves = {label: run_control.series(r.id, ["val/loss", "val/acc", "train/loss"],
                                            inherited=r.parent_run_id not in chosen)
                  for label, r in zip(labels(selected), selected)}
        left, right = st.columns(2)
        left.plotly_chart(charts.overlay_figure(curves, "val/loss"), key="history_val_loss", config=charts.CONFIG)
        right.plotly_chart(charts.overlay_figure(curves, "val/acc"), key="history_val_acc", config=charts.CONFIG)
    if len(selected) >= 2:
        st.markdown("**What differs**")
        diff = settings_diff(selected)
        if diff:
            st.dataframe(diff, hide_index=True)
        else:
            st.caption("Same settings.")
        first, last = selected[0], selected[-1]
        first_label, *_, last_label = labels(selected)
        change = None
        if (first.project_id, first.project_version) != (last.project_id, last.project_version):
            change = graph_change(store().load_project(first.project_id, first.project_version).graph,
                                  store().load_project(last.project_id, last.project_version).graph)
        if change:
            st.markdown(f"Graph from {markdown.escape(first_label)} to {markdown.escape(last_label)}: "
                        f"{markdown.escape(change)}")
        else:
            st.caption("Same graph.")
    forked = selected[-1] if selected else runs[-1]
    _fork_form(forked, labels(runs)[runs.index(forked)])


def _fork_form(run: RunInfo, label: str) -> None:
    """The training settings form, filled with the run's settings: the fork may change any of them. `label`
    names the run among the project's (with its id where another run has its name)."""
    checkpoints = store().checkpoints(run.id)
    st.markdown(f"**Fork {markdown.escape(label)}** from a checkpoint with changed settings")
    if not checkpoints:
        st.caption("This run saved no checkpoint.")
        return
    prefix = f"fork_{run.id}"
    with st.form(f"{prefix}_form", border=False):
        st.selectbox("Checkpoint", [p.stem for p in checkpoints], index=len(checkpoints) - 1,
                     key=f"{prefix}_checkpoint",
                     help="The fork starts from these weights (and the optimizer state saved with them).")
        settings_form.show(run.config, lambda name: f"{prefix}_{name}")
        st.form_submit_button("Fork", key=prefix, type="primary", on_click=_fork, args=(run.id, prefix),
                              disabled=run_control.registry().live_for(run.project_id) is not None)
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.error(notice)
