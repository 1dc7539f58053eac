"""Offline sample datasets and uploads: `DATASETS`, `spec(name)`, `load(name, **options)`.

Importing this package is cheap (no torch, no data): the registry is plain data, and each
loader's module is imported when its dataset is first loaded. A project file's dataset section
{"name": "mnist", "subset": 1000} loads with `load(**section)`.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtime.dataspec import DataSpec
from runtime.datasets.cache import LoadCache
from runtime.datasets.errors import DatasetError
from runtime.datasets.options import check_common
from runtime.datasets.registry import DATASETS, Dataset

if TYPE_CHECKING:
    from runtime.datasets.splits import Splits

__all__ = ["DATASETS", "Dataset", "DatasetError", "declaration", "options_for", "spec", "load",
           "load_csv", "load_npz", "load_image_zip", "CACHE"]

CACHE = LoadCache()
PREPARE_OPTIONS = ("seed", "val_fraction", "test_fraction", "subset", "max_len", "vocab_size")
_UPLOADS = {"load_csv": "csv_upload", "load_npz": "npz_upload", "load_image_zip": "zip_upload"}


def declaration(name: str) -> Dataset:
    if name not in DATASETS:
        raise DatasetError(f"Unknown dataset {name!r}. Sample datasets: {', '.join(DATASETS)}.")
    return DATASETS[name]


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
    raw = loader(opts)
    return prepare(raw, name, **{k: v for k, v in opts.items() if k in PREPARE_OPTIONS})


def __getattr__(attr: str) -> Any:
    if attr in _UPLOADS:   # uploads pull in zipfile, PIL and torch: load them on first use
        return getattr(importlib.import_module(f"runtime.datasets.{_UPLOADS[attr]}"), attr)
    raise AttributeError(attr)
