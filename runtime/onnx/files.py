"""Reading an .onnx file someone else wrote: size checked first, parsed as protobuf data only, external
data allowed only inside the model's own folder. Nothing in the file is run here."""
from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx.external_data_helper import uses_external_data

from runtime.onnx.errors import OnnxFileError

MAX_ONNX_BYTES = 1 << 30        # 1 GiB: VGG-16 is 0.55 GB; larger files would not train here either


def _size_error(what: str, size: int) -> str:
    return (f"{what} is {size:,} bytes; at most {MAX_ONNX_BYTES:,} bytes are imported. "
            "Import a smaller model, or split it.")


def read_model(path: str | Path) -> onnx.ModelProto:
    """The parsed, checked model with its external data (if any) loaded; OnnxFileError says what is wrong."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise OnnxFileError(f"Cannot read {path}: {e.strerror}.") from None
    if size > MAX_ONNX_BYTES:
        raise OnnxFileError(_size_error(path.name, size))
    model = parse_model(path.read_bytes(), path.name)
    _load_external_data(model, path.parent.resolve(), path.name)
    _check(model, path.name)
    return model


def read_uploaded_model(data: bytes, name: str) -> onnx.ModelProto:
    """An uploaded file: one self-contained .onnx (an upload has no folder for external data)."""
    model = parse_model(data, name)
    if any(uses_external_data(t) for t in model.graph.initializer):
        raise OnnxFileError(f"{name} keeps its weights in a separate data file, which an upload cannot bring "
                            "along: save the model as one file (onnx.save(model, path, save_as_external_data="
                            "False)) or import it from disk with `python -m runtime import`.")
    _check(model, name)
    return model


def _check(model: onnx.ModelProto, name: str) -> None:
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise OnnxFileError(f"{name} is not a valid ONNX model: {str(e).strip().splitlines()[0][:300]}") from None


def parse_model(data: bytes, name: str = "the file") -> onnx.ModelProto:
    """Protobuf parsing only: a corrupt or foreign file is a clear error, never a crash."""
    if len(data) > MAX_ONNX_BYTES:
        raise OnnxFileError(_size_error(name, len(data)))
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise OnnxFileError(f"{name} is not an ONNX model (it cannot be parsed: {e}). "
                            "Check that the download finished and that it is a .onnx file.") from None
    if not model.graph.node or not model.ir_version:
        raise OnnxFileError(f"{name} holds no ONNX graph: it is empty or not an ONNX model.")
    return model


def _load_external_data(model: onnx.ModelProto, folder: Path, name: str) -> None:
    """Checks every external-data location before anything is read: relative, inside `folder`, not too big."""
    external = [t for t in model.graph.initializer if uses_external_data(t)]
    if not external:
        return
    total = 0
    for tensor in external:
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        target = (folder / location).resolve()
        if not location or os.path.isabs(location) or not target.is_relative_to(folder):
            raise OnnxFileError(f"{name}: the weights of {tensor.name!r} point to {location!r}, outside the "
                                f"model's folder. Only data files next to the model are read; move the data "
                                "file next to it and re-save the model with a relative location.")
        if not target.is_file():
            raise OnnxFileError(f"{name}: the weights of {tensor.name!r} are in {location!r}, which is missing "
                                "next to the model. Put that file in the same folder.")
        total += int(info.get("length", 0)) or target.stat().st_size
        if total > MAX_ONNX_BYTES:
            raise OnnxFileError(_size_error(f"{name} with its external data", total))
    onnx.external_data_helper.load_external_data_for_model(model, str(folder))
