"""Run history's fork form under AppTest: the whole training settings form, filled with the run's
settings; a fork changes any of them; bad input is named and starts nothing."""
from __future__ import annotations

from builder import run_control, settings_form
from builder.markdown import escape
from builder.projects import store
from streamlit.testing.v1 import AppTest
from training_app import APP, open_tab, open_template, run, set_setting, texts, train, wait_for_run


def fork_widget(at, run_id: str, name: str):
    key = f"fork_{run_id}_{name}"
    for kind in ("selectbox", "number_input", "checkbox", "text_input"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0]
    raise AssertionError(f"no fork widget {key}")


def trained_run(at) -> str:
    set_setting(at, "epochs", 1)
    set_setting(at, "lr", 0.005)
    train(at)
    assert wait_for_run(at) == "completed"
    open_tab(at, "Runs")
    return run_control.registry().jobs()[-1].id


def test_the_fork_form_offers_every_setting_prefilled_and_forks_with_them(home):
    at = open_template("mlp")
    parent = trained_run(at)
    config = store().run(parent).config
    for setting in settings_form.settings():                       # the generated form, the run's values
        shown = fork_widget(at, parent, setting["name"]).value
        expected = config[setting["name"]]
        assert (shown == "{}" if setting["kind"] == "dict" else shown == expected), setting["name"]
    changes = {"optimizer": "sgd", "momentum": 0.9, "batch_size": 32, "epochs": 2, "schedule": "cosine",
               "weight_decay": 0.001, "clip": "norm", "clip_value": 1.0}
    for name, value in changes.items():
        fork_widget(at, parent, name).set_value(value)
    fork_widget(at, parent, "augment").set_value('{"shift": 0.1, "noise": 0.05}')
    at.button(key=f"fork_{parent}").click()
    run(at)
    fork = run_control.registry().jobs()[-1]
    assert fork.id != parent and fork.wait(120) and fork.status == "completed"
    info = store().run(fork.id)
    assert info.parent_run_id == parent and info.parent_checkpoint
    assert {k: info.config[k] for k in changes} == changes and info.config["lr"] == 0.005
    assert info.config["augment"] == {"shift": 0.1, "noise": 0.05}


def test_bad_fork_settings_are_named_and_start_no_run(home):
    at = open_template("mlp")
    parent = trained_run(at)
    for text, message in (("shift 0.1", "must be a JSON object"), ("[1, 2]", "must be an object of settings"),
                          ('{"jitter": 0.1}', "unknown key 'jitter'")):
        fork_widget(at, parent, "augment").set_value(text)
        at.button(key=f"fork_{parent}").click()
        run(at)
        assert any(escape(message) in e or message in e for e in texts(at, "error")), (text, texts(at, "error"))
        assert [j.id for j in run_control.registry().jobs()] == [parent]


def test_the_runs_picked_for_comparison_are_kept_while_another_tab_is_open(home):
    at = open_template("mlp")
    first = trained_run(at)
    open_tab(at, "Data & training")
    train(at)
    assert wait_for_run(at) == "completed"
    open_tab(at, "Runs")
    (compare,) = [w for w in at.multiselect if w.label == "Compare runs"]
    assert len(compare.value) == 2                          # the last two runs by default
    compare.set_value([first])
    run(at)
    open_tab(at, "Export")
    assert not [w for w in at.multiselect if w.label == "Compare runs"]      # not drawn: Streamlit forgets it
    open_tab(at, "Runs")
    (compare,) = [w for w in at.multiselect if w.label == "Compare runs"]
    assert compare.value == [first]
    # the open tab is in the URL: a reload (a new session on the same URL) opens it again
    reloaded = AppTest.from_file(APP, default_timeout=60)
    reloaded.query_params.update({"project": at.query_params["project"][0], "training_tab": "Runs"})
    run(reloaded)
    assert [w for w in reloaded.multiselect if w.label == "Compare runs"]
