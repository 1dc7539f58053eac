import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from runtime.cli import main
from runtime.codegen import class_name
from runtime.graph import load_project
from runtime.store import HOME_ENV, Store

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "moons_mlp.json"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home"


def test_train_streams_json_lines_writes_outputs_and_stores_the_run(home, tmp_path, capsys):
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "3", "--out", str(tmp_path / "out")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "start" and lines[0]["epochs"] == 3 and lines[0]["steps_per_epoch"] == 14
    assert lines[-1]["event"] == "end" and lines[-1]["status"] == "completed"
    assert lines[-1]["metrics"]["test/acc"] > 0.8
    assert [x["epoch"] for x in lines if "epoch" in x] == [1.0, 2.0, 3.0]
    (run,) = Store(home).list_runs()
    assert run.id == lines[0]["run_id"] and run.status == "completed" and run.epochs_done == 3
    weights = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert set(weights) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["confusion"]) == 2 and results["status"] == "completed"
    assert json.loads((tmp_path / "out" / "project.json").read_text())["training"]["epochs"] == 3


def test_resume_continues_a_run_to_more_epochs(home, capsys):
    assert main(["train", str(FIXTURE), "--jsonl"]) == 0
    run_id = json.loads(capsys.readouterr().out.splitlines()[0])["run_id"]
    assert main(["resume", run_id, "--epochs", "4", "--jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [x["epoch"] for x in out if "epoch" in x] == [3.0, 4.0]
    store = Store(home)
    assert store.run(run_id).epochs_done == 4 and len(store.list_runs()) == 1
    steps = [s for s, _ in store.metrics(run_id)["train/loss"]]
    assert steps == list(range(1, 4 * 14 + 1))
    assert main(["runs"]) == 0 and run_id in capsys.readouterr().out
    assert main(["runs", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == run_id and listed["status"] == "completed" and listed["epochs_done"] == 4


def test_train_with_a_progress_bar_ends_with_the_figures_and_how_to_resume(home, capsys):
    assert main(["train", str(FIXTURE), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "completed: trained 1 epoch." in out and "test/acc" in out and "python -m runtime resume" in out


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _first_loss(lines: list[dict]) -> float:
    return next(x["train/loss"] for x in lines if "train/loss" in x)


def test_train_starts_from_imported_or_trained_weights(home, tmp_path, capsys):
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "4", "--out", str(tmp_path / "out")]) == 0
    fresh = _json_lines(capsys)
    checkpoint = tmp_path / "out" / "checkpoint.json"
    # a trained checkpoint: a fork that continues the epoch count from where it ended
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "1", "--weights", str(checkpoint)]) == 0
    forked = _json_lines(capsys)
    assert [x["epoch"] for x in forked if "epoch" in x] == [5.0]
    assert forked[0]["event"] == "start" and forked[0]["epochs"] == 5        # the last epoch, as the 'epoch's count
    assert _first_loss(forked) < 0.5 * _first_loss(fresh)
    # a model that went out as ONNX and came back: its weights, a first run from them
    assert main(["export", str(FIXTURE), "--onnx", str(tmp_path / "m.onnx"), "--weights", str(checkpoint)]) == 0
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "imported.json")]) == 0
    assert "--weights" in capsys.readouterr().out
    assert main(["train", str(tmp_path / "imported.json"), "--dataset", "moons", "--jsonl", "--epochs", "1",
                 "--weights", str(tmp_path / "imported-weights.json")]) == 0
    imported = _json_lines(capsys)
    assert [x["epoch"] for x in imported if "epoch" in x] == [1.0]
    assert _first_loss(imported) < 0.5 * _first_loss(fresh)
    # weights that do not fit, or no weights at all: a message, exit 1
    assert main(["train", str(tmp_path / "imported.json"), "--dataset", "moons", "--weights",
                 str(tmp_path / "nothing.json")]) == 1
    assert "nothing" in capsys.readouterr().err


def test_user_mistakes_exit_1_with_a_message(home, tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.json")]) == 1
    assert "Cannot read" in capsys.readouterr().err
    assert main(["train", str(FIXTURE), "--lr", "-1"]) == 1
    assert "Training setting 'lr' must be from" in capsys.readouterr().err
    assert main(["train", str(FIXTURE), "--dataset", "nosuch"]) == 1
    assert "Unknown dataset 'nosuch'" in capsys.readouterr().err
    assert main(["train", str(FIXTURE), "--dataset", "mnist"]) == 1      # images into a 2-input MLP
    assert "cannot be trained on mnist" in capsys.readouterr().err
    assert main(["resume", "nope"]) == 1
    assert "No run 'nope'" in capsys.readouterr().err


def test_resume_of_a_finished_run_or_with_zero_epochs_says_so_and_trains_nothing(home, capsys):
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "1"]) == 0
    run_id = json.loads(capsys.readouterr().out.splitlines()[0])["run_id"]
    assert main(["resume", run_id]) == 1
    assert f"has already trained 1 of the 1 epochs asked for (completed): `python -m runtime resume {run_id} " \
           "--epochs 6`" in capsys.readouterr().err
    assert main(["resume", run_id, "--epochs", "0"]) == 1
    assert "Training setting 'epochs' must be from 1" in capsys.readouterr().err
    assert Store(home).run(run_id).epochs_done == 1


def test_resume_epochs_of_a_fork_count_on_from_its_parent_as_its_progress_does(home, capsys):
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "2"]) == 0
    parent = json.loads(capsys.readouterr().out.splitlines()[0])["run_id"]
    last = Store(home).checkpoints(parent)[-1]
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "1", "--weights", str(last)]) == 0
    fork = json.loads(capsys.readouterr().out.splitlines()[0])["run_id"]
    assert main(["resume", fork]) == 1
    assert "has already trained 3 of the 3 epochs asked for" in capsys.readouterr().err
    assert main(["resume", fork, "--epochs", "3"]) == 1
    assert main(["resume", fork, "--jsonl", "--epochs", "4"]) == 0          # one more epoch, not four
    epochs = [x["epoch"] for x in map(json.loads, capsys.readouterr().out.splitlines()) if "epoch" in x]
    assert epochs == [4.0]


def test_resume_of_a_run_live_in_another_process_is_refused(home, capsys):
    store = Store(home)
    project_id, version = store.save_project(load_project(FIXTURE))
    run_id = store.create_run({"epochs": 2}, project_id=project_id, project_version=version, name="elsewhere")
    store.mark_started(run_id)                    # this process: alive, so the run stays live
    assert main(["resume", run_id]) == 1
    assert f"Run {run_id} is running in another process: stop it" in capsys.readouterr().err


def test_an_unwritable_out_folder_fails_before_training(home, tmp_path, capsys):
    (tmp_path / "file").write_text("in the way")
    assert main(["train", str(FIXTURE), "--jsonl", "--out", str(tmp_path / "file" / "out")]) == 1
    captured = capsys.readouterr()
    assert "--out " in captured.err and "cannot write there" in captured.err and captured.out == ""
    assert Store(home).list_runs() == []


def test_a_run_refused_at_its_checkpoint_is_failed_not_left_running(home, tmp_path, capsys):
    assert main(["train", str(FIXTURE), "--jsonl", "--weights", str(tmp_path / "nope.json")]) == 1
    assert "No checkpoint at" in capsys.readouterr().err
    (run,) = Store(home).list_runs()
    assert run.status == "failed" and "No checkpoint at" in run.message


def test_the_same_command_under_torchrun_writes_one_run(home):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "runtime", "train", str(FIXTURE), "--jsonl"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    ends = [json.loads(line) for line in done.stdout.splitlines() if '"event": "end"' in line]
    assert len(ends) == 1 and ends[0]["status"] == "completed"
    (run,) = Store(home).list_runs()
    assert run.status == "completed" and run.epochs_done == 2


@pytest.mark.parametrize("columns", [80, 120])
def test_runs_lists_a_line_per_run_with_its_whole_message_below_in_the_terminal_width(home, monkeypatch, capsys,
                                                                                     columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    store = Store(home)
    message = ("Checkpoint /tmp/a/rather/long/path/to/last.json does not fit this model (was the graph changed?): "
               "Error(s) in loading state_dict for GraphModule:\n\tMissing key(s) in state_dict: \"conv1.weight\".")
    failed = store.create_run({}, name="A project with a name far too long for a narrow terminal")
    store.update_run(failed, status="failed", message=message, started=time.time())
    done = store.create_run({}, name="MLP on digits")
    store.update_run(done, status="completed", message="trained 12 epochs", epochs_done=12,
                     final_metrics={"val/loss": 0.31, "val/acc": 0.9312}, started=time.time())
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= columns for line in lines)
    assert lines[0].split() == ["run", "project", "status", "epochs", "validation", "started"]
    assert lines[1].startswith(f"{failed}  A project with") and "failed" in lines[1]
    below = [line for line in lines[2:] if line.startswith(" " * 14)]
    assert " ".join(line.strip() for line in below[:-1]) == " ".join(message.split())   # all of it, in words
    assert lines[-2].split() == [done, "MLP", "on", "digits", "completed", "12", "acc", "0.9312",
                                       "today", time.strftime("%H:%M", time.localtime(store.run(done).started))]
    assert lines[-1].strip() == "trained 12 epochs"


def test_runs_without_runs_says_how_to_start_one(home, capsys):
    assert main(["runs"]) == 0
    assert capsys.readouterr().out == "No runs yet: `python -m runtime train FILE` starts one.\n"


def test_codegen_names_the_weights_that_train_out_writes_and_they_load(home, tmp_path, capsys):
    code = tmp_path / "model.py"
    assert main(["codegen", str(FIXTURE), "-o", str(code)]) == 0
    header = code.read_text()
    assert 'load_file("DIR/model.safetensors")' in header
    assert f"`python -m runtime train {FIXTURE} --out DIR`" in " ".join(header.split())
    out = tmp_path / "out"
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "1", "--out", str(out)]) == 0
    namespace = {"__name__": "generated"}
    exec(compile(header, str(code), "exec"), namespace)       # our own generated code, in a test
    model = namespace[class_name(load_project(FIXTURE).name)]()
    model.load_state_dict(load_file(str(out / "model.safetensors")))


def test_the_progress_bar_of_a_fork_counts_epochs_on_from_its_parent(home, tmp_path, capsys):
    assert main(["train", str(FIXTURE), "--jsonl", "--epochs", "2", "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["train", str(FIXTURE), "--epochs", "1", "--weights", str(tmp_path / "out" / "checkpoint.json")]) == 0
    out = capsys.readouterr().out
    assert "epoch 3/3" in out and "/1 " not in out


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_the_closing_figures_are_never_split_from_their_names(home, monkeypatch, capsys, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["train", str(FIXTURE), "--epochs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("completed: trained 1 epoch."))
    summary = lines[first:next(i for i, line in enumerate(lines) if line.startswith("run "))]
    assert len(summary) > 1 and all(len(line) <= columns for line in summary)
    names = re.findall(r"(?:train/loss_epoch|val/\w+|test/\w+)(?= |$)", " ".join(summary))
    assert sorted(names) == ["test/acc", "test/loss", "train/loss_epoch", "val/acc", "val/loss"]
    for line in summary:
        pairs = line.removeprefix("completed: trained 1 epoch.").split()
        assert len(pairs) % 2 == 0 and all(re.fullmatch(r"-?[\d.]+(e[-+]\d+)?", v) for v in pairs[1::2]), line
