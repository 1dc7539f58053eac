"""Export: every catalog layer, every template and the reference architectures export and verify."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx_cases import chain, single_layer
from torch import nn

from runtime.compiler import compile
from runtime.graph import load_project
from runtime.layers import LAYERS
from runtime.onnx.errors import ExportFailed, VerificationFailed
from runtime.onnx.export import export_module
from runtime.onnx.project_export import SampleData, export_project, generated_samples, onnx_metadata
from runtime.onnx.verify import require, session, verify
from runtime.projects import compile_project

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "runtime" / "templates").glob("*.json"))
REFERENCES = ["vgg16", "resnet18", "mobilenet_v2"]

# Layer types that cannot export, with the reason. Input and Output build no module: they are the
# graph's ends, exported as the file's named input and output.
NOT_EXPORTED = {"Input": "no module: the file's input", "Output": "no module: the file's output"}


def _generated(compiled, count=4):
    return SampleData(generated_samples(compiled, count), "generated")


def test_exceptions_are_catalog_types():
    assert set(NOT_EXPORTED) <= set(LAYERS)
    assert all(LAYERS[t].construct is None for t in NOT_EXPORTED)


@pytest.mark.parametrize("layer_type", sorted(set(LAYERS) - set(NOT_EXPORTED)))
def test_every_layer_type_exports_and_verifies(layer_type):
    project, compiled = single_layer(layer_type)
    result = export_project(project, compiled, data=_generated(compiled))
    assert result.verification.passed, result.verification.summary()
    assert result.verification.max_abs_diff <= 1e-4 or result.verification.max_rel_diff <= 1e-4
    model = onnx.load_model_from_string(result.data)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["output"]


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_every_template_exports_and_verifies(path):
    project = load_project(path)
    compiled = compile_project(project)
    result = export_project(project, compiled, data=_generated(compiled, 6))
    assert result.verification.passed
    assert result.verification.batch_sizes == (1, 6)
    meta = result.metadata
    assert meta["project"] == project.name
    assert json.loads(meta["input_shape"]) == list(compiled.input_shape)
    assert json.loads(meta["class_labels"]) == list(compiled.spec.class_names)
    # the file's batch axis is free: a batch size verification did not use runs too
    runner = session(result.data)
    x = generated_samples(compiled, 3, seed=5)
    out = runner.run(None, {"input": x.numpy()})[0]
    assert out.shape[0] == 3


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_architectures_verify_at_batch_1_and_8_from_one_file(name):
    project = load_project(ROOT / "tests" / "fixtures" / "reference" / f"{name}.json")
    compiled = compile_project(project)
    result = export_project(project, compiled, data=_generated(compiled, 8))
    assert result.verification.passed, result.verification.summary()
    assert result.verification.batch_sizes == (1, 8)


def test_sequence_models_keep_batch_and_length_dynamic():
    project = chain("gru", [("GRU", {"hidden_size": 8, "num_layers": 2}), ("Linear", {"out_features": 3})], [10, 4])
    compiled = compile(project.graph)
    module = compiled.build_module().eval()
    result = export_project(project, compiled, module.state_dict(), data=_generated(compiled, 5))
    assert result.verification.sequence_lengths == (5, 10)
    dims = onnx.load_model_from_string(result.data).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "sequence", 4]
    x = torch.randn(2, 17, 4)   # a length the export never saw
    got = session(result.data).run(None, {"input": x.numpy()})[0]
    assert np.abs(got - module(x).detach().numpy()).max() < 1e-4


def test_attention_exports_through_torchscript_with_batch_and_length_dynamic():
    project = chain("gpt", [("Linear", {"out_features": 8}),
                            ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16, "causal": True}),
                            ("MultiheadAttention", {"num_heads": 4}), ("Linear", {"out_features": 3})], [6, 4])
    compiled = compile(project.graph)
    module = compiled.build_module().eval()
    result = export_project(project, compiled, module.state_dict(), data=_generated(compiled, 5))
    assert result.metadata["exporter"] == "torchscript"
    dims = onnx.load_model_from_string(result.data).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "sequence", 4]
    x = torch.randn(3, 11, 4)   # a batch size and a length the export never saw
    got = session(result.data).run(None, {"input": x.numpy()})[0]
    assert np.abs(got - module(x).detach().numpy()).max() < 1e-4


def test_logits_or_probabilities():
    project = chain("clf", [("Flatten", {}), ("Linear", {"out_features": 3}), ("Softmax", {})], [2, 3])
    compiled = compile(project.graph)
    data = _generated(compiled, 5)
    weights = compiled.build_module().state_dict()
    logits = export_project(project, compiled, weights, data=data)
    probs = export_project(project, compiled, weights, data=data, probabilities=True)
    x = data.samples.numpy()
    raw = session(logits.data).run(None, {"input": x})[0]
    p = session(probs.data).run(None, {"input": x})[0]
    assert logits.metadata["output"] == "logits" and probs.metadata["output"] == "probabilities"
    assert np.allclose(p.sum(axis=1), 1, atol=1e-6)
    assert not np.allclose(raw.sum(axis=1), 1, atol=1e-3)
    assert np.allclose(torch.softmax(torch.from_numpy(raw), -1).numpy(), p, atol=1e-6)


def test_binary_classifier_probabilities_use_the_sigmoid():
    project = chain("binary", [("Linear", {"out_features": 1})], [3])
    compiled = compile(project.graph)
    weights = compiled.build_module().state_dict()
    data = _generated(compiled, 5)
    feed = {"input": data.samples.numpy()}
    logits = session(export_project(project, compiled, weights, data=data).data).run(None, feed)[0]
    probs = export_project(project, compiled, weights, data=data, probabilities=True)
    got = session(probs.data).run(None, feed)[0]
    assert np.allclose(got, 1 / (1 + np.exp(-logits)), atol=1e-6)
    ending = chain("binary", [("Linear", {"out_features": 1}), ("Sigmoid", {})], [3])
    sigmoid = export_project(ending, compile(ending.graph), weights, data=data)
    assert sigmoid.metadata["output"] == "probabilities"


def test_trained_weights_are_the_exported_ones():
    project = chain("mlp", [("Linear", {"out_features": 4})], [3])
    compiled = compile(project.graph)
    weights = {"linear1.weight": torch.arange(12.0).reshape(4, 3), "linear1.bias": torch.ones(4)}
    result = export_project(project, compiled, weights, data=_generated(compiled))
    x = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    assert session(result.data).run(None, {"input": x})[0].tolist() == [[1.0, 4.0, 7.0, 10.0]]
    assert result.metadata["trained"] == "true"


def test_weights_that_do_not_fit_are_named():
    project = chain("mlp", [("Linear", {"out_features": 4})], [3])
    compiled = compile(project.graph)
    with pytest.raises(ExportFailed, match=r"linear1.weight \[4, 5\] \(graph wants \[4, 3\]\)"):
        export_project(project, compiled, {"linear1.weight": torch.zeros(4, 5), "linear1.bias": torch.zeros(4)},
                       data=_generated(compiled))


def test_file_is_self_contained_with_metadata(tmp_path):
    project = chain("tiny", [("Linear", {"out_features": 2})], [3])
    compiled = compile(project.graph)
    data = SampleData(torch.randn(4, 3), "dataset toy", {"mean": [0.5], "std": [2.0], "axis": -1}, ["no", "yes"])
    path = export_project(project, compiled, data=data).write(tmp_path / "tiny.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]
    model = onnx.load(str(path), load_external_data=False)
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer)
    meta = onnx_metadata(path)
    assert json.loads(meta["class_labels"]) == ["no", "yes"]
    assert json.loads(meta["normalization"]) == {"mean": [0.5], "std": [2.0], "axis": -1}
    assert "subtract 'normalization' mean" in meta["preprocessing"]
    assert meta["verified_on"] == "dataset toy"


class Cumprod(nn.Module):
    """An operation neither exporter translates at opset 18."""

    def forward(self, x):
        return torch.cumprod(x, dim=1)


@pytest.mark.parametrize("exporter,reason", [("torchscript", "aten::cumprod"), ("dynamo", "prims.prod")])
def test_failing_node_is_named_with_its_canvas_id_and_type(exporter, reason):
    project = chain("bad", [("Linear", {"out_features": 4}), ("ReLU", {}), ("Tanh", {})], [3])
    module = compile(project.graph).build_module()
    setattr(module, "tanh3", Cumprod())     # the node the canvas calls tanh3 now holds the culprit
    with pytest.raises(ExportFailed) as caught:
        export_module(module, torch.randn(2, 3), exporter=exporter)
    assert caught.value.node_id == "tanh3" and caught.value.node_type == "Tanh"
    assert reason in caught.value.reason
    assert "Node 'tanh3' (Tanh)" in str(caught.value)


def test_a_file_that_differs_from_pytorch_is_refused_with_figures():
    torch.manual_seed(0)
    exported, other = nn.Linear(3, 2), nn.Linear(3, 2)
    model = export_module(exported, torch.randn(2, 3))
    verification = verify(model, other, torch.randn(5, 3))
    assert not verification.passed and verification.max_abs_diff > 1e-3
    with pytest.raises(VerificationFailed, match="max abs diff") as caught:
        require(verification)
    assert caught.value.verification is verification
    assert require(verify(model, exported, torch.randn(5, 3))).passed


def test_text_metadata_is_enough_to_prepare_input_like_the_dataset():
    """A consumer with only the .onnx file turns a sentence into the same ids as Layerboard."""
    import re

    from runtime import datasets
    from runtime.onnx.project_export import dataset_samples
    project = chain("sentiment", [("Embedding", {"embedding_dim": 8}), ("SequencePool", {}),
                                  ("Linear", {"out_features": "auto"})], [20], "int64")
    project.dataset = {"name": "rotten_tomatoes", "subset": 300, "max_len": 20, "vocab_size": 500}
    compiled = compile_project(project)
    meta = export_project(project, compiled, data=dataset_samples(project, compiled)).metadata
    vocabulary = json.loads(meta["vocabulary"])
    pattern = re.search(r"regular expression (.+?) in order", meta["preprocessing"]).group(1)
    sentence = "It's a great, GREAT film!<br />Don't miss it?"
    words = re.findall(pattern, sentence.lower().replace("<br />", " "))
    index = {w: i for i, w in enumerate(vocabulary)}
    ids = [index.get(w, 1) for w in words][:20]
    ids += [0] * (20 - len(ids))
    splits = datasets.load("rotten_tomatoes", subset=300, max_len=20, vocab_size=500)
    assert ids == splits.encode_text(sentence)[0].tolist()
    assert json.loads(meta["class_labels"]) == ["negative", "positive"]
