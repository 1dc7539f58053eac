"""The store: projects with their graph versions, runs, metric series, checkpoint files.

SQLite (standard library) in WAL mode inside the data directory (`$LAYERBOARD_HOME`, default
`~/.layerboard`). Checkpoint files live beside the database in `runs/<run_id>/`. Every write is
a short transaction, so a process killed at any moment leaves a database that opens and holds
everything committed; metric writers commit at least once a second. Files kept with a project (the
weights of an imported ONNX model) live in `projects/<project_id>/`.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from runtime.graph import Project, parse_project

HOME_ENV = "LAYERBOARD_HOME"
LIVE = ("queued", "running", "paused")

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS project_versions (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE, version INTEGER NOT NULL,
    saved REAL NOT NULL, body TEXT NOT NULL, PRIMARY KEY (project_id, version));
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, project_id TEXT, project_version INTEGER, name TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', config TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, started REAL, ended REAL,
    final_metrics TEXT NOT NULL DEFAULT '{}', epochs_done INTEGER NOT NULL DEFAULT 0,
    parent_run_id TEXT, parent_checkpoint TEXT, host TEXT, pid INTEGER);
CREATE INDEX IF NOT EXISTS runs_by_project ON runs(project_id, created);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL, wall REAL NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name, step);
"""


def data_dir() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".layerboard")


class StoreError(LookupError):
    """A project or run that does not exist; the message names the id."""


@dataclass(frozen=True)
class ProjectInfo:
    id: str
    name: str
    created: float
    updated: float       # when the latest version was saved
    versions: int
    nodes: int | None    # in the latest version; None where its text is not JSON


@dataclass(frozen=True)
class RunInfo:
    id: str
    project_id: str | None
    project_version: int | None
    name: str
    status: str          # queued, running, paused, stopped, completed, early_stopped, diverged, failed, interrupted
    message: str
    config: dict[str, Any]
    dataset: dict[str, Any]
    created: float
    started: float | None
    ended: float | None
    final_metrics: dict[str, float]
    epochs_done: int
    parent_run_id: str | None
    parent_checkpoint: str | None


class Store:
    def __init__(self, home: str | Path | None = None):
        self.home = Path(home) if home else data_dir()
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "layerboard.db"
        self._local = threading.local()
        self._db().executescript(SCHEMA)
        self._mark_orphans()

    # ------------------------------------------------------------------ connection
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")     # WAL + NORMAL: a crash loses no committed data
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def integrity(self) -> str:
        return self._db().execute("PRAGMA integrity_check").fetchone()[0]

    # ------------------------------------------------------------------ projects
    def save_project(self, project: Project, project_id: str | None = None) -> tuple[str, int]:
        """Saves a new graph version (only when it differs from the latest); returns (id, version)."""
        body, now = project.to_json(), time.time()
        with self._tx() as db:
            if project_id is None:
                project_id = uuid.uuid4().hex[:12]
                db.execute("INSERT INTO projects VALUES (?, ?, ?, ?)", (project_id, project.name, now, now))
            elif db.execute("SELECT 1 FROM projects WHERE id=?", (project_id,)).fetchone() is None:
                db.execute("INSERT INTO projects VALUES (?, ?, ?, ?)", (project_id, project.name, now, now))
            last = db.execute("SELECT version, body FROM project_versions WHERE project_id=? "
                              "ORDER BY version DESC LIMIT 1", (project_id,)).fetchone()
            if last is not None and last["body"] == body:
                return project_id, last["version"]
            version = 1 if last is None else last["version"] + 1
            db.execute("INSERT INTO project_versions VALUES (?, ?, ?, ?)", (project_id, version, now, body))
            db.execute("UPDATE projects SET name=?, updated=? WHERE id=?", (project.name, now, project_id))
        return project_id, version

    def load_project(self, project_id: str, version: int | None = None) -> Project:
        """The latest (or a given) version of a project."""
        sql = "SELECT body FROM project_versions WHERE project_id=?"
        args: tuple = (project_id,)
        if version is not None:
            sql, args = sql + " AND version=?", (project_id, version)
        row = self._db().execute(sql + " ORDER BY version DESC LIMIT 1", args).fetchone()
        if row is None:
            raise StoreError(f"No project {project_id!r}" + (f" version {version}" if version else "") + " in the store.")
        return parse_project(row["body"])

    def list_projects(self) -> list[ProjectInfo]:
        rows = self._db().execute(
            "SELECT p.*, (SELECT COUNT(*) FROM project_versions v WHERE v.project_id=p.id) AS versions, "
            "(SELECT CASE WHEN json_valid(v.body) THEN json_array_length(v.body, '$.graph.nodes') END "
            " FROM project_versions v WHERE v.project_id=p.id ORDER BY v.version DESC LIMIT 1) AS nodes "
            "FROM projects p ORDER BY updated DESC").fetchall()
        return [ProjectInfo(r["id"], r["name"], r["created"], r["updated"], r["versions"], r["nodes"])
                for r in rows]

    def dataset_users(self) -> dict[str, list[str]]:
        """Dataset name -> names of the projects whose latest version trains on it, alphabetically."""
        rows = self._db().execute(
            "SELECT p.name, v.body FROM projects p JOIN project_versions v ON v.project_id = p.id "
            "WHERE v.version = (SELECT MAX(version) FROM project_versions WHERE project_id = p.id) "
            "ORDER BY p.name").fetchall()
        users: dict[str, list[str]] = {}
        for r in rows:
            name = (json.loads(r["body"]).get("dataset") or {}).get("name")
            if name:
                users.setdefault(name, []).append(r["name"])
        return users

    def project_versions(self, project_id: str) -> list[tuple[int, float]]:
        rows = self._db().execute("SELECT version, saved FROM project_versions WHERE project_id=? "
                                  "ORDER BY version", (project_id,)).fetchall()
        return [(r["version"], r["saved"]) for r in rows]

    def rename_project(self, project_id: str, name: str) -> None:
        project = self.load_project(project_id)
        project.name = name
        self.save_project(project, project_id)

    def duplicate_project(self, project_id: str, name: str | None = None) -> str:
        project = self.load_project(project_id)
        project.name = name or f"{project.name} (copy)"
        copy_id = self.save_project(project)[0]
        if self.project_dir(project_id).is_dir():
            shutil.copytree(self.project_dir(project_id), self.project_dir(copy_id))
        return copy_id

    def project_dir(self, project_id: str) -> Path:
        """Files kept with a project (runtime/initial_weights.py): copied with it, deleted with it."""
        return self.home / "projects" / project_id

    def delete_project(self, project_id: str) -> None:
        """Deletes the project, its versions, its files, its runs, their metrics and checkpoint files."""
        self._require_project(project_id)
        runs = [r.id for r in self.list_runs(project_id)]
        with self._tx() as db:
            db.executemany("DELETE FROM metrics WHERE run_id=?", [(r,) for r in runs])
            db.execute("DELETE FROM runs WHERE project_id=?", (project_id,))
            db.execute("DELETE FROM projects WHERE id=?", (project_id,))
        shutil.rmtree(self.project_dir(project_id), ignore_errors=True)
        for run_id in runs:
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def _require_project(self, project_id: str) -> None:
        if self._db().execute("SELECT 1 FROM projects WHERE id=?", (project_id,)).fetchone() is None:
            raise StoreError(f"No project {project_id!r} in the store.")

    # ------------------------------------------------------------------ runs
    def create_run(self, config: dict[str, Any], *, project_id: str | None = None,
                   project_version: int | None = None, name: str = "", dataset: dict[str, Any] | None = None,
                   parent_run_id: str | None = None, parent_checkpoint: str | None = None,
                   status: str = "queued") -> str:
        run_id = uuid.uuid4().hex[:12]
        with self._tx() as db:
            db.execute("INSERT INTO runs (id, project_id, project_version, name, status, config, dataset, "
                       "created, parent_run_id, parent_checkpoint, host, pid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (run_id, project_id, project_version, name or run_id, status, json.dumps(config),
                        json.dumps(dataset or {}), time.time(), parent_run_id, parent_checkpoint,
                        socket.gethostname(), os.getpid()))
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Sets status, message, started, ended, epochs_done, final_metrics (dict), host or pid."""
        allowed = {"status", "message", "started", "ended", "epochs_done", "final_metrics", "host", "pid"}
        if not fields.keys() <= allowed:
            raise ValueError(f"cannot update {sorted(fields.keys() - allowed)}")
        if "final_metrics" in fields:
            fields["final_metrics"] = json.dumps(fields["final_metrics"])
        sets = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as db:
            if db.execute(f"UPDATE runs SET {sets} WHERE id=?", (*fields.values(), run_id)).rowcount == 0:
                raise StoreError(f"No run {run_id!r} in the store.")

    def mark_started(self, run_id: str) -> None:
        self.update_run(run_id, status="running", started=time.time(), host=socket.gethostname(), pid=os.getpid())

    def run(self, run_id: str) -> RunInfo:
        row = self._db().execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"No run {run_id!r} in the store; `python -m runtime runs` lists them.")
        return _run_info(row)

    def list_runs(self, project_id: str | None = None) -> list[RunInfo]:
        sql, args = "SELECT * FROM runs", ()
        if project_id is not None:
            sql, args = sql + " WHERE project_id=?", (project_id,)
        return [_run_info(r) for r in self._db().execute(sql + " ORDER BY created", args).fetchall()]

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id

    def checkpoints(self, run_id: str) -> list[Path]:
        """The run's checkpoints (JSON halves), epochs in order, then `last`."""
        found = sorted(self.run_dir(run_id).glob("epoch_*.json"))
        last = self.run_dir(run_id) / "last.json"
        return found + ([last] if last.exists() else [])

    def _mark_orphans(self) -> None:
        """Runs left live by a process that is gone (killed, crashed) become `interrupted`."""
        host = socket.gethostname()
        rows = self._db().execute(f"SELECT id, pid FROM runs WHERE host=? AND status IN {LIVE}", (host,))
        gone = [r["id"] for r in rows.fetchall() if r["pid"] and not _alive(r["pid"])]
        for run_id in gone:
            self.update_run(run_id, status="interrupted", ended=time.time(),
                            message="The process running it ended unexpectedly; resume it from its last checkpoint.")

    # ------------------------------------------------------------------ metrics
    def add_metrics(self, rows: Iterable[tuple[str, int, str, float, float]],
                    epochs_done: tuple[str, int] | None = None) -> None:
        """Rows of (run_id, step, name, value, wall time), and optionally (run_id, epochs done), in
        one transaction."""
        with self._tx() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)
            if epochs_done is not None:
                db.execute("UPDATE runs SET epochs_done=? WHERE id=?", (epochs_done[1], epochs_done[0]))

    def metrics(self, run_id: str, names: Iterable[str] | None = None) -> dict[str, list[tuple[int, float]]]:
        """Series by metric name: [(step, value), ...] in step order."""
        sql, args = "SELECT name, step, value FROM metrics WHERE run_id=?", [run_id]
        if names is not None:
            names = list(names)
            sql += f" AND name IN ({','.join('?' * len(names))})"
            args += names
        out: dict[str, list[tuple[int, float]]] = {}
        for r in self._db().execute(sql + " ORDER BY rowid", args):
            out.setdefault(r["name"], []).append((r["step"], r["value"]))
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_info(r: sqlite3.Row) -> RunInfo:
    return RunInfo(r["id"], r["project_id"], r["project_version"], r["name"], r["status"], r["message"],
                   json.loads(r["config"]), json.loads(r["dataset"]), r["created"], r["started"], r["ended"],
                   json.loads(r["final_metrics"]), r["epochs_done"], r["parent_run_id"], r["parent_checkpoint"])
