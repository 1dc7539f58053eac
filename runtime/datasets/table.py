"""Mixed tables to numbers: numeric columns keep their value, text columns become one-hot columns,
and missing values are filled from the training split only (median, most frequent category).

A table is a dict column name -> array: float64 with NaN for missing numbers, or object with None
for missing categories.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

Table = dict[str, np.ndarray]


def is_numeric(column: np.ndarray) -> bool:
    return column.dtype.kind in "fiub"


@dataclass
class TableEncoder:
    medians: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, train: Table) -> "TableEncoder":
        enc = cls(order=list(train))
        for name, col in train.items():
            if is_numeric(col):
                present = col[~np.isnan(col)]
                enc.medians[name] = float(np.median(present)) if len(present) else 0.0
            else:
                counts = Counter(v for v in col if v is not None)
                # most frequent first (ties alphabetical): the first category fills missing values
                enc.categories[name] = sorted(counts, key=lambda v: (-counts[v], v)) or ["missing"]
        return enc

    @property
    def feature_names(self) -> list[str]:
        names = []
        for name in self.order:
            if name in self.medians:
                names.append(name)
            else:
                names.extend(f"{name}={c}" for c in sorted(self.categories[name]))
        return names

    def transform(self, table: Table) -> np.ndarray:
        """(N, features) float32; a category unseen in training becomes all zeros."""
        parts = []
        for name in self.order:
            col = table[name]
            if name in self.medians:
                parts.append(np.where(np.isnan(col), self.medians[name], col)[:, None])
            else:
                fill = self.categories[name][0]
                filled = np.array([fill if v is None else v for v in col], dtype=object)
                parts.append(np.stack([filled == c for c in sorted(self.categories[name])], axis=1))
        return np.concatenate(parts, axis=1).astype(np.float32)
