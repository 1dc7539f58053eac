"""Seeded, deterministic train/validation/test index splits: stratified by class, or chronological."""
from __future__ import annotations

from typing import Any

import numpy as np

from runtime.datasets.options import fractions


def take(x: Any, idx: np.ndarray) -> Any:
    """Rows `idx` of an array, a list of texts, or a table given as column -> array."""
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    if isinstance(x, list):
        return [x[i] for i in idx]
    return x[idx]


def _groups(y: np.ndarray, stratified: bool) -> list[np.ndarray]:
    if not stratified:
        return [np.arange(len(y))]
    return [np.flatnonzero(y == c) for c in np.unique(y)]


def pick(y: np.ndarray, fraction: float, rng: np.random.Generator,
         stratified: bool) -> tuple[np.ndarray, np.ndarray]:
    """(picked, rest): about `fraction` of the rows, the same share from every class when stratified."""
    picked, rest = [], []
    for rows in _groups(y, stratified):
        rows = rows[rng.permutation(len(rows))]
        n = int(round(len(rows) * fraction))
        picked.append(rows[:n])
        rest.append(rows[n:])
    return np.sort(np.concatenate(picked)), np.sort(np.concatenate(rest))


def split(y: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int, stratified: bool,
          ordered: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (train, val, test). Ordered data keeps time order: train first, test last."""
    fractions(val_fraction, test_fraction)
    n = len(y)
    if ordered:
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        n_train = n - n_val - n_test
        return np.arange(n_train), np.arange(n_train, n_train + n_val), np.arange(n_train + n_val, n)
    rng = np.random.default_rng(seed)
    test, rest = pick(y, test_fraction, rng, stratified)
    share = val_fraction / (1 - test_fraction) if test_fraction < 1 else 0.0
    val_in_rest, train_in_rest = pick(y[rest], share, rng, stratified)
    train = rest[train_in_rest]
    return train[rng.permutation(len(train))], rest[val_in_rest], test


def subset(y: np.ndarray, count: int, seed: int, stratified: bool) -> np.ndarray:
    """Sorted indices of about `count` rows, drawn evenly from the classes."""
    if count >= len(y):
        return np.arange(len(y))
    kept, _ = pick(y, count / len(y), np.random.default_rng(seed + 1), stratified)
    return kept
