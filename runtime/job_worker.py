"""A run in its own process: how the registry launches it, and what the process does.

Runs train in child processes, not on threads of the app server, so the page's Python never holds
the GIL a training step needs, and each run has torch's global RNG (dropout) to itself. Children
fork from one warm fork server that preloads `runtime.job_warmup` (torch and the runtime imported,
their lazy first-time paths run), so Train -> first loss costs a fork, not an interpreter start.

Parent and child talk over one duplex pipe. Parent -> child: "stop", "pause", "resume". Child ->
parent: ("start", last_step, last_epoch), ("losses", first_step, values), ("metrics", epoch, step, values),
then ("ended", TrainResult) or ("failed", message). The child also writes the store itself
(RunRecorder, Checkpointer), as the command line does. When the parent dies, the pipe reaches
EOF; when it exits normally, multiprocessing sends its runs SIGTERM. Either way the child stops
its run (saving a checkpoint, saying so in the run's message) and exits.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import signal
import threading
from multiprocessing import context, forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Callable

import torch

from runtime.store import Store
from runtime.training.callbacks import Callback, Checkpointer, RunControl
from runtime.training.recording import RunRecorder, error_message

if TYPE_CHECKING:
    from runtime.jobs import RunSpec

PRELOAD = ["runtime.job_warmup"]
STOP_GRACE_S = 30.0         # after the parent died or ended, a run that does not stop by then is ended hard


class _Popen(popen_forkserver.Popen):
    """The fork server's launch (CPython 3.11's, copied), minus the parent's `__main__`: a child
    would re-run it before training, and under Streamlit that module is the app script itself."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = {k: v for k, v in spawn.get_preparation_data(process_obj._name).items()
                     if k not in ("init_main_from_path", "init_main_from_name")}
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)         # the child's sentinel of its parent, as in the original
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class WorkerProcess(multiprocessing.get_context("forkserver").Process):  # type: ignore[misc]
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


def warm() -> None:
    """Starts the warm fork server in the background (it takes a few seconds once per app process)."""
    forkserver.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def launch(run: RunSpec, run_id: str, home: str | None, threads: int) -> tuple[WorkerProcess, Connection]:
    """Starts a run's process; returns it and the parent's end of its pipe."""
    warm()
    ours, theirs = multiprocessing.Pipe(duplex=True)
    process = WorkerProcess(target=main, args=(run, run_id, home, threads, dict(os.environ), theirs),
                            name=f"run-{run_id}", daemon=True)
    try:
        process.start()
    finally:
        theirs.close()              # the child holds its end: EOF here means the child is gone
    return process, ours


# ---------------------------------------------------------------------------- in the child
def main(run: RunSpec, run_id: str, home: str | None, threads: int, environ: dict[str, str], conn: Connection) -> None:
    """The child's whole life: load, compile, train, report; never raises. It sees the parent's
    environment as it is now (the fork server's is the one of its start): the data directory, uploads."""
    os.environ.clear()
    os.environ.update(environ)
    # A session of its own: Linux's autogroup scheduling shares the CPU fairly between sessions, so the
    # app server and a browser started from the app's session stop taking their CPU out of the run's share.
    os.setsid()
    control = RunControl()
    orphaned = threading.Event()

    def abandon() -> None:
        """The parent is gone or ending: stop the run (it saves where it stopped), then leave."""
        orphaned.set()
        control.stop()
        deadline = threading.Timer(STOP_GRACE_S, os._exit, (1,))
        deadline.daemon = True
        deadline.start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the server's to handle; it stops us
    signal.signal(signal.SIGTERM, lambda *_: abandon())   # what the parent sends its runs when it exits
    threading.Thread(target=_listen, args=(conn, control, abandon), name="control", daemon=True).start()
    torch.set_num_threads(threads)
    store = None
    try:
        callbacks: list[Callback] = [Relay(conn.send)]
        if home is not None:
            store = Store(home)
            callbacks += [RunRecorder(store, run_id), Checkpointer(store.run_dir(run_id))]
        result = run.trainer(callbacks, control).fit(resume_from=run.resume_from, fork=run.fork)
        event: tuple = ("ended", result)
    except BaseException as e:       # noqa: BLE001  reported to the parent, which marks the run failed
        event = ("failed", error_message(e))
    if orphaned.is_set() and store is not None:
        store.update_run(run_id, message="The app server ended while this run trained: it was stopped and "
                                         "saved; resume it from its last checkpoint.")
    _send(conn.send, event)


def _listen(conn: Connection, control: RunControl, abandon: Callable[[], None]) -> None:
    commands = {"stop": control.stop, "pause": control.pause, "resume": control.resume}
    while True:
        try:
            command = conn.recv()
        except (EOFError, OSError):                  # the parent is gone
            abandon()
            return
        commands[command]()


def _send(send: Callable[[tuple], None], event: tuple) -> None:
    try:
        send(event)
    except OSError:                  # the parent is gone; the store still gets everything
        pass


class Relay(Callback):
    """Streams a run's progress to the parent through `send` (the pipe's)."""

    def __init__(self, send: Callable[[tuple], None]) -> None:
        self.send = send

    def on_train_start(self, trainer: Any) -> None:
        _send(self.send, ("start", trainer.last_step, trainer.epoch_offset + trainer.config.epochs))

    def on_metrics(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        _send(self.send, ("metrics", trainer.epoch_offset + trainer.epoch, step, metrics))

    def on_losses(self, trainer: Any, first_step: int, losses: list[float]) -> None:
        _send(self.send, ("losses", first_step, losses))
