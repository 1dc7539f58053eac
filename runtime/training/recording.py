"""RunRecorder: writes a run's metrics and status into the store while it trains.

Metrics are buffered in memory and committed by a background thread every half second (and
at the end), so the training loop never waits on the disk and a killed process loses at most
the last second of the curve.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from runtime.store import Store
from runtime.training.callbacks import Callback

FLUSH_SECONDS = 0.5
FINAL_ATTEMPTS = 5          # the last write of a run waits up to about a second for a busy database


def error_message(error: BaseException) -> str:
    """What a failed run tells the user: a user-caused problem (ValueError family: settings, data,
    checkpoint, project file) is already a sentence; anything else is named by its type."""
    if isinstance(error, ValueError) and str(error):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class RunRecorder(Callback):
    def __init__(self, store: Store, run_id: str, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.store, self.run_id, self.flush_seconds = store, run_id, flush_seconds
        self._rows: list[tuple[str, int, str, float, float]] = []
        self._epochs_done: int | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def on_train_start(self, trainer: Any) -> None:
        self.store.mark_started(self.run_id)
        self._done.clear()
        self._thread = threading.Thread(target=self._flush_loop, name=f"metrics-{self.run_id}", daemon=True)
        self._thread.start()

    def on_metrics(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        now = time.time()
        with self._lock:
            self._rows.extend((self.run_id, step, k, float(v), now) for k, v in metrics.items())

    def on_losses(self, trainer: Any, first_step: int, losses: list[float]) -> None:
        now = time.time()
        with self._lock:
            self._rows.extend((self.run_id, first_step + j, "train/loss", v, now) for j, v in enumerate(losses))

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        self._epochs_done = epoch + 1        # written with the next batch of metrics

    def on_train_end(self, trainer: Any, result: Any) -> None:
        self._finish(status=result.status, message=result.reason, epochs_done=result.epochs_done,
                     final_metrics=result.metrics)

    def on_exception(self, trainer: Any, error: BaseException) -> None:
        self._finish(status="failed", message=error_message(error))

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
            epochs, self._epochs_done = self._epochs_done, None
        if not rows and epochs is None:
            return
        try:
            self.store.add_metrics(rows, None if epochs is None else (self.run_id, epochs))
        except sqlite3.OperationalError:          # database busy beyond its timeout: retry next time
            with self._lock:
                self._rows[:0] = rows
                self._epochs_done = self._epochs_done or epochs
            raise

    def _flush_loop(self) -> None:
        while not self._done.wait(self.flush_seconds):
            try:
                self.flush()
            except sqlite3.OperationalError:
                pass                               # rows kept; the next tick or the end writes them

    def _finish(self, **fields: Any) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        for attempt in range(FINAL_ATTEMPTS):
            try:
                self.flush()
                break
            except sqlite3.OperationalError:
                if attempt == FINAL_ATTEMPTS - 1:
                    raise
                time.sleep(0.2)
        self.store.update_run(self.run_id, ended=time.time(), **fields)
