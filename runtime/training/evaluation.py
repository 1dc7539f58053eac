"""Evaluation on a split: loss and the task's metric, confusion matrix, per-class figures, predictions."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from runtime.training.losses import LossFn

EVAL_BATCH = 1024


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Raw model outputs for `x` in eval mode, batched (the model's mode is restored after)."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def metrics(out: torch.Tensor, y: torch.Tensor, task: str, loss_fn: LossFn, prefix: str,
            probabilities: bool = False) -> dict[str, float]:
    """`{prefix}/loss` plus accuracy for classification, R^2 and MAE otherwise."""
    result = {f"{prefix}/loss": float(loss_fn(out, y))}
    if task == "classification":
        result[f"{prefix}/acc"] = float((classes(out, probabilities) == y).float().mean())
    else:
        target = y.reshape(out.shape).to(out.dtype)
        residual = ((out - target) ** 2).sum()
        total = ((target - target.mean(dim=0)) ** 2).sum()
        result[f"{prefix}/r2"] = float(1 - residual / total) if total > 0 else 0.0
        result[f"{prefix}/mae"] = float((out - target).abs().mean())
    return result


def classes(out: torch.Tensor, probabilities: bool = False) -> torch.Tensor:
    """Predicted class ids; a single output is a binary score: a logit, or a probability."""
    if out.dim() == 1 or out.shape[-1] == 1:
        return (out.reshape(-1) > (0.5 if probabilities else 0.0)).long()
    return out.argmax(dim=-1)


@dataclass
class ClassReport:
    """Per-class figures. A precision is None for a class the model never predicted, a recall None for a
    class without samples: 0/0 is undefined, not 0 (scikit-learn's `zero_division=np.nan`, so an average
    over classes would leave such a class out rather than count it as a failure)."""
    confusion: list[list[int]]        # rows: true class, columns: predicted class
    precision: list[float | None]
    recall: list[float | None]
    accuracy: float


def _ratios(hits: torch.Tensor, totals: torch.Tensor) -> list[float | None]:
    return [h / t if t else None for h, t in zip(hits.tolist(), totals.tolist())]


def class_report(predicted: torch.Tensor, y: torch.Tensor, num_classes: int) -> ClassReport:
    pairs = y.long() * num_classes + predicted.long()
    confusion = torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    hits = confusion.diag()
    precision = _ratios(hits, confusion.sum(dim=0))
    recall = _ratios(hits, confusion.sum(dim=1))
    accuracy = int(hits.sum()) / max(1, len(y))
    return ClassReport(confusion.tolist(), precision, recall, accuracy)


@dataclass
class Evaluation:
    """A split's figures, its confusion matrix (classification) and the model's predictions."""
    metrics: dict[str, float]
    report: ClassReport | None
    predictions: torch.Tensor                 # class ids (N,), or predicted values (N, outputs)
    probabilities: torch.Tensor | None        # (N, classes) for classification


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str, loss_fn: LossFn, prefix: str,
             num_classes: int | None, probabilities: bool = False) -> Evaluation:
    """`probabilities`: the model's outputs are probabilities already (a final Sigmoid it keeps)."""
    out = predict(model, x)
    figures = metrics(out, y, task, loss_fn, prefix, probabilities)
    if task != "classification":
        return Evaluation(figures, None, out, None)
    predicted = classes(out, probabilities)
    if out.dim() == 1 or out.shape[-1] == 1:
        p1 = out.reshape(-1) if probabilities else torch.sigmoid(out.reshape(-1))
        probs = torch.stack([1 - p1, p1], dim=-1)
    else:
        probs = torch.softmax(out, dim=-1)
    return Evaluation(figures, class_report(predicted, y, max(num_classes or 2, 2)), predicted, probs)
