import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime.graph import Graph, Node, Project
from runtime.store import HOME_ENV, Store, StoreError, data_dir
from runtime.training import TrainConfig, Trainer
from runtime.training.recording import RunRecorder
from training_fixtures import mlp, quadrants

ROOT = Path(__file__).resolve().parents[2]


def project(name="demo", width=8):
    graph = Graph([Node("input1", "Input", {"shape": [2]}), Node("fc1", "Linear", {"out_features": width}),
                   Node("output1", "Output")], [])
    return Project(name, graph, {"name": "moons"}, {"epochs": 2})


def test_data_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home"
    assert Store().path == tmp_path / "home" / "layerboard.db"
    monkeypatch.delenv(HOME_ENV)
    assert data_dir() == Path.home() / ".layerboard"


def test_projects_keep_versions_and_can_be_renamed_duplicated_deleted(tmp_path):
    store = Store(tmp_path)
    pid, v1 = store.save_project(project())
    assert store.save_project(project(), pid) == (pid, v1)          # unchanged: no new version
    _, v2 = store.save_project(project(width=16), pid)
    assert (v1, v2) == (1, 2)
    assert store.load_project(pid).graph.node("fc1").params == {"out_features": 16}
    assert store.load_project(pid, 1).graph.node("fc1").params == {"out_features": 8}
    store.rename_project(pid, "renamed")
    copy = store.duplicate_project(pid)
    names = {p.id: p.name for p in store.list_projects()}
    assert names == {pid: "renamed", copy: "renamed (copy)"}
    run = store.create_run({"epochs": 1}, project_id=pid)
    store.run_dir(run).mkdir(parents=True)
    store.delete_project(pid)
    assert [p.id for p in store.list_projects()] == [copy]
    assert not store.run_dir(run).exists()
    with pytest.raises(StoreError, match=pid):
        store.load_project(pid)
    with pytest.raises(StoreError, match="nope"):
        store.run("nope")


def test_the_project_list_counts_the_nodes_of_each_latest_version(tmp_path):
    store = Store(tmp_path)
    pid, _ = store.save_project(project())
    bigger = project()
    bigger.graph.nodes.append(Node("relu1", "ReLU"))
    store.save_project(bigger, pid)
    assert [(p.id, p.versions, p.nodes) for p in store.list_projects()] == [(pid, 2, 4)]
    store._db().execute("UPDATE project_versions SET body='not json' WHERE version=2")
    assert [p.nodes for p in store.list_projects()] == [None]     # listed still, without a count


def test_a_recorded_run_holds_status_metrics_and_final_figures(tmp_path):
    store = Store(tmp_path)
    run = store.create_run(TrainConfig(epochs=2).to_dict(), name="first")
    result = Trainer(mlp(), quadrants(), TrainConfig(epochs=2), callbacks=[RunRecorder(store, run)]).fit()
    info = store.run(run)
    assert info.status == "completed" and info.epochs_done == 2 and info.started and info.ended
    assert info.final_metrics["val/acc"] == pytest.approx(result.metrics["val/acc"])
    series = store.metrics(run)
    assert [s for s, _ in series["train/loss"]] == list(range(1, result.steps + 1))
    assert len(series["val/loss"]) == 2
    assert store.metrics(run, ["lr"]).keys() == {"lr"}


def test_two_runs_at_once_do_not_mix_metrics(tmp_path):
    import threading
    store = Store(tmp_path)
    runs = [store.create_run({}, name=str(i)) for i in range(2)]
    sizes = {runs[0]: 40, runs[1]: 100}
    threads = [threading.Thread(target=lambda r=r: Trainer(
        mlp(), quadrants(), TrainConfig(epochs=2, batch_size=sizes[r]), callbacks=[RunRecorder(store, r)]).fit())
        for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in runs:
        steps = [s for s, _ in store.metrics(r)["train/loss"]]
        assert steps == list(range(1, 2 * -(-960 // sizes[r]) + 1))    # ceil: the last batch is partial


CHILD = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, sys.argv[2])
    torch.set_num_threads(1)
    from runtime.store import Store
    from runtime.training import Callback, TrainConfig, Trainer
    from runtime.training.recording import RunRecorder
    from training_fixtures import mlp, quadrants
    store = Store(sys.argv[1])
    run = store.create_run({}, name="doomed")
    class Announce(Callback):
        def on_metrics(self, trainer, step, metrics):
            if "train/loss" in metrics:
                print(step, time.time(), flush=True)
    Trainer(mlp(), quadrants(), TrainConfig(epochs=100000, log_every=5),
            callbacks=[RunRecorder(store, run), Announce()]).fit()
""")


def test_a_killed_training_process_leaves_a_readable_store_with_its_metrics(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(Path(__file__).parent)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    announced = []
    try:
        for line in child.stdout:
            step, wall = line.split()
            announced.append((int(step), float(wall)))
            if announced[-1][1] - announced[0][1] > 2.5:
                break
        killed_at = time.time()
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    store = Store(tmp_path)
    assert store.integrity() == "ok"
    (info,) = store.list_runs()
    assert info.status == "interrupted" and "ended unexpectedly" in info.message
    stored = [s for s, _ in store.metrics(info.id)["train/loss"]]
    older_than_a_second = [s for s, wall in announced if wall < killed_at - 1.0]
    assert older_than_a_second and set(older_than_a_second) <= set(stored)
    assert stored == list(range(1, len(stored) + 1))


def test_runs_left_live_by_a_dead_process_become_interrupted(tmp_path):
    store = Store(tmp_path)
    run = store.create_run({})
    store.update_run(run, status="running")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    queued = store.create_run({})
    for r in (run, queued):
        with store._tx() as db:
            db.execute("UPDATE runs SET pid=? WHERE id=?", (int(dead.stdout), r))
    mine = store.create_run({})                        # created by this (living) process: left alone
    reopened = Store(tmp_path)
    assert [reopened.run(r).status for r in (run, queued, mine)] == ["interrupted", "interrupted", "queued"]


def test_a_busy_database_delays_metric_writes_but_loses_none(tmp_path, monkeypatch):
    import sqlite3
    store = Store(tmp_path)
    run = store.create_run({})
    real, failures = store.add_metrics, []

    def busy_twice(rows, epochs_done=None):
        if len(failures) < 2:
            failures.append(len(rows))
            raise sqlite3.OperationalError("database is locked")
        real(rows, epochs_done)
    monkeypatch.setattr(store, "add_metrics", busy_twice)
    recorder = RunRecorder(store, run, flush_seconds=0.01)
    result = Trainer(mlp(), quadrants(), TrainConfig(epochs=3), callbacks=[recorder]).fit()
    assert len(failures) == 2
    assert [s for s, _ in store.metrics(run)["train/loss"]] == list(range(1, result.steps + 1))
    assert store.run(run).epochs_done == 3
