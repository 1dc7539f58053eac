"""Small projects for the ONNX tests: one catalog layer between an Input and an Output."""
from __future__ import annotations

from runtime.compiler import Compiled, compile
from runtime.dataspec import DataSpec
from runtime.graph import Edge, Graph, Node, Project
from runtime.layers import LAYERS

# Sample shapes tried in order until the layer accepts one: image, channels x length, sequence,
# vector, token ids. The catalog decides which fits; nothing here is per layer type.
CANDIDATE_INPUTS = [((3, 8, 8), "float32"), ((4, 16), "float32"), ((6, 8), "float32"), ((12,), "float32"),
                    ((6,), "int64")]
VOCAB = 20


def single_layer(layer_type: str) -> tuple[Project, Compiled]:
    """The first Input -> layer -> Output project that compiles; every input port fed by the Input."""
    layer = LAYERS[layer_type]
    tried = []
    for shape, dtype in CANDIDATE_INPUTS:
        nodes = [Node("input", "Input", {"shape": list(shape), "dtype": dtype}), Node("layer1", layer_type, {}),
                 Node("output", "Output", {})]
        edges = [Edge("input", "layer1") for _ in range(layer.inputs[0])] + [Edge("layer1", "output")]
        project = Project(f"one {layer_type}", Graph(nodes, edges))
        spec = DataSpec(input_shape=shape, input_dtype=dtype, task="regression", vocab_size=VOCAB)
        compiled = compile(project.graph, spec)
        if compiled.ok:
            return project, compiled
        tried.append((shape, dtype, compiled.errors[0].message))
    raise AssertionError(f"{layer_type} accepts none of the candidate inputs: {tried}")


def chain(name: str, layers: list[tuple[str, dict]], shape: list[int], dtype: str = "float32") -> Project:
    """Input -> layers in a row -> Output."""
    nodes = [Node("input", "Input", {"shape": shape, "dtype": dtype})]
    nodes += [Node(f"{t.lower()}{i}", t, params) for i, (t, params) in enumerate(layers, start=1)]
    nodes.append(Node("output", "Output", {}))
    edges = [Edge(a.id, b.id) for a, b in zip(nodes, nodes[1:])]
    return Project(name, Graph(nodes, edges))
