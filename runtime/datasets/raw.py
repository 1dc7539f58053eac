"""What a loader hands over before splitting: samples as they come from the file, and labels."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

LAYOUTS = ("image", "table", "sequence", "text")


@dataclass
class RawData:
    x: Any                          # ndarray (N, ...) for image/table/sequence, list[str] for text,
                                    # or a dict column -> ndarray for a table with categorical columns
    y: np.ndarray                   # int class ids (N,) or float targets (N, k)
    layout: str                     # one of LAYOUTS: decides the normalization axis and the preview
    task: str = "classification"
    class_names: tuple[str, ...] = ()
    scale: float = 1.0              # multiplies x after subsetting (uint8 pixels stay small until then)
    test: tuple[Any, np.ndarray] | None = None   # the official test split, where the source has one
    ordered: bool = False           # time order matters: split chronologically, never shuffle
    feature_names: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)
