"""Uploads kept in the data directory load by name, like sample datasets: in this process, in a
fresh process (a restarted server, the CLI, a training worker), and through the trainer."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime import datasets
from runtime.graph import parse_project
from runtime.training.session import prepare
from tests.datasets.test_dataset_uploads import GOOD_ROWS, csv_bytes, npz_bytes, png, zip_bytes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERBOARD_HOME", str(tmp_path))
    datasets.CACHE.clear()
    yield tmp_path
    datasets.CACHE.clear()


def test_a_csv_upload_is_kept_and_loads_by_name_with_project_options(home):
    declared = datasets.save_upload(csv_bytes(GOOD_ROWS), "shapes.csv", target="kind")
    assert declared.id.startswith("upload:") and declared.title == "shapes.csv → kind"
    assert declared.task == "classification" and declared.kind == "table"
    stored = sorted(p.name for p in (home / "uploads").iterdir())
    assert len(stored) == 2 and any(p.endswith(".csv") for p in stored)
    datasets.CACHE.clear()                                        # read back from disk, not memory
    splits = datasets.load(declared.id, subset=20, seed=3)
    assert splits.class_names == ["big", "small"] and sum(splits.sizes().values()) == 20
    assert splits.feature_names == ["width", "height", "colour=blue", "colour=red"]
    assert datasets.spec(declared.id).input_shape == (4,) == tuple(splits.x_train.shape[1:])
    assert [d.id for d in datasets.saved_uploads()] == [declared.id]


def test_the_same_file_twice_is_one_upload_and_another_target_is_another(home):
    first = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="kind")
    again = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="kind")
    other = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="width", task="regression")
    assert first.id == again.id != other.id
    assert other.task == "regression" and datasets.spec(other.id).output_size == 1
    assert len(list((home / "uploads").glob("*.csv"))) == 1        # the bytes are kept once


def test_npz_and_image_zip_uploads_keep_their_kind_and_shape(home):
    rng = np.random.default_rng(0)
    npz = datasets.save_upload(npz_bytes(x=rng.normal(size=(30, 12, 2)), y=np.arange(30) % 3,
                                         x_test=rng.normal(size=(9, 12, 2)), y_test=np.arange(9) % 3), "s.npz")
    assert (npz.kind, npz.sample_shape, npz.test_split) == ("sequence", (12, 2), True)
    assert "test_fraction" not in datasets.options_for(npz.id)     # the file's own test split is kept
    assert datasets.load(npz.id).sizes()["test"] == 9
    files = {f"{c}/{i}.png": png(6, 5, colour) for c, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255)))
             for i in range(8)}
    images = datasets.save_upload(zip_bytes(files), "colours.zip")
    assert (images.kind, images.sample_shape, images.class_names) == ("image", (3, 5, 6), ("blue", "red"))
    assert datasets.kind_of(images.id) == "image"


def test_a_refused_file_says_why_and_nothing_is_kept(home):
    with pytest.raises(datasets.DatasetError, match="row 3: 2 values"):
        datasets.save_upload(b"a,b,c\n1,2,3\n4,5\n", "ragged.csv", target="c")
    with pytest.raises(datasets.DatasetError, match="target column"):
        datasets.save_upload(csv_bytes(GOOD_ROWS), "shapes.csv")
    with pytest.raises(datasets.DatasetError, match=r"expected a \.csv"):
        datasets.save_upload(b"x", "model.pkl")
    with pytest.raises(datasets.DatasetError, match="never loaded"):
        datasets.save_upload(npz_bytes(x=np.array([object()] * 12), y=np.arange(12)), "objects.npz")
    with pytest.raises(datasets.DatasetError, match="no option 'target'"):
        datasets.save_upload(npz_bytes(x=np.zeros((12, 2)), y=np.arange(12) % 2), "a.npz", target="y")
    assert not (home / "uploads").exists() or not any((home / "uploads").iterdir())


def test_a_missing_or_changed_or_forged_upload_is_a_clear_error(home):
    with pytest.raises(datasets.DatasetError, match="not in this data directory"):
        datasets.spec("upload:0123456789abcdef")
    with pytest.raises(datasets.DatasetError, match="not an upload name"):
        datasets.load("upload:../../etc/passwd")
    declared = datasets.save_upload(csv_bytes(GOOD_ROWS), "shapes.csv", target="kind")
    datasets.CACHE.clear()
    stored = next((home / "uploads").glob("*.csv"))
    stored.write_bytes(stored.read_bytes() + b"1,2,red,big\n")
    with pytest.raises(datasets.DatasetError, match="changed since it was uploaded"):
        datasets.load(declared.id)
    manifest = home / "uploads" / f"{declared.id.split(':')[1]}.json"
    forged = {**json.loads(manifest.read_text()), "sha256": "../../secret"}
    manifest.write_text(json.dumps(forged))
    with pytest.raises(datasets.DatasetError, match="damaged"):
        datasets.load(declared.id)
    assert datasets.saved_uploads() == []                               # a damaged one is not offered


def test_a_project_naming_an_upload_trains_in_a_fresh_process(home):
    """What a restarted server, the CLI or a training worker does: only the data directory is shared."""
    declared = datasets.save_upload(csv_bytes(GOOD_ROWS), "shapes.csv", target="kind")
    project = parse_project((ROOT / "runtime/templates/mlp.json").read_text())
    project.dataset = {"name": declared.id, "seed": 1}
    project.graph.node("input1").params["shape"] = [4]
    path = home / "project.json"
    path.write_text(project.to_json())
    prepared = prepare(project)                                   # in this process, as a run does
    assert prepared.splits.spec.class_names == ("big", "small")
    out = subprocess.run([sys.executable, "-m", "runtime", "train", str(path), "--epochs", "1", "--jsonl"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"LAYERBOARD_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert any("val/acc" in json.dumps(r) for r in records)
    assert torch.isfinite(prepared.splits.x_train).all()


def test_a_data_directory_that_cannot_be_written_is_a_message(home):
    (home / "uploads").write_text("a file where the folder should be")
    with pytest.raises(datasets.DatasetError, match="could not be kept in"):
        datasets.save_upload(csv_bytes(GOOD_ROWS), "shapes.csv", target="kind")


def test_removing_an_upload_keeps_a_file_another_upload_still_reads(home):
    kind = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="kind")
    width = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="width", task="regression")
    datasets.load(kind.id)
    datasets.delete_upload(kind.id)
    assert [d.id for d in datasets.saved_uploads()] == [width.id]
    assert len(list((home / "uploads").glob("*.csv"))) == 1 and datasets.load(width.id).sizes()["train"] > 0
    with pytest.raises(datasets.DatasetError, match="is not in this data directory"):
        datasets.load(kind.id)                                     # not served from the cache either
    datasets.delete_upload(width.id)
    assert not list((home / "uploads").iterdir())
    with pytest.raises(datasets.DatasetError, match="is not in this data directory"):
        datasets.delete_upload(width.id)
    with pytest.raises(datasets.DatasetError, match="is not an upload name"):
        datasets.delete_upload("upload:../../etc")


def test_a_damaged_upload_description_can_be_removed(home):
    declared = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="kind")
    other = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="width", task="regression")
    description = home / "uploads" / f"{declared.id.split(':')[1]}.json"
    description.write_text("{not json")
    datasets.delete_upload(declared.id)
    assert not description.exists()
    (home / "uploads" / "0123456789abcdef.json").write_text("[1, 2]")   # another damaged one, of no use
    datasets.delete_upload(other.id)
    assert not list((home / "uploads").glob("*.csv"))


def test_an_upload_a_project_trains_on_is_not_removed(home):
    from runtime.projects import remove_upload
    from runtime.store import Store
    declared = datasets.save_upload(csv_bytes(GOOD_ROWS), "a.csv", target="kind")
    store = Store(home)
    project = parse_project((ROOT / "runtime" / "templates" / "mlp.json").read_text())
    project.name, project.dataset = "Shapes <b>", {"name": declared.id}
    project_id, _ = store.save_project(project)
    with pytest.raises(datasets.DatasetError, match=r"a.csv → kind is the dataset of 'Shapes <b>': choose another"):
        remove_upload(store, declared.id)
    assert [d.id for d in datasets.saved_uploads()] == [declared.id]
    project.dataset = {"name": "digits"}                           # its latest version trains on digits
    store.save_project(project, project_id)
    remove_upload(store, declared.id)
    assert datasets.saved_uploads() == []
