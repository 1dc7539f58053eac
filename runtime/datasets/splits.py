"""A loaded dataset: tensors for train/validation/test, and what the UI and exporters need to know."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from runtime.dataspec import DataSpec
from runtime.datasets.errors import DatasetError
from runtime.datasets.text import TextEncoder


@dataclass
class Splits:
    name: str
    spec: DataSpec
    x_train: torch.Tensor      # float32 normalized, or int64 token ids for text
    y_train: torch.Tensor      # int64 class ids (N,), or float32 targets (N, output_size)
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    # (x - mean) / std with train-only statistics; lists run along the channel axis of an image
    # (C, H, W) and along the last axis of tables and sequences. None for token ids.
    normalization: dict[str, Any] | None
    target_normalization: dict[str, Any] | None = None   # regression/forecasting targets, same form
    preview: list[dict[str, Any]] = field(default_factory=list)   # a few raw training samples
    feature_names: list[str] = field(default_factory=list)
    text_encoder: TextEncoder | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.class_names)

    @property
    def vocabulary(self) -> list[str] | None:
        return self.text_encoder.vocabulary if self.text_encoder else None

    def encode_text(self, text: str) -> torch.Tensor:
        """(1, max_len) int64 token ids of a typed sentence, ready for the model."""
        if self.text_encoder is None:
            raise DatasetError(f"The dataset '{self.name}' is not text: there is no vocabulary to encode with.")
        return torch.from_numpy(self.text_encoder.encode([text]))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def nbytes(self) -> int:
        tensors = (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)
        return sum(t.element_size() * t.nelement() for t in tensors)
