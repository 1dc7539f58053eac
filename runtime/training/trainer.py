"""The training loop: in-memory tensors, shuffled index slices, callbacks, stop/pause, checkpoints.

Hot path per step: slice a batch by index, forward, loss, backward, (clip), optimizer step. The loss
stays on the device (a list of scalar tensors) and is read once per `log_every` steps (and at the
1st, 2nd, 4th and 8th step a process trains, so the first curve point shows at once): one sync gives
every step's value and the NaN check. The per-layer gradient norms are read with the losses at most
every `GRAD_INTERVAL_S` seconds (and at once when the loss diverges, for the diagnosis). Weight
norms and dead ReLUs (counted on an epoch's last full training batch through forward hooks, so no
extra forward pass is spent on them) are sampled at epoch ends at most every `HEALTH_INTERVAL_S`
seconds, and always on the first and last epoch: charts refresh about once a second, and on models
with millisecond epochs measuring every epoch would cost several percent of the training time.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from runtime import checkpoints
from runtime.training import evaluation, health
from runtime.training.callbacks import Batch, Callback, RunControl
from runtime.training.config import ConfigError, TrainConfig
from runtime.training.losses import loss_name, make_loss, wants_logits
from runtime.training.optim import Schedule, make_optimizer, make_schedule

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
MAXIMIZED = ("val/acc", "val/r2")
EARLY_CHECKS = (1, 2, 4, 8)
# A loss 10,000 times its starting value (or above 10,000 when it started below 1) has exploded,
# even if ReLUs then die and it settles at a finite, useless plateau.
EXPLODED = 1e4
HEALTH_INTERVAL_S = 0.25
# Gradient norms draw the heatmap of a run over time: 20 columns per second of training keep even a
# sub-second run readable, where a read at every loss read (every epoch of a millisecond-epoch model)
# cost about 1% of the run.
GRAD_INTERVAL_S = 0.05
# "Zero for every sample of the batch" says nothing about a unit on a handful of samples: with
# batch size 1 most ReLUs would count as dead. Smaller batches report no dead-ReLU share.
DEAD_MIN_BATCH = 16


@dataclass
class TrainResult:
    status: str                    # "completed", "early_stopped", "stopped" or "diverged"
    reason: str
    epochs_done: int               # epochs finished, counting those of the run it resumed or forked from
    steps: int                     # the same for optimizer steps
    metrics: dict[str, float] = field(default_factory=dict)   # the last epoch's figures
    best_epoch: int | None = None


class Diverged(Exception):
    """The loss became NaN or infinite, or exploded; the message is the diagnosis."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("Training setting 'device' is 'cuda' but no CUDA GPU is available: use auto or cpu.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("Training setting 'device' is 'mps' but Apple MPS is not available: use auto or cpu.")
    return torch.device(name)


class Trainer:
    """Trains `model` on `data` (x_train, y_train and optionally x_val, y_val tensors).

    `task` defaults to `data.spec.task`, else classification for integer targets. `world` is a
    `runtime.distributed.World` when running under torchrun.
    """

    def __init__(self, model: nn.Module, data: Any, config: TrainConfig | None = None, *,
                 task: str | None = None, callbacks: Sequence[Callback] = (),
                 control: RunControl | None = None, augment: Augment | None = None, world: Any = None):
        self.model, self.data = model, data
        self.config = config or TrainConfig()
        if len(data.x_train) == 0 or len(data.x_train) != len(data.y_train):
            raise ConfigError(f"The training split is empty or uneven ({len(data.x_train)} inputs, "
                              f"{len(data.y_train)} targets): choose a dataset with training samples.")
        spec = getattr(data, "spec", None)
        self.task = task or (spec.task if spec else
                             "classification" if not data.y_train.is_floating_point() else "regression")
        self.output_size = spec.output_size if spec and spec.output_size else (
            int(data.y_train.max()) + 1 if self.task == "classification"
            else (data.y_train.shape[-1] if data.y_train.dim() > 1 else 1))
        self.callbacks = list(callbacks)
        self.control = control or RunControl()
        self.augment = augment
        self.world = world
        self.final_activation = getattr(model, "final_activation", None)
        self.loss = loss_name(self.config, self.task, self.output_size)
        self.monitor_mode = "max" if self.config.monitor in MAXIMIZED else "min"
        self.epoch = 0                 # epochs finished in this run's loop
        self.epoch_offset = 0          # epochs of the run this one was forked from
        self.step = 0                  # optimizer steps in this run, including those it resumed or forked from
        self.start_step = 0            # the step this process started training at
        self.last_metrics: dict[str, float] = {}

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        self.model.to(self.device)
        self.model.train()                 # dropout and batch norm in training mode, whatever the model was left in
        move = lambda t: None if t is None else t.to(self.device)   # noqa: E731
        d = self.data
        self.x, self.y = move(d.x_train), move(d.y_train)
        self.x_val, self.y_val = move(getattr(d, "x_val", None)), move(getattr(d, "y_val", None))
        if self.y_val is not None and len(self.y_val) == 0:
            self.x_val = self.y_val = None
        self.channels_last = self.x.dim() == 4 and any(isinstance(m, nn.Conv2d) for m in self.model.modules())
        if self.channels_last:
            # oneDNN's convolutions run faster on (N, H, W, C) memory: 1.2x for the ResNet template
            self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        size = self.world.size if self.world else 1
        if cfg.batch_size % size:
            raise ConfigError(f"Training setting 'batch_size' is {cfg.batch_size}, which does not split "
                              f"evenly over {size} processes: use a multiple of {size}.")
        self._check_monitor()
        self.loss_fn = make_loss(self.loss, cfg, self.task, self.final_activation)
        self._probabilities = self.final_activation == "Sigmoid"
        if wants_logits(self.loss, self.final_activation) and hasattr(self.model, "output_logits"):
            self.model.output_logits = True
        self.steps_per_epoch = (len(self.x) // cfg.batch_size if size > 1
                                else math.ceil(len(self.x) / cfg.batch_size))
        if self.steps_per_epoch == 0:
            raise ConfigError(f"Training setting 'batch_size' is {cfg.batch_size}, more than the "
                              f"{len(self.x)} training samples: lower it.")
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        self.schedule: Schedule = make_schedule(self.optimizer, cfg, self.steps_per_epoch, self.monitor_mode)
        self.norms = health.LayerNorms(health.layer_params(self.model))
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.l1_params = [p for p in self.params if p.dim() > 1]
        self.generator = torch.Generator().manual_seed(cfg.seed)             # sample order
        self.aug_generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        self.train_model: nn.Module = self.model
        if self.world and self.world.size > 1:
            self.train_model = self.world.wrap(self.model)
        # The step that counts dead ReLUs adds forward hooks; a compiled module would recompile for
        # them every epoch, so that step runs the same weights uncompiled (DDP keeps its wrapper).
        self.hooked_model = self.train_model
        if cfg.compile:
            self.train_model = torch.compile(self.train_model)
        self.perm: torch.Tensor | None = None
        self.batch = 0                                     # next batch index in the current epoch
        self.pending: list[torch.Tensor] = []              # losses not read yet, on the device
        self.pending_sizes: list[int] = []                 # their batch sizes
        self.dead: dict[str, float] = {}
        self.health_due = False                            # this epoch end samples weight norms and dead ReLUs
        # Health is sampled at the epoch's last full batch (a last partial batch may hold one sample).
        self.health_batch = max(0, len(self.x) // cfg.batch_size - 1)
        self.count_dead = cfg.batch_size // size >= DEAD_MIN_BATCH
        self.health_at = -math.inf                         # perf_counter of the last sample
        self.batch_listeners = [cb for cb in self.callbacks
                                if type(cb).on_batch_end is not Callback.on_batch_end]
        self.epoch_loss = 0.0
        self.epoch_samples = 0
        self.epoch_seconds = 0.0
        self.grads_before: dict[str, float] | None = None     # the last gradient norms sampled with a finite loss
        self.grads_at = -math.inf                          # perf_counter of that sample
        self.start_loss: float | None = None               # the run's first loss, the yardstick for "exploded"
        self.step_lr: float | None = None                  # the rate the last step used (a schedule moves it on after)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def _check_monitor(self) -> None:
        names = ["val/loss", "train/loss"] + (["val/acc"] if self.task == "classification"
                                              else ["val/r2", "val/mae"])
        if self.config.monitor not in names:
            raise ConfigError(f"Training setting 'monitor' is {self.config.monitor!r}, which is not "
                              f"measured for a {self.task} task: use one of {', '.join(names)}.")

    # ------------------------------------------------------------------ run
    def fit(self, resume_from: str | Path | None = None, fork: bool = False) -> TrainResult:
        """Trains to the configured epochs; `resume_from` continues a checkpoint exactly, or with
        `fork=True` starts new settings from its weights (and optimizer state where it fits; a
        checkpoint of weights only, as runtime/initial_weights.py keeps, starts from epoch 0)."""
        try:                   # a checkpoint that does not fit fails the run like a crashing layer
            self._setup()
            if resume_from is not None:
                self._restore(resume_from, fork)
            else:
                torch.manual_seed(self.config.seed)        # dropout masks follow the seed too
            self.start_step = self.step
            for cb in self.callbacks:
                cb.on_train_start(self)
            result = self._loop()
        except Diverged as e:
            result = self._result("diverged", str(e))
        except BaseException as e:
            self._release()
            for cb in self.callbacks:
                cb.on_exception(self, e)
            raise
        self._release()
        for cb in self.callbacks:
            cb.on_train_end(self, result)
        return result

    def _release(self) -> None:
        if hasattr(self.model, "output_logits"):
            self.model.output_logits = False               # exported models output probabilities
        if getattr(self, "channels_last", False):
            self.model.to(memory_format=torch.contiguous_format)

    def _loop(self) -> TrainResult:
        while self.epoch < self.config.epochs:
            if not self._run_epoch():
                self._flush()
                return self._result("stopped", f"stopped by request at epoch {self.epoch_offset + self.epoch + 1} "
                                               f"step {self.step}")
            if self._end_epoch():
                if self.config.restore_best and self.best_state is not None:
                    self.model.load_state_dict(self.best_state)
                return self._result("early_stopped", f"early stopping: {self.config.monitor} did not "
                                    f"improve for {self.bad_epochs} epochs")
        if self.config.early_stopping and self.config.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        n = self.config.epochs
        return self._result("completed", f"trained {n} epoch{'' if n == 1 else 's'}")

    @property
    def last_step(self) -> int:
        """The step the run ends at when it trains all its epochs (counting the steps it resumed or forked from)."""
        return self.step + (self.config.epochs - self.epoch) * self.steps_per_epoch - self.batch

    def _result(self, status: str, reason: str) -> TrainResult:
        best = None if self.best_epoch is None else self.epoch_offset + self.best_epoch + 1
        return TrainResult(status, reason, self.epoch_offset + self.epoch, self.step,
                           dict(self.last_metrics), best)

    def _run_epoch(self) -> bool:
        """Runs the rest of the current epoch; False when a stop was requested."""
        cfg, rank, size = self.config, (self.world.rank if self.world else 0), (self.world.size if self.world else 1)
        if self.perm is None:
            self.perm = torch.randperm(len(self.x), generator=self.generator).to(self.device)
        share = cfg.batch_size // size
        started = time.perf_counter()
        try:
            for i in range(self.batch, self.steps_per_epoch):
                if self.control.paused:
                    self.control.wait_while_paused()
                if self.control.stop_requested:
                    return False
                start = i * cfg.batch_size + rank * share
                idx = self.perm[start:start + share]                       # (b,)
                xb, yb = self.x[idx], self.y[idx]
                if self.augment is not None:
                    xb = self.augment(xb, self.aug_generator)
                if i == self.health_batch and self._sample_health() and self.count_dead:
                    with health.DeadUnits(self.model) as dead:
                        loss = self._train_step(xb, yb, self.hooked_model)
                    self.dead = dead.fractions
                else:
                    loss = self._train_step(xb, yb)
                self.batch, self.step = i + 1, self.step + 1
                size = idx.shape[0]                                         # len(tensor) is a Python call
                self.pending.append(loss.detach())
                self.pending_sizes.append(size)
                for cb in self.batch_listeners:
                    cb.on_batch_end(self, Batch(self.epoch_offset + self.epoch, i, self.step, size, loss.detach()))
                if self.step % cfg.log_every == 0 or self.step - self.start_step in EARLY_CHECKS:
                    self._flush()
        finally:
            self.epoch_seconds += time.perf_counter() - started
        return True

    def _sample_health(self) -> bool:
        """Decides, at an epoch's last full batch, whether this epoch end measures the layers' health."""
        now = time.perf_counter()
        last = self.epoch == self.config.epochs - 1
        self.health_due = last or now - self.health_at >= HEALTH_INTERVAL_S
        if self.health_due:
            self.health_at = now
        return self.health_due

    def _train_step(self, xb: torch.Tensor, yb: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
        cfg = self.config
        loss = self.loss_fn((model or self.train_model)(xb), yb)
        if cfg.l1:
            loss = loss + cfg.l1 * sum(p.abs().sum() for p in self.l1_params)
        for p in self.params:             # what zero_grad(set_to_none=True) does, without its 8 us of wrapping
            p.grad = None
        loss.backward()
        if cfg.clip == "norm":
            nn.utils.clip_grad_norm_(self.params, cfg.clip_value, foreach=True)
        elif cfg.clip == "value":
            nn.utils.clip_grad_value_(self.params, cfg.clip_value, foreach=True)
        self.step_lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        if self.schedule.per_step is not None:
            self.schedule.per_step.step()
        return loss

    def _flush(self) -> None:
        """Reads the buffered losses (one sync), checks them, and reports them with the layer norms."""
        if not self.pending:
            return
        values = torch.stack(self.pending)
        if self.world and self.world.size > 1:
            values = self.world.average(values.clone())
        losses = values.tolist()
        now = time.perf_counter()
        grads = self.norms.grads() if now - self.grads_at >= GRAD_INTERVAL_S else None
        first = self.step - len(losses) + 1
        if self.start_loss is None and math.isfinite(losses[0]):
            self.start_loss = losses[0]
        limit = EXPLODED * max(self.start_loss or 1.0, 1.0)
        for j, value in enumerate(losses):
            if not math.isfinite(value) or value > limit:
                shown = losses[:j + 1] if math.isfinite(value) else losses[:j]   # the chart ends where it blew up
                for cb in self.callbacks:
                    cb.on_losses(self, first, shown)
                raise Diverged(health.diagnose_divergence(value, self.start_loss, self.epoch_offset + self.epoch,
                                                          first + j, self._lr(), self.grads_before,
                                                          grads or self.norms.grads()))
        self.epoch_loss += sum(v * n for v, n in zip(losses, self.pending_sizes))
        self.epoch_samples += sum(self.pending_sizes)
        self.pending, self.pending_sizes = [], []
        for cb in self.callbacks:
            cb.on_losses(self, first, losses)
        if grads is not None:
            self.grads_before, self.grads_at = grads, now
            self._emit(self.step, {"lr": self._lr(), **{f"grad_norm/{k}": v for k, v in grads.items()}})

    def _end_epoch(self) -> bool:
        """Evaluates, reports and schedules after an epoch; True when early stopping ends the run."""
        self._flush()
        cfg = self.config
        size = self.world.size if self.world else 1
        m: dict[str, float] = {"epoch": float(self.epoch_offset + self.epoch + 1),
                               "train/loss_epoch": self.epoch_loss / max(1, self.epoch_samples),
                               "samples_per_s": self.epoch_samples * size / max(self.epoch_seconds, 1e-9),
                               "lr": self._lr()}
        if self.x_val is not None:
            out = evaluation.predict(self.model, self.x_val)
            m.update(evaluation.metrics(out, self.y_val, self.task, self.loss_fn, "val", self._probabilities))
        if self.health_due:
            m.update({f"weight_norm/{k}": v for k, v in self.norms.weights().items()})
            m.update({f"dead_relu/{k}": v for k, v in self.dead.items()})
        self._emit(self.step, m)
        self.last_metrics = m
        monitored = m.get("train/loss_epoch" if cfg.monitor == "train/loss" else cfg.monitor,
                          m["train/loss_epoch"])
        if self.schedule.plateau is not None:
            self.schedule.plateau.step(monitored)
        stop = self._track_best(monitored)
        self.epoch, self.batch, self.perm, self.health_due = self.epoch + 1, 0, None, False
        self.epoch_loss, self.epoch_samples, self.epoch_seconds = 0.0, 0, 0.0
        for cb in self.callbacks:
            cb.on_epoch_end(self, self.epoch_offset + self.epoch - 1, m)
        return stop

    def _track_best(self, value: float) -> bool:
        cfg = self.config
        better = self.best is None or (value > self.best + cfg.min_delta if self.monitor_mode == "max"
                                       else value < self.best - cfg.min_delta)
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, self.epoch, 0
            if cfg.early_stopping and cfg.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return False
        self.bad_epochs += 1
        return cfg.early_stopping and self.bad_epochs > cfg.patience

    def _lr(self) -> float:
        """The learning rate of the last step taken (the one its loss and gradients belong to), not the
        next step's, which a schedule has already set: one-cycle's first step is at lr/25, not 0.1 lr."""
        return float(self.optimizer.param_groups[0]["lr"] if self.step_lr is None else self.step_lr)

    def _emit(self, step: int, metrics: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_metrics(self, step, metrics)

    def evaluate(self, split: str = "test") -> evaluation.Evaluation:
        """Figures, confusion matrix and predictions on a split of the data ("test", "val", "train")."""
        x, y = getattr(self.data, f"x_{split}", None), getattr(self.data, f"y_{split}", None)
        if x is None or len(x) == 0:
            raise ConfigError(f"The dataset has no {split} split to evaluate on.")
        device = next(self.model.parameters()).device
        logits = wants_logits(self.loss, self.final_activation) and hasattr(self.model, "output_logits")
        if logits:
            self.model.output_logits = True
        try:
            return evaluation.evaluate(self.model, x.to(device), y.to(device), self.task,
                                       make_loss(self.loss, self.config, self.task, self.final_activation), split,
                                       self.output_size if self.task == "classification" else None,
                                       self.final_activation == "Sigmoid")
        finally:
            if logits:
                self.model.output_logits = False

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, stem: str | Path) -> Path:
        """Everything needed to continue exactly: weights, optimizer, schedule, RNGs, position."""
        state = {"config": self.config.to_dict(), "task": self.task,
                 "position": {"epoch": self.epoch, "epoch_offset": self.epoch_offset, "batch": self.batch,
                              "step": self.step},
                 "perm": self.perm, "generator": self.generator.get_state(),
                 "aug_generator": self.aug_generator.get_state(), "torch_rng": torch.get_rng_state(),
                 "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                 "epoch_sums": [self.epoch_loss, self.epoch_samples, self.epoch_seconds],
                 "best": {"value": self.best, "epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                          "state": self.best_state},
                 "grads_before": self.grads_before, "start_loss": self.start_loss, "metrics": self.last_metrics}
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        return checkpoints.save(stem, self.model.state_dict(), state)

    def _restore(self, source: str | Path, fork: bool) -> None:
        weights, state = checkpoints.load(source)
        problem = checkpoints.mismatch(self.model.state_dict(), weights)
        if problem:
            raise checkpoints.CheckpointError(
                f"Checkpoint {source} does not fit this model (was the graph changed?): {problem}.")
        self.model.load_state_dict(weights)
        if fork and "position" not in state:    # weights only (an imported model's): a first run from them
            torch.manual_seed(self.config.seed)
            return
        pos = state["position"]
        if fork:
            # The fork goes on along its parent's axes: epoch N + 1 at the steps after the checkpoint's, so
            # its curves continue the parent's from the fork point instead of lying over its first epochs.
            self.epoch_offset, self.step = pos["epoch_offset"] + pos["epoch"], pos["step"]
            if state["config"]["optimizer"] == self.config.optimizer:
                self.optimizer.load_state_dict(state["optimizer"])
                for group in self.optimizer.param_groups:
                    group.update(lr=self.config.lr, weight_decay=self.config.weight_decay)
                    group.pop("initial_lr", None)
                self.schedule = make_schedule(self.optimizer, self.config, self.steps_per_epoch,
                                              self.monitor_mode)
            torch.manual_seed(self.config.seed)
            return
        self.epoch, self.epoch_offset, self.batch, self.step = (pos["epoch"], pos["epoch_offset"],
                                                                pos["batch"], pos["step"])
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.generator.set_state(state["generator"])
        self.aug_generator.set_state(state["aug_generator"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.epoch_loss, self.epoch_samples, self.epoch_seconds = state["epoch_sums"]
        best = state["best"]
        self.best, self.best_epoch, self.bad_epochs = best["value"], best["epoch"], best["bad_epochs"]
        self.best_state = best["state"]
        self.grads_before, self.last_metrics = state["grads_before"], state["metrics"]
        self.start_loss = state["start_loss"]
