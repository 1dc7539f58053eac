"""The bundle: unzip it anywhere, train.py runs one epoch in plain PyTorch, model.onnx runs in onnxruntime."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

from runtime import datasets
from runtime.graph import Edge, Node, load_project
from runtime.onnx.bundle import build_bundle
from runtime.onnx.errors import ExportFailed

ROOT = Path(__file__).resolve().parents[2]
FILES = ["README.md", "data.safetensors", "model.onnx", "model.py", "project.json", "settings.json", "train.py",
         "weights.safetensors"]


def _unzip(data: bytes, folder: Path) -> Path:
    zip_path = folder / "bundle.zip"
    zip_path.write_bytes(data)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder / "bundle")
    return folder / "bundle"


def _load_generated_model(folder: Path, settings: dict) -> torch.nn.Module:
    """model.py's class, imported from the unzipped folder (as a user would)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"bundle_model_{folder.parent.name}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, settings["model_class"])()


def add_final_softmax(project) -> None:
    """The same network ending in Softmax: training must skip it, the .onnx then holds logits."""
    output = next(n for n in project.graph.nodes if n.type == "Output")
    edge = next(e for e in project.graph.edges if e.target == output.id)
    project.graph.nodes.append(Node("softmax9", "Softmax", {}))
    project.graph.edges.append(Edge("softmax9", output.id))
    edge.target = "softmax9"


@pytest.mark.parametrize("template,final_softmax,training", [
    ("mlp", False, {}),
    ("mlp", True, {"augment": {"rotate_degrees": 5.0, "noise": 0.05}, "clip": "norm", "schedule": "cosine"}),
    ("gru", False, {"augment": {"jitter": 0.05}, "early_stopping": True, "schedule": "plateau", "l1": 1e-5}),
], ids=["mlp", "mlp-softmax-augment", "gru-augment"])
def test_bundle_trains_one_epoch_and_its_onnx_runs(tmp_path, template, final_softmax, training):
    project = load_project(ROOT / "runtime" / "templates" / f"{template}.json")
    project.training.update(training)
    if final_softmax:
        add_final_softmax(project)
    data, exported = build_bundle(project)
    folder = _unzip(data, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == FILES
    assert exported.verification.passed
    assert exported.metadata["trained"] == "false"          # the bundle ships freshly initialized weights
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["final_layer_skipped_in_training"] == ("softmax9" if final_softmax else None)
    assert settings["training"]["optimizer"] == project.training.get("optimizer", "adam")
    assert all(settings["training"][k] == v for k, v in training.items() if k != "augment")
    assert (settings["augment"] is None) == ("augment" not in training)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    run = subprocess.run([sys.executable, "train.py", "--epochs", "1"], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "epoch 1/1" in run.stdout and "wrote trained.safetensors" in run.stdout

    # model.onnx answers like model.py with weights.safetensors, on the bundled test split
    splits = load_file(str(folder / "data.safetensors"))
    x = splits["x_test"][:16]
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    scores = session.run(None, {"input": x.numpy()})[0]
    model = _load_generated_model(folder, settings)
    model.load_state_dict(load_file(str(folder / "weights.safetensors")))
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    if settings["final_layer_skipped_in_training"]:   # the .onnx holds logits; model.py ends in Softmax
        expected = np.log(expected)
        scores = torch.log_softmax(torch.from_numpy(scores), -1).numpy()
    assert np.abs(scores - expected).max() < 1e-4
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["class_labels"]) == list(datasets.spec(project.dataset["name"]).class_names)

    # the trained weights load into model.py and differ from the starting ones
    trained = load_file(str(folder / "trained.safetensors"))
    model.load_state_dict(trained)
    start = load_file(str(folder / "weights.safetensors"))
    assert any(not torch.equal(trained[k], start[k]) for k in start)


def test_bundle_needs_a_dataset():
    project = load_project(ROOT / "runtime" / "templates" / "mlp.json")
    project.dataset = {}
    with pytest.raises(ExportFailed, match="no dataset"):
        build_bundle(project)


def test_train_py_starts_from_the_same_weights_as_the_run(tmp_path):
    """model.py under the run's seed builds exactly the initial weights Layerboard's run starts from."""
    from runtime.training.session import prepare
    project = load_project(ROOT / "runtime" / "templates" / "lenet5.json")
    data, _ = build_bundle(project)
    folder = _unzip(data, tmp_path)
    settings = json.loads((folder / "settings.json").read_text())
    run = prepare(project)
    torch.manual_seed(settings["training"]["seed"])
    model = _load_generated_model(folder, settings)
    ours, theirs = run.model.state_dict(), model.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
