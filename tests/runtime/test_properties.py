"""Property-based: random and mutated graphs, random parameters and broken JSON never raise an
unhandled exception; a graph the compiler accepts runs, with exactly the shapes it inferred."""
import json
import math
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.compiler import compile
from runtime.dataspec import DataSpec
from runtime.graph import Edge, Graph, Node, ProjectFileError, parse_project
from runtime.layers import LAYERS

TYPES = sorted(LAYERS)
TEMPLATES = [p.read_text() for p in sorted((Path(__file__).parents[2] / "runtime" / "templates").glob("*.json"))]
GARBAGE = st.one_of(st.none(), st.text(max_size=5), st.integers(-10**12, 10**12), st.booleans(),
                    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(-3, 20), max_size=4),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def param_value(p):
    plausible = [st.just(p.default)]
    if p.kind == "int":
        plausible.append(st.integers(int(p.min if p.min is not None else -4), min(int(p.max or 16), 16)))
    elif p.kind == "float":
        plausible.append(st.floats(p.min or 0.0, min(p.max or 1.0, 1.0)))
    elif p.kind == "choice":
        plausible.append(st.sampled_from(p.choices))
    elif p.kind == "bool":
        plausible.append(st.booleans())
    elif p.kind == "ints":
        plausible.append(st.lists(st.integers(-1, 6), min_size=1, max_size=3))
    plausible += [st.sampled_from(p.words)] if p.words else []
    return st.one_of(*plausible, GARBAGE) if p.kind != "ints" else st.one_of(*plausible)


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 9))
    nodes = [Node("in", "Input", {"shape": draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))})]
    for i in range(n):
        layer = LAYERS[draw(st.sampled_from(TYPES))]
        params = {p.name: draw(param_value(p)) for p in layer.params if draw(st.booleans())}
        nodes.append(Node(f"n{i}", layer.type, params))
    nodes.append(Node("out", "Output"))
    ids = [node.id for node in nodes]
    edges = [Edge(a, b) for a, b in zip(ids, ids[1:]) if draw(st.integers(0, 9))]     # mostly a chain
    for _ in range(draw(st.integers(0, 4))):                                          # plus random extras
        edges.append(Edge(draw(st.sampled_from(ids)), draw(st.sampled_from(ids)),
                          draw(st.one_of(st.none(), st.integers(0, 3)))))
    return Graph(nodes, edges)


specs = st.one_of(st.none(), st.builds(DataSpec, input_shape=st.lists(st.integers(1, 10), min_size=1, max_size=3)
                                       .map(tuple), output_size=st.integers(1, 5)))


@FAST
@given(graphs(), specs)
def test_random_graphs_compile_to_issues_or_a_module_that_matches(graph, spec):
    compiled = compile(graph, spec)
    assert all(issue.message for issue in compiled.issues)
    if not compiled.ok:
        return
    module = compiled.build_module()
    x = torch.randn(2, *compiled.input_shape)
    if math.prod(compiled.input_shape) > 5000 or compiled.total_params > 2_000_000:
        return
    with torch.no_grad():
        out = module(x)
    assert tuple(out.shape[1:]) == compiled.nodes[compiled.output_id].shape


def mutate(data, draw):
    nodes, edges = data["graph"]["nodes"], data["graph"]["edges"]
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["drop-node", "drop-edge", "param", "edge", "type"]))
        if action == "drop-node" and nodes:
            nodes.pop(draw(st.integers(0, len(nodes) - 1)))
        elif action == "drop-edge" and edges:
            edges.pop(draw(st.integers(0, len(edges) - 1)))
        elif action == "param" and nodes:
            node = nodes[draw(st.integers(0, len(nodes) - 1))]
            node.setdefault("params", {})[draw(st.sampled_from(["out_features", "kernel_size", "shape", "p",
                                                                 "hidden_size", "dim", "x"]))] = draw(GARBAGE)
        elif action == "edge" and nodes:
            edges.append({"source": draw(st.sampled_from(nodes))["id"], "target": draw(st.sampled_from(nodes))["id"]})
        elif action == "type" and nodes:
            nodes[draw(st.integers(0, len(nodes) - 1))]["type"] = draw(st.sampled_from(TYPES + ["Bogus"]))
    return data


@FAST
@given(st.sampled_from(TEMPLATES), st.data())
def test_mutated_templates_load_or_fail_cleanly_and_always_compile(text, data):
    mutated = mutate(json.loads(text), data.draw)
    try:
        project = parse_project(json.dumps(mutated))
    except ProjectFileError as e:
        assert str(e)
        return
    compiled = compile(project.graph)
    assert compiled.ok or compiled.errors[0].message


@FAST
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200),
                 st.recursive(GARBAGE, lambda inner: st.lists(inner, max_size=3)
                              | st.dictionaries(st.sampled_from(["format_version", "name", "graph", "nodes",
                                                                 "edges", "id", "type", "params"]), inner,
                                                max_size=4)).map(json.dumps)))
def test_broken_json_is_a_project_file_error(text):
    try:
        parse_project(text)
    except ProjectFileError as e:
        assert str(e)
