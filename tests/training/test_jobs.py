import time

import pytest
from torch import nn

from runtime.jobs import JobError, JobRegistry
from runtime.store import Store
from runtime.training import ConfigError, TrainConfig, Trainer
from training_fixtures import mlp, quadrants


def builder(epochs=2, **cfg):
    def build(callbacks, control):
        return Trainer(mlp(), quadrants(), TrainConfig(epochs=epochs, **cfg), callbacks=callbacks, control=control)
    return build


def until(condition, seconds=20.0):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_a_run_completes_in_the_background_and_is_stored(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    job = registry.submit("p1", builder(), config={"epochs": 2}, name="first")
    assert job.wait(60)
    assert job.status == "completed" and job.result.epochs_done == 2
    assert store.run(job.id).status == "completed"
    assert job.log.series(["val/acc"])["val/acc"][-1][1] == store.metrics(job.id)["val/acc"][-1][1]
    assert [p.name for p in store.checkpoints(job.id)] == ["epoch_0001.json", "epoch_0002.json", "last.json"]
    assert registry.live_for("p1") is None


def test_one_live_run_per_project_a_global_cap_and_a_queue(tmp_path):
    registry = JobRegistry(Store(tmp_path), max_active=1)
    first = registry.submit("a", builder(epochs=100000))
    until(lambda: first.log.step > 0)
    with pytest.raises(JobError, match="already has a running run"):
        registry.submit("a", builder())
    second, third = registry.submit("b", builder(epochs=1)), registry.submit("c", builder(epochs=1))
    assert (first.queue_position, second.queue_position, third.queue_position) == (None, 1, 2)
    assert registry.live_for("a") is first and registry.live_for("b") is second
    third.stop()
    assert third.status == "stopped" and second.queue_position == 1
    first.stop()
    assert first.wait(10) and first.status == "stopped"
    assert second.wait(60) and second.status == "completed"
    assert registry.store.run(third.id).status == "stopped"


def test_pause_holds_the_run_and_resume_finishes_it(tmp_path):
    registry = JobRegistry(Store(tmp_path))
    job = registry.submit("p", builder(epochs=30))
    until(lambda: job.log.step > 0)
    job.pause()
    assert job.status == "paused" and registry.store.run(job.id).status == "paused"
    time.sleep(0.2)                       # let the current step finish
    held = job.log.step
    time.sleep(0.3)
    assert job.log.step == held and not job.done.is_set()
    job.resume()
    assert job.wait(120) and job.status == "completed"


class Crashing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        raise RuntimeError("while executing node fc: mat1 and mat2 shapes cannot be multiplied")


def test_crashes_and_bad_settings_mark_the_run_failed_and_the_registry_goes_on(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    crash = registry.submit("p", lambda cbs, ctl: Trainer(Crashing(), quadrants(), TrainConfig(), callbacks=cbs,
                                                          control=ctl))
    assert crash.wait(30) and crash.status == "failed"
    assert crash.message == "RuntimeError: while executing node fc: mat1 and mat2 shapes cannot be multiplied"
    assert store.run(crash.id).status == "failed" and "node fc" in store.run(crash.id).message

    def bad(cbs, ctl):
        raise ConfigError("Training setting 'lr' must be from 1e-08 to 10, but is 50.")
    refused = registry.submit("p", bad)
    assert refused.wait(30) and refused.status == "failed"
    assert store.run(refused.id).message == "Training setting 'lr' must be from 1e-08 to 10, but is 50."

    data = quadrants()
    data.x_train = data.x_train * 1e3
    nan = registry.submit("p", lambda cbs, ctl: Trainer(mlp(), data, TrainConfig(optimizer="sgd", lr=10.0),
                                                        callbacks=cbs, control=ctl))
    assert nan.wait(30) and nan.status == "diverged"
    assert store.run(nan.id).message.startswith("loss exploded to")
    ok = registry.submit("p", builder(epochs=1))
    assert ok.wait(60) and ok.status == "completed"


def test_fork_a_new_run_from_an_epoch_checkpoint_with_other_settings(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    parent = registry.submit("p", builder(epochs=3))
    assert parent.wait(60) and parent.status == "completed"
    epoch1 = store.checkpoints(parent.id)[0]
    child = registry.submit("p", builder(epochs=2, lr=0.0003), config={"epochs": 2, "lr": 0.0003},
                            parent_run_id=parent.id, resume_from=epoch1, fork=True)
    assert child.wait(60) and child.status == "completed"
    info = store.run(child.id)
    assert info.parent_run_id == parent.id and info.parent_checkpoint == str(epoch1)
    assert [v for _, v in store.metrics(child.id)["epoch"]] == [2.0, 3.0]
    assert {v for _, v in store.metrics(child.id)["lr"]} == {0.0003}
