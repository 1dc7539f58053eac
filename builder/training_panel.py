"""Data & training: the dataset picker with a preview and credits, the settings form generated from
TrainConfig, Train / Pause / Resume / Stop, and the live view (progress, curves, gradient heatmap,
hints) as a fragment that refreshes every second only while a run is live.

The run trains in its own process (runtime.jobs); this page only reads its log. The watched run of
each project is kept in the session; a fresh session (a reload) re-attaches to the project's live run.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import streamlit as st

from builder import charts, data_upload, markdown, run_control, settings_form
from builder.projects import store
from builder.training_hints import health_colours, hints
from builder.workspace import Workspace
from runtime import datasets
from runtime.datasets.sizing import size_graph
from runtime.jobs import JobError
from runtime.projects import project_spec
from runtime.training import ConfigError, TrainConfig

REFRESH_S = 1.0
WATCH_KEY = "watched_runs"            # project id -> the run this session looks at
NOTICE_KEY = "training_notice"
ADVANCED_KEY = "training_advanced_open"   # whether the advanced settings are unfolded
ENDED_STYLE = {"completed": "success", "early_stopped": "success", "stopped": "info",
               "interrupted": "warning", "diverged": "error", "failed": "error"}


# --- which run ----------------------------------------------------------------------------------
def watch(project_id: str, run_id: str) -> None:
    st.session_state.setdefault(WATCH_KEY, {})[project_id] = run_id


def watched_run(ws: Workspace) -> str | None:
    """The project's live run (so a reload re-attaches), else the one this session last looked at,
    else the project's latest run."""
    if ws.project_id is None:
        return None
    live = run_control.registry().live_for(ws.project_id)
    if live is not None:
        watch(ws.project_id, live.id)
        return live.id
    chosen = st.session_state.get(WATCH_KEY, {}).get(ws.project_id)
    if chosen is not None:
        return chosen
    runs = store().list_runs(ws.project_id)
    return runs[-1].id if runs else None


def node_health(ws: Workspace) -> dict[str, str]:
    """Node id -> health colour from the watched run's latest gradient and dead-unit figures (what
    the canvas paints on each node's left edge); empty without a run."""
    run_id = watched_run(ws)
    return health_colours(run_control.series(run_id)) if run_id else {}


def _notice(text: str) -> None:
    st.session_state[NOTICE_KEY] = text


# --- callbacks ----------------------------------------------------------------------------------
def _train(ws: Workspace) -> None:
    try:
        job = run_control.start(ws)
    except (ConfigError, JobError, datasets.DatasetError) as e:
        _notice(str(e))
        return
    watch(ws.project_id, job.id)


def _resume_stopped(ws: Workspace, run_id: str) -> None:
    try:
        job = run_control.resume(run_id)
    except (ConfigError, JobError) as e:
        _notice(str(e))
        return
    watch(ws.project_id, job.id)


def _control(run_id: str, action: str) -> None:
    job = run_control.registry().job(run_id)
    if job is not None:
        getattr(job, action)()


def _set_dataset(ws: Workspace, key: str) -> None:
    if ws.is_current(key):
        choose_dataset(ws, st.session_state[key])


def choose_dataset(ws: Workspace, name: str) -> None:
    """The project trains on `name` (a sample dataset or an upload) from now on; the Input is sized to it."""
    try:
        spec = datasets.spec(name)
    except datasets.DatasetError as e:
        _notice(str(e))
        return
    with ws._edit():                              # one undo step: the dataset and the Input it sizes
        ws.project.dataset = {"name": name}
        size_graph(ws.graph, spec)


def _set_subset(ws: Workspace, key: str) -> None:
    if not ws.is_current(key):
        return
    value = int(st.session_state[key])
    section = {k: v for k, v in ws.project.dataset.items() if k != "subset"}
    if value:
        section["subset"] = value
    if section != ws.project.dataset:
        with ws._edit():
            ws.project.dataset = section


def _set_setting(ws: Workspace, name: str, key: str) -> None:
    if not ws.is_current(key):
        return
    try:
        training = {**ws.project.training, name: settings_form.setting_value(name, st.session_state[key])}
        settings_form.check(training, project_spec(ws.project)[0])
    except ConfigError as e:
        _notice(str(e))
        return
    with ws._edit():
        ws.project.training = training


# --- data ---------------------------------------------------------------------------------------
def show_dataset(ws: Workspace) -> int | None:
    """The picker, upload form and preview; returns the number of training samples once the data loads."""
    choices = {**datasets.DATASETS, **{d.id: d for d in datasets.saved_uploads()}}
    names = list(choices)
    current = ws.project.dataset.get("name")
    key = ws.widget_key("dataset")
    st.selectbox("Dataset", names, index=names.index(current) if current in names else None,
                 format_func=lambda n: ("Your data: " if n not in datasets.DATASETS else "") + choices[n].title,
                 key=key, on_change=_set_dataset, args=(ws, key), placeholder="Choose a dataset or upload yours")
    data_upload.show(lambda name: choose_dataset(ws, name))
    if current not in names:
        if current:                  # an upload kept in another data directory, or a misspelt name
            st.error(markdown.escape(_unavailable(current)))
        return
    declared = choices[current]
    subset_key = ws.widget_key("subset")
    st.number_input("Use only this many samples (0 = all)", min_value=0, max_value=10_000_000, step=500,
                    value=int(ws.project.dataset.get("subset") or 0), key=subset_key, on_change=_set_subset,
                    args=(ws, subset_key), help="A stratified subset trains faster for quick experiments.")
    st.caption(f"{markdown.escape(declared.description)} {markdown.escape(declared.size)}, task: {declared.task}."
               + (" Synthetic: generated here." if declared.synthetic else ""))
    with st.expander("Credits and licence"):
        st.markdown(f"**Credit:** {markdown.escape(declared.credits)}  \n**Licence:** "
                    f"{markdown.escape(declared.licence)}  \n**Source:** {markdown.escape(declared.source)}")
    try:
        options = {k: v for k, v in ws.project.dataset.items() if k != "name"}
        with st.spinner(f"Loading {declared.title}…"):
            splits = datasets.load(current, **options)
    except datasets.DatasetError as e:
        st.error(str(e))
        return
    show_preview(declared.kind, splits)
    return splits.sizes()["train"]


def batch_note(batch_size: int, train_samples: int | None) -> str | None:
    """Why a run takes one step per epoch: a batch larger than the training split is the whole split."""
    if train_samples is None or batch_size <= train_samples:
        return None
    return (f"The batch size ({batch_size:,}) is larger than the {train_samples:,} training samples: each epoch "
            "is a single step over all of them.")


def _unavailable(name: str) -> str:
    try:
        datasets.declaration(name)
    except datasets.DatasetError as e:
        return str(e)
    return f"The dataset {name} cannot be read here: choose another one."


def show_preview(kind: str, splits: Any) -> None:
    """A preview that fits the data: images, a table, sequences or sentences; then the class balance."""
    sizes = splits.sizes()
    st.caption(f"{sizes['train']:,} training · {sizes['val']:,} validation · {sizes['test']:,} test samples")
    samples = splits.preview
    if kind == "image":
        images = [np.asarray(sample["x"], dtype=np.float32).transpose(1, 2, 0) for sample in samples]  # (H, W, C)
        st.markdown(charts.image_grid(images, [str(sample["y"]) for sample in samples]), unsafe_allow_html=True)
    elif kind == "table":
        rows = [dict(s["x"]) if isinstance(s["x"], dict) else dict(zip(splits.feature_names or
                                                                        range(len(s["x"])), s["x"]))
                for s in samples]
        for row, sample in zip(rows, samples):
            row["target"] = sample["y"]
        st.dataframe(rows, hide_index=True, height=220)
    elif kind == "sequence":
        st.plotly_chart(charts.sequence_figure([(s["x"], s["y"]) for s in samples]), config=charts.CONFIG,
                        key="preview_sequences")
    else:
        for sample in samples[:5]:
            st.markdown(f"**{markdown.escape(sample['y'])}**: {markdown.escape(str(sample['x'])[:300])}")
    if splits.spec.task == "classification":
        counts = np.bincount(splits.y_train.numpy(), minlength=len(splits.class_names))
        st.markdown(charts.balance_bars(dict(zip(splits.class_names, counts.tolist()))), unsafe_allow_html=True)


# --- settings -----------------------------------------------------------------------------------
def show_settings(ws: Workspace) -> None:
    """The form generated from TrainConfig: beginner settings in view, advanced ones folded away (and
    drawn only while unfolded)."""
    settings_form.show(ws.project.training, lambda name: ws.widget_key("cfg", name),
                       on_change=lambda name, key: _set_setting(ws, name, key), advanced_key=ADVANCED_KEY)


# --- run controls and live view -----------------------------------------------------------------
def show_controls(ws: Workspace, run_id: str | None) -> None:
    job = run_control.registry().job(run_id) if run_id else None
    live = job is not None and job.live
    info = store().run(run_id) if run_id else None
    cols = st.columns(4)
    cols[0].button("Train", key="train", type="primary", on_click=_train, args=(ws,), disabled=live,
                   width="stretch")
    if live and job.status == "paused":
        cols[1].button("Resume", key="resume_paused", on_click=_control, args=(run_id, "resume"), width="stretch")
    elif live:
        cols[1].button("Pause", key="pause", on_click=_control, args=(run_id, "pause"), width="stretch",
                       disabled=job.status != "running")
    elif info is not None and info.status in ("stopped", "interrupted") and store().checkpoints(run_id):
        cols[1].button("Resume", key="resume_stopped", on_click=_resume_stopped, args=(ws, run_id),
                       width="stretch", help="Continue exactly where the run stopped, from its last checkpoint")
    cols[2].button("Stop", key="stop", on_click=_control, args=(run_id, "stop"), disabled=not live,
                   width="stretch")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.error(notice)


def show_live(run_id: str | None) -> None:
    if run_id is None:
        st.caption("No run yet: choose a dataset and press **Train**.")
        return
    job = run_control.registry().job(run_id)
    live = job is not None and job.live
    st.fragment(_live_view, run_every=REFRESH_S if live else None)(run_id, live)


def _live_view(run_id: str, was_live: bool) -> None:
    job = run_control.registry().job(run_id)
    info = store().run(run_id)
    if was_live and (job is None or not job.live):
        st.rerun()                               # the run ended: refresh the buttons and results too
    status = job.status if job is not None else info.status
    series = run_control.series(run_id)
    st.markdown(f"**{markdown.escape(info.name)}** · {status}")
    if job is not None and job.live:
        _progress(job, info, series)
    else:
        _ended(status, job.message if job is not None else info.message)
    for hint in hints(series):
        st.warning(hint.text)
    task = _task(info.dataset.get("name"))
    left, right = st.columns(2)
    left.plotly_chart(charts.loss_figure(series), key="chart_loss", config=charts.CONFIG)
    right.plotly_chart(charts.metric_figure(series, task), key="chart_metric", config=charts.CONFIG)
    left, right = st.columns(2)
    left.plotly_chart(charts.lr_figure(series), key="chart_lr", config=charts.CONFIG)
    right.plotly_chart(charts.gradient_heatmap(series), key="chart_grads", config=charts.CONFIG)


def _task(dataset_name: str | None) -> str:
    try:
        return datasets.declaration(dataset_name).task
    except datasets.DatasetError:
        return "classification"


def _progress(job, info, series) -> None:
    if job.status == "queued":
        st.info(f"Waiting for a free slot: position {job.queue_position} in the queue.")
        return
    p = job.log.progress()
    losses = series.get("train/loss", [])
    rate = p["steps_per_s"] * info.config.get("batch_size", 0)
    last = f" · loss {losses[-1][1]:.4f}" if losses else ""
    st.progress(min(1.0, p["done"]), text=progress_line(p, job.status == "paused", rate, last))


def progress_line(p: dict[str, float], paused: bool, rate: float, last: str) -> str:
    """`epoch 2/3 · step 4160/10500 · 727 samples/s · 10 s left · loss 0.0349`. While paused, only
    where it stands: nothing moves. The speed counts only the time spent training (runtime.jobs.RunLog)."""
    where = f"epoch {p['epoch']}/{p['epochs_total']} · step {p['step']}/{p['steps_total']}"
    if paused:
        return f"paused · {where}{last}"
    eta = "—" if not math.isfinite(p["eta_s"]) else f"{p['eta_s']:.0f} s"
    return f"{where} · {rate:,.0f} samples/s · {eta} left{last}"


def _ended(status: str, message: str) -> None:
    style = ENDED_STYLE.get(status, "info")
    text = {"diverged": "The run diverged: ", "failed": "The run failed: "}.get(status, "") + (message or status)
    getattr(st, style)(text)


def show(ws: Workspace) -> None:
    """The whole Data & training tab."""
    data, settings = st.columns([1, 1.4])
    with data:
        train_samples = show_dataset(ws)
    with settings:
        show_settings(ws)
        note = batch_note(int(ws.project.training.get("batch_size", TrainConfig().batch_size)), train_samples)
        if note:
            st.caption(note)
        run_id = watched_run(ws)
        show_controls(ws, run_id)
    show_live(run_id)
