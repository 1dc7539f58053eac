"""`python -m runtime export | import | bundle`: figures printed, non-zero exit with a message on failure."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import onnx
import pytest
import torch

import runtime.onnx.project_export as project_export
from runtime import checkpoints
from runtime.cli import main
from runtime.graph import load_project

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "runtime" / "templates" / "mlp.json")


def test_export_prints_the_figures_and_writes_the_file(tmp_path, capsys):
    out = tmp_path / "out" / "mlp.onnx"
    assert main(["export", MLP, "--onnx", str(out), "--probabilities"]) == 0
    printed = capsys.readouterr().out
    assert "max abs diff" in printed and "passed" in printed and "output probabilities" in printed
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["output"] == "probabilities" and meta["verified_on"] == "dataset digits"


def test_export_refused_when_verification_fails(tmp_path, capsys, monkeypatch):
    strict = lambda model, module, samples, **kw: verify(model, module, samples, tolerance=0.0, **kw)  # noqa: E731
    verify = project_export.verify
    monkeypatch.setattr(project_export, "verify", strict)
    out = tmp_path / "mlp.onnx"
    assert main(["export", MLP, "--onnx", str(out)]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "Export refused" in captured.err
    assert not out.exists()


def test_export_of_a_graph_with_errors_names_the_node(tmp_path, capsys):
    project = load_project(MLP)
    linear = next(n for n in project.graph.nodes if n.type == "Linear")
    linear.params["out_features"] = 0
    path = tmp_path / "broken.json"
    project.save(path)
    assert main(["export", str(path), "--onnx", str(tmp_path / "x.onnx"), "--generated"]) == 1
    assert linear.id in capsys.readouterr().err


def test_export_with_weights_that_do_not_fit(tmp_path, capsys):
    checkpoints.save(tmp_path / "ckpt", {"nothing.weight": torch.zeros(2)}, {})
    assert main(["export", MLP, "--onnx", str(tmp_path / "x.onnx"), "--weights", str(tmp_path / "ckpt.json"),
                 "--generated"]) == 1
    assert "do not fit this graph" in capsys.readouterr().err


def test_import_then_export_again_with_the_imported_weights(tmp_path, capsys):
    first = tmp_path / "first.onnx"
    assert main(["export", MLP, "--onnx", str(first), "--generated"]) == 0
    project_path = tmp_path / "imported" / "mlp.json"
    assert main(["import", str(first), "-o", str(project_path)]) == 0
    assert "Imported" in capsys.readouterr().out
    weights = project_path.with_name("mlp-weights.json")
    assert json.loads(project_path.read_text())["format_version"] == 1
    second = tmp_path / "second.onnx"
    assert main(["export", str(project_path), "--onnx", str(second), "--weights", str(weights), "--generated"]) == 0
    a, b = onnx.load(str(first)), onnx.load(str(second))
    values = lambda m: sorted(float(abs(onnx.numpy_helper.to_array(t)).sum()) for t in m.graph.initializer)  # noqa
    assert values(a) == pytest.approx(values(b))


def test_import_of_a_corrupt_file_is_a_message_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage" * 50)
    assert main(["import", str(bad), "-o", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err
    assert "bad.onnx" in err and "Traceback" not in err
    assert not (tmp_path / "p.json").exists()


def test_bundle_command_writes_the_zip(tmp_path, capsys):
    out = tmp_path / "mlp.zip"
    assert main(["bundle", MLP, "-o", str(out)]) == 0
    assert "passed" in capsys.readouterr().out
    with zipfile.ZipFile(out) as zf:
        assert {"model.onnx", "train.py", "model.py", "weights.safetensors", "README.md"} <= set(zf.namelist())
