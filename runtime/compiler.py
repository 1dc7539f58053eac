"""Graph + data spec -> per-node shapes, parameter counts and issues, in one walk on meta tensors.

Nothing here allocates weight memory: each node's module is built on the meta device and run on
meta inputs to learn its output shape. `Compiled.build_module()` builds the real module on request.
User mistakes become `Issue`s; only programmer errors raise.
"""
from __future__ import annotations

import keyword
import math
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from runtime.dataspec import DataSpec
from runtime.graph import Graph
from runtime.layers import AUTO, LAYERS, Call, LayerError, Shape

MAX_WEIGHT_BYTES = 4 << 30          # float32 weights beyond 4 GiB would not train in a browser session
MAX_INPUT_VALUES = 1 << 24          # one sample of 16M values (a 4096x4096 image) is the most we accept
META_BATCH = 2                      # BatchNorm needs more than one value per channel
FINAL_ACTIVATIONS = ("Softmax", "LogSoftmax", "Sigmoid")
_DTYPES = {"float32": torch.float32, "int64": torch.int64}


class CompileError(RuntimeError):
    """build_module() was asked for a graph that still has errors (a programmer error: check .ok)."""


@dataclass(frozen=True)
class Issue:
    node_id: str | None      # None: the graph as a whole
    code: str                # short stable name: shape, bad-param, arity, cycle, unreachable, ...
    message: str             # what was expected, what was received, and the fix
    severity: str = "error"  # "error" blocks training; "warning" does not

    def to_dict(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "code": self.code, "message": self.message, "severity": self.severity}


@dataclass
class NodeInfo:
    type: str
    params: dict[str, Any] = field(default_factory=dict)      # checked, defaults filled, "auto" resolved
    in_shapes: list[Shape] = field(default_factory=list)
    shape: Shape | None = None                                 # output shape of one sample; None if unknown
    dtype: str = "float32"
    num_params: int = 0
    call: Call | None = None                                   # how to build its module; None: no module


class GraphModule(nn.Module):
    """The drawn network: children named after node ids, forward = the graph in topological order."""

    def __init__(self, modules: dict[str, nn.Module], steps: list[tuple[str, tuple[str, ...]]],
                 input_name: str, output_name: str, node_ids: dict[str, str], node_types: dict[str, str],
                 final_activation: str | None):
        super().__init__()
        for name, module in modules.items():
            self.add_module(name, module)
        self._steps = steps                 # (child name, names of its inputs), in execution order
        self._input_name = input_name
        self._output_name = output_name     # the name whose value the network returns
        self.node_ids = node_ids            # child name -> node id on the canvas
        self.node_types = node_types        # child name -> layer type
        self.final_activation = final_activation
        self.output_logits = False          # True: skip a final Softmax/LogSoftmax (the loss wants logits)

    def forward(self, x):
        env = {self._input_name: x}
        skip = self._output_name if self.output_logits and self.final_activation in ("Softmax", "LogSoftmax") \
            else None
        for name, sources in self._steps:
            if name == skip:
                return env[sources[0]]
            env[name] = getattr(self, name)(*[env[s] for s in sources])
        return env[self._output_name]


@dataclass
class Compiled:
    graph: Graph
    spec: DataSpec | None
    order: list[str]                         # node ids in execution order (all walked nodes)
    nodes: dict[str, NodeInfo]
    issues: list[Issue]
    names: dict[str, str]                    # node id -> Python identifier (module attribute, variable)
    live: list[str]                          # node ids on a path from the Input to the Output, in order
    input_id: str | None = None
    output_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def total_params(self) -> int:
        return sum(self.nodes[n].num_params for n in self.live)

    @property
    def input_shape(self) -> Shape | None:
        return self.nodes[self.input_id].shape if self.input_id else None

    @property
    def input_dtype(self) -> str:
        return self.nodes[self.input_id].dtype if self.input_id else "float32"

    @property
    def final_activation(self) -> str | None:
        if not self.output_id or not self.graph.inputs_of(self.output_id):
            return None
        last = self.nodes.get(self.graph.inputs_of(self.output_id)[0])
        return last.type if last and last.type in FINAL_ACTIVATIONS else None

    def issues_of(self, node_id: str) -> list[Issue]:
        return [i for i in self.issues if i.node_id == node_id]

    def build_module(self) -> GraphModule:
        """The real module, with freshly initialized weights (PyTorch's default init)."""
        if not self.ok:
            raise CompileError("build_module() on a graph with errors: " +
                               "; ".join(i.message for i in self.errors[:3]))
        modules, steps, types, ids = {}, [], {}, {}
        for node_id in self.live:
            info = self.nodes[node_id]
            if info.call is None:
                continue
            name = self.names[node_id]
            modules[name] = info.call.build()
            steps.append((name, tuple(self.names[s] for s in self.graph.inputs_of(node_id))))
            types[name], ids[name] = info.type, node_id
        output_source = self.names[self.graph.inputs_of(self.output_id)[0]]
        return GraphModule(modules, steps, self.names[self.input_id], output_source, ids, types,
                           self.final_activation)


def python_names(node_ids: list[str]) -> dict[str, str]:
    """Maps node ids to distinct Python identifiers that are safe as attributes and variables."""
    reserved = set(dir(nn.Module)) | set(keyword.kwlist) | {"self", "torch", "nn", "math", "env", "x"}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for node_id in node_ids:
        base = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in node_id).strip("_")
        base = base if base and not base[0].isdigit() else f"n{base}"
        if base in reserved or keyword.iskeyword(base):
            base += "_"
        name, i = base, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        names[node_id] = name
    return names


def compile(graph: Graph, spec: DataSpec | None = None) -> Compiled:  # noqa: A001 (the domain's word)
    """Checks and shape-infers `graph`; never raises on user input."""
    graph, issues = _well_formed(graph)
    ids = [n.id for n in graph.nodes]
    nodes_by_id = {n.id: n for n in graph.nodes}
    inputs = [n.id for n in graph.nodes if n.type == "Input"]
    outputs = [n.id for n in graph.nodes if n.type == "Output"]
    if len(inputs) != 1:
        issues.append(Issue(None, "input-count", "The graph needs exactly one Input node, but has "
                                                 f"{len(inputs)}: " + ("add one from the palette." if not inputs
                                                                       else "delete the extra ones.")))
    if len(outputs) != 1:
        issues.append(Issue(None, "output-count", "The graph needs exactly one Output node, but has "
                                                  f"{len(outputs)}: " + ("add one from the palette." if not outputs
                                                                         else "delete the extra ones.")))
    preds = {i: graph.inputs_of(i) for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for e in graph.edges:
        succs[e.source].append(e.target)
    order, in_cycle = _topological(ids, preds, succs)
    issues.extend(_loop_issues(in_cycle, preds, succs))
    input_id = inputs[0] if len(inputs) == 1 else None
    output_id = outputs[0] if len(outputs) == 1 else None
    from_input = _reach(input_id, succs) if input_id else set()
    to_output = _reach(output_id, preds) if output_id else set()

    infos: dict[str, NodeInfo] = {}
    for node_id in order:
        node = nodes_by_id[node_id]
        info = infos[node_id] = NodeInfo(node.type)
        layer = LAYERS[node.type]
        node_issues = _resolve_params(node_id, layer, node.params, spec, info)
        lo, hi = layer.inputs
        n_in = len(preds[node_id])
        if not lo <= n_in <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            node_issues.append(Issue(node_id, "arity", f"{node.type} takes {want} input(s) but has {n_in}: "
                                     + ("connect an edge into it." if n_in < lo else "remove an incoming edge.")))
        elif node_id not in from_input and node.type != "Input" and input_id:
            node_issues.append(Issue(node_id, "unreachable", f"{node_id} is not connected to the Input: "
                                     "connect the layers before it."))
        if node_id in from_input and node_id not in to_output and output_id and node.type != "Output":
            node_issues.append(Issue(node_id, "dead-end", f"The output of {node_id} does not reach the Output "
                                     "node, so it is not part of the model: connect it onward or delete it.",
                                     "warning"))
        issues.extend(node_issues)
        if any(i.severity == "error" for i in node_issues):
            continue
        if node.type == "Input":
            issues.extend(_infer_input(node_id, info, spec))
            continue
        sources = [infos.get(p) for p in preds[node_id]]
        if any(s is None or s.shape is None for s in sources):
            continue                                   # an upstream node already has an issue
        info.in_shapes = [s.shape for s in sources]
        if node.type == "Output":
            info.shape, info.dtype = info.in_shapes[0], sources[0].dtype
            issues.extend(_check_output(node_id, info.shape, preds[node_id][0], infos, preds, spec))
            continue
        issue = _infer_layer(node_id, layer, info, [s.dtype for s in sources])
        if issue:
            issues.append(issue)

    live = [n for n in order if n in from_input and n in to_output]
    compiled = Compiled(graph, spec, order, infos, issues, python_names(ids), live, input_id, output_id)
    _check_budget(compiled)
    _check_final_activation(compiled)
    return compiled


def _well_formed(graph: Graph) -> tuple[Graph, list[Issue]]:
    """The graph without what cannot be compiled at all (repeated ids, unknown types, edges to nowhere):
    each left out with an issue. Graphs from files are already clean; the canvas may pass such a state."""
    issues, nodes, seen = [], [], set()
    for n in graph.nodes:
        if n.id in seen:
            issues.append(Issue(n.id, "duplicate-id", f"Two nodes share the id {n.id!r}: rename one."))
        elif n.type not in LAYERS:
            issues.append(Issue(n.id, "unknown-type", f"{n.id} has unknown type {n.type!r}: replace it with a "
                                                      "layer from the palette."))
        else:
            nodes.append(n)
        seen.add(n.id)
    kept = {n.id for n in nodes}
    edges = [e for e in graph.edges if e.source in kept and e.target in kept]
    if len(edges) < len(graph.edges):
        issues.append(Issue(None, "dangling-edge", f"{len(graph.edges) - len(edges)} edge(s) lead to or from a "
                                                   "missing node and are ignored.", "warning"))
    if len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges):
        return graph, issues
    return Graph(nodes, edges, graph.extra), issues


def _topological(ids, preds, succs) -> tuple[list[str], list[str]]:
    """Kahn's algorithm, stable in node-list order; returns (order, nodes left in or behind cycles)."""
    indegree = {i: len(preds[i]) for i in ids}
    ready = deque(i for i in ids if indegree[i] == 0)
    order = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for nxt in succs[node_id]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    done = set(order)
    return order, [i for i in ids if i not in done]


def _loop_issues(stuck: list[str], preds, succs) -> list[Issue]:
    """Issues for the nodes the topological walk could not order: those on a loop are errors that name
    the loop and the edge closing it (the one into the node the loop is entered by); the nodes that
    are only fed by a loop get a warning, as their shapes wait for the loop to be broken."""
    issues, on_loop = [], {}
    for loop in _strongly_connected(stuck, preds, succs):
        if len(loop) == 1 and loop[0] not in succs[loop[0]]:
            continue
        members = set(loop)
        entry = next((n for n in loop if any(p not in members for p in preds[n])), loop[0])
        closing = next(p for p in preds[entry] if p in members)
        names = ", ".join(loop[:6]) + (f" and {len(loop) - 6} more" if len(loop) > 6 else "")
        for node_id in loop:
            on_loop[node_id] = entry
            issues.append(Issue(node_id, "cycle", f"{names} form a loop, and a network must flow one way: "
                                                  f"remove the edge {closing} → {entry}, which points back."
                                if len(loop) > 1 else f"{node_id} is wired to itself: remove that edge."))
    for node_id in stuck:
        if node_id not in on_loop:
            issues.append(Issue(node_id, "after-cycle", f"{node_id} comes after a loop, so its shape is unknown "
                                                        "until the loop is removed.", "warning"))
    return issues


def _strongly_connected(ids: list[str], preds, succs) -> list[list[str]]:
    """Kosaraju's algorithm on the subgraph of `ids`, iterative (a file may hold 10,000 nodes); each
    component in `ids` order."""
    inside, seen, finished = set(ids), set(), []
    for start in ids:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(succs[start]))]
        while stack:
            node_id, nexts = stack[-1]
            nxt = next((n for n in nexts if n in inside and n not in seen), None)
            if nxt is None:
                finished.append(node_id)
                stack.pop()
            else:
                seen.add(nxt)
                stack.append((nxt, iter(succs[nxt])))
    rank, components, assigned = {n: i for i, n in enumerate(ids)}, [], set()
    for root in reversed(finished):
        if root in assigned:
            continue
        assigned.add(root)
        component, todo = [], [root]
        while todo:
            node_id = todo.pop()
            component.append(node_id)
            for p in preds[node_id]:
                if p in inside and p not in assigned:
                    assigned.add(p)
                    todo.append(p)
        components.append(sorted(component, key=rank.get))
    return components


def _reach(start: str, links: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in links[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _resolve_params(node_id, layer, given, spec, info) -> list[Issue]:
    issues = []
    for p in layer.params:
        value = given.get(p.name, p.default)
        try:
            value = p.normalize(value)
        except LayerError as e:
            issues.append(Issue(node_id, e.code, f"{layer.type} {e.message}"))
            continue
        if value == AUTO and p.auto:
            value = getattr(spec, p.auto, None) if spec else None
            if value is None:
                issues.append(Issue(node_id, "auto-unresolved",
                                    f"{layer.type} {p.name} is \"auto\" but no dataset says what it should be: "
                                    "choose a dataset, or type a number."))
                continue
        info.params[p.name] = value
    unknown = sorted(set(given) - {p.name for p in layer.params})
    if unknown:
        known = ", ".join(p.name for p in layer.params) or "none"
        issues.append(Issue(node_id, "unknown-param", f"{layer.type} has no parameter {', '.join(unknown)} "
                                                      f"(known: {known}); it is ignored.", "warning"))
    return issues


def _infer_input(node_id, info, spec) -> list[Issue]:
    shape = tuple(spec.input_shape) if spec else tuple(info.params["shape"])
    info.dtype = spec.input_dtype if spec else info.params["dtype"]
    info.params.update(shape=list(shape), dtype=info.dtype)     # the dataset's, when there is one
    if not shape or any(d < 1 for d in shape) or math.prod(shape) > MAX_INPUT_VALUES:
        return [Issue(node_id, "bad-param", f"Input shape {list(shape)} must list positive sizes with at most "
                                            f"{MAX_INPUT_VALUES:,} values in all, e.g. [1, 28, 28].")]
    info.shape = shape
    return []


def _infer_layer(node_id, layer, info, dtypes) -> Issue | None:
    """Fills the node's output shape, dtype, parameter count and constructor, or returns its issue."""
    key = tuple(sorted(info.params.items()))
    shape, dtype, num_params, call, problem = _infer(layer.type, key, tuple(info.in_shapes), tuple(dtypes))
    if problem:
        return Issue(node_id, *problem)
    info.shape, info.dtype, info.num_params, info.call = shape, dtype, num_params, call
    return None


@lru_cache(maxsize=8192)
def _infer(type_name, params_key, in_shapes, dtypes):
    """Builds a layer on the meta device and runs it to learn its output shape. Cached: graphs repeat
    blocks, and the app recompiles after every edit, so most nodes are answered from here."""
    layer, params, in_shapes = LAYERS[type_name], dict(params_key), list(in_shapes)
    wants_tokens = type_name == "Embedding"
    for dtype in dtypes:
        if wants_tokens and dtype != "int64":
            return None, None, 0, None, ("dtype", "Embedding expects token ids (int64) but receives numbers "
                                                  "(float32): use it right after the Input of a text dataset.")
        if not wants_tokens and dtype == "int64":
            return None, None, 0, None, ("dtype", f"{type_name} expects numbers but receives token ids: put an "
                                                  "Embedding before it to turn ids into vectors.")
    try:
        if layer.check:
            layer.check(params, in_shapes)
        call = layer.construct(params, in_shapes)
        with torch.device("meta"):
            module = call.build()
        xs = [torch.empty((META_BATCH, *s), dtype=_DTYPES[d], device="meta") for s, d in zip(in_shapes, dtypes)]
        out = module(*xs)
    except LayerError as e:
        return None, None, 0, None, (e.code, e.message)
    except Exception as e:   # torch's own refusal: name the layer and the shapes it received
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        received = " and ".join(str(list(s)) for s in in_shapes)
        return None, None, 0, None, ("shape", f"{type_name} cannot process input {received} with these "
                                              f"parameters: {reason}")
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or 0 in out.shape:
        return None, None, 0, None, ("shape", f"{type_name} would produce an empty output from input "
                                              f"{[list(s) for s in in_shapes]}: check its parameters.")
    dtype = "int64" if out.dtype == torch.int64 else "float32"
    return tuple(out.shape[1:]), dtype, sum(p.numel() for p in module.parameters()), call, None


def _check_output(node_id, shape, source_id, infos, preds, spec) -> list[Issue]:
    if spec is None or spec.output_size is None:
        return []
    want = (spec.output_size,)
    if shape == want:
        return []
    what = f"{spec.output_size} classes" if spec.task == "classification" else f"{spec.output_size} target(s)"
    if len(shape) == 2 and shape[-1] == spec.output_size:
        recurrent = _sequence_output_layer(source_id, infos, preds)
        if recurrent:                                  # told on the layer whose setting is the fix
            return [Issue(recurrent, "output-shape",
                          f"{recurrent} gives one vector per step (output \"sequence\"), so the Output receives "
                          f"{list(shape)}, one answer for each of {shape[0]} steps, where the dataset's {what} "
                          f"need {list(want)}: set {recurrent}'s output to \"last\", or add SequencePool "
                          f"after {recurrent}.")]
        fix = "the Output receives a sequence, one answer per step: add SequencePool before the last Linear."
    elif len(shape) >= 2:
        fix = "insert Flatten (or SequencePool for sequences) and a Linear with out_features \"auto\" before it."
    else:
        last_linear = _last_of_type(source_id, "Linear", infos, preds)
        target = f"set {last_linear}'s out_features to {spec.output_size} (or \"auto\")" if last_linear \
            else f"end with a Linear of out_features {spec.output_size} (or \"auto\")"
        fix = f"{target}."
    return [Issue(node_id, "output-shape", f"The dataset has {what}, so the Output expects {list(want)}, but it "
                                           f"receives {list(shape)}: {fix}")]


def _sequence_output_layer(node_id, infos, preds) -> str | None:
    """The nearest recurrent layer set to output "sequence", found by walking back along first inputs
    through layers that keep the steps (Linear, ReLU, Dropout, ...); None at an attention layer (its own
    output is the sequence) or a SequencePool."""
    while node_id in infos:
        info = infos[node_id]
        if info.params.get("output") == "sequence":
            return node_id
        if LAYERS[info.type].family == "Attention" or not preds.get(node_id):
            return None
        node_id = preds[node_id][0]
    return None


def _last_of_type(node_id, type_name, infos, preds) -> str | None:
    """The nearest node of `type_name` found by walking back along first inputs (past Dropout, ReLU, ...)."""
    while node_id in infos:
        if infos[node_id].type == type_name:
            return node_id
        if not preds.get(node_id):
            return None
        node_id = preds[node_id][0]
    return None


def _check_budget(compiled: Compiled) -> None:
    weight_bytes = 4 * compiled.total_params
    if weight_bytes > MAX_WEIGHT_BYTES:
        biggest = max(compiled.live, key=lambda n: compiled.nodes[n].num_params)
        compiled.issues.append(Issue(None, "too-large",
                                     f"The model has {compiled.total_params:,} parameters "
                                     f"({weight_bytes / 2**30:.1f} GiB of weights), more than the "
                                     f"{MAX_WEIGHT_BYTES / 2**30:.0f} GiB this tool trains: shrink {biggest} "
                                     f"({compiled.nodes[biggest].num_params:,} parameters) first."))


def _check_final_activation(compiled: Compiled) -> None:
    if compiled.final_activation == "Sigmoid" and compiled.spec and compiled.spec.task == "classification":
        source = compiled.graph.inputs_of(compiled.output_id)[0]
        compiled.issues.append(Issue(source, "final-sigmoid",
                                     "A Sigmoid right before the Output of a classifier squashes its scores, "
                                     "and the cross-entropy loss expects raw scores: remove it, or use Softmax "
                                     "(which training skips and export keeps).", "warning"))
