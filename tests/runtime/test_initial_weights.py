"""A project's starting weights (an imported ONNX model's): kept with the project in the store, found
while they fit the graph, copied and deleted with it, and the start of a run when given as a fork."""
from __future__ import annotations

from pathlib import Path

import torch

from runtime import initial_weights
from runtime.compiler import compile
from runtime.graph import Graph, load_project
from runtime.jobs import RunSpec
from runtime.projects import compile_project
from runtime.store import Store
from runtime.training import Callback, RunControl, TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def mlp_with_weights():
    project = load_project(ROOT / "runtime" / "templates" / "mlp.json")
    compiled = compile_project(project)
    torch.manual_seed(3)
    return project, compiled, compiled.build_module().state_dict()


def test_kept_weights_are_found_while_they_fit_the_graph(tmp_path):
    store = Store(tmp_path)
    project, compiled, weights = mlp_with_weights()
    project_id, _ = store.save_project(project)
    assert initial_weights.find(store, project_id) is None and initial_weights.find(store, None) is None
    initial_weights.save(store, project_id, weights, "mlp.onnx")
    kept = initial_weights.find(store, project_id)
    assert kept.source == "mlp.onnx" and kept.fit(compiled)
    assert kept.weights.keys() == weights.keys() and all(torch.equal(kept.weights[k], weights[k]) for k in weights)
    wider = project.copy()
    linear = next(n for n in wider.graph.nodes if n.type == "Linear")
    linear.params["out_features"] += 1                           # an edit that changes a layer's shape
    assert not kept.fit(compile_project(wider))
    assert not kept.fit(compile(Graph()))                         # an empty graph does not compile


def test_kept_weights_follow_duplicate_and_delete(tmp_path):
    store = Store(tmp_path)
    project, _, weights = mlp_with_weights()
    project_id, _ = store.save_project(project)
    initial_weights.save(store, project_id, weights, "mlp.onnx")
    copy_id = store.duplicate_project(project_id)
    assert initial_weights.find(store, copy_id).source == "mlp.onnx"
    store.delete_project(project_id)
    assert not store.project_dir(project_id).exists() and initial_weights.find(store, project_id) is None
    assert initial_weights.find(store, copy_id) is not None


def test_a_damaged_file_is_no_weights_rather_than_an_error(tmp_path):
    store = Store(tmp_path)
    project, _, weights = mlp_with_weights()
    project_id, _ = store.save_project(project)
    initial_weights.save(store, project_id, weights, "mlp.onnx").with_suffix(".safetensors").write_bytes(b"junk")
    assert initial_weights.find(store, project_id) is None


class FirstWeights(Callback):
    def on_train_start(self, trainer) -> None:
        self.weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        self.epoch = trainer.epoch


def test_a_run_forked_from_kept_weights_starts_from_them_at_epoch_zero(tmp_path):
    store = Store(tmp_path)
    project, _, weights = mlp_with_weights()
    project_id, _ = store.save_project(project)
    path = initial_weights.save(store, project_id, weights, "mlp.onnx")
    seen = FirstWeights()
    config = TrainConfig(epochs=1, batch_size=256).to_dict()
    spec = RunSpec(project.to_dict(), dict(project.dataset), config, resume_from=str(path), fork=True)
    result = spec.trainer([seen], RunControl()).fit(resume_from=spec.resume_from, fork=spec.fork)
    assert result.status == "completed" and result.epochs_done == 1 and seen.epoch == 0
    assert all(torch.equal(seen.weights[k], weights[k]) for k in weights)
