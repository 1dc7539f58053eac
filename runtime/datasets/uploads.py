"""What every upload shares: size limits checked before parsing, zip safety, and the target's task.

An upload is bytes held in memory; nothing is unpacked to disk, executed or unpickled.
"""
from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError

MAX_UPLOAD_BYTES = 200_000_000       # a browser upload above this is not "sample data" on a laptop
MAX_UNPACKED_BYTES = 1_000_000_000   # the most a zip may expand to: refuses zip bombs before reading
MAX_ZIP_MEMBERS = 100_000
MAX_CLASSES = 1_000
CLASSIFY_AT_MOST = 20                # whole-number targets with this few values are taken as classes
MAX_IMAGE_PIXELS = 25_000_000        # a 24-megapixel photo; a few KB of PNG can declare 20000x20000 pixels
IMAGE_FORMATS = "PNG, JPEG, BMP, GIF or WebP"
TASKS = ("classification", "regression")


def check_size(data: Any, filename: str) -> None:
    """Refuses an upload by its size alone, before a byte of it is parsed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DatasetError(f"{filename}: expected the file's bytes, got {type(data).__name__}.")
    size = len(data)
    if size > MAX_UPLOAD_BYTES:
        raise DatasetError(f"{filename} is {size / 1e6:,.0f} MB; uploads are limited to "
                           f"{MAX_UPLOAD_BYTES / 1e6:,.0f} MB. Upload a sample of the data, or train from the "
                           "command line with a dataset file on disk.")
    if size == 0:
        raise DatasetError(f"{filename} is empty.")


def open_image(data: bytes, name: str) -> Any:
    """`data` decoded as a PIL image, its size checked from the header before a pixel is decoded; else a
    DatasetError that names it (`name`: "The file", "cats.zip: cats/001.png") and says what is wrong."""
    from PIL import Image, UnidentifiedImageError        # imported where images are read: PIL is slow to load
    limit = f"at most {MAX_IMAGE_PIXELS / 1e6:.0f} million pixels are read per image: scale it down first."
    try:
        image = Image.open(io.BytesIO(data))             # reads the header only
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise DatasetError(f"{name} is {image.width:,} x {image.height:,} pixels; {limit}")
        image.load()
    except Image.DecompressionBombError:                 # PIL refuses the header itself beyond twice its own limit
        raise DatasetError(f"{name} has more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} million pixels; "
                           f"{limit}") from None
    except UnidentifiedImageError:
        raise DatasetError(f"{name} is not an image this can read ({IMAGE_FORMATS}).") from None
    except OSError as e:                                 # a truncated or damaged file
        raise DatasetError(f"{name} cannot be decoded: {str(e).rstrip('.')}.") from None
    return image


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def safe_members(archive: zipfile.ZipFile, filename: str) -> list[zipfile.ZipInfo]:
    """The archive's files, after refusing path traversal, too many members and zip bombs."""
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise DatasetError(f"{filename} holds {len(members):,} files; the limit is {MAX_ZIP_MEMBERS:,}.")
    for info in members:
        if _unsafe_name(info.filename):
            raise DatasetError(f"{filename}: the entry '{info.filename}' points outside the archive "
                               "(path traversal). The whole file is refused: zip the folders again.")
    unpacked = sum(info.file_size for info in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise DatasetError(f"{filename} would unpack to {unpacked / 1e6:,.0f} MB (limit "
                           f"{MAX_UNPACKED_BYTES / 1e6:,.0f} MB): refused as a possible zip bomb.")
    return [info for info in members if not info.is_dir()]


def open_zip(data: bytes, filename: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DatasetError(f"{filename} is not a zip archive (or it is damaged).") from None


def infer_task(values: np.ndarray, task: str | None, where: str) -> str:
    """classification for text labels or few whole numbers, regression otherwise; a given task is checked."""
    numeric = values.dtype.kind in "fiub"
    if task is not None:
        if task not in TASKS:
            raise DatasetError(f"task must be one of {', '.join(TASKS)} (or left out to infer it), got {task!r}.")
        if task == "regression" and not numeric:
            raise DatasetError(f"{where} holds text, e.g. {values[0]!r}: regression needs numbers. "
                               "Use task='classification', or pick a numeric target.")
        return task
    if not numeric:
        return "classification"
    whole = bool(np.all(np.mod(values, 1) == 0))
    return "classification" if whole and len(np.unique(values)) <= CLASSIFY_AT_MOST else "regression"


def encode_classes(values: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class ids 0..K-1 in sorted order of the values, and the values as class names."""
    classes, ids = np.unique(values, return_inverse=True)
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{where} has {len(classes):,} different values: too many classes (limit "
                           f"{MAX_CLASSES}). If it is a quantity to predict, use task='regression'.")
    if len(classes) < 2:
        raise DatasetError(f"{where} has a single value {classes[0]!r}: classification needs two classes or more.")
    names = tuple(str(int(c)) if isinstance(c, (float, np.floating)) and float(c).is_integer() else str(c)
                  for c in classes)
    return ids.astype(np.int64), names
