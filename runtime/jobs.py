"""Background runs for the UI: a process-wide registry that outlives any browser session.

Each run trains on its own thread. At most one run per project is live (queued, running or
paused), at most `max_active` run at once, the rest wait in a queue whose positions are shown.
A run that raises is marked failed with its message; nothing escapes the thread.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

import torch

from runtime.store import Store
from runtime.training.callbacks import Callback, Checkpointer, RunControl
from runtime.training.recording import RunRecorder, error_message
from runtime.training.trainer import Trainer

Build = Callable[[list[Callback], RunControl], Trainer]
ENDED = ("stopped", "completed", "early_stopped", "diverged", "failed")


class JobError(RuntimeError):
    """A request the registry refuses (a second live run for a project); the message says why."""


class RunLog(Callback):
    """The live view of a run kept in memory for the UI: metric series and progress, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[str, list[tuple[int, float]]] = {}
        self.epoch = 0
        self.step = 0
        self.steps_total = 0
        self.started = time.time()

    def on_train_start(self, trainer: Any) -> None:
        self.started = time.time()
        self.steps_total = trainer.config.epochs * trainer.steps_per_epoch

    def on_metrics(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        self.epoch, self.step = trainer.epoch_offset + trainer.epoch, max(self.step, step)
        with self._lock:
            for name, value in metrics.items():
                self._series.setdefault(name, []).append((step, value))

    def on_losses(self, trainer: Any, first_step: int, losses: list[float]) -> None:
        self.step = max(self.step, first_step + len(losses) - 1)
        with self._lock:
            self._series.setdefault("train/loss", []).extend(
                (first_step + j, v) for j, v in enumerate(losses))

    def series(self, names: list[str] | None = None) -> dict[str, list[tuple[int, float]]]:
        """A copy of the series so far (all, or the given names)."""
        with self._lock:
            return {k: list(v) for k, v in self._series.items() if names is None or k in names}

    def progress(self) -> dict[str, float]:
        """Epoch, step, share done and seconds left, for a progress bar."""
        done = self.step / self.steps_total if self.steps_total else 0.0
        elapsed = time.time() - self.started
        return {"epoch": self.epoch + 1, "step": self.step, "steps_total": self.steps_total, "done": done,
                "eta_s": elapsed * (1 - done) / done if done else float("nan")}


class Job:
    """One run: its id in the store, status, controls and live log."""

    def __init__(self, run_id: str, project_id: str, build: Build, fit_kwargs: dict[str, Any]) -> None:
        self.id, self.project_id = run_id, project_id
        self.status = "queued"
        self.message = ""
        self.control = RunControl()
        self.log = RunLog()
        self.result: Any = None
        self.done = threading.Event()
        self._build, self._fit_kwargs = build, fit_kwargs
        self.registry: JobRegistry | None = None

    @property
    def live(self) -> bool:
        return self.status not in ENDED

    @property
    def queue_position(self) -> int | None:
        """1 for the next run to start; None when not queued."""
        return self.registry.position(self) if self.registry and self.status == "queued" else None

    def stop(self) -> None:
        if self.registry is not None:
            self.registry.stop(self.id)

    def pause(self) -> None:
        if self.status == "running":
            self.control.pause()
            self._set("paused")

    def resume(self) -> None:
        if self.status == "paused":
            self.control.resume()
            self._set("running")

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _set(self, status: str, message: str | None = None) -> None:
        self.status = status
        if message is not None:
            self.message = message
        if self.registry is not None and self.registry.store is not None:
            fields = {"status": status} if message is None else {"status": status, "message": message}
            self.registry.store.update_run(self.id, **fields)


class JobRegistry:
    def __init__(self, store: Store | None = None, max_active: int = 1, threads: int = 1) -> None:
        self.store, self.max_active, self.threads = store, max_active, threads
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._active: set[str] = set()

    def submit(self, project_id: str, build: Build, *, config: dict[str, Any] | None = None, name: str = "",
               dataset: dict[str, Any] | None = None, project_version: int | None = None,
               parent_run_id: str | None = None, resume_from: Any = None, fork: bool = False) -> Job:
        """Queues a run: `build(callbacks, control)` makes its Trainer on the run's own thread."""
        with self._lock:
            busy = self.live_for(project_id)
            if busy is not None:
                raise JobError(f"Project {project_id!r} already has a {busy.status} run ({busy.id}): "
                               "stop it before starting another.")
            run_id = (self.store.create_run(config or {}, project_id=project_id, name=name, dataset=dataset,
                                            project_version=project_version, parent_run_id=parent_run_id,
                                            parent_checkpoint=str(resume_from) if fork else None)
                      if self.store is not None else f"run{len(self._jobs) + 1}")
            job = Job(run_id, project_id, build, {"resume_from": resume_from, "fork": fork})
            job.registry = self
            self._jobs[run_id] = job
            self._queue.append(job)
            self._start_next()
        return job

    def job(self, run_id: str) -> Job | None:
        return self._jobs.get(run_id)

    def jobs(self, project_id: str | None = None) -> list[Job]:
        return [j for j in self._jobs.values() if project_id is None or j.project_id == project_id]

    def live_for(self, project_id: str) -> Job | None:
        """The project's queued, running or paused run, to re-attach to after a page refresh."""
        return next((j for j in self._jobs.values() if j.project_id == project_id and j.live), None)

    def position(self, job: Job) -> int | None:
        with self._lock:
            return list(self._queue).index(job) + 1 if job in self._queue else None

    def stop(self, run_id: str) -> None:
        """Stops a run (it ends after its current step) or takes it out of the queue."""
        job = self._jobs[run_id]
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job._set("stopped", "stopped before it started")
                job.done.set()
                return
        job.control.stop()

    def _start_next(self) -> None:
        """Starts queued runs while there is room (called with the lock held)."""
        while self._queue and len(self._active) < self.max_active:
            job = self._queue.popleft()
            self._active.add(job.id)
            job._set("running")
            threading.Thread(target=self._work, args=(job,), name=f"run-{job.id}", daemon=True).start()

    def _work(self, job: Job) -> None:
        try:
            callbacks: list[Callback] = [job.log]
            if self.store is not None:
                callbacks += [RunRecorder(self.store, job.id), Checkpointer(self.store.run_dir(job.id))]
            torch.set_num_threads(self.threads)
            trainer = job._build(callbacks, job.control)
            if trainer.config.threads:
                torch.set_num_threads(trainer.config.threads)
            job.result = trainer.fit(**job._fit_kwargs)
            job.status, job.message = job.result.status, job.result.reason
        except Exception as e:   # a crashing run must never take the server down
            job.status, job.message = "failed", error_message(e)
            if self.store is not None:
                self.store.update_run(job.id, status="failed", message=job.message, ended=time.time())
        finally:
            with self._lock:
                self._active.discard(job.id)
                self._start_next()
            job.done.set()
