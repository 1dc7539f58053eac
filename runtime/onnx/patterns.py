"""The multi-node forms exporters write for a single layer, each rewritten into one node that
operators.py translates: MatMul + Add (Linear), the Erf form of GELU, SiLU, Mish, PyTorch's
RNN/LSTM/GRU stacks and its GroupNorm. Runs after constant folding, so constants are known values."""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper

from runtime.onnx.operators import Tensors, attrs


def _scalar(t: Tensors, name: str) -> float | None:
    value = t.const(name)
    return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None


def fuse(nodes: list[onnx.NodeProto], t: Tensors) -> list[onnx.NodeProto]:
    """Rewrites the multi-node forms of Linear, GELU, SiLU and Mish into one node each."""
    producer = {o: n for n in nodes for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def only(name, op):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    def other(node, name):
        rest = [i for i in node.input if i != name]
        return rest[0] if len(rest) == 1 else (name if list(node.input) == [name, name] else None)

    replaced, fused = set(), {}
    for n in nodes:
        if n.op_type in ("RNN", "LSTM", "GRU") and id(n) not in replaced:
            _fuse_recurrent(n, producer, only, other, t, replaced, fused)
        elif n.op_type == "MatMul" and n.input[1] in t.consts and (add := only(n.output[0], "Add")):
            bias = other(add, n.output[0])
            if bias in t.consts:
                fused[id(n)] = helper.make_node("Linear", [n.input[0], n.input[1], bias], [add.output[0]], n.name)
                replaced.add(id(add))
        elif n.op_type == "InstanceNormalization":
            _fuse_group_norm(n, producer, only, other, t, replaced, fused)
        elif n.op_type == "Sigmoid" and (mul := only(n.output[0], "Mul")) and other(mul, n.output[0]) == n.input[0]:
            fused[id(n)] = helper.make_node("Silu", [n.input[0]], [mul.output[0]], n.name)
            replaced.add(id(mul))
        elif n.op_type == "Softplus" and (tanh := only(n.output[0], "Tanh")) and \
                (mul := only(tanh.output[0], "Mul")) and other(mul, tanh.output[0]) == n.input[0]:
            fused[id(n)] = helper.make_node("Mish", [n.input[0]], [mul.output[0]], n.name)
            replaced.update({id(tanh), id(mul)})
        elif n.op_type == "Erf" and (div := producer.get(n.input[0])) is not None and div.op_type == "Div" and \
                math.isclose(_scalar(t, div.input[1]) or 0, math.sqrt(2), rel_tol=1e-4) and \
                (add := only(n.output[0], "Add")) and _scalar(t, other(add, n.output[0]) or "") == 1.0 and \
                (mul := only(add.output[0], "Mul")) and other(mul, add.output[0]) == div.input[0] and \
                (half := only(mul.output[0], "Mul")) and _scalar(t, other(half, mul.output[0]) or "") == 0.5:
            fused[id(div)] = helper.make_node("Gelu", [div.input[0]], [half.output[0]], div.name)
            replaced.update({id(n), id(add), id(mul), id(half)})
    return [fused.get(id(n), n) for n in nodes if id(n) not in replaced]


def _perm(node: onnx.NodeProto | None, perm: list[int]) -> bool:
    return node is not None and node.op_type == "Transpose" and list(attrs(node).get("perm", [])) == perm


def _fuse_recurrent(first, producer, only, other, t: Tensors, replaced: set, fused: dict) -> None:
    """The PyTorch exporter's form of a batch-first nn.RNN/LSTM/GRU stack, as one "Recurrent" node:
    Transpose(1,0,2) -> layer (-> [Squeeze | Transpose(0,2,1,3) + Reshape] -> layer)* -> either
    the sequence [Squeeze | Transpose + Reshape] -> Transpose(1,0,2), or the last hidden state
    [Concat of the layers' Y_h] -> Slice -> Transpose(1,0,2) -> Reshape."""
    entry = producer.get(first.input[0])
    if not _perm(entry, [1, 0, 2]) or only(entry.output[0], first.op_type) is not first:
        return
    layers, glue = [first], [entry]

    def to_sequence(y):   # the nodes turning a layer's Y (L, D, B, H) into (L, B, D*H), and the result
        squeeze = only(y, "Squeeze")
        if squeeze is not None:
            return [squeeze], squeeze.output[0]
        turn = only(y, "Transpose")
        reshape = only(turn.output[0], "Reshape") if _perm(turn, [0, 2, 1, 3]) else None
        return ([turn, reshape], reshape.output[0]) if reshape is not None else ([], None)

    while True:
        steps, seq = to_sequence(layers[-1].output[0])
        following = only(seq, first.op_type) if seq else None
        if following is None or following.input[0] != seq:
            break
        glue += steps
        layers.append(following)
    steps, seq = to_sequence(layers[-1].output[0])
    back = only(seq, "Transpose") if seq else None
    if _perm(back, [1, 0, 2]):
        mode, tail, out = "sequence", steps + [back], back.output[0]
    else:
        states = [layer.output[1] for layer in layers if len(layer.output) > 1]
        concat = only(states[0], "Concat") if len(layers) > 1 and len(states) == len(layers) else None
        source = concat.output[0] if concat is not None and list(concat.input) == states else \
            (states[0] if len(layers) == 1 and states else None)
        cut = only(source, "Slice") if source else None
        turn = only(cut.output[0], "Transpose") if cut is not None else None
        flat = only(turn.output[0], "Reshape") if _perm(turn, [1, 0, 2]) else None
        if flat is None:
            return
        mode, tail, out = "last", ([concat] if concat is not None else []) + [cut, turn, flat], flat.output[0]
    node = helper.make_node("Recurrent", [entry.input[0]], [out], first.name, output=mode)
    t.groups[out] = layers
    fused[id(entry)] = node
    replaced.update(id(x) for x in layers + glue[1:] + tail)


def _fuse_group_norm(norm, producer, only, other, t: Tensors, replaced: set, fused: dict) -> None:
    """PyTorch's form of GroupNorm: Reshape to (B, groups, -1) -> InstanceNormalization with unit
    scale and zero bias -> Reshape back -> Mul by the per-channel weight -> Add the bias."""
    split = producer.get(norm.input[0])
    target = t.const(split.input[1]) if split is not None and split.op_type == "Reshape" else None
    scale, shift = t.const(norm.input[1]), t.const(norm.input[2])
    back = only(norm.output[0], "Reshape")
    mul = only(back.output[0], "Mul") if back is not None else None
    add = only(mul.output[0], "Add") if mul is not None else None
    if target is None or scale is None or shift is None or add is None or len(target) != 3 or \
            not np.all(scale == 1) or np.any(shift) or t.shapes.get(back.output[0]) != t.shapes.get(split.input[0]):
        return
    weight, bias = t.const(other(mul, back.output[0]) or ""), t.const(other(add, mul.output[0]) or "")
    channels = t.shapes[split.input[0]][1]
    if weight is None or bias is None or weight.size != channels or bias.size != channels:
        return
    t.consts[norm.output[0] + "/weight"], t.consts[norm.output[0] + "/bias"] = weight.reshape(-1), bias.reshape(-1)
    fused[id(split)] = helper.make_node("GroupNorm", [split.input[0], norm.output[0] + "/weight",
                                                      norm.output[0] + "/bias"], [add.output[0]], norm.name,
                                        num_groups=int(target[1]), epsilon=attrs(norm).get("epsilon", 1e-5))
    replaced.update({id(norm), id(back), id(mul), id(add)})
