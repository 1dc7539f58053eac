"""The export panel's files agree with each other: the bundle's ONNX model, its PyTorch code with its
weights, and the trained run they come from give the same outputs."""
from __future__ import annotations

import importlib.util
import io
import sys
import zipfile

import numpy as np
import onnxruntime as ort
import torch
from safetensors.torch import load as load_safetensors

from builder import exporting, run_control, trained_model
from builder.projects import store
from training_app import open_tab, open_template, set_setting, texts, train, wait_for_run, workspace


def test_the_bundle_holds_a_verified_onnx_file_and_code_that_agree_with_the_run(home, tmp_path):
    at = open_template("mlp")
    set_setting(at, "epochs", 1)
    train(at)
    assert wait_for_run(at) == "completed"
    run_id = run_control.registry().jobs()[0].id
    source = exporting.source_for(workspace(at), run_id)
    assert source.weights is not None and "trained weights of run 1" in source.label
    result = exporting.export(source)
    exported = result.onnx
    assert exported.verification.passed and exported.metadata["output"] == "probabilities"
    files = zipfile.ZipFile(io.BytesIO(result.bundle))
    assert {"model.onnx", "model.py", "weights.safetensors", "project.json", "train.py", "README.md"} <= \
        set(files.namelist())
    assert files.read("model.onnx") == exported.data               # one export, offered twice
    assert "passed" in files.read("README.md").decode()
    trained = trained_model.load(store(), run_id)
    x = trained.splits.x_test[:5]
    expected = trained.probabilities(x).numpy()
    session = ort.InferenceSession(files.read("model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)

    code = tmp_path / "bundle_model.py"
    code.write_bytes(files.read("model.py"))
    spec = importlib.util.spec_from_file_location("bundle_model", code)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bundle_model"] = module
    try:
        spec.loader.exec_module(module)
        model = next(v for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                     and v.__module__ == "bundle_model")()
    finally:
        del sys.modules["bundle_model"]
    model.load_state_dict(load_safetensors(files.read("weights.safetensors")))
    model.eval()
    with torch.no_grad():
        logits = model(x)
    np.testing.assert_allclose(torch.softmax(logits, dim=-1).numpy(), expected, atol=1e-5)


def test_without_a_run_the_graph_exports_with_fresh_weights(home):
    at = open_template("mlp")
    source = exporting.source_for(workspace(at), None)
    assert source.weights is None and "untrained" in source.label
    result = exporting.export(source)
    assert result.onnx.verification.passed
    assert "freshly initialized" in zipfile.ZipFile(io.BytesIO(result.bundle)).read("README.md").decode()


def test_the_panel_says_the_onnx_file_gives_probabilities_where_the_code_gives_logits(home):
    at = open_tab(open_template("mlp"), "Export")
    assert any(c.startswith("The ONNX file outputs class probabilities") and "logits" in c
               for c in texts(at, "caption")), texts(at, "caption")
