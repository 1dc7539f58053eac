"""Offline sample datasets and uploads: `DATASETS`, `spec(name)`, `load(name, **options)`.

Importing this package is cheap (no torch, no data): the registry is plain data, and each
loader's module is imported when its dataset is first loaded. A project file's dataset section
{"name": "mnist", "subset": 1000} loads with `load(**section)`. An upload kept in the data
directory by `save_upload` is named "upload:<id>" and loads the same way (see stored_uploads).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtime.dataspec import DataSpec
from runtime.datasets import stored_uploads
from runtime.datasets.cache import LoadCache
from runtime.datasets.errors import DatasetError
from runtime.datasets.options import check_common
from runtime.datasets.registry import DATASETS, Dataset

if TYPE_CHECKING:
    from runtime.datasets.splits import Splits

__all__ = ["DATASETS", "Dataset", "DatasetError", "declaration", "options_for", "spec", "load",
           "load_csv", "load_npz", "load_image_zip", "csv_columns", "save_upload", "saved_uploads", "delete_upload",
           "upload_format", "kind_of", "CACHE"]

CACHE = LoadCache()
PREPARE_OPTIONS = ("seed", "val_fraction", "test_fraction", "subset", "max_len", "vocab_size")
_UPLOADS = {"load_csv": "csv_upload", "load_npz": "npz_upload", "load_image_zip": "zip_upload",
            "csv_columns": "csv_upload"}


def declaration(name: str) -> Dataset:
    if stored_uploads.is_upload(name):
        return stored_uploads.declaration(name)
    if name not in DATASETS:
        raise DatasetError(f"Unknown dataset {name!r}. Sample datasets: {', '.join(DATASETS)}; "
                           "uploads are named upload:<id>.")
    return DATASETS[name]


def kind_of(name: str) -> str:
    """image, table, sequence or text: what preview and playground suit the dataset (table if unknown)."""
    try:
        return declaration(name).kind
    except DatasetError:
        return "table"


def saved_uploads() -> list[Dataset]:
    """The uploads kept in the data directory, oldest first: each loads by its id like a sample dataset."""
    return stored_uploads.stored()


def delete_upload(name: str) -> None:
    """Removes an upload from the data directory (runtime.projects.remove_upload first checks that no
    project trains on it)."""
    stored_uploads.delete(name)
    CACHE.forget(name)


def upload_format(filename: str) -> str:
    """csv, npz or zip by the file name's ending; DatasetError lists what is accepted."""
    return stored_uploads.file_format(filename)


def save_upload(data: bytes, filename: str, **options: Any) -> Dataset:
    """Checks an uploaded file by loading it (DatasetError says what is wrong and where), keeps it in
    the data directory and returns its declaration; `load(declaration.id)` then loads it anywhere.

    Options by format: CSV target (required), task, delimiter, drop; NPZ task; zip image_size."""
    declared, splits = stored_uploads.save(data, filename, **options)
    CACHE.get_or_load(declared.id, options_for(declared.id), lambda: splits)
    return declared


def options_for(name: str, **options: Any) -> dict[str, Any]:
    """The dataset's options with defaults filled in; an unknown option is an error that lists the valid ones."""
    known = declaration(name).all_options()
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise DatasetError(f"Dataset '{name}' has no option {', '.join(map(repr, unknown))}. "
                           f"Its options: {', '.join(f'{k} (default {v!r})' for k, v in known.items())}.")
    resolved = {**known, **options}
    check_common(resolved)
    return resolved


def spec(name: str, **options: Any) -> DataSpec:
    """What the compiler needs (sample shape, output width), from the declaration: no data is read."""
    d, opts = declaration(name), options_for(name, **options)
    return DataSpec(input_shape=d.shape_for(opts), input_dtype="int64" if d.kind == "text" else "float32",
                    task=d.task, output_size=len(d.class_names) if d.task == "classification" else d.output_size,
                    vocab_size=opts["vocab_size"] if d.kind == "text" else None, class_names=d.class_names)


def load(name: str, **options: Any) -> "Splits":
    """Tensors split into train/val/test, normalized with training statistics; cached in this process.

    The returned tensors are shared with later calls: copy before changing them in place."""
    opts = options_for(name, **options)
    return CACHE.get_or_load(name, opts, lambda: _load_uncached(name, opts))


def _load_uncached(name: str, opts: dict[str, Any]) -> "Splits":
    from runtime.datasets.preparing import prepare   # imports torch: only when data is wanted
    module_name, function = declaration(name).loader.split(":")
    loader = getattr(importlib.import_module(f"runtime.datasets.{module_name}"), function)
    raw = loader(name) if stored_uploads.is_upload(name) else loader(opts)
    return prepare(raw, name, **{k: v for k, v in opts.items() if k in PREPARE_OPTIONS})


def __getattr__(attr: str) -> Any:
    if attr in _UPLOADS:   # uploads pull in zipfile, PIL and torch: load them on first use
        return getattr(importlib.import_module(f"runtime.datasets.{_UPLOADS[attr]}"), attr)
    raise AttributeError(attr)
