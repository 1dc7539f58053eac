"""Any nn.Module -> one self-contained ONNX model (no side .onnx.data file), batch axis dynamic.

The exporter is chosen explicitly, from measurements on this machine (docs/onnx.md): the
TorchScript exporter handles every catalog layer (MLP, CNN, RNN, LSTM, GRU, and the catalog's
attention, written with plain reshapes for it) with a dynamic batch and sequence length in
0.01-0.2 s, but bakes the batch size into nn.MultiheadAttention's reshapes; the dynamo exporter
(torch.export) keeps those dynamic in 1-3 s, but fixes nn.RNN's sequence length and takes 4-8 s on
LSTM/GRU. So: dynamo for modules holding nn.MultiheadAttention itself, TorchScript for all others.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import warnings
from typing import Any, Callable

import onnx
import torch
from torch import nn

from runtime.onnx.errors import ExportFailed

OPSET = 18            # LayerNormalization needs 17; 18 is the newest both exporters write well
EXPORTERS = ("torchscript", "dynamo")
INPUT_NAME = "input"
OUTPUT_NAME = "output"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def choose_exporter(module: nn.Module) -> str:
    """'dynamo' when the module holds nn.MultiheadAttention (TorchScript would fix the batch size; the
    catalog's own attention does not), else 'torchscript'."""
    if any(isinstance(m, nn.MultiheadAttention) for m in module.modules()):
        return "dynamo"
    return "torchscript"


def _other_length(sample: torch.Tensor) -> torch.Tensor:
    """`sample` one step shorter, or twice as long where it has a single step."""
    return sample[:, :-1] if sample.shape[1] > 1 else torch.cat([sample, sample], dim=1)


def sequence_axis_varies(module: nn.Module, sample: torch.Tensor) -> bool:
    """True when the module also runs on a sequence of another length than `sample`'s."""
    if sample.dim() < 2:
        return False
    try:
        with torch.no_grad():
            module(_other_length(sample))
    except Exception:   # a fixed-length layer (Flatten -> Linear, max_len) refuses: the axis stays fixed
        return False
    return True


def _output_axes(module: nn.Module, sample: torch.Tensor, sequence: bool) -> dict[int, str]:
    """Output axes named like the input's: 0 is the batch, and those that follow the sequence length."""
    axes = {0: "batch"}
    if sequence:
        with torch.no_grad():
            full, other = module(sample), module(_other_length(sample))
        axes.update({d: "sequence" for d in range(1, full.dim()) if full.shape[d] != other.shape[d]})
    return axes


def _torchscript(module: nn.Module, args: tuple, opset: int, dynamic: dict | None) -> onnx.ModelProto:
    buffer = io.BytesIO()
    names = [f"{INPUT_NAME}{i or ''}" for i in range(len(args))]
    torch.onnx.export(module, args, buffer, dynamo=False, opset_version=opset,
                      input_names=names, output_names=[OUTPUT_NAME],
                      dynamic_axes=None if dynamic is None else
                      {INPUT_NAME: dynamic["input"], OUTPUT_NAME: dynamic["output"]})
    return onnx.load_model_from_string(buffer.getvalue())


def _dynamo(module: nn.Module, args: tuple, opset: int, dynamic: dict | None) -> onnx.ModelProto:
    # Dim.AUTO lets torch.export find each axis's range itself; a named Dim without the right
    # bounds (PositionalEncoding's max_len) fails first and is retried relaxed, 3x slower.
    # torch.export first, non-strict (Python runs as is): torch.onnx.export on the module would try
    # strict tracing first, which takes seconds longer here.
    shapes = None if dynamic is None else ({d: torch.export.Dim.AUTO for d in dynamic["input"]},)
    names = [f"{INPUT_NAME}{i or ''}" for i in range(len(args))]
    exported = torch.export.export(module, args, dynamic_shapes=shapes, strict=False)
    program = torch.onnx.export(exported, args, None, dynamo=True, external_data=False, opset_version=opset,
                                input_names=names, output_names=[OUTPUT_NAME], verbose=False)
    model = program.model_proto
    if dynamic is not None:
        _name_axes(model, dynamic)
    return model


def _name_axes(model: onnx.ModelProto, dynamic: dict) -> None:
    """Gives the symbolic sizes torch.export chose ("s0", "s27") the names the input declares."""
    renames: dict[str, str] = {}
    for value, axes in ((model.graph.input[0], dynamic["input"]), (model.graph.output[0], dynamic["output"])):
        dims = value.type.tensor_type.shape.dim
        for axis, name in axes.items():
            if axis < len(dims) and dims[axis].dim_param:
                renames.setdefault(dims[axis].dim_param, name)
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in renames:
                dim.dim_param = renames[dim.dim_param]


_RUN: dict[str, Callable[[nn.Module, tuple, int, dict | None], onnx.ModelProto]] = {
    "torchscript": _torchscript, "dynamo": _dynamo}


_CHATTY_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "onnxscript")


@contextlib.contextmanager
def _quiet():
    """The exporters warn and log at length about tracing details that are not the user's business
    ("torchvision is not installed", "Skipping constant folding"); failures still raise."""
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_module(module: nn.Module, sample: torch.Tensor, *, exporter: str | None = None,
                  opset: int = OPSET, sequence: bool = False,
                  metadata: dict[str, Any] | None = None) -> onnx.ModelProto:
    """The ONNX model of `module` in eval mode, traced on `sample` (a batch, ideally of 2 or more).

    `sequence`: axis 1 of the input is a sequence length, kept dynamic where the module allows it.
    Raises ExportFailed naming the child module (the canvas node) that cannot be exported.
    """
    exporter = exporter or choose_exporter(module)
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, not {exporter!r}")
    was_training = module.training
    module.eval()
    try:
        sequence = sequence and sequence_axis_varies(module, sample)
        input_axes = {0: "batch", **({1: "sequence"} if sequence else {})}
        dynamic = {"input": input_axes, "output": _output_axes(module, sample, sequence)}
        try:
            with _quiet():
                model = _RUN[exporter](module, (sample,), opset, dynamic)
        except Exception as error:
            raise blame(module, sample, exporter, opset, error) from None
    finally:
        module.train(was_training)
    model.producer_name = "Layerboard"
    set_metadata(model, {"exporter": exporter, "dynamic_axes": json.dumps(input_axes), **(metadata or {})})
    return model


def set_metadata(model: onnx.ModelProto, values: dict[str, Any]) -> None:
    """Writes `values` into metadata_props: strings as they are, anything else as JSON."""
    kept = {p.key: p.value for p in model.metadata_props if p.key not in values}
    del model.metadata_props[:]
    for key, value in {**kept, **values}.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def reason_of(error: BaseException) -> str:
    """The root cause's first line, without colour codes: what a user can search for."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = [line.strip() for line in _ANSI.sub("", str(error)).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text[:300]


def _layers(module: nn.Module, prefix: str = "") -> list[tuple[str, str, nn.Module]]:
    """(node id, node type, module) of each layer, looking through plain containers and wrappers
    around a graph module (whose `node_ids`/`node_types` give the canvas names)."""
    ids: dict[str, str] = dict(getattr(module, "node_ids", {}) or {})
    types: dict[str, str] = dict(getattr(module, "node_types", {}) or {})
    out = []
    for name, child in module.named_children():
        if isinstance(child, (nn.ModuleDict, nn.ModuleList, nn.Sequential)) or hasattr(child, "node_ids"):
            out.extend(_layers(child, f"{prefix}{name}."))
        else:
            out.append((ids.get(name, f"{prefix}{name}"), types.get(name, type(child).__name__), child))
    return out


def _inputs_per_child(module: nn.Module, sample: torch.Tensor) -> dict[str, tuple[str, nn.Module, tuple]]:
    """Each layer (by node id) with its type and the arguments it receives on `sample`, in running order."""
    seen: dict[str, tuple[str, nn.Module, tuple]] = {}

    def record(node_id: str, node_type: str) -> Callable:
        def hook(child: nn.Module, args: tuple) -> None:
            seen.setdefault(node_id, (node_type, child, args))
        return hook

    hooks = [child.register_forward_pre_hook(record(node_id, node_type))
             for node_id, node_type, child in _layers(module)]
    try:
        with torch.no_grad():
            module(sample)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def blame(module: nn.Module, sample: torch.Tensor, exporter: str, opset: int,
          error: BaseException) -> ExportFailed:
    """Exports each layer alone on the inputs it receives; the first that fails is the one to name."""
    reason = reason_of(error)
    for node_id, (node_type, child, args) in _inputs_per_child(module, sample).items():
        try:
            with _quiet():
                _RUN[exporter](child, args, opset, None)
        except Exception as child_error:
            why = reason_of(child_error)
            other = "dynamo" if exporter == "torchscript" else "torchscript"
            return ExportFailed(
                f"Node {node_id!r} ({node_type}) cannot be exported to ONNX ({exporter} exporter, opset "
                f"{opset}): {why}. Replace it with another layer type, or try the {other} exporter.",
                node_id=node_id, node_type=node_type, reason=why)
    return ExportFailed(f"The model cannot be exported to ONNX ({exporter} exporter, opset {opset}): {reason}. "
                        f"Every layer exports on its own, so the way they are connected is the problem.",
                        reason=reason)
