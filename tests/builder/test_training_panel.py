"""The Data & training tab under AppTest: the generated settings form, the dataset picker, a run to
the end with its curves, results and export, a diverging run, a reload, two sessions at once."""
from __future__ import annotations

from builder import run_control, training_panel
from runtime.training import describe
from training_app import (charts, class_balance, open_advanced, open_tab, open_template, run, sample_images,
                          set_setting, texts, train, wait_for_run, widget, workspace)


def test_the_settings_form_is_generated_from_trainconfig_and_edits_the_project(home):
    at = open_template("mlp")
    advanced = [s for s in describe() if s["advanced"]]
    assert advanced and not any(w.key.endswith("_" + s["name"]) for s in advanced    # folded: not drawn
                                for kind in ("checkbox", "selectbox", "number_input", "text_input")
                                for w in getattr(at, kind) if w.key and w.key.startswith("cfg_"))
    open_advanced(at)
    for setting in describe():
        if setting["kind"] != "dict":
            kind = {"bool": "checkbox", "str": "selectbox"}.get(setting["kind"], "number_input")
            widget(at, kind, "cfg", setting["name"])                   # one widget per setting
    set_setting(at, "lr", 0.01)
    set_setting(at, "optimizer", "sgd")
    set_setting(at, "early_stopping", True)
    training = workspace(at).project.training
    assert (training["lr"], training["optimizer"], training["early_stopping"]) == (0.01, "sgd", True)
    assert widget(at, "number_input", "cfg", "lr").value == 0.01       # the form shows the project


def test_augmentation_is_typed_as_json_and_checked_against_the_data(home):
    at = open_advanced(open_template("mlp"))                            # digits: images
    widget(at, "text_input", "cfg", "augment").set_value('{"shift": 0.2, "noise": 0.05}')
    run(at)
    assert workspace(at).project.training["augment"] == {"shift": 0.2, "noise": 0.05}
    for text, message in (('{"jitter": 0.1}', "unknown key 'jitter'"), ("shift", "must be a JSON object")):
        widget(at, "text_input", "cfg", "augment").set_value(text)
        run(at)
        assert any(message in e for e in texts(at, "error")), texts(at, "error")
        assert workspace(at).project.training["augment"] == {"shift": 0.2, "noise": 0.05}


def test_choosing_a_dataset_sizes_the_input_and_previews_it(home):
    at = open_template("mlp")
    assert workspace(at).project.dataset == {"name": "digits"}
    balance = class_balance(at)
    assert "Training samples per class" in balance and ("in each class" in balance or "fewest: " in balance)
    assert sample_images(at).count("<img ") == 8                        # digit images
    box = next(s for s in at.selectbox if s.key and s.key.startswith("dataset_"))
    box.set_value("iris")
    run(at)
    ws = workspace(at)
    assert ws.project.dataset == {"name": "iris"}
    assert ws.graph.node("input1").params["shape"] == [4]
    assert len(at.dataframe) >= 1 and "Fisher" in " ".join(e.value for e in at.markdown)   # table and credits
    assert ws.history.can_undo


def test_a_run_to_the_end_shows_curves_results_and_a_verified_export(home):
    at = open_template("mlp")
    set_setting(at, "epochs", 2)
    train(at)
    assert wait_for_run(at) == "completed"
    run(at)
    assert "trained 2 epochs" in texts(at, "success")
    figures = charts(at)
    loss = figures["Loss"]["data"]
    assert [t["name"] for t in loss] == ["train", "validation"] and len(loss[1]["x"]) == 2   # one per epoch
    assert figures["Gradient norm per layer (log10)"]["data"][0]["y"] == ["fc1", "fc2", "fc3"]
    open_tab(at, "Results")
    confusion = charts(at)["Confusion matrix (test split)"]["data"][0]["z"]
    assert len(confusion) == 10 and sum(map(sum, confusion)) > 0
    metrics = {m.label: float(m.value) for m in at.metric if m.label.startswith("test/")}
    assert metrics["test/acc"] > 0.5
    open_tab(at, "Export")
    at.button(key="export_onnx").click()
    run(at)
    assert any("verified: passed" in m for m in texts(at, "markdown"))
    labels = [b.label for b in at.get("download_button")]
    assert {"Download ONNX (.onnx)", "Download bundle (.zip)", "PyTorch code (.py)", "Weights (.safetensors)"} <= \
        set(labels), labels


def test_a_learning_rate_of_10_shows_the_nan_diagnosis_not_a_traceback(home):
    at = open_template("mlp")
    set_setting(at, "lr", 10.0)
    set_setting(at, "optimizer", "sgd")
    set_setting(at, "epochs", 3)
    train(at)
    assert wait_for_run(at) == "diverged"
    run(at)                                                           # no exception box (run() checks)
    errors = texts(at, "error")
    assert any(e.startswith("The run diverged: loss ") and "the learning rate (10) is too large" in e
               and "lower the learning rate (try 1" in e for e in errors), errors


def test_a_fresh_session_reattaches_to_the_live_run(home):
    at = open_template("mlp")
    set_setting(at, "epochs", 50)
    train(at)
    job = run_control.registry().live_for(workspace(at).project_id)
    at.button(key="pause").click()
    run(at)
    assert job.status == "paused"
    again = open_template("", query={"project": workspace(at).project_id})     # a reload: new session
    assert "**run 1** · paused" in texts(again, "markdown")
    again.button(key="stop").click()
    run(again)
    assert job.wait(30) and job.status == "stopped"


def test_two_sessions_train_two_projects_at_once_without_mixing(home, monkeypatch):
    monkeypatch.setattr(run_control, "MAX_ACTIVE", 2)       # two slots, whatever this machine's cores
    run_control._registry.cache_clear()
    first, second = open_template("mlp"), open_template("mlp")
    set_setting(second, "optimizer", "sgd")
    for at in (first, second):
        set_setting(at, "epochs", 50)
        train(at)
    jobs = [run_control.registry().live_for(workspace(at).project_id) for at in (first, second)]
    assert jobs[0] is not jobs[1] and all(j.status == "running" for j in jobs)
    for at, job in zip((first, second), jobs):
        run(at)
        assert "**run 1** · running" in texts(at, "markdown")
        assert at.session_state["watched_runs"] == {workspace(at).project_id: job.id}
        assert at.button(key="stop").disabled is False
    assert [j.id for j in run_control.registry().jobs(workspace(first).project_id)] == [jobs[0].id]
    for job in jobs:
        job.stop()
        assert job.wait(30)
    run_control._registry.cache_clear()


def test_a_third_run_waits_in_the_queue_with_its_position(home, monkeypatch):
    monkeypatch.setattr(run_control, "MAX_ACTIVE", 1)
    run_control._registry.cache_clear()
    first, second = open_template("mlp"), open_template("mlp")
    for at in (first, second):
        set_setting(at, "epochs", 50)
        train(at)
    run(second)
    assert any("position 1 in the queue" in t for t in texts(second, "info"))
    first.button(key="stop").click()
    run(first)
    queued = run_control.registry().live_for(workspace(second).project_id)
    assert queued.status in ("running", "queued")      # it takes the freed slot
    queued.stop()
    assert queued.wait(30)
    run_control._registry.cache_clear()



def test_only_the_open_tab_runs(home):
    at = open_template("mlp")
    keys = lambda: {b.key for b in at.button} | {b.key for b in at.get("download_button")}
    assert "train" in keys() and "export_onnx" not in keys()
    open_tab(at, "Export")
    assert {"export_onnx", "download_code"} <= keys() and "train" not in keys()
    assert not any(s.key and s.key.startswith("dataset_") for s in at.selectbox)


def test_a_paused_run_shows_where_it_is_but_no_speed_or_time_left_that_would_drift_while_it_waits():
    at = {"epoch": 2, "epochs_total": 3, "step": 4160, "steps_total": 10500, "done": 0.4, "eta_s": 24.0}
    assert training_panel.progress_line(at, False, 531.0, " · loss 0.0221") == \
        "epoch 2/3 · step 4160/10500 · 531 samples/s · 24 s left · loss 0.0221"
    assert training_panel.progress_line(at, True, 265.0, " · loss 0.0221") == \
        "paused · epoch 2/3 · step 4160/10500 · loss 0.0221"


def test_a_batch_larger_than_the_training_split_is_explained_under_the_settings(home):
    at = open_template("mlp")                             # Digits 8x8: 1,259 training samples
    assert not [c for c in texts(at, "caption") if c.startswith("The batch size")]
    set_setting(at, "batch_size", 5000)
    assert "The batch size (5,000) is larger than the 1,259 training samples: each epoch is a single step over " \
           "all of them." in texts(at, "caption")
