"""Small synthetic problems and models for the training tests (no dataset files needed)."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn


def quadrants(n: int = 1200, seed: int = 0) -> SimpleNamespace:
    """2-D points labelled by the sign of x*y: not linearly separable, learnable by a small MLP."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = ((x[:, 0] * x[:, 1]) > 0).long()
    cut = n * 4 // 5
    return SimpleNamespace(x_train=x[:cut], y_train=y[:cut], x_val=x[cut:], y_val=y[cut:])


def linear_targets(n: int = 800, seed: int = 0) -> SimpleNamespace:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * torch.randn(n, 1, generator=g))
    cut = n * 3 // 4
    return SimpleNamespace(x_train=x[:cut], y_train=y[:cut], x_val=x[cut:], y_val=y[cut:])


def mlp(inputs: int = 2, outputs: int = 2, hidden: int = 32, dropout: float = 0.0, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


class NamedClassifier(nn.Module):
    """Mimics the compiler's GraphModule: children named by node id, a final Softmax that the
    trainer asks it to skip through `output_logits`."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc1, self.act1, self.fc2, self.softmax = nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2), nn.Softmax(-1)
        self.node_ids = {"fc1": "dense_1", "act1": "relu_1", "fc2": "classifier", "softmax": "probs"}
        self.node_types = {"fc1": "Linear", "act1": "ReLU", "fc2": "Linear", "softmax": "Softmax"}
        self.final_activation = "Softmax"
        self.output_logits = False
        self.seen_logits: set[bool] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(self.act1(self.fc1(x)))
        if self.training:
            self.seen_logits.add(self.output_logits)
        return out if self.output_logits else self.softmax(out)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
