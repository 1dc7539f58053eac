"""The multi-node forms exporters write for a single layer, each rewritten into one node that
operators.py translates: MatMul + Add (Linear), the Erf form of GELU, SiLU, Mish, RNN/LSTM/GRU
stacks between batch-first transposes, PyTorch's GroupNorm, and multi-head attention (self or
cross). Runs after constant folding, so constants are known values."""
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
    """Rewrites each multi-node form into one node; attention last, as it contains fused Linears."""
    return _fuse_attention(_fuse_layers(nodes, t), t)


def _links(nodes: list[onnx.NodeProto]):
    producer = {o: n for n in nodes for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return producer, consumers


def _fuse_layers(nodes: list[onnx.NodeProto], t: Tensors) -> list[onnx.NodeProto]:
    """Linear, GELU, SiLU, Mish, GroupNorm and RNN/LSTM/GRU stacks."""
    producer, consumers = _links(nodes)

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
    """A batch-first RNN/LSTM/GRU stack as one "Recurrent" node: time-major ONNX layers between the
    transposes to and from batch-first, as PyTorch's exporters and other tools write them:
    Transpose(1,0,2) -> layer (-> [Squeeze | Transpose(0,2,1,3) + Reshape] -> layer)* -> either the
    sequence [Squeeze | Transpose + Reshape] -> Transpose(1,0,2), or the last layer's final hidden
    state (see _last_state). (onnxruntime runs no batch-first layer, layout 1, so none is imported.)"""
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
        directions = 2 if attrs(first).get("direction") == b"bidirectional" else 1
        tail = _last_state(layers, only, t)
        if tail is None or t.shapes.get(tail[-1].output[0]) != (t.batch, directions * attrs(first)["hidden_size"]):
            return
        mode, out = "last", tail[-1].output[0]
    node = helper.make_node("Recurrent", [entry.input[0]], [out], first.name, output=mode)
    t.groups[out] = layers
    fused[id(entry)] = node
    replaced.update(id(x) for x in layers + glue[1:] + tail)


def _last_state(layers, only, t: Tensors) -> list | None:
    """The nodes from the layers' final hidden states Y_h (D, B, H) to the last layer's (B, D*H):
    [PyTorch's Concat of all layers' Y_h] then either [Slice of the last D rows] -> Transpose(1,0,2)
    -> Reshape | Flatten, or, with one direction, the last row alone: Gather (h_n[-1]) or Squeeze."""
    states = [layer.output[1] if len(layer.output) > 1 else "" for layer in layers]
    if not states[-1]:
        return None
    concat = only(states[0], "Concat") if len(layers) > 1 else None
    path = [concat] if concat is not None and list(concat.input) == states else []
    source = path[0].output[0] if path else states[-1]
    rows = t.shapes.get(source, (0,))[0]
    pick = only(source, "Gather") or only(source, "Squeeze")
    if pick is not None:
        index = t.const(pick.input[1]) if pick.op_type == "Gather" and len(pick.input) > 1 else None
        if pick.op_type == "Gather" and (attrs(pick).get("axis", 0) != 0 or index is None or index.size != 1 or
                                         int(index.reshape(-1)[0]) % max(rows, 1) != rows - 1):
            return None
        return path + [pick]
    cut = only(source, "Slice")
    turn = only(cut.output[0] if cut is not None else source, "Transpose")
    flat = (only(turn.output[0], "Reshape") or only(turn.output[0], "Flatten")) if _perm(turn, [1, 0, 2]) else None
    return path + ([cut] if cut is not None else []) + [turn, flat] if flat is not None else None


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


# What may lie between an attention block's input and its scores, values and output: data
# plumbing, scaling by constants and the projections. Anything else ends the search.
_ATTENTION_PLUMBING = {"Transpose", "Reshape", "Unsqueeze", "Squeeze", "Gather", "Mul", "Div", "Linear",
                       "Gemm", "MatMul", "Split", "Slice"}


def _fuse_attention(nodes: list[onnx.NodeProto], t: Tensors) -> list[onnx.NodeProto]:
    """Multi-head attention as one "Attention" node: softmax(Q K^T / sqrt(d) [+ causal mask]) V
    between the block's input X (and a context C the keys and values come from: cross-attention)
    and its output Y, with the in-projections (packed or separate) and the out-projection."""
    producer, consumers = _links(nodes)
    order = {id(n): i for i, n in enumerate(nodes)}
    replaced, fused = set(), {}
    for softmax in nodes:
        if softmax.op_type != "Softmax" or id(softmax) in replaced:
            continue
        block = _attention_block(softmax, producer, consumers, t)
        if block is None:
            continue
        region, node = block
        last = max(region, key=lambda n: order[id(n)])   # after both X and C are computed
        fused[id(last)] = node
        replaced.update(id(n) for n in region if n is not last)
    return [fused.get(id(n), n) for n in nodes if id(n) not in replaced]


def _attention_block(softmax, producer, consumers, t: Tensors):
    def single(name):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 else None

    scores, mask = producer.get(softmax.input[0]), None
    if scores is not None and scores.op_type == "Add":
        mask = next((i for i in scores.input if i in t.consts), None)
        scores = producer.get(next((i for i in scores.input if i not in t.consts), ""))
        core = [producer[softmax.input[0]]]
    else:
        core = []
    mix = single(softmax.output[0])
    if scores is None or scores.op_type != "MatMul" or mix is None or mix.op_type != "MatMul" or \
            mix.input[0] != softmax.output[0] or len(t.shapes.get(scores.output[0], ())) != 4:
        return None
    _, heads, length, keys = t.shapes[scores.output[0]]
    forward, current, projected = [], mix.output[0], False   # to Y, (batch, length, width), after out_proj
    while len(forward) < 8:
        shape = t.shapes.get(current, ())
        if projected and len(shape) == 3 and shape[0] == t.batch and shape[1] == length:
            break
        user = single(current)
        if user is None or user.op_type not in _ATTENTION_PLUMBING:
            return None
        projected = projected or _projection(user, t) is not None
        forward.append(user)
        current = user.output[0]
    else:
        return None
    y, width = current, t.shapes[current][2]
    paths = [_in_projection_path(name, steps, width, producer, t)
             for name, steps in ((scores.input[0], length), (scores.input[1], keys), (mix.input[1], keys))]
    if None in paths or paths[1][2] != paths[2][2]:
        return None                                 # keys and values from different tensors: not a catalog layer
    region = list({id(n): n for path in paths for n in path[0]}.values())
    nodes = region + core + [scores, softmax, mix] + forward
    ids = {id(n) for n in nodes}
    if any(id(user) not in ids for n in nodes for o in n.output if o != y for user in consumers.get(o, [])):
        return None                                 # a middle value is used elsewhere: not a self-contained block
    sources = [paths[0][2]] if paths[0][2] == paths[1][2] else [paths[0][2], paths[1][2]]
    weights = _attention_weights([path[1] for path in paths], forward, width, t)
    if weights is None or (mask is not None and (len(sources) > 1 or not _is_causal(t.consts[mask], length))):
        return None
    names = []
    for key, value in weights.items():
        t.consts[f"{y}/{key}"] = value
        names.append(f"{y}/{key}")
    node = helper.make_node("Attention", [*sources, *names], [y], softmax.name, num_heads=int(heads),
                            causal=int(mask is not None), sources=len(sources))
    return nodes, node


def _in_projection_path(name: str, steps: int, width: int, producer, t: Tensors):
    """(nodes, projection, source): back from a query, key or value tensor through data plumbing and
    one projection to the (batch, steps, width) tensor it was computed from; None if that is not the form."""
    nodes, projection = [], None
    while len(nodes) < 16:
        if projection is not None and t.shapes.get(name) == (t.batch, steps, width):
            return nodes, projection, name
        node = producer.get(name)
        data = [i for i in node.input if i and i not in t.consts] if node is not None else []
        if node is None or node.op_type not in _ATTENTION_PLUMBING or len(data) != 1:
            return None
        if _projection(node, t) is not None:
            if projection is not None:
                return None                         # a second projection: not one block
            projection = node
        nodes.append(node)
        name = data[0]
    return None


def _projection(node, t: Tensors):
    """(weight as [out, in], bias or None) of a Linear-like node with stored weights, else None."""
    if node.op_type == "Linear" or (node.op_type == "MatMul" and node.input[1] in t.consts):
        weight = t.const(node.input[1])
        bias = t.const(node.input[2]) if len(node.input) > 2 else None
        return (weight.T, bias) if weight is not None and weight.ndim == 2 else None
    if node.op_type == "Gemm" and node.input[1] in t.consts:
        a = attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            return None
        weight = t.consts[node.input[1]]
        bias = t.const(node.input[2]) if len(node.input) > 2 else None
        return (weight if a.get("transB", 0) else weight.T), bias
    return None


def _attention_weights(projections, forward, width: int, t: Tensors) -> dict | None:
    """nn.MultiheadAttention's state from the query, key and value paths' projections (one packed
    (3E, E); a query (E, E) and a packed key-value (2E, E); or three (E, E)) and the (E, E) one after."""
    zeros = lambda n: np.zeros(n, dtype=np.float32)   # noqa: E731  (an exporter drops all-zero biases)

    def weight_and_bias(node):
        weight, bias = _projection(node, t)
        return weight, zeros(weight.shape[0]) if bias is None else np.broadcast_to(bias.reshape(-1), weight.shape[:1])

    q, k, v = projections
    if q is k is v:
        distinct = [q]                              # packed query, key and value
    elif k is v:
        distinct = [q, k]                           # query, packed key and value (cross-attention)
    elif len({id(q), id(k), id(v)}) == 3:
        distinct = [q, k, v]
    else:
        return None
    after = [p for p in (_projection(n, t) for n in forward) if p is not None]
    if len(after) != 1 or after[0][0].shape != (width, width):
        return None
    w_in, b_in = (np.concatenate(parts) for parts in zip(*map(weight_and_bias, distinct)))
    if w_in.shape != (3 * width, width):
        return None
    w_out, b_out = after[0]
    return {"in_proj_weight": w_in, "in_proj_bias": b_in,
            "out_proj.weight": w_out, "out_proj.bias": zeros(width) if b_out is None else b_out.reshape(-1)}


def _is_causal(mask: np.ndarray, length: int) -> bool:
    """True for the mask that hides later steps: -inf above the diagonal, 0 elsewhere."""
    if mask.size != length * length:
        return False
    above = np.triu(np.ones((length, length), dtype=bool), 1)
    mask = mask.reshape(length, length)
    return bool(np.all(np.isneginf(mask[above]) | (mask[above] < -1e30)) and np.all(mask[~above] == 0))
