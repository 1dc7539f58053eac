import json
import math

import pytest
import torch

from runtime.checkpoints import CheckpointError, load, read_position, save


def test_round_trip_keeps_tensors_int_keys_and_special_floats(tmp_path):
    weights = {"fc.weight": torch.randn(3, 2), "fc.bias": torch.zeros(3)}
    state = {"optimizer": {"state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.ones(3, 2)}},
                           "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
             "best": float("inf"), "nan": float("nan"), "rng": torch.get_rng_state(), "none": None, "flag": True}
    path = save(tmp_path / "ck", weights, state)
    assert path == tmp_path / "ck.json" and (tmp_path / "ck.safetensors").exists()
    w, s = load(tmp_path / "ck")
    assert all(torch.equal(w[k], weights[k]) for k in weights)
    assert torch.equal(s["optimizer"]["state"][0]["exp_avg"], torch.ones(3, 2))
    assert s["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]
    assert s["best"] == math.inf and math.isnan(s["nan"]) and s["none"] is None and s["flag"] is True
    assert torch.equal(s["rng"], torch.get_rng_state())
    assert load(tmp_path / "ck.json")[1]["optimizer"]["state"][0]["step"].item() == 5.0


def test_missing_or_damaged_files_say_so(tmp_path):
    save(tmp_path / "ck", {"w": torch.ones(2)}, {"t": torch.ones(1)})
    (tmp_path / "ck.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="damaged"):
        load(tmp_path / "ck")
    (tmp_path / "ck.safetensors").unlink()
    with pytest.raises(CheckpointError, match="ck.safetensors is missing"):
        load(tmp_path / "ck")
    save(tmp_path / "other", {"w": torch.ones(2)}, {})
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CheckpointError, match="not a Layerboard checkpoint"):
        load(tmp_path / "other")
    (tmp_path / "other.json").write_text(json.dumps({"format": "layerboard-checkpoint", "version": 1,
                                                     "weights": ["w"], "state": {"__items__": 5}}))
    with pytest.raises(CheckpointError, match="expected layout"):
        load(tmp_path / "other")
    (tmp_path / "other.json").write_text(json.dumps({"format": "layerboard-checkpoint", "version": 1,
                                                     "weights": ["w", "ghost"], "state": {}}))
    with pytest.raises(CheckpointError, match="weights listed"):
        load(tmp_path / "other")


def test_a_checkpoint_of_another_graph_is_refused_with_a_message(tmp_path):
    from runtime.training import Callback, Checkpointer, TrainConfig, Trainer
    from training_fixtures import mlp, quadrants
    Trainer(mlp(), quadrants(), TrainConfig(epochs=1), callbacks=[Checkpointer(tmp_path)]).fit()
    told = []

    class Told(Callback):
        def on_exception(self, trainer, error):
            told.append(error)
    with pytest.raises(CheckpointError, match=r"does not fit this model \(was the graph changed\?\): wrong shape "
                                              r"0.bias \[32\] \(graph wants \[16\]\), 0.weight \[32, 2\]"):
        Trainer(mlp(hidden=16), quadrants(), TrainConfig(epochs=2),
                callbacks=[Told()]).fit(resume_from=tmp_path / "last")
    assert len(told) == 1 and isinstance(told[0], CheckpointError)     # a recorder marks the run failed


def test_a_mismatch_is_told_by_key_and_shape_five_of_each_at_most():
    from runtime.checkpoints import mismatch
    expected = {f"layer{i}.weight": torch.zeros(2, 3) for i in range(7)} | {"head.bias": torch.zeros(4)}
    assert mismatch(expected, dict(expected)) == ""
    given = {"head.bias": torch.zeros(5), "ghost.weight": torch.zeros(1)}
    assert mismatch(expected, given) == (
        "missing layer0.weight, layer1.weight, layer2.weight, layer3.weight, layer4.weight and 2 more; "
        "not in this graph ghost.weight; wrong shape head.bias [5] (graph wants [4])")


def test_a_recorded_run_resumed_from_a_checkpoint_that_does_not_fit_is_marked_failed(tmp_path):
    from runtime.store import Store
    from runtime.training import Checkpointer, TrainConfig, Trainer
    from runtime.training.recording import RunRecorder
    from training_fixtures import mlp, quadrants
    Trainer(mlp(), quadrants(), TrainConfig(epochs=1), callbacks=[Checkpointer(tmp_path)]).fit()
    store = Store(tmp_path / "home")
    run_id = store.create_run({}, name="r")
    with pytest.raises(CheckpointError):
        Trainer(mlp(hidden=16), quadrants(), TrainConfig(epochs=2),
                callbacks=[RunRecorder(store, run_id)]).fit(resume_from=tmp_path / "last")
    run = store.run(run_id)
    assert run.status == "failed" and "does not fit this model" in run.message


def test_no_checkpoint_at_all_or_a_folder_is_named_as_such(tmp_path):
    with pytest.raises(CheckpointError, match=r"No checkpoint at .*nope.json: a checkpoint is a .json file"):
        load(tmp_path / "nope.json")
    run = tmp_path / "runs" / "abc"
    save(run / "last", {"w": torch.ones(2)}, {})
    with pytest.raises(CheckpointError, match=r"abc is a folder: .* such as .*abc/last.json"):
        load(run)


def test_read_position_reads_the_json_half_only(tmp_path):
    save(tmp_path / "ck", {"w": torch.ones(2)}, {"position": {"epoch": 3, "epoch_offset": 0, "batch": 0, "step": 42}})
    (tmp_path / "ck.safetensors").unlink()
    assert read_position(tmp_path / "ck.json") == {"epoch": 3, "epoch_offset": 0, "batch": 0, "step": 42}
    save(tmp_path / "weights", {"w": torch.ones(2)}, {"source": "model.onnx"})
    with pytest.raises(CheckpointError, match="no training position"):
        read_position(tmp_path / "weights.json")
