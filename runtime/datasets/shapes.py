"""A generated colour-image set (synthetic, labelled so in the app): five shapes in two colours.

Colour is part of the label (a red circle is not a blue circle), so a network must use the three
channels, not just outlines. Shapes vary in place and size; background and noise vary per image.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.registry import DATASETS

COLOURS = np.array([[0.85, 0.15, 0.1], [0.1, 0.25, 0.9]], dtype=np.float32)   # red, blue


def _masks(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """(N, 5, S, S) masks of circle, square, triangle, cross, ring in unit shape coordinates."""
    r2 = dx ** 2 + dy ** 2
    ax, ay = np.abs(dx), np.abs(dy)
    return np.stack([r2 <= 1.0,
                     np.maximum(ax, ay) <= 0.8,
                     (ay <= 0.8) & (ax <= (dy + 0.8) * 0.6),
                     ((ax <= 0.25) & (ay <= 0.9)) | ((ay <= 0.25) & (ax <= 0.9)),
                     (r2 >= 0.5) & (r2 <= 1.0)], axis=1)


def load_shapes(options: dict[str, Any]) -> RawData:
    n, size = options["samples"], options["image_size"]
    for name, value, low in (("samples", n, 20), ("image_size", size, 8)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 4096:
            raise DatasetError(f"shapes_rgb option {name} must be a whole number from {low} to 4096, got {value!r}.")
    rng = np.random.default_rng(options["seed"])
    y = rng.permutation(np.arange(n) % 10)
    shape, colour = y % 5, y // 5
    grid = np.arange(size, dtype=np.float32) + 0.5
    cx, cy = (rng.uniform(0.3, 0.7, (2, n, 1, 1)) * size).astype(np.float32)
    radius = (rng.uniform(0.18, 0.3, (n, 1, 1)) * size).astype(np.float32)
    dx, dy = (grid[None, None, :] - cx) / radius, (grid[None, :, None] - cy) / radius   # (N, S, S)
    mask = _masks(dx, dy)[np.arange(n), shape][:, None]                                # (N, 1, S, S)
    paint = COLOURS[colour] + rng.normal(0, 0.06, (n, 3)).astype(np.float32)           # (N, 3)
    background = rng.uniform(0.25, 0.6, (n, 1, 1, 1)).astype(np.float32)
    x = np.where(mask, paint[:, :, None, None], background)                           # (N, 3, S, S)
    x = np.clip(x + rng.normal(0, 0.05, x.shape).astype(np.float32), 0, 1)
    return RawData(x.astype(np.float32), y.astype(np.int64), "image",
                   class_names=DATASETS["shapes_rgb"].class_names)
