"""An .onnx file -> an editable project graph and its weights, or a clear refusal.

1. Fix the input shape (batch included) and infer every tensor's static shape.
2. Fold what does not depend on the data (initializers, Constant, Shape arithmetic) into values.
3. Fuse the multi-node forms exporters write for one layer (patterns.py).
4. Translate each remaining node into a catalog layer (operators.py); collect every operator that
   cannot be one. Any such operator refuses the whole import: nothing half-imports.
5. Compile the graph, load the weights, and compare it with onnxruntime on the same inputs: an
   import that does not reproduce the file within 1e-4 is refused too.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnx.version_converter
import torch
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from runtime.compiler import compile
from runtime.graph import Edge, Graph, Node, Project
from runtime.layout import layout
from runtime.onnx.errors import UnsupportedModel
from runtime.onnx.files import read_model, read_uploaded_model
from runtime.onnx.operators import PASS_THROUGH, TRANSLATIONS, Tensors, Translation, Unmappable, attrs
from runtime.onnx.patterns import fuse
from runtime.onnx.verify import TOLERANCE, difference, session

_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int64"}
PROBE_BATCH = 2
# The import computes every tensor once on a probe batch: a file whose tensors would be larger (a constant
# of 50000x50000 from 129 bytes, a declared 60000x60000 input) is refused before anything is allocated.
# A 1 GiB file holds at most this many float32 weights, so no honest layer of an importable file exceeds it.
MAX_TENSOR_VALUES = 1 << 28


@dataclass
class ImportedModel:
    project: Project
    weights: dict[str, torch.Tensor]      # state_dict of the compiled graph's module
    max_abs_diff: float                   # imported graph vs onnxruntime on the same inputs
    max_rel_diff: float


def import_onnx(path: str | Path, input_shape: list[int] | None = None,
                inputs: np.ndarray | None = None) -> ImportedModel:
    """Reads `path` safely and imports it; see `import_model`."""
    path = Path(path)
    return import_model(read_model(path), path.stem, input_shape, inputs)


def import_upload(data: bytes, name: str, input_shape: list[int] | None = None) -> ImportedModel:
    """An uploaded .onnx (bytes, as the app receives it); see `import_model`."""
    return import_model(read_uploaded_model(data, name), Path(name).stem, input_shape)


def import_model(model: onnx.ModelProto, name: str = "Imported model", input_shape: list[int] | None = None,
                 inputs: np.ndarray | None = None) -> ImportedModel:
    """The model as a project; `input_shape` (one sample) where the file leaves non-batch sizes open,
    `inputs` (a batch) to compare on instead of generated samples. UnsupportedModel says what does not map."""
    metadata = {p.key: p.value for p in model.metadata_props}
    graph_input, output_name = _endpoints(model)
    dtype = _DTYPES.get(graph_input.type.tensor_type.elem_type)
    if dtype is None:
        raise UnsupportedModel(f"The model's input {graph_input.name!r} has element type "
                               f"{onnx.TensorProto.DataType.Name(graph_input.type.tensor_type.elem_type)}; "
                               "the editor's Input takes float32 numbers or int64 token ids.")
    full_shape = _input_shape(graph_input, input_shape, metadata, inputs)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    tensors = Tensors(*_fold(model, graph_input.name, full_shape), opset, full_shape[0])
    nodes = fuse(_live([n for n in model.graph.node if not all(o in tensors.consts for o in n.output if o)],
                       output_name), tensors)
    translations, aliases = _translate(nodes, tensors)
    project = _project(metadata.get("project", model.graph.name or name), graph_input.name, full_shape[1:], dtype,
                       output_name, translations, aliases, metadata)
    weights = _weights(project, translations)
    int32 = graph_input.type.tensor_type.elem_type == onnx.TensorProto.INT32
    abs_diff, rel_diff = _compare(model, project, weights, full_shape, dtype, inputs, int32)
    return ImportedModel(project, weights, abs_diff, rel_diff)


def _endpoints(model: onnx.ModelProto) -> tuple[onnx.ValueInfoProto, str]:
    stored = {t.name for t in model.graph.initializer}
    data_inputs = [i for i in model.graph.input if i.name not in stored]
    if len(data_inputs) != 1 or len(model.graph.output) != 1:
        raise UnsupportedModel(f"The model has {len(data_inputs)} inputs and {len(model.graph.output)} outputs; "
                               "a project has exactly one Input and one Output.")
    return data_inputs[0], model.graph.output[0].name


def _input_shape(graph_input, given, metadata, inputs) -> tuple[int, ...]:
    """(batch, *sample): the file's sizes, open ones from `given`, the file's metadata or `inputs`."""
    dims = graph_input.type.tensor_type.shape.dim
    if not dims:
        raise UnsupportedModel(f"The model's input {graph_input.name!r} has no declared rank.")
    if len(dims) < 2:
        raise UnsupportedModel(f"The model's input {graph_input.name!r} has only a batch axis; a project's Input "
                               "takes samples of at least one value each.")
    sample = [d.dim_value if d.HasField("dim_value") else None for d in dims[1:]]
    if None in sample:
        fallback = given or _metadata_shape(metadata) or (list(inputs.shape[1:]) if inputs is not None else None)
        if fallback is None or len(fallback) != len(sample):
            raise UnsupportedModel(
                f"The model's input {graph_input.name!r} leaves sizes open (one sample is "
                f"[{', '.join(str(d or '?') for d in sample)}]): "
                "give one sample's shape, e.g. 50 for 50 steps (`--input-shape 50` on the command line, "
                "the Sample shape field beside the app's ONNX upload).")
        sample = [s if s is not None else int(f) for s, f in zip(sample, fallback)]
    batch = dims[0].dim_value if dims[0].HasField("dim_value") else PROBE_BATCH
    if inputs is not None:
        batch = inputs.shape[0]
    return (batch, *sample)


def _metadata_shape(metadata: dict[str, str]) -> list[int] | None:
    """The sample shape this app's exporter writes into the file's metadata; None when it is absent or is
    not a list of positive whole sizes (the file is someone else's to write)."""
    try:
        shape = json.loads(metadata.get("input_shape", "null"))
    except ValueError:
        return None
    if isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape):
        return shape
    return None


def _fold(model: onnx.ModelProto, input_name: str, full_shape: tuple[int, ...]):
    """Constant values (initializers, Constant, shape arithmetic) and static shapes of all tensors.
    Shape inference cannot see through some size arithmetic (the Div and Mod of a reshape to
    (heads, -1)); folding it into values and inferring again reveals those shapes."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    dims = next(i for i in fixed.graph.input if i.name == input_name).type.tensor_type.shape.dim
    for d, size in zip(dims, full_shape):
        d.Clear()
        d.dim_value = size
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    opsets = {o.domain or "": o.version for o in model.opset_import}
    outputs = {o for n in model.graph.node for o in n.output if o}
    for _ in range(_FOLD_PASSES):
        shapes = _inferred_shapes(fixed)
        _refuse_huge(shapes, consts.keys(), full_shape[0])
        shapes.update({k: v.shape for k, v in consts.items()})
        folded = _fold_nodes(model.graph.node, consts, shapes, opsets)
        if not folded or outputs <= shapes.keys():
            break
        _bake(fixed, consts)
    return consts, shapes


_FOLD_PASSES = 4   # each pass folds one more level of size arithmetic; exporters write one or two


def _refuse_huge(shapes: dict[str, tuple[int, ...]], stored, batch: int) -> None:
    """UnsupportedModel when a tensor the model computes would hold more than MAX_TENSOR_VALUES values."""
    for name, shape in shapes.items():
        if name not in stored and math.prod(shape) > MAX_TENSOR_VALUES:
            raise UnsupportedModel(f"The model's tensor {name!r} would hold {math.prod(shape):,} values "
                                   f"({list(shape)}, at batch size {batch}); at most {MAX_TENSOR_VALUES:,} are "
                                   "computed here. Nothing was imported.")


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {}
    for info in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = info.type.tensor_type.shape.dim
        if info.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = tuple(d.dim_value for d in dims)
    return shapes


def _fold_nodes(nodes, consts: dict, shapes: dict, opsets: dict) -> int:
    """Evaluates each node whose inputs are all known values (or that asks for a known shape) into
    `consts`; returns how many new values it found."""
    found = 0
    for node in nodes:
        ins = [i for i in node.input if i]
        if node.output[0] in consts:
            continue
        if node.op_type == "Shape" and ins[0] in shapes:
            a = attrs(node)
            values = [np.array(shapes[ins[0]], dtype=np.int64)[a.get("start", 0):a.get("end", None)]]
        elif all(i in consts for i in ins) and node.domain in ("", "ai.onnx") and \
                node.op_type not in ("RandomNormal", "RandomUniform"):
            values = ReferenceEvaluator(node, opsets=opsets).run(None, {i: consts[i] for i in ins})
        else:
            continue
        for name, value in zip(node.output, values):
            consts[name] = np.asarray(value)
            shapes[name] = consts[name].shape
        found += 1
    return found


def _bake(model: onnx.ModelProto, consts: dict) -> None:
    """Replaces the nodes folded into values by initializers, so shape inference sees the values."""
    kept = [n for n in model.graph.node if not all(o in consts for o in n.output if o)]
    stored = {t.name for t in model.graph.initializer}
    needed = {i for n in kept for i in n.input if i in consts and i not in stored}
    del model.graph.node[:]
    model.graph.node.extend(kept)
    model.graph.initializer.extend(numpy_helper.from_array(consts[name], name) for name in sorted(needed))


def _live(nodes: list[onnx.NodeProto], output_name: str) -> list[onnx.NodeProto]:
    """The nodes the output depends on (exporters leave unused ones behind, e.g. a transpose
    that scaled_dot_product_attention redoes itself), in their order."""
    producer = {o: n for n in nodes for o in n.output if o}
    needed, todo = set(), [output_name]
    while todo:
        node = producer.get(todo.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            todo.extend(node.input)
    return [n for n in nodes if id(n) in needed]


def _translate(nodes, t: Tensors) -> tuple[list[tuple[onnx.NodeProto, Translation]], dict[str, str]]:
    """Each node's layer; UnsupportedModel with every operator that has none, counted."""
    unknown, unfit = Counter(), Counter()
    translations, aliases = [], {}
    for node in nodes:
        if node.op_type in PASS_THROUGH:
            aliases[node.output[0]] = node.input[0]
            continue
        translate = TRANSLATIONS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if translate is None:
            unknown[node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"] += 1
            continue
        try:
            translations.append((node, translate(node, t)))
        except Unmappable as why:
            unfit[f"{node.op_type} ({why})"] += 1
    if unknown or unfit:
        parts = []
        if unknown:
            parts.append("operators the layer catalog has no layer for: " +
                         ", ".join(f"{op} x{count}" for op, count in unknown.most_common()))
        if unfit:
            parts.append("operators used in a way the catalog's layers cannot express: " +
                         "; ".join(f"{what} x{count}" for what, count in unfit.most_common()))
        raise UnsupportedModel("This model cannot be imported for editing; " + ". Also ".join(parts) +
                               ". Nothing was imported. Export the network without these operations, or "
                               "rebuild those parts from the palette.", dict(unknown + unfit))
    return translations, aliases


def _project(name, input_name, sample_shape, dtype, output_name, translations, aliases, metadata) -> Project:
    graph = Graph([Node("input", "Input", {"shape": list(sample_shape), "dtype": dtype})], [])
    producer = {input_name: "input"}

    def source(tensor: str) -> str:
        while tensor in aliases:
            tensor = aliases[tensor]
        if tensor not in producer:
            raise UnsupportedModel(f"Tensor {tensor!r} is computed by operations that were folded away or "
                                   "never produced; the model's data flow cannot be drawn as a graph.")
        return producer[tensor]

    for node, translation in translations:
        node_id = graph.new_id(translation.type.lower())
        translation.node_id = node_id
        graph.nodes.append(Node(node_id, translation.type, translation.params))
        for port, tensor in enumerate(translation.inputs):
            graph.edges.append(Edge(source(tensor), node_id, port if len(translation.inputs) > 1 else None))
        producer[node.output[0]] = node_id
    graph.nodes.append(Node("output", "Output", {}))
    graph.edges.append(Edge(source(output_name), "output"))
    positions = layout(graph)
    for node in graph.nodes:
        node.position = positions[node.id]
    dataset = {"name": metadata["dataset"]} if metadata.get("dataset") else {}
    return Project(str(name)[:200] or "Imported model", graph, dataset)


def _weights(project: Project, translations) -> dict[str, torch.Tensor]:
    compiled = compile(project.graph)
    if not compiled.ok:
        raise UnsupportedModel("The imported graph does not compile: " +
                               "; ".join(f"{i.node_id}: {i.message}" for i in compiled.errors[:3]))
    weights = {}
    for _, translation in translations:
        for key, value in translation.weights.items():
            array = np.array(value)
            tensor = torch.from_numpy(array.astype(np.float32) if array.dtype.kind == "f" else array.astype(np.int64))
            weights[f"{compiled.names[translation.node_id]}.{key}"] = tensor
    return weights


def _compare(model, project, weights, full_shape, dtype, inputs, int32) -> tuple[float, float]:
    """Imported graph vs onnxruntime on the same batch; UnsupportedModel when they differ beyond 1e-4."""
    module = compile(project.graph).build_module()
    own = module.state_dict()
    if set(own) != set(weights) or any(own[k].shape != weights[k].shape for k in own):
        raise UnsupportedModel("The imported weights do not fit the layers built from the file "
                               f"(expected {sorted(own)[:6]}, got {sorted(weights)[:6]}).")
    module.load_state_dict(weights)
    module.eval()
    if inputs is None:
        generator = torch.Generator().manual_seed(0)
        x = torch.randint(0, _vocab(weights), full_shape, generator=generator) if dtype == "int64" \
            else torch.randn(full_shape, generator=generator)
    else:
        x = torch.from_numpy(np.array(inputs)).to(torch.int64 if dtype == "int64" else torch.float32)
    runner = _runner(model)
    feed = x.numpy().astype(np.int32) if int32 else x.numpy()
    expected = runner.run(None, {runner.get_inputs()[0].name: feed})[0]
    with torch.no_grad():
        got = module(x).numpy()
    abs_diff, rel_diff = difference(got, expected)
    if abs_diff > TOLERANCE and rel_diff > TOLERANCE:
        raise UnsupportedModel(f"The imported graph does not reproduce the file: max abs diff {abs_diff:.3g}, max "
                               f"rel diff {rel_diff:.3g} against onnxruntime (tolerance {TOLERANCE:g}). "
                               "Nothing was imported.")
    return abs_diff, rel_diff


def _runner(model: onnx.ModelProto):
    """onnxruntime for the file; files older than opset 7 (which it no longer runs) are converted first."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    try:
        return session(onnx.version_converter.convert_version(model, 13) if opset < 7 else model)
    except Exception as error:   # onnxruntime refuses the file: no way to prove an import matches it
        raise UnsupportedModel(f"onnxruntime cannot load this file to compare the import with it: "
                               f"{runtime_reason(error)}. Nothing was imported.") from None


def runtime_reason(error: Exception) -> str:
    """onnxruntime's reason without its prefix and C++ location: '[ONNXRuntimeError] : 1 : FAIL : Load model
    from x failed:/src/model.cc:256 onnxruntime::Model::Model(...) Unsupported model IR version: 14, ...'
    -> 'Unsupported model IR version: 14, ...'."""
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    located = re.search(r"\.(?:cc|h):\d+ [\w:~<>]+\(.*?\) (.+)", line)
    reason = located.group(1) if located else re.sub(r"^\[ONNXRuntimeError\][^:]*:[^:]*:[^:]*: ", "", line)
    return reason.strip().rstrip(".")[:300]


def _vocab(weights: dict[str, torch.Tensor]) -> int:
    tables = [w.shape[0] for k, w in weights.items() if k.startswith("embedding") and k.endswith(".weight")]
    return min(tables) if tables else 2
