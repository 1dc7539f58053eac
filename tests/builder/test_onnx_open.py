"""Opening an .onnx file from the Projects menu (AppTest): a LeNet-5 exported by the runtime becomes a
new project with its weights kept; a corrupt file and an unknown operator are messages on the page."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from builder import exporting, markdown, onnx_open, projects, run_control
from runtime import initial_weights
from runtime.onnx import files
from runtime.graph import load_project
from runtime.onnx.project_export import SampleData, export_project, generated_samples
from runtime.projects import compile_project
from tests.builder.test_app import run, start

ROOT = Path(__file__).resolve().parents[2]


def lenet5_onnx() -> tuple[bytes, dict[str, torch.Tensor]]:
    """The LeNet-5 template exported (and verified) by the runtime, and the weights inside it."""
    project = load_project(ROOT / "runtime" / "templates" / "lenet5.json")
    compiled = compile_project(project)
    torch.manual_seed(0)
    weights = compiled.build_module().state_dict()
    data = SampleData(generated_samples(compiled, 3), "generated")
    return export_project(project, compiled, weights, data=data).data, weights


def unknown_operator_onnx() -> bytes:
    """A valid model whose two Sin nodes and one Cos node have no layer in the catalog."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sin", ["a"], ["b"]),
             helper.make_node("Cos", ["b"], ["c"]), helper.make_node("Sin", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "trig", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def upload_onnx(at, file_name: str, data: bytes):
    uploader = next(u for u in at.get("file_uploader") if "onnx_upload" in u.proto.id)
    uploader.set_value((file_name, data, "application/octet-stream"))
    return run(at)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_an_exported_lenet5_opens_as_a_new_project_with_its_weights(home):
    data, weights = lenet5_onnx()
    at = start()
    at = upload_onnx(at, "my lenet.onnx", data)
    assert not errors(at)
    ws = at.session_state["workspace"]
    assert ws.project.name == "my lenet" and ws.project_id
    assert at.query_params["project"] == ws.project_id
    types = [n.type for n in ws.graph.nodes]
    assert types.count("Conv2d") == 2 and types.count("Linear") == 3 and types[0] == "Input"
    assert len({n.position for n in ws.graph.nodes}) == len(ws.graph.nodes)        # laid out, no pile
    saved = projects.store().load_project(ws.project_id)
    assert [(n.id, n.type, n.params) for n in saved.graph.nodes] == [(n.id, n.type, n.params) for n in ws.graph.nodes]
    kept = initial_weights.find(projects.store(), ws.project_id)
    assert kept.source == "my lenet.onnx" and kept.fit(compile_project(ws.project))
    original = sorted(weights.values(), key=lambda t: (tuple(t.shape), float(t.sum())))
    imported = sorted(kept.weights.values(), key=lambda t: (tuple(t.shape), float(t.sum())))
    assert all(torch.equal(a, b) for a, b in zip(original, imported)) and len(original) == len(imported)
    source = exporting.source_for(ws, None)                   # no run yet: export offers the imported weights
    assert source.weights is kept.weights and "imported from my lenet.onnx" in source.label
    ws.set_param("linear3", "out_features", 7)                 # an edit the weights no longer fit
    source = exporting.source_for(ws, None)
    assert source.weights is None and "no longer fit" in source.label


def test_a_corrupt_file_is_a_message_and_opens_nothing(home):
    at = start()
    before = at.session_state["workspace"]
    at = upload_onnx(at, "broken.onnx", b"\x08\x07 this is not protobuf \xff\xff")
    [message] = errors(at)
    assert message.startswith(markdown.escape("broken.onnx was not opened: broken.onnx is not an ONNX model"))
    assert at.session_state["workspace"] is before and not projects.store().list_projects()
    at.button(key="onnx_refusal_dismiss").click()
    assert not errors(run(at))


def test_unknown_operators_are_listed_by_name_and_count(home):
    at = start()
    at = upload_onnx(at, "trig.onnx", unknown_operator_onnx())
    [message] = errors(at)
    assert "Sin" in message and "x2" in message and "Cos" in message, message
    assert not projects.store().list_projects() and not (home / "projects").exists()
    at = upload_onnx(at, "lenet.onnx", lenet5_onnx()[0])          # the next good file clears the message
    assert not errors(at) and at.session_state["workspace"].project.name == "lenet"


def external_data_onnx() -> bytes:
    """A Linear whose weight lives in a side file, which an upload cannot bring along."""
    weight = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="../../etc/weights.bin")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], "side",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10).SerializeToString()


@pytest.mark.parametrize("case", ["external data", "too large"])
def test_external_data_and_oversized_files_are_refused_with_the_importers_message(home, monkeypatch, case):
    data, expected = external_data_onnx(), "keeps its weights in a separate data file"
    if case == "too large":
        monkeypatch.setattr(files, "MAX_ONNX_BYTES", 100)
        data, expected = lenet5_onnx()[0], "at most 100 bytes are imported"
    at = upload_onnx(start(), "model.onnx", data)
    [message] = errors(at)
    assert markdown.escape(expected) in message, message
    assert not projects.store().list_projects()


def open_length_onnx() -> bytes:
    """A sequence model whose number of steps the file leaves open."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "steps",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", "steps", 3])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", "steps", 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10).SerializeToString()


def test_a_model_with_open_sizes_asks_for_a_sample_shape_and_opens_with_it(home):
    at = upload_onnx(start(), "steps.onnx", open_length_onnx())
    [message] = errors(at)
    assert markdown.escape("leaves sizes open") in message and "Sample shape" in message
    at.text_input(key="onnx_sample_shape").input("50, three")
    [message] = errors(run(at))
    assert markdown.escape("is not a list of positive sizes") in message
    at.text_input(key="onnx_sample_shape").input("50 3")
    at = run(at)
    assert not errors(at)
    ws = at.session_state["workspace"]
    assert ws.project.name == "steps" and ws.graph.node("input").params["shape"] == [50, 3]
    assert [n.type for n in ws.graph.nodes] == ["Input", "ReLU", "Output"]
    at.text_input(key="onnx_sample_shape").input("60 3")         # after a success, a new shape waits for a file
    run(at)
    assert len(projects.store().list_projects()) == 1


def mlp_onnx() -> bytes:
    project = load_project(ROOT / "runtime" / "templates" / "mlp.json")
    compiled = compile_project(project)
    return export_project(project, compiled, data=SampleData(generated_samples(compiled, 3), "generated")).data


def test_train_starts_from_the_imported_weights_while_they_fit(home):
    try:
        ws, _ = onnx_open.open_model(mlp_onnx(), "mlp.onnx")
        assert ws.project.dataset == {"name": "digits"}               # the export named its dataset
        ws.project.training = {"epochs": 1}
        kept = initial_weights.find(projects.store(), ws.project_id)
        first = run_control.start(ws)
        assert first.wait(120) and first.status == "completed"
        assert projects.store().run(first.id).parent_checkpoint == str(kept.path)
        ws.set_param("linear1", "out_features", 20)                   # no longer fits: a fresh start
        second = run_control.start(ws)
        assert second.wait(120) and second.status == "completed"
        assert projects.store().run(second.id).parent_checkpoint is None
    finally:
        for job in run_control.registry().jobs():
            job.stop()
            job.wait(30)
