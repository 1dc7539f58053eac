"""Per-layer health: gradient and weight norms, dead ReLUs, and the diagnosis of a NaN loss.

Layers are the model's top-level children; a compiled graph names them by node id, so the
metrics (`grad_norm/conv2`) match what the user sees on the canvas.
"""
from __future__ import annotations

import math

import torch
from torch import nn

DYING = (nn.ReLU, nn.ReLU6)


def layer_params(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters grouped by node id (top-level child), in the model's order."""
    node_ids = getattr(model, "node_ids", {}) or {}
    groups: dict[str, list[nn.Parameter]] = {}
    for name, child in model.named_children():
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            groups[node_ids.get(name, name)] = params
    return groups


def norms(groups: dict[str, list[torch.Tensor]]) -> list[float]:
    """One L2 norm per group: one fused kernel and one read for all tensors."""
    flat = [t for ts in groups.values() for t in ts]
    if not flat:
        return [0.0] * len(groups)
    per_tensor = iter(torch.stack(torch._foreach_norm(flat)).tolist())
    return [math.sqrt(sum(next(per_tensor) ** 2 for _ in ts)) for ts in groups.values()]


def grad_norms(groups: dict[str, list[nn.Parameter]]) -> dict[str, float]:
    """Gradient norm per layer (zero where a layer got no gradient)."""
    grads = {k: [p.grad if p.grad is not None else torch.zeros(()) for p in ps]
             for k, ps in groups.items()}
    return dict(zip(groups, norms(grads)))


def weight_norms(groups: dict[str, list[nn.Parameter]]) -> dict[str, float]:
    return dict(zip(groups, norms({k: [p.detach() for p in ps] for k, ps in groups.items()})))


class DeadUnits:
    """While active, records for each ReLU the share of its units that output zero for every
    sample of the batch passing through (dead units). Used around one training step per epoch."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.fractions: dict[str, float] = {}
        self._outputs: dict[str, torch.Tensor] = {}
        self._hooks: list = []

    def __enter__(self) -> "DeadUnits":
        node_ids = getattr(self.model, "node_ids", {}) or {}
        for name, child in self.model.named_children():
            if isinstance(child, DYING):
                def record(_m, _inp, out, key=node_ids.get(name, name)):
                    self._outputs[key] = (out.detach() == 0).all(dim=0).float().mean()
                self._hooks.append(child.register_forward_hook(record))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._hooks:
            h.remove()
        if self._outputs:
            self.fractions = dict(zip(self._outputs, torch.stack(list(self._outputs.values())).tolist()))


def diagnose_divergence(loss: float, start: float | None, epoch: int, step: int, lr: float,
                        before: dict[str, float] | None, now: dict[str, float]) -> str:
    """Plain words for a NaN/inf or exploded loss: when, which layer's gradients blew up, what to do.

    `before` are the per-layer gradient norms at the last check where the loss was finite,
    `now` those after the failing step. The culprit is the layer with the largest finite norm
    before the failure, or else the layer nearest the output whose gradient is not finite.
    """
    if math.isnan(loss):
        what = "loss became NaN"
    elif math.isinf(loss):
        what = "loss became infinite"
    else:
        what = f"loss exploded to {loss:.3g}" + (f" (it started at {start:.3g})" if start is not None else "")
    layer, figure = None, ""
    finite_before = {k: v for k, v in (before or {}).items() if math.isfinite(v)}
    if finite_before and max(finite_before.values()) > 0:
        layer = max(finite_before, key=finite_before.get)
        figure = f" (gradient norm {finite_before[layer]:.3g} just before, the largest of all layers)"
    else:
        bad = [k for k, v in now.items() if not math.isfinite(v)]
        finite_now = {k: v for k, v in now.items() if math.isfinite(v)}
        if bad:
            layer, figure = bad[-1], " (its gradient is not finite)"
        elif finite_now:
            layer = max(finite_now, key=finite_now.get)
            figure = f" (gradient norm {finite_now[layer]:.3g}, the largest of all layers)"
    where = f"gradients exploded in {layer}{figure}" if layer else "the gradients exploded"
    return (f"{what} at epoch {epoch + 1} step {step}: {where}; lower the learning rate "
            f"(now {lr:g}) or enable gradient clipping.")
