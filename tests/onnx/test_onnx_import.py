"""Import: models written by others (onnx's backend test data, hand-written PyTorch modules), round trips,
and bad files refused with a clear message before anything runs."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from onnx_cases import chain, single_layer
from torch import nn

import runtime.onnx.files as files
import runtime.onnx.importer as importer
from runtime.compiler import compile
from runtime.graph import load_project
from runtime.layers import LAYERS
from runtime.onnx.errors import OnnxFileError, UnsupportedModel
from runtime.onnx.importer import import_model, import_onnx, import_upload
from runtime.onnx.project_export import SampleData, export_project, generated_samples
from runtime.projects import compile_project

ROOT = Path(__file__).resolve().parents[2]
BACKEND = Path(onnx.__file__).parent / "backend" / "test" / "data"
# Cases from onnx's own test data whose operators the catalog covers (written by PyTorch's exporter
# in 2017-2018, opset 6-9: old attribute forms included).
BACKEND_CASES = [
    "pytorch-converted/test_Conv1d", "pytorch-converted/test_Conv1d_dilated", "pytorch-converted/test_Conv1d_groups",
    "pytorch-converted/test_Conv1d_pad2", "pytorch-converted/test_Conv1d_stride",
    "pytorch-converted/test_Conv2d_depthwise_padded", "pytorch-converted/test_Conv2d_dilated",
    "pytorch-converted/test_Conv2d_padding", "pytorch-converted/test_Conv2d_strided",
    "pytorch-converted/test_AvgPool2d", "pytorch-converted/test_AvgPool2d_stride",
    "pytorch-converted/test_BatchNorm1d_3d_input_eval", "pytorch-converted/test_BatchNorm2d_eval",
    "pytorch-converted/test_ELU", "pytorch-converted/test_Embedding", "pytorch-converted/test_LeakyReLU_with_negval",
    "pytorch-converted/test_Linear", "pytorch-converted/test_Linear_no_bias", "pytorch-converted/test_LogSoftmax",
    "pytorch-converted/test_MaxPool1d_stride", "pytorch-converted/test_MaxPool2d",
    "pytorch-converted/test_PixelShuffle",
    "pytorch-converted/test_ReLU", "pytorch-converted/test_Sigmoid", "pytorch-converted/test_Softmax",
    "pytorch-converted/test_Softplus", "pytorch-converted/test_Tanh", "pytorch-converted/test_log_softmax_dim3",
    "pytorch-operator/test_operator_conv", "pytorch-operator/test_operator_convtranspose",
    "pytorch-operator/test_operator_flatten", "pytorch-operator/test_operator_maxpool",
    "pytorch-operator/test_operator_permute2",
]
# Cases it must refuse, and the operator the message must name.
BACKEND_REFUSED = {"pytorch-converted/test_PReLU_2d": "PRelu x1", "pytorch-converted/test_GLU": "Split x1",
                   "pytorch-converted/test_ZeroPad2d": "Pad x1", "pytorch-converted/test_Conv3d": "3-D input",
                   "pytorch-converted/test_BatchNorm2d_momentum_eval": "epsilon 0.001",
                   "pytorch-operator/test_operator_basic": "2 inputs"}
# Catalog entries without a module of their own to export.
NOT_IMPORTED = {"Input": "no module", "Output": "no module"}


# Layers that come back as their parts (an equivalent, editable graph), not as one node.
_ENCODER_PARTS = ["MultiheadAttention", "Add", "LayerNorm", "Linear", "ReLU", "Linear", "Add", "LayerNorm"]
IMPORTED_AS_PARTS = {"TransformerEncoderLayer": _ENCODER_PARTS,
                     "TransformerDecoderLayer": ["MultiheadAttention", "Add", "LayerNorm"] + _ENCODER_PARTS}


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """A model onnxruntime 1.31 reads (IR version 10, opset 18)."""
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def _run(project, weights, x, spec=None):
    module = compile(project.graph, spec).build_module()
    module.load_state_dict(weights)
    with torch.no_grad():
        return module.eval()(torch.from_numpy(np.array(x))).numpy()


@pytest.mark.parametrize("case", BACKEND_CASES)
def test_backend_models_import_and_match_their_own_test_outputs(case):
    folder = BACKEND / case
    x = numpy_helper.to_array(onnx.load_tensor(str(folder / "test_data_set_0" / "input_0.pb")))
    expected = numpy_helper.to_array(onnx.load_tensor(str(folder / "test_data_set_0" / "output_0.pb")))
    imported = import_onnx(folder / "model.onnx", inputs=x)
    assert imported.max_abs_diff <= 1e-4
    got = _run(imported.project, imported.weights, x)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("case", sorted(BACKEND_REFUSED))
def test_backend_models_outside_the_catalog_are_refused_by_name(case):
    with pytest.raises(UnsupportedModel, match=BACKEND_REFUSED[case]):
        import_onnx(BACKEND / case / "model.onnx")


@pytest.mark.parametrize("layer_type", sorted(set(LAYERS) - set(NOT_IMPORTED)))
def test_every_importable_layer_round_trips(layer_type):
    project, compiled = single_layer(layer_type)
    data = SampleData(generated_samples(compiled, 4), "generated")
    weights = compiled.build_module().state_dict()
    exported = export_project(project, compiled, weights, data=data)
    imported = import_model(onnx.load_model_from_string(exported.data))
    x = data.samples.numpy()
    original = _run(project, weights, x, compiled.spec)
    assert np.abs(_run(imported.project, imported.weights, x) - original).max() <= 1e-4
    kept = [n.type for n in imported.project.graph.nodes if n.type not in ("Input", "Output")]
    if layer_type in IMPORTED_AS_PARTS:
        assert kept == IMPORTED_AS_PARTS[layer_type]
    else:
        assert kept in ([layer_type], []), kept     # Identity and Dropout vanish in eval mode


@pytest.mark.parametrize("heads,causal", [(1, False), (4, False), (2, True)])
def test_attention_round_trips_with_its_biases(heads, causal):
    project = chain("att", [("Linear", {"out_features": 8}),
                            ("MultiheadAttention", {"num_heads": heads, "causal": causal}),
                            ("SequencePool", {}), ("Linear", {"out_features": 2})], [5, 3])
    compiled = compile(project.graph)
    module = compiled.build_module()
    with torch.no_grad():
        attention = getattr(module, "multiheadattention2")
        attention.in_proj_bias.uniform_(-1, 1)
        attention.out_proj.bias.uniform_(-1, 1)
    weights = module.state_dict()
    data = SampleData(torch.randn(3, 5, 3), "generated")
    imported = import_model(onnx.load_model_from_string(export_project(project, compiled, weights, data=data).data))
    [node] = [n for n in imported.project.graph.nodes if n.type == "MultiheadAttention"]
    assert (node.params["num_heads"], node.params["causal"]) == (heads, causal)
    x = data.samples.numpy()
    assert np.abs(_run(imported.project, imported.weights, x) - _run(project, weights, x)).max() <= 1e-4


def test_group_norm_on_images_round_trips():
    project = chain("gn", [("Conv2d", {"out_channels": 8, "kernel_size": 3}), ("GroupNorm", {"num_groups": 2}),
                           ("GELU", {}), ("Flatten", {}), ("Linear", {"out_features": 3})], [3, 6, 6])
    compiled = compile(project.graph)
    module = compiled.build_module()
    with torch.no_grad():
        module.groupnorm2.weight.uniform_(0.5, 2)
        module.groupnorm2.bias.uniform_(-1, 1)
    weights = module.state_dict()
    data = SampleData(torch.randn(3, 3, 6, 6), "generated")
    imported = import_model(onnx.load_model_from_string(export_project(project, compiled, weights, data=data).data))
    types = [n.type for n in imported.project.graph.nodes]
    assert types == ["Input", "Conv2d", "GroupNorm", "GELU", "Flatten", "Linear", "Output"]
    assert imported.project.graph.nodes[2].params["num_groups"] == 2
    x = data.samples.numpy()
    assert np.abs(_run(imported.project, imported.weights, x) - _run(project, weights, x)).max() <= 1e-4


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_position_tables_import_as_positional_encoding(kind):
    project = chain("pos", [("PositionalEncoding", {"kind": kind, "max_len": 64}), ("Linear", {"out_features": 2})],
                    [10, 8])
    compiled = compile(project.graph)
    weights = compiled.build_module().state_dict()
    data = SampleData(torch.randn(3, 10, 8), "generated")
    imported = import_model(onnx.load_model_from_string(export_project(project, compiled, weights, data=data).data))
    [pe] = [n for n in imported.project.graph.nodes if n.type == "PositionalEncoding"]
    assert pe.params["kind"] == kind
    x = data.samples.numpy()
    assert np.abs(_run(imported.project, imported.weights, x) - _run(project, weights, x)).max() <= 1e-4


@pytest.mark.parametrize("path", ["runtime/templates/mlp.json", "runtime/templates/lenet5.json",
                                  "runtime/templates/lstm.json", "runtime/templates/gru.json",
                                  "runtime/templates/transformer.json",
                                  "runtime/templates/resnet_small.json", "tests/fixtures/reference/resnet18.json"])
def test_round_trip_export_import_same_outputs(path, tmp_path):
    project = load_project(ROOT / path)
    compiled = compile_project(project)
    data = SampleData(generated_samples(compiled, 3), "generated")
    weights = compiled.build_module().state_dict()
    target = export_project(project, compiled, weights, data=data).write(tmp_path / "model.onnx")
    imported = import_onnx(target)
    assert imported.project.name == project.name
    assert imported.project.dataset == ({"name": project.dataset["name"]} if project.dataset else {})
    x = data.samples.numpy()
    original = _run(project, weights, x, compiled.spec)
    assert np.abs(_run(imported.project, imported.weights, x) - original).max() <= 1e-4


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (1, True), (3, True)])
def test_recurrent_stacks_round_trip(kind, output, layers, bidirectional):
    project = chain("seq", [(kind, {"hidden_size": 6, "output": output, "num_layers": layers,
                                    "bidirectional": bidirectional})], [7, 3])
    compiled = compile(project.graph)
    weights = compiled.build_module().state_dict()
    data = SampleData(torch.randn(3, 7, 3), "generated")
    imported = import_model(onnx.load_model_from_string(export_project(project, compiled, weights, data=data).data))
    [node] = [n for n in imported.project.graph.nodes if n.type not in ("Input", "Output")]
    assert (node.type, node.params["output"], node.params["num_layers"], node.params["bidirectional"]) == \
        (kind, output, layers, bidirectional)
    x = data.samples.numpy()
    assert np.abs(_run(imported.project, imported.weights, x) - _run(project, weights, x)).max() <= 1e-4


class HandWritten(nn.Module):
    """Someone's own network, with a skip connection, a concat and functional activations."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.left = nn.Conv2d(8, 8, 3, padding=1)
        self.right = nn.Conv2d(8, 4, 1)
        self.head = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = nn.functional.gelu(self.left(x)) + x
        x = torch.cat([x, nn.functional.silu(self.right(x))], dim=1)
        x = nn.functional.max_pool2d(x, 2)
        return torch.log_softmax(self.head(x.flatten(1)), dim=-1)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_hand_written_module_imports_from_either_exporter(dynamo):
    torch.manual_seed(0)
    module = HandWritten().eval()
    module.bn.running_mean.uniform_(-1, 1)
    x = torch.randn(2, 3, 8, 8)
    if dynamo:
        model = torch.onnx.export(module, (x,), None, dynamo=True, external_data=False, verbose=False).model_proto
    else:
        buffer = io.BytesIO()
        torch.onnx.export(module, (x,), buffer, dynamo=False, do_constant_folding=False)
        model = onnx.load_model_from_string(buffer.getvalue())
    imported = import_model(model)
    types = [n.type for n in imported.project.graph.nodes]
    assert {"Conv2d", "GELU", "Add", "Concat", "SiLU", "MaxPool2d", "Linear", "LogSoftmax"} <= set(types)
    got = _run(imported.project, imported.weights, x.numpy())
    assert np.abs(got - module(x).detach().numpy()).max() <= 1e-4


def test_sequence_file_needs_a_length_or_takes_it_from_its_metadata():
    model = _model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", "steps", 3])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", "steps", 3])]))
    with pytest.raises(UnsupportedModel, match=r"leaves sizes open \(one sample is \[\?, 3\]\).*--input-shape"):
        import_model(model)
    assert import_model(model, input_shape=[7, 3]).project.graph.nodes[0].params["shape"] == [7, 3]


@pytest.mark.parametrize("written", ["not json", '["a"]', '{"a": 1}', "[0]", "[true]"])
def test_a_malformed_metadata_shape_asks_for_the_sample_shape(written):
    model = _model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", "steps"])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", "steps"])]))
    helper.set_model_props(model, {"input_shape": written})
    with pytest.raises(UnsupportedModel, match="leaves sizes open"):
        import_model(model)


# --- bad files: a clear message, nothing run ---------------------------------------------------------

def test_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07\x12\x04this is not protobuf at all \xff\xfe" * 10)
    with pytest.raises(OnnxFileError, match="broken.onnx"):
        import_onnx(path)


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("hello")
    with pytest.raises(OnnxFileError, match="not an ONNX model|no ONNX graph"):
        import_onnx(path)


def test_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.onnx"
    path.write_bytes(b"\0" * 2048)
    monkeypatch.setattr(files, "MAX_ONNX_BYTES", 1024)
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")
    with pytest.raises(OnnxFileError, match="2,048 bytes; at most 1,024"):
        import_onnx(path)
    assert read == []


def test_a_constant_too_large_to_compute_is_refused_before_it_is_allocated(monkeypatch):
    """129 bytes of ConstantOfShape could ask for gigabytes: refused from the inferred shape, unevaluated."""
    monkeypatch.setattr(importer, "MAX_TENSOR_VALUES", 1000)
    evaluated = []
    monkeypatch.setattr(importer, "ReferenceEvaluator", lambda *a, **k: evaluated.append(a) or 1 / 0)
    size = numpy_helper.from_array(np.array([40, 40], dtype=np.int64), "size")
    model = _model(helper.make_graph(
        [helper.make_node("ConstantOfShape", ["size"], ["c"]), helper.make_node("Add", ["x", "c"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 40])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [40, 40])], [size]))
    with pytest.raises(UnsupportedModel, match=r"'c' would hold 1,600 values \(\[40, 40\]"):
        import_model(model)
    assert evaluated == []


def test_onnxruntime_refusal_is_told_without_its_cpp_location():
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])]),
        opset_imports=[helper.make_opsetid("", 18)], ir_version=99)
    with pytest.raises(UnsupportedModel) as caught:
        import_model(model)
    assert "Unsupported model IR version: 99" in str(caught.value)
    assert "onnxruntime::" not in str(caught.value) and ".cc:" not in str(caught.value)


def _model_with_external_weights(tmp_path: Path, location: str) -> Path:
    weight = numpy_helper.from_array(np.ones((2, 3), dtype=np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "24")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 3])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 2])], [weight])
    path = tmp_path / "model" / "model.onnx"
    path.parent.mkdir()
    path.write_bytes(_model(graph).SerializeToString())
    return path


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(np.ones(6, dtype=np.float32).tobytes())
    path = _model_with_external_weights(tmp_path, location)
    with pytest.raises(OnnxFileError, match="outside the model's folder"):
        import_onnx(path)


def test_upload_with_external_data_is_refused(tmp_path):
    path = _model_with_external_weights(tmp_path, "weights.bin")
    with pytest.raises(OnnxFileError, match="separate data file"):
        import_upload(path.read_bytes(), "model.onnx")


def test_upload_of_an_exported_file_imports(tmp_path):
    project = load_project(ROOT / "runtime" / "templates" / "mlp.json")
    compiled = compile_project(project)
    data = export_project(project, compiled, data=SampleData(generated_samples(compiled, 3), "generated")).data
    imported = import_upload(data, "my model.onnx")
    kept = [n.type for n in project.graph.nodes if n.type != "Dropout"]   # eval-mode exports drop it
    assert [n.type for n in imported.project.graph.nodes] == kept
    with pytest.raises(OnnxFileError, match="my model.onnx"):
        import_upload(data[: len(data) // 2], "my model.onnx")


def test_external_data_next_to_the_model_is_read(tmp_path):
    path = _model_with_external_weights(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(np.full(6, 0.5, dtype=np.float32).tobytes())
    imported = import_onnx(path)
    assert imported.weights["linear1.weight"].tolist() == [[0.5] * 3] * 2


def test_unknown_operators_are_listed_by_name_and_count():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Cos", ["a"], ["b"]),
             helper.make_node("Sin", ["b"], ["c"]), helper.make_node("Cos", ["c"], ["y"])]
    model = _model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 4])]))
    with pytest.raises(UnsupportedModel, match=r"Cos x2, Sin x1.*Nothing was imported") as caught:
        import_model(model)
    assert caught.value.unknown == {"Cos": 2, "Sin": 1}


class Tagger(nn.Module):
    """Someone's sequence tagger: a plain nn.GRU (batch first) and a Linear on every step."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        y, _ = self.gru(x)
        return self.fc(torch.tanh(y))


def test_hand_written_recurrent_module_imports():
    torch.manual_seed(1)
    module = Tagger().eval()
    x = torch.randn(2, 9, 4)
    buffer = io.BytesIO()
    torch.onnx.export(module, (x,), buffer, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "batch", 1: "steps"}})
    imported = import_model(onnx.load_model_from_string(buffer.getvalue()), input_shape=[9, 4])
    assert [n.type for n in imported.project.graph.nodes] == ["Input", "GRU", "Tanh", "Linear", "Output"]
    got = _run(imported.project, imported.weights, x.numpy())
    assert np.abs(got - module(x).detach().numpy()).max() <= 1e-4


class Encoder(nn.Module):
    """Someone's encoder: PyTorch's own TransformerEncoderLayer (batch first), then a classifier."""

    def __init__(self):
        super().__init__()
        self.block = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.block(x).mean(dim=1))


def test_hand_written_transformer_encoder_imports_as_its_parts():
    torch.manual_seed(2)
    module = Encoder().eval()
    with torch.no_grad():
        module.block.self_attn.in_proj_bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 6, 16)
    exported = torch.export.export(module, (x,), dynamic_shapes=({0: torch.export.Dim.AUTO},), strict=False)
    model = torch.onnx.export(exported, (x,), None, dynamo=True, external_data=False, verbose=False).model_proto
    imported = import_model(model)
    types = [n.type for n in imported.project.graph.nodes]
    assert types == ["Input", "MultiheadAttention", "Add", "LayerNorm", "Linear", "ReLU", "Linear", "Add",
                     "LayerNorm", "SequencePool", "Linear", "Output"]
    got = _run(imported.project, imported.weights, x.numpy())
    assert np.abs(got - module(x).detach().numpy()).max() <= 1e-4
