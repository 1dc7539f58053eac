"""Uploads kept in the data directory, so that a project can name one: `upload:<id>`.

`<data dir>/uploads/<sha256>.<csv|npz|zip>` holds the file's bytes as uploaded; `<id>.json` the
options it is read with (target column, task, ...) and what reading it found (task, kind, sample
shape, classes). The id hashes the file's sha256 with those options, so the same file read with
another target is another dataset, and uploading a file twice adds nothing. Any process with the
same data directory (the app after a restart, the CLI, a training worker) loads it by name.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from runtime.datasets.errors import DatasetError
from runtime.datasets.registry import Dataset

PREFIX = "upload:"
ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
SHA_PATTERN = re.compile(r"^[0-9a-f]{64}$")
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".npz": "npz", ".zip": "zip"}
READ_OPTIONS = {"csv": ("target", "task", "delimiter", "drop"), "npz": ("task",), "zip": ("image_size",)}


def is_upload(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def folder() -> Path:
    from runtime.store import data_dir   # the store pulls in sqlite3: only when an upload is wanted
    return data_dir() / "uploads"


def file_format(filename: str) -> str:
    """csv, npz or zip, from the file name's ending; a clear error for anything else."""
    suffix = Path(filename).suffix.lower()
    if suffix not in FORMATS:
        raise DatasetError(f"{filename}: expected a .csv (table with a target column), an .npz (arrays x and y) "
                           "or a .zip (one folder of images per class).")
    return FORMATS[suffix]


def read_options(fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options that change how the file is read; None means "not given" and is left out."""
    unknown = sorted(set(options) - set(READ_OPTIONS[fmt]))
    if unknown:
        raise DatasetError(f"A {fmt} upload has no option {', '.join(map(repr, unknown))}; its options: "
                           f"{', '.join(READ_OPTIONS[fmt])}.")
    kept = {k: v for k, v in options.items() if v is not None}
    if "drop" in kept:
        kept["drop"] = list(kept["drop"])
        if not kept["drop"]:
            del kept["drop"]
    if fmt == "csv" and not kept.get("target"):
        raise DatasetError("A CSV upload needs the name of its target column (the one to predict).")
    return kept


def read_raw(data: bytes, fmt: str, filename: str, options: dict[str, Any]) -> Any:
    """The file parsed by its format's reader: RawData, or DatasetError naming what is wrong and where."""
    if fmt == "csv":
        from runtime.datasets.csv_upload import read_csv
        return read_csv(data, filename=filename, **options)
    if fmt == "npz":
        from runtime.datasets.npz_upload import read_npz
        return read_npz(data, filename=filename, **options)
    from runtime.datasets.zip_upload import read_image_zip
    return read_image_zip(data, filename=filename, **options)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")   # two sessions may add the same file at once
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save(data: bytes, filename: str, **options: Any) -> tuple[Dataset, Any]:
    """Validates the upload by loading it, then stores it: its declaration and its Splits.

    Nothing is written when the file is refused."""
    from runtime.datasets.preparing import prepare
    from runtime.datasets.uploads import check_size
    filename = Path(filename.replace("\\", "/")).name or "upload"
    fmt = file_format(filename)
    check_size(data, filename)
    opts = read_options(fmt, options)
    raw = read_raw(bytes(data), fmt, filename, opts)
    sha = hashlib.sha256(data).hexdigest()
    upload_id = hashlib.sha256(json.dumps([sha, fmt, opts], sort_keys=True).encode()).hexdigest()[:16]
    name = PREFIX + upload_id
    splits = prepare(raw, name)               # refuses data too small to split before anything is kept
    kind = raw.layout
    manifest = {"id": upload_id, "filename": filename, "format": fmt, "sha256": sha, "bytes": len(data),
                "options": opts, "task": raw.task, "kind": kind, "sample_shape": list(splits.spec.input_shape),
                "class_names": list(raw.class_names), "output_size": splits.spec.output_size,
                "samples": len(raw) + (len(raw.test[1]) if raw.test else 0), "test_split": raw.test is not None,
                "saved": time.time()}
    root = folder()
    try:
        root.mkdir(parents=True, exist_ok=True)
        stored = root / f"{sha}.{fmt}"
        if not stored.exists():
            _write_atomically(stored, bytes(data))
        _write_atomically(root / f"{upload_id}.json", json.dumps(manifest, indent=1).encode())
    except OSError as exc:
        raise DatasetError(f"{filename} is fine, but it could not be kept in {root} ({exc.strerror or exc}): "
                           "free some disk space or set LAYERBOARD_HOME to a writable folder.") from None
    return _declaration(manifest), splits


def _manifest(name: str) -> dict[str, Any]:
    upload_id = name[len(PREFIX):]
    if not ID_PATTERN.match(upload_id):
        raise DatasetError(f"{name!r} is not an upload name: uploads are named 'upload:' and 16 hex digits.")
    path = folder() / f"{upload_id}.json"
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"The upload {name} is not in this data directory ({folder()}): upload the file "
                           "again in the app's Data & training panel, or set LAYERBOARD_HOME to the data "
                           "directory that holds it.") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"The upload {name}'s description {path} cannot be read ({exc}): upload the file "
                           "again.") from None
    if (not isinstance(m, dict) or m.get("format") not in READ_OPTIONS or not SHA_PATTERN.match(str(m.get("sha256")))
            or not isinstance(m.get("options"), dict)):
        raise DatasetError(f"The upload {name}'s description {path} is damaged: upload the file again.")
    return m


def _describe(m: dict[str, Any]) -> str:
    target = m["options"].get("target")
    what = f"target column '{target}', " if target else ""
    classes = f"{len(m['class_names'])} classes" if m["task"] == "classification" else m["task"]
    shape = m["sample_shape"]
    sample = (f"{shape[0]} features" if m["kind"] == "table" else
              f"samples of {' × '.join(map(str, shape))}")
    return f"Your upload {m['filename']}: {what}{classes}, {sample}."


def _file_size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} KB"


def _declaration(m: dict[str, Any]) -> Dataset:
    target = m["options"].get("target")
    title = f"{m['filename']} → {target}" if target else m["filename"]
    return Dataset(
        id=PREFIX + m["id"], title=title, task=m["task"], kind=m["kind"],
        sample_shape=tuple(int(v) for v in m["sample_shape"]), class_names=tuple(m["class_names"]),
        description=_describe(m), size=f"{m['samples']:,} samples, {_file_size(m['bytes'])}",
        source=f"uploaded file {m['filename']} (sha256 {m['sha256'][:12]}…), kept in {folder()}",
        licence="your own data: yours to say", credits="Your upload", loader="stored_uploads:read",
        output_size=None if m["task"] == "classification" else int(m["output_size"]),
        test_split=bool(m.get("test_split")))


def declaration(name: str) -> Dataset:
    """The upload's declaration, read from its description in the data directory."""
    m = _manifest(name)
    try:
        return _declaration(m)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DatasetError(f"The upload {name}'s description is damaged ({exc!r}): upload the file again.") from None


def stored() -> list[Dataset]:
    """Every upload in the data directory, oldest first; a damaged description is left out."""
    root = folder()
    found = []
    for path in root.glob("*.json") if root.is_dir() else []:
        if not ID_PATTERN.match(path.stem):
            continue
        try:
            found.append((path.stat().st_mtime, declaration(PREFIX + path.stem)))
        except (DatasetError, OSError):
            continue
    return [d for _, d in sorted(found, key=lambda pair: pair[0])]


def delete(name: str) -> None:
    """Removes the upload from the data directory: its description, and its file unless another upload
    (the same file read with other options) still reads it. A damaged description goes too."""
    upload_id = name[len(PREFIX):] if is_upload(name) else ""
    if not ID_PATTERN.match(upload_id):
        raise DatasetError(f"{name!r} is not an upload name: uploads are named 'upload:' and 16 hex digits.")
    root = folder()
    description = root / f"{upload_id}.json"
    try:
        m = _manifest(name)
    except DatasetError:
        if not description.exists():
            raise
        m = None                                   # damaged: nothing tells which file it read
    try:
        description.unlink(missing_ok=True)
        if m is not None and not any(_sha_of(p) == m["sha256"] for p in root.glob("*.json") if ID_PATTERN.match(p.stem)):
            (root / f"{m['sha256']}.{m['format']}").unlink(missing_ok=True)
    except OSError as exc:
        raise DatasetError(f"The upload {name} could not be removed from {root} ({exc}).") from None


def _sha_of(description: Path) -> str | None:
    """The file an upload's description reads; None for a damaged one (it cannot load anything)."""
    try:
        m = json.loads(description.read_text())
    except (OSError, ValueError):
        return None
    return m.get("sha256") if isinstance(m, dict) else None


def read(name: str) -> Any:
    """The stored file parsed again with its options (RawData); its bytes must still match their hash."""
    m = _manifest(name)
    path = folder() / f"{m['sha256']}.{m['format']}"
    try:
        data = path.read_bytes()
    except OSError:
        raise DatasetError(f"The upload {name}'s file {path} is missing: upload {m['filename']} again.") from None
    if hashlib.sha256(data).hexdigest() != m["sha256"]:
        raise DatasetError(f"The upload {name}'s file {path} changed since it was uploaded: upload "
                           f"{m['filename']} again.")
    return read_raw(data, m["format"], m["filename"], read_options(m["format"], m["options"]))
