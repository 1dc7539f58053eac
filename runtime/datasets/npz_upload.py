"""A user's NPZ: arrays x (N, ...) and y (N,) or (N, k), optionally x_test and y_test. Never unpickled."""
from __future__ import annotations

import io
from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.uploads import check_size, encode_classes, infer_task, open_zip, safe_members

LAYOUT_BY_RANK = {2: "table", 3: "sequence", 4: "image"}   # (N, F), (N, steps, F), (N, C, H, W)


def _arrays(data: bytes, filename: str) -> dict[str, np.ndarray]:
    safe_members(open_zip(data, filename), filename)   # an .npz is a zip: refuse bombs before reading
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DatasetError(f"{filename} holds Python objects (pickled arrays), which are never loaded: "
                               "save plain numeric arrays with np.savez(file, x=x, y=y).") from None
        raise DatasetError(f"{filename}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{filename} is not a readable .npz file ({exc}).") from None


def _features(x: np.ndarray, name: str, filename: str) -> np.ndarray:
    if x.dtype.kind not in "fiub" or x.ndim not in LAYOUT_BY_RANK:
        raise DatasetError(f"{filename} array '{name}' is {x.dtype} of shape {x.shape}: expected numbers shaped "
                           "(N, features), (N, steps, features) or (N, channels, height, width).")
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        raise DatasetError(f"{filename} array '{name}' holds {x[tuple(bad[0])]} at index {tuple(bad[0].tolist())}: "
                           "replace NaN and infinite values before uploading.")
    return x


def read_npz(data: bytes, task: str | None = None, *, filename: str = "upload.npz") -> RawData:
    check_size(data, filename)
    arrays = _arrays(data, filename)
    if "x" not in arrays or "y" not in arrays:
        raise DatasetError(f"{filename} holds {', '.join(arrays) or 'no arrays'}: expected arrays named x and y "
                           "(and optionally x_test, y_test).")
    pairs = [("x", "y")] + ([("x_test", "y_test")] if "x_test" in arrays or "y_test" in arrays else [])
    for xn, yn in pairs:
        if xn not in arrays or yn not in arrays:
            raise DatasetError(f"{filename} has {xn if xn in arrays else yn} without {yn if xn in arrays else xn}.")
        x, y = _features(arrays[xn], xn, filename), arrays[yn]
        if len(x) != len(y) or y.ndim not in (1, 2):
            raise DatasetError(f"{filename}: {xn} has {len(x)} samples {x.shape} but {yn} is shaped {y.shape}: "
                               f"{yn} needs one label (N,) or one row of targets (N, k) per sample.")
    if arrays["x"].shape[1:] != arrays.get("x_test", arrays["x"]).shape[1:]:
        raise DatasetError(f"{filename}: samples in x are {arrays['x'].shape[1:]} but in x_test "
                           f"{arrays['x_test'].shape[1:]}.")
    y_all = np.concatenate([arrays[yn] for _, yn in pairs])
    if y_all.dtype.kind == "f" and not np.isfinite(y_all).all():
        raise DatasetError(f"{filename}: y holds {y_all[~np.isfinite(y_all)][0]} at sample "
                           f"{int(np.argwhere(~np.isfinite(y_all))[0][0])}: every sample needs a finite target.")
    task = infer_task(y_all.ravel() if y_all.ndim == 2 else y_all, task, f"{filename} array 'y'")
    x = arrays["x"]
    if task == "classification":
        if y_all.ndim != 1:
            raise DatasetError(f"{filename}: y is {y_all.shape}; classification needs one class per sample (N,).")
        ids, names = encode_classes(y_all, f"{filename} array 'y'")
        y, test_y = ids[: len(x)], ids[len(x):]
    else:
        y_all = y_all.astype(np.float64).reshape(len(y_all), -1)
        y, test_y, names = y_all[: len(x)], y_all[len(x):], ()
    test = (arrays["x_test"], test_y) if len(pairs) == 2 else None
    return RawData(x, y, LAYOUT_BY_RANK[x.ndim], task=task, class_names=names, test=test)


def load_npz(data: bytes, task: str | None = None, *, filename: str = "upload.npz", seed: int = 0,
             val_fraction: float = 0.15, test_fraction: float = 0.15) -> Any:
    """An NPZ upload as Splits. Images are (N, C, H, W); pixel values are normalized as they come."""
    from runtime.datasets.preparing import prepare
    return prepare(read_npz(data, task, filename=filename), filename, seed=seed,
                   val_fraction=val_fraction, test_fraction=test_fraction)
