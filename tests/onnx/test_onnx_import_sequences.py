"""Import of sequence layers in the forms others write them: cross-attention and Transformer decoder
blocks, attention with separate query/key/value projections, RNN/LSTM/GRU from the dynamo exporter
and as plain ONNX nodes built with onnx.helper. Each import must match onnxruntime on the model's
own inputs, and the editable graph must compute what the file computes."""
from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from torch import nn

from runtime.compiler import compile
from runtime.graph import Edge, Graph, Node, Project
from runtime.onnx.errors import UnsupportedModel
from runtime.onnx.importer import import_model
from runtime.onnx.project_export import SampleData, export_project
from runtime.onnx.verify import session


def _run(project, weights, x):
    module = compile(project.graph).build_module()
    module.load_state_dict(weights)
    with torch.no_grad():
        return module.eval()(torch.from_numpy(np.array(x))).numpy()


def _onnxruntime(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    runner = session(model)
    return runner.run(None, {runner.get_inputs()[0].name: x})[0]


def _imports_and_matches(model: onnx.ModelProto, x: np.ndarray):
    imported = import_model(model, inputs=x)
    assert np.abs(_run(imported.project, imported.weights, x) - _onnxruntime(model, x)).max() <= 1e-4
    return imported


def _types(imported) -> list[str]:
    return [n.type for n in imported.project.graph.nodes if n.type not in ("Input", "Output")]


def _two_branch(block: tuple[str, dict]) -> Project:
    """Input -> Linear (queries) and Input -> Linear -> Tanh (the context) -> a two-input block -> pool -> Linear."""
    nodes = [Node("input", "Input", {"shape": [5, 3]}), Node("query", "Linear", {"out_features": 8}),
             Node("memory", "Linear", {"out_features": 8}), Node("squash", "Tanh", {}),
             Node("block", block[0], block[1]), Node("pool", "SequencePool", {}),
             Node("head", "Linear", {"out_features": 2}), Node("output", "Output", {})]
    edges = [Edge("input", "query"), Edge("input", "memory"), Edge("memory", "squash"), Edge("query", "block", 0),
             Edge("squash", "block", 1), Edge("block", "pool"), Edge("pool", "head"), Edge("head", "output")]
    return Project("two inputs", Graph(nodes, edges))


@pytest.mark.parametrize("block,parts", [
    (("MultiheadAttention", {"num_heads": 2}), ["MultiheadAttention"]),
    (("TransformerDecoderLayer", {"nhead": 2, "dim_feedforward": 16, "norm_first": True}),
     ["LayerNorm", "MultiheadAttention", "Add", "LayerNorm", "MultiheadAttention", "Add", "LayerNorm", "Linear",
      "ReLU", "Linear", "Add"]),
])
def test_cross_attention_and_decoder_blocks_round_trip(block, parts):
    project = _two_branch(block)
    compiled = compile(project.graph)
    module = compiled.build_module()
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "in_proj_bias" in name:
                p.uniform_(-1, 1)            # zero biases would hide a query/key/value mix-up
    weights = module.state_dict()
    data = SampleData(torch.randn(3, 5, 3), "generated")
    model = onnx.load_model_from_string(export_project(project, compiled, weights, data=data).data)
    imported = _imports_and_matches(model, data.samples.numpy())
    assert _types(imported)[3:-2] == parts
    attention = [n for n in imported.project.graph.nodes if n.type == "MultiheadAttention"][-1]
    sources = [e.source for e in imported.project.graph.edges if e.target == attention.id]
    assert len(sources) == 2 and sources[0] != sources[1]        # queries and context from different nodes
    x = data.samples.numpy()
    assert np.abs(_run(imported.project, imported.weights, x) - _run(project, weights, x)).max() <= 1e-4


class Decoder(nn.Module):
    """Someone's decoder: PyTorch's own TransformerDecoderLayer attending to a projected memory."""

    def __init__(self):
        super().__init__()
        self.memory = nn.Linear(16, 16)
        self.block = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.block(x, torch.relu(self.memory(x))))


def test_hand_written_transformer_decoder_imports_as_its_parts():
    torch.manual_seed(3)
    module = Decoder().eval()
    with torch.no_grad():
        module.block.multihead_attn.in_proj_bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 6, 16)
    exported = torch.export.export(module, (x,), dynamic_shapes=({0: torch.export.Dim.AUTO},), strict=False)
    model = torch.onnx.export(exported, (x,), None, dynamo=True, external_data=False, verbose=False).model_proto
    imported = _imports_and_matches(model, x.numpy())
    assert _types(imported).count("MultiheadAttention") == 2
    assert np.abs(_run(imported.project, imported.weights, x.numpy()) - module(x).detach().numpy()).max() <= 1e-4


class SeparateProjections(nn.Module):
    """Someone's attention: separate query, key and value Linears and scaled_dot_product_attention."""

    def __init__(self, width=12, heads=3):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x):
        b, length, width = x.shape
        q, k, v = (f(x).reshape(b, length, self.heads, -1).transpose(1, 2) for f in (self.q, self.k, self.v))
        y = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, length, width))


def test_attention_with_separate_projections_imports_as_multihead_attention():
    torch.manual_seed(4)
    module = SeparateProjections().eval()
    x = torch.randn(2, 7, 12)
    buffer = io.BytesIO()
    torch.onnx.export(module, (x,), buffer, dynamo=False)
    imported = _imports_and_matches(onnx.load_model_from_string(buffer.getvalue()), x.numpy())
    assert _types(imported) == ["MultiheadAttention"]
    assert imported.project.graph.nodes[1].params["num_heads"] == 3


# --- recurrent layers -------------------------------------------------------------------------------

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _recurrent_file(kind: str, layers: int, bidirectional: bool, output: str, hidden=5, features=3, seed=0,
                    **attributes) -> onnx.ModelProto:
    """An RNN/LSTM/GRU stack written by hand with onnx.helper, as converters from other frameworks
    write one: time-major ONNX layers with W/R/B initializers between a transpose from batch-first and
    a way back (each layer's Y squeezed or transposed and reshaped for the next); the file outputs the
    sequence (B, L, D*H) or the last layer's final state: Squeeze of h_n, or Transpose + Flatten."""
    rng = np.random.default_rng(seed)
    directions = 2 if bidirectional else 1
    gates = _GATES[kind] * hidden
    const = lambda name, values: numpy_helper.from_array(np.array(values, dtype=np.int64), name)  # noqa: E731
    weights = [const("axis0", [0]), const("axis1", [1]), const("flat", [0, 0, -1])]
    nodes, x, size = [helper.make_node("Transpose", ["x"], ["x_time"], perm=[1, 0, 2])], "x_time", features
    for k in range(layers):
        for name, shape in ((f"W{k}", (directions, gates, size)), (f"R{k}", (directions, gates, hidden)),
                            (f"B{k}", (directions, 2 * gates))):
            weights.append(numpy_helper.from_array(rng.uniform(-0.6, 0.6, shape).astype(np.float32), name))
        last = k == layers - 1
        nodes.append(helper.make_node(kind, [x, f"W{k}", f"R{k}", f"B{k}"], [f"Y{k}", "Y_h" if last else ""],
                                      hidden_size=hidden, direction="bidirectional" if bidirectional else "forward",
                                      **attributes))
        if bidirectional:       # (L, D, B, H) -> (L, B, D*H)
            nodes += [helper.make_node("Transpose", [f"Y{k}"], [f"T{k}"], perm=[0, 2, 1, 3]),
                      helper.make_node("Reshape", [f"T{k}", "flat"], [f"S{k}"])]
        else:
            nodes.append(helper.make_node("Squeeze", [f"Y{k}", "axis1"], [f"S{k}"]))
        x, size = f"S{k}", directions * hidden
    if output == "sequence":
        nodes.append(helper.make_node("Transpose", [x], ["y"], perm=[1, 0, 2]))
        out_shape = ["batch", 7, directions * hidden]
    else:
        nodes = [n for n in nodes if x not in n.output]      # the last layer's sequence is not used
        if bidirectional:
            nodes += [helper.make_node("Transpose", ["Y_h"], ["h_batch"], perm=[1, 0, 2]),
                      helper.make_node("Flatten", ["h_batch"], ["y"], axis=1)]
        else:
            nodes.append(helper.make_node("Squeeze", ["Y_h", "axis0"], ["y"]))
        out_shape = ["batch", directions * hidden]
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                                             ["batch", 7, features])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, out_shape)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("output", ["sequence", "last"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_plain_onnx_recurrent_layers_import(kind, output, layers, bidirectional):
    extra = {"linear_before_reset": 1} if kind == "GRU" else {}     # PyTorch's GRU; 0 is refused below
    model = _recurrent_file(kind, layers, bidirectional, output, **extra)
    x = np.random.default_rng(1).standard_normal((4, 7, 3)).astype(np.float32)
    imported = _imports_and_matches(model, x)
    [node] = [n for n in imported.project.graph.nodes if n.type not in ("Input", "Output")]
    assert (node.type, node.params["output"], node.params["num_layers"], node.params["bidirectional"]) == \
        (kind, output, layers, bidirectional)


def test_plain_onnx_gru_that_resets_before_its_linear_is_refused_by_name():
    model = _recurrent_file("GRU", 1, False, "last")          # linear_before_reset defaults to 0
    with pytest.raises(UnsupportedModel, match="linear_before_reset=0"):
        import_model(model, inputs=np.zeros((2, 7, 3), dtype=np.float32))


class Tagger(nn.Module):
    """Someone's classifier: a plain nn.LSTM or nn.GRU (batch first), then a Linear on the last layer's final
    state h_n[-1]; bidirectional, a Linear on every step of the output sequence."""

    def __init__(self, kind: str, layers: int, bidirectional: bool):
        super().__init__()
        self.rnn = getattr(nn, kind)(4, 6, num_layers=layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(12 if bidirectional else 6, 3)

    def forward(self, x):
        y, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        return self.fc(y if self.rnn.bidirectional else h[-1])


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
def test_recurrent_modules_from_either_exporter_import(kind, layers, bidirectional, dynamo):
    torch.manual_seed(5)
    module = Tagger(kind, layers, bidirectional).eval()
    x = torch.randn(2, 9, 4)
    if dynamo:
        exported = torch.export.export(module, (x,), dynamic_shapes=({0: torch.export.Dim.AUTO},), strict=False)
        model = torch.onnx.export(exported, (x,), None, dynamo=True, external_data=False, verbose=False).model_proto
    else:
        buffer = io.BytesIO()
        torch.onnx.export(module, (x,), buffer, dynamo=False)
        model = onnx.load_model_from_string(buffer.getvalue())
    imported = _imports_and_matches(model, x.numpy())
    assert _types(imported)[0] == kind
    assert np.abs(_run(imported.project, imported.weights, x.numpy()) - module(x).detach().numpy()).max() <= 1e-4


class Recurrent(nn.Module):
    """Someone's plain nn.RNN (batch first), returning the output sequence."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True)

    def forward(self, x):
        return self.rnn(x)[0]


def test_rnn_unrolled_by_the_dynamo_exporter_is_refused_whole():
    """The dynamo exporter writes nn.RNN as one MatMul, Add and Tanh per step (a fixed length), not an
    ONNX RNN node: no layer of the catalog, so nothing imports."""
    module, x = Recurrent().eval(), torch.randn(2, 5, 3)
    model = torch.onnx.export(module, (x,), None, dynamo=True, external_data=False, verbose=False).model_proto
    assert "RNN" not in {n.op_type for n in model.graph.node}
    with pytest.raises(UnsupportedModel, match="Nothing was imported") as caught:
        import_model(model)
    assert caught.value.unknown
