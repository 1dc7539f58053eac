"""The loss for a task, and how a model's final activation is handled so the loss sees logits."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from runtime.training.config import ConfigError, TrainConfig

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOGIT_LOSSES = ("cross_entropy", "bce")


def loss_name(config: TrainConfig, task: str, output_size: int | None) -> str:
    """The loss actually used: "auto" becomes cross-entropy (BCE for one output) or MSE."""
    if config.loss != "auto":
        if task == "classification" and config.loss in ("mse", "mae", "huber"):
            raise ConfigError(f"Training setting 'loss' is {config.loss!r}, a regression loss, but the "
                              "dataset is a classification task: use cross_entropy, bce or auto.")
        if task != "classification" and config.loss == "cross_entropy":
            raise ConfigError(f"Training setting 'loss' is 'cross_entropy' but the dataset is a {task} "
                              "task with numeric targets: use mse, mae, huber or auto.")
        return config.loss
    if task == "classification":
        return "bce" if output_size == 1 else "cross_entropy"
    return "mse"


def make_loss(name: str, config: TrainConfig, task: str, final_activation: str | None) -> LossFn:
    """The loss function for model outputs `out` and targets `y` as the datasets deliver them.

    Classification targets are class ids; with one output, BCE reads them as 0/1; with several
    outputs, BCE compares each output with the one-hot target. A model that ends in Sigmoid and
    cannot hand over logits gets the probability form of BCE.
    """
    if name == "cross_entropy":
        smoothing = config.label_smoothing
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=smoothing)
    if name == "bce":
        bce = F.binary_cross_entropy if final_activation == "Sigmoid" else F.binary_cross_entropy_with_logits

        def binary(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if task == "classification":
                y = (y.float().reshape(out.shape) if out.shape[-1] == 1 or out.dim() == 1
                     else F.one_hot(y, out.shape[-1]).to(out.dtype))
            return bce(out, y.to(out.dtype).reshape(out.shape))
        return binary
    if name == "mse":
        return lambda out, y: F.mse_loss(out, y.reshape(out.shape))
    if name == "mae":
        return lambda out, y: F.l1_loss(out, y.reshape(out.shape))
    if name == "huber":
        return lambda out, y: F.huber_loss(out, y.reshape(out.shape))
    raise ValueError(f"unknown loss {name}")


def wants_logits(name: str, final_activation: str | None) -> bool:
    """Whether the model should skip its final Softmax/LogSoftmax while training with this loss."""
    return name in LOGIT_LOSSES and final_activation in ("Softmax", "LogSoftmax")
