"""The open project follows the browser tab (AppTest): its id is in the URL, so a reload or a bookmark
reopens it and two tabs keep their own projects; a tab without one opens the latest edited project."""
from __future__ import annotations

import pytest

from builder.projects import store
from training_app import open_template, run, workspace


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERBOARD_HOME", str(tmp_path))
    return tmp_path


def test_each_tab_keeps_its_project_and_its_url(home):
    first = open_template("mlp")
    mlp = workspace(first).project_id
    assert first.query_params["project"] == mlp                      # the URL names the open project
    second = open_template("")                                          # a new tab: the latest project
    assert workspace(second).project_id == mlp
    second.button(key="template_lenet5").click()
    run(second)
    lenet = workspace(second).project_id
    assert lenet != mlp and second.query_params["project"] == lenet
    first.text_input(key="project_name").set_value("My MLP")           # the first tab edits on, undisturbed
    run(first)
    assert workspace(first).project_id == mlp and first.query_params["project"] == mlp
    assert store().load_project(mlp).name == "My MLP" and store().load_project(lenet).name == "LeNet-5"
    for project_id, name in ((mlp, "My MLP"), (lenet, "LeNet-5")):    # a reload or a bookmark of each tab
        again = open_template("", {"project": project_id})
        assert (workspace(again).project_id, workspace(again).project.name) == (project_id, name)
    assert workspace(open_template("")).project_id == mlp              # no project in the URL: latest edited


def test_opening_a_saved_project_changes_only_this_tabs_url(home):
    first = open_template("mlp")
    mlp = workspace(first).project_id
    second = open_template("lenet5")
    lenet = workspace(second).project_id
    second.button(key=f"open_{mlp}").click()
    run(second)
    assert workspace(second).project_id == mlp and second.query_params["project"] == mlp
    gone = open_template("", {"project": "0123456789ab"})               # a bookmark of a deleted project
    assert workspace(gone).project_id == lenet and gone.query_params["project"] == lenet   # latest edited
    assert any("0123456789ab" in t.value for t in gone.toast)


def test_an_empty_canvas_not_saved_yet_stays_empty_on_reload(home):
    open_template("mlp")
    tab = open_template("")
    tab.button(key="template_empty").click()
    run(tab)
    assert workspace(tab).project_id is None and tab.query_params["project"] == "new"
    again = open_template("", {"project": "new"})                      # its reload: still an empty canvas
    assert workspace(again).graph.nodes == [] and workspace(again).project_id is None
    assert len(store().list_projects()) == 1                            # nothing saved until it changes
