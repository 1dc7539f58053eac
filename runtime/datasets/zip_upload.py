"""A user's zip of image folders: one folder per class (cats/001.png, dogs/002.jpg, ...).

The archive is read in memory, never unpacked to disk. Images must share one size unless
`image_size` asks to resize them; grey images stay one channel unless any image has colour.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.uploads import check_size, open_image, open_zip, safe_members

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_TOTAL_VALUES = 500_000_000  # pixels x channels over all images (2 GB as float32)
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def _wanted(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
    return not hidden and name.lower().endswith(IMAGE_SUFFIXES)


def _size(option: Any) -> tuple[int, int] | None:
    if option is None:
        return None
    if (not isinstance(option, (list, tuple)) or len(option) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in option)):
        raise DatasetError(f"image_size must be [height, width] in pixels (1 to 4096), got {option!r}.")
    return int(option[0]), int(option[1])


def read_image_zip(data: bytes, *, filename: str = "upload.zip", image_size: Any = None) -> RawData:
    check_size(data, filename)
    size = _size(image_size)
    archive = open_zip(data, filename)
    members = [m for m in safe_members(archive, filename) if _wanted(m.filename)]
    images, labels, first = [], [], None
    for info in sorted(members, key=lambda m: m.filename):
        parts = info.filename.replace("\\", "/").split("/")
        if len(parts) < 2:
            raise DatasetError(f"{filename}: {info.filename} is not inside a class folder. Put each image in a "
                               "folder named after its class (cats/001.png).")
        image = open_image(archive.read(info), f"{filename}: {info.filename}")
        if size is not None:
            image = image.resize((size[1], size[0]))
        elif first is None:
            first = (info.filename, image.size)
        elif image.size != first[1]:
            raise DatasetError(f"{filename}: {info.filename} is {image.width}x{image.height} pixels (width x height) "
                               f"but {first[0]} is {first[1][0]}x{first[1][1]}: all images must have the same size. "
                               "Resize them, or pass image_size=[height, width] to resize while loading.")
        images.append(image)
        labels.append(parts[-2])
        if len(images) * image.width * image.height * 3 > MAX_TOTAL_VALUES:   # checked as it grows
            raise DatasetError(f"{filename}: {len(images):,} images of {image.width}x{image.height} and more are too "
                               "much data to hold in memory; pass a smaller image_size or upload fewer images.")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise DatasetError(f"{filename} holds {len(images)} images in {len(classes)} class folder(s) "
                           f"({', '.join(classes) or 'none'}): expected one folder per class, two classes or more, "
                           f"with images ending in {', '.join(IMAGE_SUFFIXES)}.")
    colour = any(im.mode not in GREY_MODES for im in images)
    mode = "RGB" if colour else "L"
    pixels = np.stack([np.asarray(im.convert(mode), dtype=np.uint8) for im in images])   # (N, H, W[, 3])
    x = pixels.transpose(0, 3, 1, 2) if colour else pixels[:, None]                      # (N, C, H, W)
    y = np.array([classes.index(label) for label in labels], dtype=np.int64)
    return RawData(x, y, "image", class_names=tuple(classes), scale=1 / 255)


def load_image_zip(data: bytes, *, filename: str = "upload.zip", image_size: Any = None, seed: int = 0,
                   val_fraction: float = 0.15, test_fraction: float = 0.15) -> Any:
    """An image-folder zip as Splits: (N, C, H, W) pixels in [0, 1], normalized per channel."""
    from runtime.datasets.preparing import prepare
    raw = read_image_zip(data, filename=filename, image_size=image_size)
    return prepare(raw, filename, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
