"""Checks of the options every loader shares, done before any file is read (numbers only, no numpy)."""
from __future__ import annotations

from typing import Any

from runtime.datasets.errors import DatasetError


def whole_number(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
            or (maximum is not None and value > maximum)):
        upto = f" and <= {maximum}" if maximum is not None else ""
        raise DatasetError(f"{name} must be a whole number >= {minimum}{upto}, but is {value!r}.")
    return value


def fractions(val_fraction: Any, test_fraction: Any) -> None:
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f < 1:
            raise DatasetError(f"{name} must be a number from 0 to below 1, but is {f!r}.")
    if val_fraction + test_fraction > 0.8:
        raise DatasetError(f"val_fraction + test_fraction is {val_fraction + test_fraction:g}: "
                           "keep it at most 0.8 so that the training split has data.")


def check_common(options: dict[str, Any]) -> None:
    """seed, fractions, subset and text sizes: the options `prepare` uses."""
    whole_number("seed", options["seed"], 0, 2**32 - 1)
    fractions(options["val_fraction"], options.get("test_fraction", 0.0))
    if options["subset"] is not None:
        whole_number("subset", options["subset"], 2)
    if "max_len" in options:
        whole_number("max_len", options["max_len"], 1, 100_000)
    if "vocab_size" in options:
        whole_number("vocab_size", options["vocab_size"], 3, 10_000_000)
