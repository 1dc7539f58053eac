"""Starting, continuing and forking runs of the open project, and reading their curves.

The job registry is one per server process and data directory (runs outlive browser tabs: a
reloaded page finds its project's live run here). No Streamlit: the panels call these functions
from button callbacks, and the tests call them directly.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from builder.projects import store
from builder.workspace import Workspace
from runtime import initial_weights
from runtime.jobs import Job, JobRegistry, RunSpec
from runtime.projects import compile_project
from runtime.store import Store, data_dir
from runtime.training import ConfigError, TrainConfig

Series = dict[str, list[tuple[int, float]]]
MAX_ACTIVE = max(1, os.cpu_count() or 1)   # one torch thread per run: as many runs as cores, the rest queue


@lru_cache(maxsize=4)
def _registry(home: str) -> JobRegistry:
    # Each run trains in its own process (runtime/job_worker.py), so the page's Python never holds a
    # GIL the training needs; creating the registry starts the warm process the runs fork from.
    return JobRegistry(store(), max_active=MAX_ACTIVE, threads=1)


def registry() -> JobRegistry:
    return _registry(str(data_dir()))


def start(ws: Workspace) -> Job:
    """Trains the open project as it is now (later canvas edits do not touch the run), from the weights
    of the ONNX model it was imported from while they fit the graph, else from fresh ones.

    ConfigError when there is no dataset, the graph has errors or a setting is invalid; JobError when
    the project already has a live run."""
    compiled = compile_project(ws.project)
    if not ws.project.dataset.get("name"):
        raise ConfigError("Choose a dataset first (Data & training tab).")
    if not compiled.ok:
        first = compiled.errors[0]
        raise ConfigError(f"The graph has {len(compiled.errors)} error(s) to fix before training; the first, at "
                          f"{first.node_id or 'the graph'}: {first.message}")
    config = TrainConfig.from_dict(ws.project.training)
    ws.project_id, version = store().save_project(ws.project, ws.project_id)
    project = ws.project.copy()
    dataset = dict(project.dataset)
    number = len(store().list_runs(ws.project_id)) + 1
    kept = initial_weights.find(store(), ws.project_id)       # an imported model's weights, while they fit
    start_from = str(kept.path) if kept is not None and kept.fit(compiled) else None
    return registry().submit(ws.project_id, RunSpec(project.to_dict(), dataset, config.to_dict(),
                                                    resume_from=start_from, fork=start_from is not None),
                             name=f"run {number}", project_version=version)


def resume(run_id: str) -> Job:
    """Continues a stopped run exactly from its last checkpoint, as a new run linked to it."""
    return _from_checkpoint(run_id, last_checkpoint(run_id), {}, fork=False)


def fork(run_id: str, checkpoint: Path, changes: dict[str, Any]) -> Job:
    """A new run that starts from `checkpoint`'s weights with changed settings."""
    return _from_checkpoint(run_id, checkpoint, changes, fork=True)


def _from_checkpoint(run_id: str, checkpoint: Path, changes: dict[str, Any], fork: bool) -> Job:
    info = store().run(run_id)
    project = store().load_project(info.project_id, info.project_version)
    config = TrainConfig.from_dict({**info.config, **changes}).to_dict()
    label = f"{info.name} fork" if fork else f"{info.name} resumed"
    run = RunSpec(project.to_dict(), dict(info.dataset), config, resume_from=str(checkpoint), fork=fork)
    return registry().submit(info.project_id, run, name=label, project_version=info.project_version,
                             parent_run_id=run_id)


def last_checkpoint(run_id: str) -> Path:
    found = store().checkpoints(run_id)
    if not found:
        raise ConfigError(f"Run {run_id} saved no checkpoint (it ended before its first step was saved): "
                          "start a new run instead.")
    return found[-1]


def series(run_id: str, names: list[str] | None = None, inherited: bool = True) -> Series:
    """A run's curves so far: from memory while its job lives in this process, else from the store.
    A resumed or forked run's curves continue its parent's: the parent's points before the step it
    took over at (a fork's steps go on from its checkpoint's), so its live charts show where it began;
    `inherited=False` leaves those out (its parent is drawn beside it)."""
    job = registry().job(run_id)
    own = job.log.series(names) if job is not None else store().metrics(run_id, names)
    info = _run_or_none(store(), run_id)
    if not inherited or info is None or info.parent_run_id is None:
        return own
    before = series(info.parent_run_id, names)
    first = min((points[0][0] for points in own.values() if points), default=None)
    merged = {k: [p for p in v if first is None or p[0] < first] for k, v in before.items()}
    for k, v in own.items():
        merged.setdefault(k, []).extend(v)
    return merged


def _run_or_none(st: Store, run_id: str):
    try:
        return st.run(run_id)
    except LookupError:
        return None
