"""Two-dimensional toy problems for watching a decision boundary form. Generated, seeded, balanced."""
from __future__ import annotations

from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.registry import DATASETS


def _setup(name: str, options: dict[str, Any]) -> tuple[np.ndarray, np.random.Generator, float]:
    n, noise = options["samples"], options["noise"]
    if isinstance(n, bool) or not isinstance(n, int) or not 20 <= n <= 1_000_000:
        raise DatasetError(f"{name} option samples must be a whole number from 20 to 1000000, got {n!r}.")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 10:
        raise DatasetError(f"{name} option noise must be a number from 0 to 10, got {noise!r}.")
    rng = np.random.default_rng(options["seed"])
    return np.arange(n) % 2, rng, float(noise)


def _raw(name: str, points: np.ndarray, y: np.ndarray, rng: np.random.Generator, noise: float) -> RawData:
    points = points + rng.normal(0, noise, points.shape)
    return RawData(points, y.astype(np.int64), "table", class_names=DATASETS[name].class_names,
                   feature_names=("x", "y"))


def load_moons(options: dict[str, Any]) -> RawData:
    y, rng, noise = _setup("moons", options)
    t = rng.uniform(0, np.pi, len(y))
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    return _raw("moons", np.where(y[:, None] == 0, upper, lower), y, rng, noise)


def load_circles(options: dict[str, Any]) -> RawData:
    y, rng, noise = _setup("circles", options)
    t = rng.uniform(0, 2 * np.pi, len(y))
    radius = np.where(y == 0, 1.0, 0.5)[:, None]
    return _raw("circles", radius * np.stack([np.cos(t), np.sin(t)], 1), y, rng, noise)


def load_spirals(options: dict[str, Any]) -> RawData:
    y, rng, noise = _setup("spirals", options)
    t = np.sqrt(rng.uniform(0.02, 1, len(y))) * 3 * np.pi   # sqrt: even density along the arm
    arm = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (3 * np.pi)
    return _raw("spirals", np.where(y[:, None] == 0, arm, -arm), y, rng, noise)


def load_xor(options: dict[str, Any]) -> RawData:
    y, rng, noise = _setup("xor", options)
    magnitude = rng.uniform(0.05, 1, (len(y), 2))
    sign_x = rng.choice([-1.0, 1.0], len(y))
    sign_y = np.where(y == 0, sign_x, -sign_x)   # class 0: same sign, class 1: opposite signs
    return _raw("xor", magnitude * np.stack([sign_x, sign_y], 1), y, rng, noise)
