"""TrainConfig: every training setting, also the "training" section of a project file.

Each field carries its help text, bounds or choices and a beginner/advanced mark in its metadata,
so the settings form in the app is generated from this one declaration.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any


class ConfigError(ValueError):
    """A training setting a user can fix; the message names the setting and what it accepts."""


def _setting(default: Any, help: str, *, choices: tuple = (), min: float | None = None,
             max: float | None = None, advanced: bool = False) -> Any:
    meta = {"help": help, "choices": choices, "min": min, "max": max, "advanced": advanced}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "plateau", "onecycle")
LOSSES = ("auto", "cross_entropy", "bce", "mse", "mae", "huber")
CLIPS = ("none", "norm", "value")
DEVICES = ("auto", "cpu", "cuda", "mps")
MONITORS = ("val/loss", "val/acc", "val/r2", "val/mae", "train/loss")


@dataclass
class TrainConfig:
    """How to train: optimizer, schedule, regularization, stopping, loss, data order, hardware."""
    optimizer: str = _setting("adam", "Optimizer. Adam is the safe default; SGD with momentum "
                              "often generalizes better with a schedule.", choices=OPTIMIZERS)
    lr: float = _setting(1e-3, "Learning rate: the size of each update step.", min=1e-8, max=10.0)
    momentum: float = _setting(0.9, "Momentum for SGD and RMSprop.", min=0.0, max=0.999, advanced=True)
    nesterov: bool = _setting(False, "Nesterov momentum (SGD only).", advanced=True)
    weight_decay: float = _setting(0.0, "L2 penalty on the weights (decoupled in AdamW).", min=0.0,
                                   max=1.0, advanced=True)
    l1: float = _setting(0.0, "L1 penalty added to the loss: pushes weights to exactly zero.",
                         min=0.0, max=1.0, advanced=True)
    batch_size: int = _setting(64, "Samples per update step.", min=1, max=65536)
    epochs: int = _setting(10, "Passes over the training data.", min=1, max=100000)
    schedule: str = _setting("none", "How the learning rate changes over the run (the Learning rate chart "
                             "shows it). step: times gamma every step size epochs; cosine: down to 0 along "
                             "a half cosine; plateau: times gamma when the monitored metric stops improving; "
                             "onecycle: up from lr/25 to lr in the first 30% of steps, then down to almost 0.",
                             choices=SCHEDULES)
    step_size: int = _setting(10, "Epochs between decays (step schedule).", min=1, max=100000,
                              advanced=True)
    gamma: float = _setting(0.1, "Decay factor (step and plateau schedules).", min=1e-6, max=1.0,
                            advanced=True)
    plateau_patience: int = _setting(3, "Epochs without improvement before the plateau schedule "
                                     "lowers the rate.", min=0, max=1000, advanced=True)
    warmup_epochs: int = _setting(0, "Epochs in which the rate rises in a straight line from 1% of lr to lr, "
                                  "before the schedule (with onecycle: its rising part).", min=0,
                                  max=1000, advanced=True)
    early_stopping: bool = _setting(False, "Stop when the monitored metric stops improving.")
    monitor: str = _setting("val/loss", "Metric watched by early stopping and the plateau schedule.",
                            choices=MONITORS, advanced=True)
    patience: int = _setting(5, "Epochs without improvement before early stopping.", min=0,
                             max=1000, advanced=True)
    min_delta: float = _setting(0.0, "Smallest change that counts as an improvement.", min=0.0,
                                advanced=True)
    restore_best: bool = _setting(True, "With early stopping, end with the weights of the best epoch.",
                                  advanced=True)
    clip: str = _setting("none", "Gradient clipping: by total norm or by value.", choices=CLIPS,
                         advanced=True)
    clip_value: float = _setting(1.0, "Maximum gradient norm or absolute value.", min=1e-6,
                                 advanced=True)
    loss: str = _setting("auto", "Loss; auto picks cross-entropy for classification and MSE "
                         "for regression.", choices=LOSSES, advanced=True)
    label_smoothing: float = _setting(0.0, "Cross-entropy label smoothing.", min=0.0, max=0.99,
                                      advanced=True)
    augment: dict = _setting({}, "Random changes to every training batch, so the model sees varied samples; "
                             "typed as JSON, {} for off. Images: {\"shift\": 0.1, \"rotate_degrees\": 10}, "
                             "also \"noise\" and \"hflip\"/\"vflip\" (true or false); sequences: "
                             "{\"jitter\": 0.03, \"scaling\": 0.1}.", advanced=True)
    seed: int = _setting(0, "Random seed: the same seed reproduces the same curve.", min=0,
                         max=2**63 - 1)
    device: str = _setting("auto", "Where to train; auto picks CUDA, then Apple MPS, then CPU.",
                           choices=DEVICES, advanced=True)
    threads: int = _setting(0, "Torch threads; 0 keeps the process setting (the app uses 1).",
                            min=0, max=1024, advanced=True)
    compile: bool = _setting(False, "torch.compile the model (slower to start; often not faster "
                             "on CPU).", advanced=True)
    log_every: int = _setting(20, "Steps between reads of the training loss (one device sync).",
                              min=1, max=100000, advanced=True)

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _check(f, getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "TrainConfig":
        """Reads the project file's "training" section; ConfigError names a bad or unknown key."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(f"The training settings must be a JSON object, but are {type(data).__name__}.")
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError(f"Unknown training setting {key!r}. Valid settings: {', '.join(known)}.")
        return cls(**data)

    def replace(self, **changes: Any) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def describe() -> list[dict[str, Any]]:
    """Each setting as data (name, kind, default, help, choices, bounds, advanced) for forms."""
    out = []
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else f.default_factory()
        out.append({"name": f.name, "kind": type(default).__name__, "default": default, **f.metadata})
    return out


def _check(f: Any, value: Any) -> Any:
    meta = f.metadata
    default = f.default if f.default is not MISSING else f.default_factory()
    kind = type(default)
    where = f"Training setting {f.name!r}"
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, but is {value!r}.")
        return value
    if kind is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be an object of settings, but is {value!r}.")
        return dict(value)
    if kind is str:
        if value not in meta["choices"]:
            raise ConfigError(f"{where} must be one of {', '.join(meta['choices'])}, but is {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, but is {value!r}.")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where} must be a whole number, but is {value!r}.")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, but is {value!r}.")
    lo, hi = meta["min"], meta["max"]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"from {_bound(lo)} to {_bound(hi)}" if hi is not None else f">= {_bound(lo)}"
        raise ConfigError(f"{where} must be {bounds}, but is {value!r}.")
    return value


def _bound(value: float) -> str:
    """A bound as a person reads it: whole numbers in full (2**63 - 1, not 9.22337e+18), others in short."""
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
