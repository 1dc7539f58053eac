"""Training: settings (TrainConfig), the loop (Trainer), callbacks and control flags."""
from runtime.training.callbacks import Batch, Callback, Checkpointer, History, RunControl
from runtime.training.config import ConfigError, TrainConfig, describe
from runtime.training.trainer import TrainResult, Trainer, resolve_device

__all__ = ["Batch", "Callback", "Checkpointer", "ConfigError", "History", "RunControl", "TrainConfig",
           "TrainResult", "Trainer", "describe", "resolve_device"]
