"""Mixed tables to numbers: numeric columns keep their value, text columns become one-hot columns,
and missing values are filled from the training split only (median, most frequent category).
The set of one-hot columns comes from the whole file, so the feature count is fixed by the data.

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
    medians: dict[str, float] = field(default_factory=dict)        # numeric column -> fill value
    categories: dict[str, list[str]] = field(default_factory=dict)  # text column -> one-hot columns, sorted
    fills: dict[str, str] = field(default_factory=dict)             # text column -> fill value
    order: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, train: Table, everything: Table) -> "TableEncoder":
        """Fill values from the training rows; one-hot columns from every row of the file, so that the
        number of features does not depend on which rows the split happened to put in training."""
        enc = cls(order=list(train))
        for name, col in train.items():
            if is_numeric(col):
                present = col[~np.isnan(col)]
                enc.medians[name] = float(np.median(present)) if len(present) else 0.0
            else:
                enc.categories[name] = sorted({v for v in everything[name] if v is not None}) or ["missing"]
                counts = Counter(v for v in col if v is not None)
                enc.fills[name] = min(counts, key=lambda v: (-counts[v], v)) if counts else enc.categories[name][0]
        return enc

    @property
    def feature_names(self) -> list[str]:
        names = []
        for name in self.order:
            if name in self.medians:
                names.append(name)
            else:
                names.extend(f"{name}={c}" for c in self.categories[name])
        return names

    def transform(self, table: Table) -> np.ndarray:
        """(N, features) float32."""
        parts = []
        for name in self.order:
            col = table[name]
            if name in self.medians:
                parts.append(np.where(np.isnan(col), self.medians[name], col)[:, None])
            else:
                filled = np.array([self.fills[name] if v is None else v for v in col], dtype=object)
                parts.append(np.stack([filled == c for c in self.categories[name]], axis=1))
        return np.concatenate(parts, axis=1).astype(np.float32)
