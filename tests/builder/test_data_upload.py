"""Uploading your own data in the Data & training panel (AppTest): a CSV with a chosen target becomes
a dataset of the project, previewed and trained like a sample one; bad files get a message."""
from __future__ import annotations

import numpy as np
import pytest

from builder import data_upload, projects, run_control
from builder.markdown import escape
from runtime import datasets
from runtime.datasets import uploads
from tests.datasets.test_dataset_uploads import GOOD_ROWS, csv_bytes, npz_bytes, png, zip_bytes
from training_app import (charts, class_balance, open_tab, open_template, run, sample_images, texts, train,
                          wait_for_run, workspace)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERBOARD_HOME", str(tmp_path))
    datasets.CACHE.clear()
    yield tmp_path
    for job in run_control.registry().jobs():       # no run outlives its test
        job.stop()
        job.wait(30)
    datasets.CACHE.clear()


def unfold(at, key: str):
    """Unfolds a section of the upload panel, as a click does: its widgets are drawn only while unfolded."""
    if key not in at.session_state or not at.session_state[key]:
        at.session_state[key] = True
        run(at)
    return at


def uploader(at):
    unfold(at, data_upload.FORM_OPEN_KEY)
    return next(u for u in at.get("file_uploader") if u.proto.id and "upload_file_" in u.proto.id)


def upload(at, filename: str, data: bytes, **choices):
    uploader(at).set_value((filename, data, "application/octet-stream"))
    run(at)
    for label, value in choices.items():
        next(s for s in at.selectbox if s.label.startswith(label)).set_value(value)
        run(at)
    add = next(b for b in at.button if b.key and b.key.startswith("upload_add_"))
    add.click()
    return run(at)


def picker(at):
    return next(s for s in at.selectbox if s.key and s.key.startswith("dataset_"))


def test_a_csv_upload_becomes_the_projects_dataset_and_trains(home):
    at = open_template("mlp")
    uploader(at).set_value(("shapes.csv", csv_bytes(GOOD_ROWS), "text/csv"))
    run(at)
    target = next(s for s in at.selectbox if s.label.startswith("Target column"))
    assert target.options == ["width", "height", "colour", "kind"] and target.value == "kind"
    upload(at, "shapes.csv", csv_bytes(GOOD_ROWS), **{"Target column": "kind", "Task": "classification"})
    ws = workspace(at)
    name = ws.project.dataset["name"]
    assert name.startswith("upload:") and ws.graph.node("input1").params["shape"] == [4]
    assert any(escape("Added shapes.csv → kind") in s for s in texts(at, "success"))
    assert picker(at).value == name and "Your data: shapes.csv → kind" in picker(at).options
    assert "Training samples per class" in class_balance(at)              # the same preview as samples
    table = next(d.value for d in at.dataframe if "target" in d.value.columns)
    assert set(table["target"]) <= {"big", "small"} and "colour" in table.columns
    assert ws.history.can_undo
    train(at)
    assert wait_for_run(at) == "completed"
    run(at)
    assert "Accuracy" in charts(at) and not texts(at, "exception")


def test_the_upload_survives_a_restart_and_a_new_session(home):
    at = open_template("mlp")
    upload(at, "shapes.csv", csv_bytes(GOOD_ROWS), **{"Target column": "kind"})
    project_id, name = workspace(at).project_id, workspace(at).project.dataset["name"]
    datasets.CACHE.clear()                                            # as after a server restart
    again = open_template("", {"project": project_id})
    assert workspace(again).project.dataset["name"] == name and picker(again).value == name
    assert "Training samples per class" in class_balance(again)
    other = open_template("lenet5")                                   # another project can pick it too
    assert "Your data: shapes.csv → kind" in picker(other).options


def test_a_malformed_file_is_named_and_the_dataset_stays(home, monkeypatch):
    at = open_template("mlp")
    upload(at, "ragged.csv", b"a,b,c\n" + b"1,2,3\n" * 12 + b"4,5\n", **{"Target column": "c"})
    assert any(escape("ragged.csv was not added") in e and escape("row 14: 2 values") in e for e in texts(at, "error"))
    assert workspace(at).project.dataset == {"name": "digits"}
    upload(at, "objects.npz", npz_bytes(x=np.array([object()] * 12), y=np.arange(12)))
    assert any(escape("never loaded") in e for e in texts(at, "error"))
    uploader(at).set_value(("notes.txt", b"\xff\xfe binary", "text/plain"))
    run(at)
    assert any(escape("row 1: the header is not UTF-8 text") in e for e in texts(at, "error"))
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 100)
    uploader(at).set_value(("big.csv", csv_bytes(GOOD_ROWS), "text/csv"))
    run(at)
    assert any(escape("uploads are limited to") in e for e in texts(at, "error"))
    assert workspace(at).project.dataset == {"name": "digits"} and not list((home / "uploads").glob("*.csv"))


def test_a_zip_of_image_folders_is_resized_on_request_and_previewed_as_images(home):
    files = {f"{name}/{i}.png": png(6 + i % 2, 6, colour) for name, colour in (("red", (255, 0, 0)),
                                                                                ("blue", (0, 0, 255)))
             for i in range(8)}
    at = open_template("lenet5")
    upload(at, "colours.zip", zip_bytes(files))
    assert any(escape("all images must have the same size") in e for e in texts(at, "error"))
    next(t for t in at.text_input if t.label.startswith("Resize images to")).set_value("8, 8")
    run(at)
    next(b for b in at.button if b.key and b.key.startswith("upload_add_")).click()
    run(at)
    ws = workspace(at)
    assert ws.project.dataset["name"].startswith("upload:") and ws.graph.node("input1").params["shape"] == [3, 8, 8]
    assert sample_images(at).count("<img ") == 8 and "Training samples per class" in class_balance(at)


def test_a_project_naming_an_upload_kept_elsewhere_says_how_to_get_it_back(home):
    project = projects.templates()["mlp"]
    project.dataset = {"name": "upload:0123456789abcdef"}              # a project file from another machine
    project_id, _ = projects.store().save_project(project)
    at = open_template("", {"project": project_id})
    assert any(escape("is not in this data directory") in e for e in texts(at, "error"))
    assert picker(at).value is None


def test_runs_on_an_upload_whose_file_is_gone_explain_it_in_every_tab(home):
    at = open_template("mlp")
    upload(at, "shapes.csv", csv_bytes(GOOD_ROWS), **{"Target column": "kind"})
    train(at)
    assert wait_for_run(at) == "completed"
    for path in (home / "uploads").iterdir():            # the data directory lost the file
        path.unlink()
    datasets.CACHE.clear()
    for tab in ("Results", "Playground", "Export"):
        open_tab(at, tab)
        assert any("is not in this data directory" in e for e in texts(at, "error") + texts(at, "warning")), tab


def test_an_upload_is_removed_once_no_project_trains_on_it(home):
    at = open_template("mlp")
    assert not any(b.key == "upload_remove" for b in at.button)          # nothing to remove yet
    upload(at, "shapes.csv", csv_bytes(GOOD_ROWS), **{"Target column": "kind"})
    name = workspace(at).project.dataset["name"]
    assert not any(b.key == "upload_remove" for b in at.button)          # folded: not drawn
    unfold(at, data_upload.UPLOADS_OPEN_KEY)
    assert at.selectbox(key="upload_remove_choice").value == name
    assert at.button(key="upload_remove").disabled                        # this project trains on it
    assert any("The dataset of" in c and "choose another dataset there" in c for c in texts(at, "caption"))
    picker(at).set_value("digits")
    run(at)
    remove = at.button(key="upload_remove")
    assert not remove.disabled
    remove.click()
    run(at)
    assert any(escape("Removed shapes.csv → kind from the data directory.") in s for s in texts(at, "success"))
    assert datasets.saved_uploads() == [] and not list((home / "uploads").glob("*.csv"))
    assert not any(b.key == "upload_remove" for b in at.button)
    assert "Your data: shapes.csv → kind" not in picker(at).options and not texts(at, "exception")
