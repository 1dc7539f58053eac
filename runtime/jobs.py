"""Background runs for the UI: a process-wide registry that outlives any browser session.

Each run trains in its own child process (runtime/job_worker.py), described by a `RunSpec`: plain
data the child receives. At most one run per project is live (queued, running or paused), at most
`max_active` run at once, the rest wait in a queue whose positions are shown. A thread of this
process per run reads the child's progress into the run's `RunLog`; a run whose process raises,
crashes or is killed is marked failed with the reason, its slot freed and the queue moved on.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Sequence

from runtime import job_worker
from runtime.graph import project_from_dict
from runtime.store import Store
from runtime.training.callbacks import Callback, RunControl
from runtime.training.session import prepare
from runtime.training.trainer import Trainer

ENDED = ("stopped", "completed", "early_stopped", "diverged", "failed")


class JobError(RuntimeError):
    """A request the registry refuses (a second live run for a project); the message says why."""


@dataclass(frozen=True)
class RunSpec:
    """What a run trains, as plain data for its process: the project file as a dict, its dataset
    section, the training settings, and the checkpoint it continues (`fork`: with new settings)."""
    project: dict[str, Any]
    dataset: dict[str, Any]
    config: dict[str, Any]
    resume_from: str | None = None
    fork: bool = False

    def trainer(self, callbacks: Sequence[Callback], control: RunControl) -> Trainer:
        """Called in the run's process: loads the data, compiles the graph, builds the model."""
        return prepare(project_from_dict(self.project), self.dataset, self.config).trainer(callbacks, control)


class RunLog:
    """The live view of a run kept in memory for the UI, fed from its process: series and progress.
    Its clock stops while the run is paused, so speed and time left stay true after a resume."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._series: dict[str, list[tuple[int, float]]] = {}
        self.epoch = 0
        self.step = 0
        self.steps_total = 0
        self.epochs_total = 0
        self._first_step: int | None = None    # the first step this process trained (a resumed run starts late)
        self._started = self._clock()
        self._paused_since: float | None = None
        self._paused_s = 0.0

    def begin(self, steps_total: int, epochs_total: int) -> None:
        """The last step and epoch the run reaches, counting those of the run it resumed or forked from."""
        self._started = self._clock()
        self.steps_total, self.epochs_total = steps_total, epochs_total

    def pause_clock(self) -> None:
        if self._paused_since is None:
            self._paused_since = self._clock()

    def resume_clock(self) -> None:
        if self._paused_since is not None:
            self._paused_s += self._clock() - self._paused_since
            self._paused_since = None

    def elapsed(self) -> float:
        """Seconds spent training since the start, without the time spent paused."""
        now = self._paused_since if self._paused_since is not None else self._clock()
        return max(0.0, now - self._started - self._paused_s)

    def add_metrics(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        self.epoch, self.step = epoch, max(self.step, step)
        with self._lock:
            for name, value in metrics.items():
                self._series.setdefault(name, []).append((step, value))

    def add_losses(self, first_step: int, losses: list[float]) -> None:
        if self._first_step is None:
            self._first_step = first_step
        self.step = max(self.step, first_step + len(losses) - 1)
        with self._lock:
            self._series.setdefault("train/loss", []).extend(
                (first_step + j, v) for j, v in enumerate(losses))

    def series(self, names: list[str] | None = None) -> dict[str, list[tuple[int, float]]]:
        """A copy of the series so far (all, or the given names)."""
        with self._lock:
            return {k: list(v) for k, v in self._series.items() if names is None or k in names}

    def progress(self) -> dict[str, float]:
        """Epoch, step, share done, steps per second and seconds left, for a progress bar. Speed counts
        only the steps this process trained and the time it trained them (not paused)."""
        done = self.step / self.steps_total if self.steps_total else 0.0
        trained = self.step - self._first_step + 1 if self._first_step is not None else 0
        elapsed = self.elapsed()
        steps_per_s = trained / elapsed if trained and elapsed > 0 else 0.0
        return {"epoch": self.epoch + 1, "epochs_total": self.epochs_total, "step": self.step,
                "steps_total": self.steps_total, "done": done,
                "steps_per_s": steps_per_s,
                "eta_s": (self.steps_total - self.step) / steps_per_s if steps_per_s else float("nan")}


class Job:
    """One run: its id in the store, status, controls and live log."""

    def __init__(self, run_id: str, project_id: str, run: RunSpec) -> None:
        self.id, self.project_id, self.run = run_id, project_id, run
        self.status = "queued"
        self.message = ""
        self.log = RunLog()
        self.result: Any = None                  # the TrainResult, once the run ended without failing
        self.pid: int | None = None              # the run's process, once started
        self.done = threading.Event()
        self.registry: JobRegistry | None = None
        self._conn: Connection | None = None     # the pipe to the run's process while it runs
        self._early: list[str] = []              # commands given before that process started
        self._send_lock = threading.Lock()

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
        if self.status == "running" and self._command("pause"):
            self.log.pause_clock()
            self._set("paused")

    def resume(self) -> None:
        if self.status == "paused" and self._command("resume"):
            self.log.resume_clock()
            self._set("running")

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _command(self, command: str) -> bool:
        """Tells the run's process (as soon as it starts); False once it has ended."""
        with self._send_lock:
            if self._conn is None:
                if self.done.is_set():
                    return False
                self._early.append(command)
                return True
            try:
                self._conn.send(command)
                return True
            except OSError:          # it just ended; its watcher reports how
                return False

    def _apply(self, event: tuple) -> None:
        """One message from the run's process."""
        kind, *args = event
        if kind == "start":
            self.log.begin(*args)
        elif kind == "losses":
            self.log.add_losses(*args)
        elif kind == "metrics":
            self.log.add_metrics(*args)
        elif kind == "ended":
            self.result = args[0]
            self.status, self.message = self.result.status, self.result.reason
        elif kind == "failed":
            self._fail(args[0])

    def _fail(self, message: str) -> None:
        self.status, self.message = "failed", message
        if self.registry is not None and self.registry.store is not None:
            self.registry.store.update_run(self.id, status="failed", message=message, ended=time.time())

    def _set(self, status: str, message: str | None = None) -> None:
        self.status = status
        if message is not None:
            self.message = message
        if self.registry is not None and self.registry.store is not None:
            fields = {"status": status} if message is None else {"status": status, "message": message}
            self.registry.store.update_run(self.id, **fields)


class JobRegistry:
    """Runs of any number of projects; `threads` torch threads per run unless its settings say."""

    def __init__(self, store: Store | None = None, max_active: int = 1, threads: int = 1) -> None:
        self.store, self.max_active, self.threads = store, max_active, threads
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._active: set[str] = set()
        job_worker.warm()

    def submit(self, project_id: str, run: RunSpec, *, name: str = "", project_version: int | None = None,
               parent_run_id: str | None = None) -> Job:
        """Queues a run; it starts in its own process as soon as there is room."""
        with self._lock:
            busy = self.live_for(project_id)
            if busy is not None:
                raise JobError(f"Project {project_id!r} already has a {busy.status} run ({busy.id}): "
                               "stop it before starting another.")
            run_id = (self.store.create_run(run.config, project_id=project_id, name=name, dataset=run.dataset,
                                            project_version=project_version, parent_run_id=parent_run_id,
                                            parent_checkpoint=run.resume_from if run.fork else None)
                      if self.store is not None else f"run{len(self._jobs) + 1}")
            job = Job(run_id, project_id, run)
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
        """Stops a run (it ends after its current step, saving a checkpoint) or takes it out of the queue."""
        job = self._jobs[run_id]
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job._set("stopped", "stopped before it started")
                job.done.set()
                return
        job._command("stop")

    def _start_next(self) -> None:
        """Starts queued runs while there is room (called with the lock held)."""
        while self._queue and len(self._active) < self.max_active:
            job = self._queue.popleft()
            self._active.add(job.id)
            job._set("running")
            threading.Thread(target=self._watch, args=(job,), name=f"run-{job.id}", daemon=True).start()

    def _watch(self, job: Job) -> None:
        """Starts the run's process and relays its messages until it ends, however it ends."""
        process = None
        try:
            home = None if self.store is None else str(self.store.home)
            process, conn = job_worker.launch(job.run, job.id, home, self.threads)
            with job._send_lock:
                job._conn, job.pid = conn, process.pid
                for command in job._early:
                    conn.send(command)
            while True:
                try:
                    event = conn.recv()
                except (EOFError, OSError):
                    break
                job._apply(event)
            process.join()
            if job.live:
                job._fail(_exit_message(process.exitcode))
        except Exception as e:   # a run's failure must never take the server down
            job._fail(f"The run's process could not be started or read: {type(e).__name__}: {e}")
        finally:
            with job._send_lock:
                if job._conn is not None:
                    job._conn.close()
                    job._conn = None
            with self._lock:
                self._active.discard(job.id)
                self._start_next()
            job.done.set()


def _exit_message(exitcode: int | None) -> str:
    """Why a run's process ended without reporting the end of its run."""
    if exitcode is not None and exitcode < 0:
        return (f"The training process was killed (signal {-exitcode}), perhaps for lack of memory; "
                "the run stopped there. Resume it from its last checkpoint or start it again.")
    return (f"The training process ended unexpectedly (exit code {exitcode}); the run stopped there. "
            "Resume it from its last checkpoint or start it again.")
