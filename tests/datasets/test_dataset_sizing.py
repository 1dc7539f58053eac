"""Choosing a dataset sets the Input node; the compiler then fits the graph to it."""
from pathlib import Path

from runtime import datasets
from runtime.compiler import compile
from runtime.datasets.sizing import size_graph
from runtime.graph import load_project

TEMPLATES = Path(__file__).resolve().parents[2] / "runtime" / "templates"


def test_size_graph_sets_input_shape_and_dtype_from_the_spec():
    project = load_project(TEMPLATES / "mlp.json")
    assert size_graph(project.graph, datasets.spec("mnist")) == ["input1"]
    assert project.graph.node("input1").params == {"shape": [1, 28, 28], "dtype": "float32"}
    size_graph(project.graph, datasets.spec("imdb", max_len=64))
    assert project.graph.node("input1").params == {"shape": [64], "dtype": "int64"}


def test_a_sized_graph_compiles_from_its_own_input_node():
    project = load_project(TEMPLATES / "mlp.json")
    spec = datasets.spec("fashion_mnist")
    size_graph(project.graph, spec)
    compiled = compile(project.graph)              # no spec: the Input node's shape is all it has
    assert compiled.input_shape == spec.input_shape
    assert compiled.input_shape != (1, 8, 8)       # the template was drawn for digits 8x8


def test_every_template_fits_its_dataset_and_keeps_the_sized_input():
    for path in sorted(TEMPLATES.glob("*.json")):
        project = load_project(path)
        section = dict(project.dataset)
        spec = datasets.spec(section.pop("name"), **section)
        assert compile(project.graph, spec).ok, path.name
        before = {n.id: dict(n.params) for n in project.graph.nodes if n.type == "Input"}
        size_graph(project.graph, spec)
        for node_id, params in before.items():   # a template is saved already sized to its dataset
            assert params["shape"] == project.graph.node(node_id).params["shape"], path.name
