"""ONNX operators -> catalog layers: one translation per operator, plus the few multi-node patterns
exporters write for a single layer (MatMul+Add = Linear, the Erf form of GELU, SiLU, Mish).

A translation returns the layer type, its catalog parameters, its weights under PyTorch's
state_dict names, and the data inputs it reads; `Unmappable` says why an instance cannot be a layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
from onnx import helper

PASS_THROUGH = {"Identity"}     # eval-mode no-ops: the tensor keeps its producer


class Unmappable(Exception):
    """This operator instance has no catalog layer (attributes the catalog cannot express)."""


@dataclass
class Translation:
    type: str
    params: dict = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    node_id: str = ""                  # set when the importer places it on the canvas


class Tensors:
    """What the importer knows about the model's tensors: constant values and static shapes."""

    def __init__(self, consts: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]], opset: int,
                 batch: int):
        self.consts = consts
        self.shapes = shapes
        self.opset = opset
        self.batch = batch                                  # the batch size shapes were inferred at
        self.groups: dict[str, list[onnx.NodeProto]] = {}   # fused output -> the nodes it stands for

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name) if name else None

    def rank(self, name: str) -> int:
        if name not in self.shapes:
            raise Unmappable(f"the shape of {name!r} is unknown")
        return len(self.shapes[name])


def attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _data_inputs(node: onnx.NodeProto, t: Tensors) -> list[str]:
    return [i for i in node.input if i and i not in t.consts]


def _one(values, what: str) -> int:
    values = list(values)
    if len(set(values)) != 1:
        raise Unmappable(f"{what} differ per axis ({values}); the catalog's layers take one value")
    return int(values[0])


def _window(node: onnx.NodeProto, t: Tensors, kernel: tuple[int, ...]) -> dict:
    a = attrs(node)
    dims = len(kernel)
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        raise Unmappable(f"auto_pad {a['auto_pad'].decode()} is not supported")
    pads = a.get("pads", [0] * 2 * dims)
    return {"kernel_size": _one(kernel, "kernel sizes"), "stride": _one(a.get("strides", [1] * dims), "strides"),
            "padding": _one(pads, "paddings")}


def _spatial(node: onnx.NodeProto, t: Tensors, kinds: dict[int, str]) -> str:
    rank = t.rank(node.input[0])
    if rank not in kinds:
        raise Unmappable(f"{rank - 2}-D input; the catalog has {' and '.join(k for k in kinds.values())}")
    return kinds[rank]


def conv(node, t):
    a, weight = attrs(node), t.const(node.input[1])
    if weight is None:
        raise Unmappable("its weights are computed, not stored")
    kind = _spatial(node, t, {3: "Conv1d", 4: "Conv2d"})
    params = _window(node, t, tuple(weight.shape[2:]))
    params.update(out_channels=int(weight.shape[0]), groups=int(a.get("group", 1)),
                  dilation=_one(a.get("dilations", [1] * (weight.ndim - 2)), "dilations"))
    bias = t.const(node.input[2]) if len(node.input) > 2 else None
    params["bias"] = bias is not None
    weights = {"weight": weight, **({"bias": bias} if bias is not None else {})}
    return Translation(kind, params, weights, [node.input[0]])


def conv_transpose(node, t):
    a, weight = attrs(node), t.const(node.input[1])
    if weight is None or t.rank(node.input[0]) != 4:
        raise Unmappable("only 2-D with stored weights maps to ConvTranspose2d")
    if a.get("group", 1) != 1 or set(a.get("dilations", [1, 1])) != {1} or "output_shape" in a:
        raise Unmappable("groups, dilation or output_shape are not in the catalog's ConvTranspose2d")
    params = _window(node, t, tuple(weight.shape[2:]))
    params.update(out_channels=int(weight.shape[1]),
                  output_padding=_one(a.get("output_padding", [0, 0]), "output paddings"))
    bias = t.const(node.input[2]) if len(node.input) > 2 else None
    params["bias"] = bias is not None
    return Translation("ConvTranspose2d", params, {"weight": weight, **({"bias": bias} if bias is not None else {})},
                       [node.input[0]])


def max_pool(node, t):
    a = attrs(node)
    if a.get("ceil_mode", 0) or set(a.get("dilations", [1])) != {1} or len(node.output) > 1 and node.output[1]:
        raise Unmappable("ceil_mode, dilation or returned indices are not in the catalog's pooling")
    kind = _spatial(node, t, {3: "MaxPool1d", 4: "MaxPool2d"})
    return Translation(kind, _window(node, t, tuple(a["kernel_shape"])), {}, [node.input[0]])


def average_pool(node, t):
    a = attrs(node)
    params = _window(node, t, tuple(a["kernel_shape"]))
    if a.get("ceil_mode", 0) or (params["padding"] and not a.get("count_include_pad", 0)):
        raise Unmappable("ceil_mode, or padding left out of the average, is not in the catalog's AvgPool")
    return Translation(_spatial(node, t, {3: "AvgPool1d", 4: "AvgPool2d"}), params, {}, [node.input[0]])


def global_average_pool(node, t):
    kind = _spatial(node, t, {3: "AdaptiveAvgPool1d", 4: "AdaptiveAvgPool2d"})
    return Translation(kind, {"output_size": 1}, {}, [node.input[0]])


def gemm(node, t):
    a = attrs(node)
    weight, bias = t.const(node.input[1]), t.const(node.input[2]) if len(node.input) > 2 else None
    if weight is None or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        raise Unmappable("only x @ W^T + b with stored W (alpha = beta = 1) is a Linear")
    weight = weight if a.get("transB", 0) else weight.T
    return _linear(weight, bias, node.input[0])


def _linear(weight: np.ndarray, bias: np.ndarray | None, source: str) -> Translation:
    if bias is not None:
        if bias.size not in (1, weight.shape[0]):
            raise Unmappable(f"bias of shape {list(bias.shape)} does not match {weight.shape[0]} outputs")
        bias = np.broadcast_to(bias.reshape(-1), (weight.shape[0],)).copy()
    params = {"out_features": int(weight.shape[0]), "bias": bias is not None}
    weights = {"weight": np.ascontiguousarray(weight), **({"bias": bias} if bias is not None else {})}
    return Translation("Linear", params, weights, [source])


def fused_linear(node, t):   # MatMul(x, W) [+ b]
    weight = t.const(node.input[1])
    if weight is None:
        raise Unmappable("MatMul of two computed tensors is attention or a custom product, not a layer")
    if weight.ndim != 2 or node.input[0] in t.consts:
        raise Unmappable(f"a stored {weight.ndim}-D right factor; a Linear multiplies by one 2-D weight")
    return _linear(weight.T, t.const(node.input[2]) if len(node.input) > 2 else None, node.input[0])


def batch_norm(node, t):
    a = attrs(node)
    values = [t.const(n) for n in node.input[1:5]]
    if any(v is None for v in values) or len(node.output) > 1 and any(node.output[1:]):
        raise Unmappable("training-mode BatchNormalization (computed statistics) is not a stored layer")
    if not math.isclose(a.get("epsilon", 1e-5), 1e-5, rel_tol=1e-3):
        raise Unmappable(f"epsilon {a['epsilon']:g}; the catalog's BatchNorm uses 1e-05")
    kind = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d"}.get(t.rank(node.input[0]))
    if kind is None:
        raise Unmappable(f"{t.rank(node.input[0]) - 2}-D input; the catalog has BatchNorm1d and BatchNorm2d")
    scale, bias, mean, var = values
    return Translation(kind, {}, {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
                                  "num_batches_tracked": np.array(0, dtype=np.int64)}, [node.input[0]])


def layer_norm(node, t):
    a = attrs(node)
    rank = t.rank(node.input[0])
    if a.get("axis", -1) not in (-1, rank - 1) or not math.isclose(a.get("epsilon", 1e-5), 1e-5, rel_tol=1e-3):
        raise Unmappable("normalizing over more than the last axis, or an epsilon other than 1e-05")
    scale = t.const(node.input[1])
    bias = t.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros_like(scale)
    return Translation("LayerNorm", {"elementwise_affine": True}, {"weight": scale, "bias": bias}, [node.input[0]])


def group_norm(node, t):   # fused by patterns._fuse_group_norm
    a = attrs(node)
    if not math.isclose(a.get("epsilon", 1e-5), 1e-5, rel_tol=1e-3):
        raise Unmappable(f"epsilon {a['epsilon']:g}; the catalog's GroupNorm uses 1e-05")
    return Translation("GroupNorm", {"num_groups": int(a["num_groups"])},
                       {"weight": t.const(node.input[1]), "bias": t.const(node.input[2])}, [node.input[0]])


def embedding(node, t):   # Gather(table, ids)
    table = t.const(node.input[0])
    if table is None or table.ndim != 2 or attrs(node).get("axis", 0) != 0 or node.input[1] in t.consts:
        raise Unmappable("only a lookup of token ids in a stored table is an Embedding")
    return Translation("Embedding", {"num_embeddings": int(table.shape[0]), "embedding_dim": int(table.shape[1])},
                       {"weight": table}, [node.input[1]])


def flatten(node, t):
    if attrs(node).get("axis", 1) != 1:
        raise Unmappable("Flatten that merges the batch axis")
    return Translation("Flatten", {}, {}, [node.input[0]])


def reshape(node, t):
    target = t.const(node.input[1])
    source = t.shapes.get(node.input[0])
    if target is None or source is None:
        raise Unmappable("a target shape computed from data")
    target = [int(d) for d in target]
    if target[0] not in (0, -1, source[0]) or any(d in (0,) for d in target[1:]) or \
            (target[0] == -1 and -1 in target[1:]):
        raise Unmappable(f"reshape to {target} changes the batch axis")
    return Translation("Reshape", {"shape": target[1:]}, {}, [node.input[0]])


def transpose(node, t):
    perm = list(attrs(node).get("perm", []))
    if not perm or perm[0] != 0:
        raise Unmappable(f"transpose {perm} moves the batch axis")
    return Translation("Permute", {"dims": [p - 1 for p in perm[1:]]}, {}, [node.input[0]])


def _sample_axis(node, t, default: int) -> int:
    """The attribute `axis` as a negative axis: the same dimension with or without the batch."""
    rank = t.rank(node.input[0])
    axis = attrs(node).get("axis", default)
    return axis - rank if axis >= 0 else axis


def softmax(kind):
    def translate(node, t):
        rank = t.rank(node.input[0])
        axis = _sample_axis(node, t, -1 if t.opset >= 13 else 1)
        if t.opset < 13 and axis != -1:   # before opset 13 the axis flattened everything after it
            raise Unmappable(f"{kind} over axes {axis}.. of a rank-{rank} tensor (opset {t.opset})")
        if axis == -rank:
            raise Unmappable(f"{kind} over the batch axis (each sample's values would depend on the others)")
        return Translation(kind, {"dim": axis}, {}, [node.input[0]])
    return translate


def concat(node, t):
    if any(i in t.consts for i in node.input):
        raise Unmappable("Concat with a stored constant: the catalog's Concat joins computed branches")
    return Translation("Concat", {"dim": _sample_axis(node, t, 1)}, {}, _data_inputs(node, t))


def elementwise(kind):
    def translate(node, t):
        inputs = list(node.input)
        if any(i in t.consts for i in inputs):
            raise Unmappable(f"{node.op_type} with a stored constant is not a layer of its own")
        if len({t.shapes.get(i) for i in inputs}) != 1:
            raise Unmappable(f"{node.op_type} of differently shaped tensors (broadcasting)")
        return Translation(kind, {}, {}, inputs)
    return translate


def add(node, t):
    """Add of two computed tensors; or a stored (steps, width) table added to a sequence: positions."""
    stored = [i for i in node.input if i in t.consts]
    if len(stored) == 1 and len(node.input) == 2:
        table = t.consts[stored[0]]
        data = next(i for i in node.input if i not in t.consts)
        shape = t.shapes.get(data)
        if shape is None or len(shape) != 3 or table.shape != shape[1:]:
            raise Unmappable("Add with a stored constant that is not a (steps, width) position table")
        steps, width = table.shape
        if width % 2 == 0 and np.allclose(table, _sinusoids(steps, width), atol=1e-5):
            return Translation("PositionalEncoding", {"kind": "sinusoidal", "max_len": max(steps, 512)}, {}, [data])
        return Translation("PositionalEncoding", {"kind": "learned", "max_len": int(steps)},
                           {"pe": table.astype(np.float32)}, [data])
    return elementwise("Add")(node, t)


def _sinusoids(steps: int, width: int) -> np.ndarray:
    """PositionalEncoding's fixed table: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)."""
    position = np.arange(steps, dtype=np.float64)[:, None]
    freq = np.exp(np.arange(0, width, 2) * (-math.log(10000.0) / width))
    table = np.zeros((steps, width))
    table[:, 0::2], table[:, 1::2] = np.sin(position * freq), np.cos(position * freq)
    return table


def clip(node, t):
    a = attrs(node)
    low = a.get("min", t.const(node.input[1]) if len(node.input) > 1 else None)
    high = a.get("max", t.const(node.input[2]) if len(node.input) > 2 else None)
    if low is None or high is None or float(low) != 0.0 or float(high) != 6.0:
        raise Unmappable("only Clip(0, 6) is a layer (ReLU6)")
    return Translation("ReLU6", {}, {}, [node.input[0]])


def reduce_mean(node, t):
    a = attrs(node)
    axes = a.get("axes", list(t.const(node.input[1])) if len(node.input) > 1 and node.input[1] else None)
    if t.rank(node.input[0]) != 3 or axes is None or [int(x) for x in axes] not in ([1], [-2]) or \
            a.get("keepdims", 1):
        raise Unmappable("only the mean over a sequence's steps (SequencePool) is a layer")
    return Translation("SequencePool", {"mode": "mean"}, {}, [node.input[0]])


def dropout(node, t):
    ratio = attrs(node).get("ratio", t.const(node.input[1]) if len(node.input) > 1 else None)
    p = float(ratio) if ratio is not None else 0.5
    return Translation("Dropout", {"p": round(min(max(p, 0.0), 0.99), 6)}, {}, [node.input[0]])


def activation(kind, params: Callable[[dict], dict] = lambda a: {}):
    def translate(node, t):
        return Translation(kind, params(attrs(node)), {}, [node.input[0]])
    return translate


def _leaky(a):
    slope = float(a.get("alpha", 0.01))
    if not 0 <= slope <= 1:
        raise Unmappable(f"negative slope {slope:g} outside [0, 1]")
    return {"negative_slope": slope}


def _elu(a):
    alpha = float(a.get("alpha", 1.0))
    if not 0 <= alpha <= 10:
        raise Unmappable(f"alpha {alpha:g} outside [0, 10]")
    return {"alpha": alpha}


TRANSLATIONS: dict[str, Callable[[onnx.NodeProto, Tensors], Translation]] = {
    "Conv": conv, "ConvTranspose": conv_transpose, "MaxPool": max_pool, "AveragePool": average_pool,
    "GlobalAveragePool": global_average_pool, "Gemm": gemm, "MatMul": fused_linear, "Linear": fused_linear,
    "BatchNormalization": batch_norm, "GroupNorm": group_norm, "LayerNormalization": layer_norm, "Gather": embedding,
    "Flatten": flatten, "Reshape": reshape, "Transpose": transpose,
    "Softmax": softmax("Softmax"), "LogSoftmax": softmax("LogSoftmax"), "Concat": concat,
    "Add": add, "Mul": elementwise("Multiply"), "Clip": clip, "ReduceMean": reduce_mean,
    "Dropout": dropout, "Relu": activation("ReLU"), "LeakyRelu": activation("LeakyReLU", _leaky),
    "Elu": activation("ELU", _elu), "Sigmoid": activation("Sigmoid"), "Tanh": activation("Tanh"),
    "Softplus": activation("Softplus"), "HardSwish": activation("Hardswish"),
    "Mish": activation("Mish"), "Silu": activation("SiLU"),
    "Gelu": activation("GELU", lambda a: {"approximate": a.get("approximate", b"none").decode()}),
}


# ONNX gate blocks in PyTorch's order: LSTM i,o,f,c -> i,f,c,o; GRU z,r,h -> r,z,n; RNN has one.
_GATE_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}


def _gates(kind: str, w: np.ndarray) -> np.ndarray:
    blocks = np.split(w, len(_GATE_ORDER[kind]), axis=0)
    return np.concatenate([blocks[i] for i in _GATE_ORDER[kind]], axis=0)


def recurrent(node, t):
    """A fused stack of ONNX RNN/LSTM/GRU nodes (see patterns._fuse_recurrent) -> one catalog layer."""
    layers = t.groups[node.output[0]]
    kind = layers[0].op_type
    a = attrs(node)
    hidden = attrs(layers[0])["hidden_size"]
    directions = set()
    weights = {}
    for k, layer in enumerate(layers):
        la = attrs(layer)
        direction = la.get("direction", b"forward").decode()
        directions.add(direction)
        if direction == "reverse" or la.get("hidden_size") != hidden or la.get("layout", 0) or "clip" in la or \
                la.get("input_forget", 0):
            raise Unmappable("reverse-only direction, clipping, peepholes or mixed sizes are not in the catalog")
        if kind == "GRU" and la.get("linear_before_reset", 0) != 1:
            raise Unmappable("GRU with linear_before_reset=0 computes differently from PyTorch's GRU")
        default = {"RNN": [b"Tanh"], "LSTM": [b"Sigmoid", b"Tanh", b"Tanh"], "GRU": [b"Sigmoid", b"Tanh"]}[kind]
        if [x.capitalize() for x in la.get("activations", default)] not in (default, default * 2):
            raise Unmappable(f"activations {la['activations']} differ from PyTorch's {kind}")
        ins = list(layer.input) + [""] * 8
        w, r, b = t.const(ins[1]), t.const(ins[2]), t.const(ins[3])
        states = [t.const(i) if i else np.zeros(1) for i in ins[5:7 if kind == "LSTM" else 6]]
        if w is None or r is None or ins[4] or ins[7] or any(s is None or np.any(s) for s in states):
            raise Unmappable("computed weights, sequence lengths, peepholes or a non-zero initial state")
        if b is None:
            b = np.zeros((w.shape[0], 2 * w.shape[1]), dtype=w.dtype)
        for d in range(w.shape[0]):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            gates = w.shape[1]
            weights[f"weight_ih{suffix}"] = _gates(kind, w[d])
            weights[f"weight_hh{suffix}"] = _gates(kind, r[d])
            weights[f"bias_ih{suffix}"] = _gates(kind, b[d][:gates])
            weights[f"bias_hh{suffix}"] = _gates(kind, b[d][gates:])
    params = {"hidden_size": int(hidden), "output": a["output"].decode(), "num_layers": len(layers),
              "bidirectional": directions == {"bidirectional"}, "dropout": 0.0}
    if len(directions) > 1:
        raise Unmappable("layers with different directions")
    return Translation(kind, params, weights, [node.input[0]])


def attention(node, t):   # fused by patterns._fuse_attention: [X, (context,) weights...]
    a = attrs(node)
    sources = list(node.input[:a["sources"]])
    keys = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")
    weights = {k: t.consts[name] for k, name in zip(keys, node.input[len(sources):])}
    return Translation("MultiheadAttention", {"num_heads": int(a["num_heads"]), "causal": bool(a["causal"]),
                                              "dropout": 0.0, "bias": True}, weights, sources)


TRANSLATIONS["Recurrent"] = recurrent
TRANSLATIONS["Attention"] = attention
