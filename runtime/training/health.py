"""Per-layer health: gradient and weight norms, dead ReLUs, and the diagnosis of a NaN loss.

Layers are the model's top-level children; a compiled graph names them by node id, so the
metrics (`grad_norm/conv2`) match what the user sees on the canvas.
"""
from __future__ import annotations

import math

import torch
from torch import nn

DYING = (nn.ReLU, nn.ReLU6)
EXPLODED_NORM = 10.0    # a layer's gradient norm above this has exploded; below, a divergence is the step size


def layer_params(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters grouped by node id (top-level child), in the model's order."""
    node_ids = getattr(model, "node_ids", {}) or {}
    groups: dict[str, list[nn.Parameter]] = {}
    for name, child in model.named_children():
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            groups[node_ids.get(name, name)] = params
    return groups


class LayerNorms:
    """L2 norms per layer of the weights or of their gradients: one fused kernel and one read for
    all tensors. Built once per run; the flat parameter list is what makes a read cheap."""

    def __init__(self, groups: dict[str, list[nn.Parameter]]) -> None:
        self.names = list(groups)
        self.sizes = [len(ps) for ps in groups.values()]
        self.params = [p for ps in groups.values() for p in ps]

    def grads(self) -> dict[str, float]:
        """Gradient norm per layer (zero where a layer got no gradient)."""
        return self._per_layer([p.grad if p.grad is not None else torch.zeros((), device=p.device)
                                for p in self.params])

    @torch.no_grad()
    def weights(self) -> dict[str, float]:
        return self._per_layer(self.params)

    def _per_layer(self, tensors: list[torch.Tensor]) -> dict[str, float]:
        if not tensors:
            return dict.fromkeys(self.names, 0.0)
        norms = torch.stack(torch._foreach_norm(tensors)).tolist()
        out, start = {}, 0
        for name, size in zip(self.names, self.sizes):
            out[name] = math.sqrt(sum(v * v for v in norms[start:start + size]))
            start += size
        return out


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
    before the failure, or else the layer nearest the output whose gradient is not finite. A largest
    norm of at most EXPLODED_NORM under a finite loss blames the learning rate: clipping would not help.
    """
    if math.isnan(loss):
        what = "loss became NaN"
    elif math.isinf(loss):
        what = "loss became infinite"
    else:
        what = f"loss exploded to {loss:.3g}" + (f" (it started at {start:.3g})" if start is not None else "")
    layer, figure, norm = None, "", None
    finite_before = {k: v for k, v in (before or {}).items() if math.isfinite(v)}
    if finite_before and max(finite_before.values()) > 0:
        layer = max(finite_before, key=finite_before.get)
        norm, figure = finite_before[layer], " just before"
    else:
        bad = [k for k, v in now.items() if not math.isfinite(v)]
        finite_now = {k: v for k, v in now.items() if math.isfinite(v)}
        if bad:
            layer, figure = bad[-1], " (its gradient is not finite)"
        elif finite_now:
            layer = max(finite_now, key=finite_now.get)
            norm = finite_now[layer]
    if norm is not None and norm <= EXPLODED_NORM and math.isfinite(loss):   # NaN may come from the data
        return (f"{what} at epoch {epoch + 1} step {step}: the learning rate ({lr:g}) is too large, not the "
                f"gradients: the largest, {layer}'s, had norm {norm:.3g}{figure}, and a learning rate that large "
                f"turns even such a gradient into a step that overshoots; lower the learning rate (try "
                f"{lr / 10:g}, then less if it diverges again).")
    if norm is not None:
        figure = f" (gradient norm {norm:.3g}{figure}, the largest of all layers)"
    where = f"gradients exploded in {layer}{figure}" if layer else "the gradients exploded"
    return (f"{what} at epoch {epoch + 1} step {step}: {where}; lower the learning rate "
            f"(now {lr:g}) or enable gradient clipping.")
