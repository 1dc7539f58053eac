"""Callbacks: hooks into a training run that do nothing by default, and the control flags.

The trainer knows no screen: the UI, the store, the progress bar and the tests all listen here.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from runtime.training.trainer import TrainResult, Trainer


@dataclass
class Batch:
    """One finished optimizer step. `loss` stays on the device: reading it costs a sync."""
    epoch: int          # 0-based
    index: int          # batch index inside the epoch, 0-based
    step: int           # optimizer steps done so far (1 after a new run's first; a resumed or forked run counts on)
    size: int
    loss: torch.Tensor

    def loss_value(self) -> float:
        return float(self.loss)


class Callback:
    """Base class: override the hooks you need."""

    def on_train_start(self, trainer: "Trainer") -> None:
        """Before the first batch (also when resuming)."""

    def on_batch_end(self, trainer: "Trainer", batch: Batch) -> None:
        """After each optimizer step; keep it cheap, it runs every step."""

    def on_metrics(self, trainer: "Trainer", step: int, metrics: dict[str, float]) -> None:
        """Whenever metrics are measured: flat dict with slash names, at optimizer step `step`."""

    def on_losses(self, trainer: "Trainer", first_step: int, losses: list[float]) -> None:
        """The per-step `train/loss` values of steps first_step, first_step + 1, ... as read in one
        go; by default each is passed on to `on_metrics`. Override to take them in bulk."""
        for j, value in enumerate(losses):
            self.on_metrics(trainer, first_step + j, {"train/loss": value})

    def on_epoch_end(self, trainer: "Trainer", epoch: int, metrics: dict[str, float]) -> None:
        """After an epoch's evaluation; `metrics` are that epoch's figures."""

    def on_train_end(self, trainer: "Trainer", result: "TrainResult") -> None:
        """After the run ends for any reason other than an exception."""

    def on_exception(self, trainer: "Trainer", error: BaseException) -> None:
        """When the run raised; the exception is re-raised after all callbacks ran."""


class RunControl:
    """Stop / pause flags shared between a run and whoever controls it (UI thread, CLI, tests).

    The trainer checks them after every batch, so a stop takes effect within one step.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        self._running.wait()


class History(Callback):
    """Keeps every metric in memory: `series[name] == [(step, value), ...]` (tests, CLI, notebooks)."""

    def __init__(self) -> None:
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.epochs: list[dict[str, float]] = []

    def on_metrics(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self.series.setdefault(name, []).append((step, value))

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append(dict(metrics))

    def values(self, name: str) -> list[float]:
        return [v for _, v in self.series.get(name, [])]


class Checkpointer(Callback):
    """Saves `epoch_0003.*` after every epoch (the last `keep` of them) and `last.*` when a run
    ends or is stopped, so it can be resumed exactly or forked from any kept epoch."""

    def __init__(self, directory: Any, keep: int | None = None) -> None:
        from pathlib import Path
        self.directory = Path(directory)
        self.keep = keep
        self.saved: list[Any] = []

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        self.saved.append(trainer.save_checkpoint(self.directory / f"epoch_{epoch + 1:04d}"))
        while self.keep is not None and len(self.saved) > self.keep:
            old = self.saved.pop(0)
            for suffix in (".json", ".safetensors"):
                old.with_suffix(suffix).unlink(missing_ok=True)

    def on_train_end(self, trainer: Any, result: Any) -> None:
        if result.status != "diverged":
            trainer.save_checkpoint(self.directory / "last")
