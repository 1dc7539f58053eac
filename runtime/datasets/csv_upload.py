"""A user's CSV: one target column, numeric and text feature columns, missing values allowed.

Every refusal names the row (as a spreadsheet numbers it: the header is row 1) and the column.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any, Iterable

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.uploads import check_size, encode_classes, infer_task

DELIMITERS = (",", ";", "\t", "|")
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MAX_CATEGORIES = 100          # a text column becomes one column per value: more is an id or free text
MIN_ROWS = 10


def _delimiter(header: str, chosen: str | None, filename: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    if chosen is None:
        return best if counts[best] else ","
    if counts.get(chosen, header.count(chosen)) == 0 and counts[best]:
        shown = "tab" if best == "\t" else repr(best)
        raise DatasetError(f"{filename} row 1: the header has no {chosen!r} but {counts[best]} x {shown}: "
                           f"the columns look separated by {shown}. Pass delimiter={best!r}, or leave the "
                           "delimiter out to detect it.")
    return chosen


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _column(name: str, cells: list[str], lines: list[int], filename: str, target: bool = False) -> np.ndarray:
    """float64 with NaN for missing values, or object with None for missing text."""
    present = [(i, c.strip()) for i, c in enumerate(cells) if c.strip().lower() not in MISSING]
    numbers = [(i, c, _number(c)) for i, c in present]
    text = [(i, c) for i, c, v in numbers if v is None]
    if not text:
        out = np.full(len(cells), np.nan)
        for i, _, v in numbers:
            out[i] = v
        return out
    if len(text) < len(present) / 2:   # mostly numbers: a stray word is a mistake, not a category
        i, value = text[0]
        share = 100 * (len(present) - len(text)) / len(present)
        raise DatasetError(f"{filename} row {lines[i]}, column '{name}': {value!r} is not a number, but "
                           f"{share:.0f}% of this column are numbers. Fix the value, or leave the cell empty "
                           "for a missing value.")
    distinct = Counter(c for _, c in present)
    if len(distinct) > MAX_CATEGORIES and not target:   # a target's classes have their own limit
        raise DatasetError(f"{filename} column '{name}' holds {len(distinct):,} different text values: too many to "
                           f"one-hot encode (limit {MAX_CATEGORIES}). Drop it with drop=['{name}'].")
    out = np.full(len(cells), None, dtype=object)
    for i, c in present:
        out[i] = c
    return out


def _rows(text: str, delimiter: str, filename: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the non-empty rows, and the row number each of them ends on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        first = next(reader, None)
        if not first:
            raise DatasetError(f"{filename} row 1: expected a header row naming the columns; the row is empty.")
        header = [h.strip() for h in first]
        rows, lines = [], []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise DatasetError(f"{filename} row {reader.line_num}: {len(cells)} values, but the header has "
                                   f"{len(header)} columns ({', '.join(header)}). Fix the row: a missing value "
                                   "is an empty cell between two delimiters.")
            rows.append(cells)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DatasetError(f"{filename} row {reader.line_num}: {exc}.") from None
    return header, rows, lines


def _check_header(header: list[str], target: str, drop: Iterable[str], filename: str) -> None:
    if len(header) < 2:
        raise DatasetError(f"{filename} has one column ({header[0]!r}): expected feature columns and a target "
                           f"column separated by one of {', '.join(map(repr, DELIMITERS))}.")
    missing = [h for h in [target, *drop] if h not in header]
    if missing:
        raise DatasetError(f"{filename} has no column {missing[0]!r}. Its columns: {', '.join(header)}.")
    repeated = [h for h, n in Counter(header).items() if n > 1]
    if repeated or "" in header:
        raise DatasetError(f"{filename} row 1: every column needs its own name; "
                           f"{'empty name' if '' in header else repr(repeated[0]) + ' appears twice'}.")


def csv_columns(data: bytes, filename: str = "upload.csv") -> list[str]:
    """The header's column names (delimiter detected), read from the first line only: for choosing a target."""
    check_size(data, filename)
    first = bytes(data[:1_000_000]).split(b"\n", 1)[0]
    try:
        header = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{filename} row 1: the header is not UTF-8 text. Save the file as UTF-8 CSV.") from None
    names = next(csv.reader([header], delimiter=_delimiter(header, None, filename)), [])
    return [n.strip() for n in names]


def read_csv(data: bytes, target: str, task: str | None = None, *, filename: str = "upload.csv",
             delimiter: str | None = None, drop: Iterable[str] = ()) -> RawData:
    check_size(data, filename)
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = bytes(data)[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{filename} row {row}: byte {exc.start} is not UTF-8 text. Save the file as "
                           "UTF-8 CSV.") from None
    header, rows, lines = _rows(text, _delimiter(text.split("\n", 1)[0], delimiter, filename), filename)
    drop = list(drop)
    _check_header(header, target, drop, filename)
    if len(rows) < MIN_ROWS:
        raise DatasetError(f"{filename} has {len(rows)} data rows: at least {MIN_ROWS} are needed to split "
                           "into training, validation and test data.")
    columns = {name: _column(name, [r[i] for r in rows], lines, filename, name == target)
               for i, name in enumerate(header) if name not in drop}
    y = columns.pop(target)
    if not columns:
        raise DatasetError(f"{filename}: no feature columns are left besides the target '{target}'.")
    gaps = np.flatnonzero(np.isnan(y) if y.dtype.kind == "f" else y == None)  # noqa: E711 (elementwise)
    if len(gaps):
        raise DatasetError(f"{filename} row {lines[gaps[0]]}, column '{target}': the target is missing. "
                           "Every row needs a target value: fill it or delete the row.")
    where = f"{filename} column '{target}'"
    task = infer_task(y, task, where)
    if task == "classification":
        ids, names = encode_classes(y.astype(str) if y.dtype == object else y, where)
        return RawData(columns, ids, "table", task=task, class_names=names)
    return RawData(columns, y.reshape(-1, 1), "table", task=task)


def load_csv(data: bytes, target: str, task: str | None = None, *, filename: str = "upload.csv",
             delimiter: str | None = None, drop: Iterable[str] = (), seed: int = 0,
             val_fraction: float = 0.15, test_fraction: float = 0.15) -> Any:
    """A CSV upload as Splits; DatasetError names the row and column of the first problem found."""
    from runtime.datasets.preparing import prepare
    raw = read_csv(data, target, task, filename=filename, delimiter=delimiter, drop=drop)
    return prepare(raw, filename, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
