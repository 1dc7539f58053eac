"""The job registry: runs in their own processes, a queue, controls, failures, reproducibility."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from runtime import checkpoints
from runtime.graph import project_from_dict
from runtime.jobs import JobError, JobRegistry, RunLog, RunSpec
from runtime.store import Store
from runtime.training import History, TrainConfig, Trainer
from runtime.training.session import prepare
from training_fixtures import mlp, quadrants

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def project_run(fixture="moons_mlp.json", **changes) -> RunSpec:
    """A run of a fixture project as the app starts one: the project file's dict, settings changed."""
    project = json.loads((FIXTURES / fixture).read_text())
    return RunSpec(project, project["dataset"], {**project["training"], **changes})


@dataclass(frozen=True)
class FixtureRun(RunSpec):
    """A run of the synthetic fixtures (built in the run's process: it imports this module)."""
    model: str = "mlp"
    input_scale: float = 1.0

    def trainer(self, callbacks, control):
        data = quadrants()
        data.x_train = data.x_train * self.input_scale
        model = Crashing() if self.model == "crashing" else mlp()
        return Trainer(model, data, TrainConfig.from_dict(self.config), callbacks=callbacks, control=control)


def fixture_run(model="mlp", input_scale=1.0, **config) -> FixtureRun:
    return FixtureRun(project={}, dataset={}, config={"epochs": 2, **config}, model=model, input_scale=input_scale)


class Crashing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        raise RuntimeError("while executing node fc: mat1 and mat2 shapes cannot be multiplied")


def until(condition, seconds=60.0):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def in_process(run: RunSpec) -> tuple[History, nn.Module]:
    """The same run trained by a Trainer in this process."""
    history = History()
    prepared = prepare(project_from_dict(run.project), run.dataset, run.config)
    prepared.trainer([history]).fit()
    return history, prepared.model


def final_weights(store: Store, run_id: str) -> dict[str, torch.Tensor]:
    weights, _ = checkpoints.load(store.run_dir(run_id) / "last.json")
    return weights


def test_a_run_completes_in_its_own_process_and_is_stored(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    job = registry.submit("p1", project_run(epochs=2), name="first")
    assert job.wait(120)
    assert job.status == "completed" and job.result.epochs_done == 2
    assert store.run(job.id).status == "completed" and job.pid not in (None, os.getpid())
    assert job.log.series(["val/acc"])["val/acc"][-1][1] == store.metrics(job.id)["val/acc"][-1][1]
    assert [p.name for p in store.checkpoints(job.id)] == ["epoch_0001.json", "epoch_0002.json", "last.json"]
    assert registry.live_for("p1") is None


def test_a_run_in_its_process_matches_a_trainer_in_this_one_bit_for_bit(tmp_path):
    store = Store(tmp_path)
    run = project_run(epochs=3)
    job = JobRegistry(store).submit("p", run)
    history, model = in_process(run)
    assert job.wait(120) and job.status == "completed"
    assert job.log.series()["train/loss"] == history.series["train/loss"]
    assert job.log.series()["val/loss"] == history.series["val/loss"]
    weights = final_weights(store, job.id)
    assert weights.keys() == model.state_dict().keys()
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_two_runs_with_dropout_at_once_each_reproduce_their_single_run(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store, max_active=2)
    runs = [project_run("moons_dropout.json", seed=0), project_run("moons_dropout.json", seed=1)]
    jobs = [registry.submit(f"p{i}", run) for i, run in enumerate(runs)]
    until(lambda: all(j.status == "running" for j in jobs) or any(j.done.is_set() for j in jobs))
    alone = [in_process(run) for run in runs]
    assert all(j.wait(120) and j.status == "completed" for j in jobs)
    for job, (history, model) in zip(jobs, alone):
        assert job.log.series()["train/loss"] == history.series["train/loss"]
        assert all(torch.equal(final_weights(store, job.id)[k], v) for k, v in model.state_dict().items())
    assert alone[0][0].series["train/loss"] != alone[1][0].series["train/loss"]     # the seeds differ


def test_one_live_run_per_project_a_global_cap_and_a_queue(tmp_path):
    registry = JobRegistry(Store(tmp_path), max_active=1)
    first = registry.submit("a", fixture_run(epochs=100000))
    until(lambda: first.log.step > 0)
    with pytest.raises(JobError, match="already has a running run"):
        registry.submit("a", fixture_run())
    second, third = registry.submit("b", fixture_run(epochs=1)), registry.submit("c", fixture_run(epochs=1))
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
    job = registry.submit("p", fixture_run(epochs=30))
    until(lambda: job.log.step > 0)
    job.pause()
    assert job.status == "paused" and registry.store.run(job.id).status == "paused"
    time.sleep(0.3)                       # let the current step finish and its losses arrive
    held = job.log.step
    time.sleep(0.3)
    assert job.log.step == held and not job.done.is_set()
    job.resume()
    assert job.wait(120) and job.status == "completed"


def test_the_progress_clock_stops_while_paused_and_counts_only_the_steps_this_process_trained():
    now = [100.0]
    log = RunLog(clock=lambda: now[0])
    log.begin(steps_total=1000, epochs_total=10)
    log.add_losses(401, [1.0] * 100)          # resumed from a checkpoint at step 400: 100 steps in 10 s
    now[0] += 10
    assert log.progress()["steps_per_s"] == pytest.approx(10.0)
    log.pause_clock()
    now[0] += 3600                            # an hour paused changes nothing
    assert log.progress()["steps_per_s"] == pytest.approx(10.0) and log.elapsed() == pytest.approx(10.0)
    log.resume_clock()
    now[0] += 10
    log.add_losses(501, [1.0] * 100)
    p = log.progress()
    assert p["step"] == 600 and p["done"] == pytest.approx(0.6)
    assert p["steps_per_s"] == pytest.approx(10.0) and p["eta_s"] == pytest.approx(40.0)


def test_crashes_and_bad_settings_mark_the_run_failed_and_the_registry_goes_on(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    crash = registry.submit("p", fixture_run(model="crashing"))
    assert crash.wait(60) and crash.status == "failed"
    assert crash.message == "RuntimeError: while executing node fc: mat1 and mat2 shapes cannot be multiplied"
    assert store.run(crash.id).status == "failed" and "node fc" in store.run(crash.id).message

    refused = registry.submit("p", project_run(lr=50.0))
    assert refused.wait(60) and refused.status == "failed"
    assert store.run(refused.id).message == "Training setting 'lr' must be from 1e-08 to 10, but is 50.0."

    nan = registry.submit("p", fixture_run(optimizer="sgd", lr=10.0, input_scale=1e3))
    assert nan.wait(60) and nan.status == "diverged"
    assert store.run(nan.id).message.startswith("loss exploded to")
    ok = registry.submit("p", fixture_run(epochs=1))
    assert ok.wait(60) and ok.status == "completed"


def test_a_killed_process_fails_its_run_frees_the_slot_and_the_queue_moves_on(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store, max_active=1)
    doomed = registry.submit("a", fixture_run(epochs=100000))
    waiting = registry.submit("b", fixture_run(epochs=1))
    until(lambda: doomed.log.step > 0)
    os.kill(doomed.pid, signal.SIGKILL)
    assert doomed.wait(30) and doomed.status == "failed"
    assert doomed.message.startswith("The training process was killed (signal 9)")
    assert store.run(doomed.id).status == "failed" and "killed" in store.run(doomed.id).message
    assert waiting.wait(60) and waiting.status == "completed"
    assert registry.live_for("a") is None


def test_stop_ends_a_running_run_and_saves_where_it_stopped(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    job = registry.submit("p", fixture_run(epochs=100000))
    until(lambda: job.log.step > 0)
    job.stop()
    assert job.wait(10) and job.status == "stopped" and job.message.startswith("stopped by request")
    assert store.run(job.id).status == "stopped"
    assert (store.run_dir(job.id) / "last.json").exists()


def test_a_stop_given_before_the_process_started_is_not_lost(tmp_path):
    registry = JobRegistry(Store(tmp_path))
    job = registry.submit("p", fixture_run(epochs=100000))
    job.stop()
    assert job.wait(60) and job.status == "stopped"


def test_fork_a_new_run_from_an_epoch_checkpoint_with_other_settings(tmp_path):
    store = Store(tmp_path)
    registry = JobRegistry(store)
    parent = registry.submit("p", project_run(epochs=3))
    assert parent.wait(60) and parent.status == "completed"
    epoch1 = str(store.checkpoints(parent.id)[0])
    child = registry.submit("p", RunSpec(parent.run.project, parent.run.dataset,
                                         {**parent.run.config, "epochs": 2, "lr": 0.0003},
                                         resume_from=epoch1, fork=True), parent_run_id=parent.id)
    assert child.wait(60) and child.status == "completed"
    info = store.run(child.id)
    assert info.parent_run_id == parent.id and info.parent_checkpoint == epoch1
    assert [v for _, v in store.metrics(child.id)["epoch"]] == [2.0, 3.0]
    assert {v for _, v in store.metrics(child.id)["lr"]} == {0.0003}
    # same batch size: the fork's epochs 2 and 3 end at the parent's steps of them, and its progress counts to there
    parent_steps = [s for s, _ in store.metrics(parent.id)["epoch"]]
    assert [s for s, _ in store.metrics(child.id)["epoch"]] == parent_steps[1:]
    assert child.log.steps_total == child.log.step == parent_steps[-1] and child.log.progress()["done"] == 1.0
    assert child.log.progress()["epoch"] == child.log.epochs_total == 3        # "epoch 3/3", not "3/2"


APP_PROCESS = """
import json, sys, time
from runtime.jobs import JobRegistry, RunSpec
from runtime.store import Store
project = json.loads(open(sys.argv[2]).read())
registry = JobRegistry(Store(sys.argv[1]))
job = registry.submit("p", RunSpec(project, project["dataset"], {**project["training"], "epochs": 100000}))
while job.log.step == 0:
    time.sleep(0.01)
print(job.id, job.pid, flush=True)
time.sleep(600)
"""


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_run_stops_and_saves_when_the_app_process_is_killed(tmp_path):
    app = subprocess.Popen([sys.executable, "-c", APP_PROCESS, str(tmp_path), str(FIXTURES / "moons_mlp.json")],
                           stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        run_id, pid = app.stdout.readline().split()
    finally:
        app.kill()
        app.wait()
    until(lambda: not running(int(pid)), 60)
    info = Store(tmp_path).run(run_id)
    assert info.status == "stopped" and "The app server ended while this run trained" in info.message
    assert (Store(tmp_path).run_dir(run_id) / "last.json").exists()
