"""Time series: UCR/UEA classification archives (.ts text files) and series to forecast.

Samples are (steps, features), batch-first for RNN, LSTM and Transformer layers.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.registry import DATASETS
from runtime.datasets.sources import package_file

SKTIME = ("sktime", "sktime==1.2.0")
MIN_WINDOWS = 10


def read_ts(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """A .ts file: '@' header lines, '@data', then one sample a line: channels split by ':', values
    by ',', label last. Returns ((N, steps, channels) float64, labels, declared class labels)."""
    declared: list[str] = []
    samples, labels = [], []
    in_data = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            words = line.split()
            if words[0].lower() == "@classlabel":
                declared = words[2:]
            in_data = words[0].lower() == "@data"
            continue
        *channels, label = line.split(":")
        try:
            rows = [[float(v) for v in ch.split(",")] for ch in channels]
        except ValueError as exc:
            raise DatasetError(f"{path} line {number}: {exc}: expected comma-separated numbers.") from None
        if len({len(r) for r in rows}) != 1 or (samples and np.shape(rows) != np.shape(samples[0])):
            raise DatasetError(f"{path} line {number}: series of unequal length; this loader needs equal lengths.")
        samples.append(rows)
        labels.append(label.strip())
    return np.array(samples).transpose(0, 2, 1), labels, declared


def _archive(dataset: str, folder: str) -> RawData:
    parts = []
    for which in ("TRAIN", "TEST"):
        path = package_file(SKTIME[0], f"datasets/data/{folder}/{folder}_{which}.ts", SKTIME[1])
        x, labels, declared = read_ts(path)
        ids = {label: i for i, label in enumerate(declared or sorted(set(labels)))}
        parts.append((x, np.array([ids[label] for label in labels], dtype=np.int64)))
    (x, y), test = parts
    return RawData(x, y, "sequence", class_names=DATASETS[dataset].class_names, test=test)


def load_gunpoint(options: dict[str, Any]) -> RawData:
    return _archive("gunpoint", "GunPoint")


def load_basicmotions(options: dict[str, Any]) -> RawData:
    return _archive("basicmotions", "BasicMotions")


def windows(series: np.ndarray, window: Any, dataset: str) -> RawData:
    """Sliding windows: the past `window` values (window, 1) predict the next value (1,)."""
    longest = len(series) - MIN_WINDOWS
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= longest:
        raise DatasetError(f"{dataset} option window must be a whole number from 1 to {longest} "
                           f"(the series has {len(series)} values), got {window!r}.")
    idx = np.arange(len(series) - window)[:, None] + np.arange(window)[None, :]
    return RawData(series[idx][:, :, None], series[window:, None], "sequence", task="forecasting",
                   ordered=True)


def _column(path: Path, column: str) -> np.ndarray:
    with path.open(newline="", encoding="utf-8") as f:
        return np.array([float(r[column]) if r[column].strip() else np.nan for r in csv.DictReader(f)])


def load_airline(options: dict[str, Any]) -> RawData:
    series = _column(package_file(SKTIME[0], "datasets/data/Airline/Airline.csv", SKTIME[1]), "Passengers")
    return windows(series, options["window"], "airline")


def load_co2(options: dict[str, Any]) -> RawData:
    """Weekly CO2; the weeks with no measurement are filled by linear interpolation."""
    series = _column(package_file("statsmodels", "datasets/co2/co2.csv", "statsmodels==0.15.0"), "co2")
    known = ~np.isnan(series)
    series = np.interp(np.arange(len(series)), np.flatnonzero(known), series[known])
    return windows(series, options["window"], "co2")
