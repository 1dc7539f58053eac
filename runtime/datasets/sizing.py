"""Choosing a dataset sizes the graph's Input node: its sample shape and dtype come from the DataSpec.

"auto" widths (classifier outputs, Embedding vocabulary) stay "auto" in the file: the compiler
resolves them from the same DataSpec, so a graph keeps fitting when the dataset changes.
"""
from __future__ import annotations

from runtime.dataspec import DataSpec
from runtime.graph import Graph


def size_graph(graph: Graph, spec: DataSpec) -> list[str]:
    """Sets every Input node's shape and dtype from `spec`; returns the ids of the nodes it set.

    A graph without exactly one Input node is the validator's to report, not this function's."""
    sized = []
    for node in graph.nodes:
        if node.type == "Input":
            node.params["shape"] = list(spec.input_shape)
            node.params["dtype"] = spec.input_dtype
            sized.append(node.id)
    return sized
