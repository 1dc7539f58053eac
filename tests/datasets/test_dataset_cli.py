"""`python -m runtime datasets [NAME]` through the real command-line entry point."""
import json

import pytest

from runtime import datasets
from runtime.cli import main
from runtime.store import HOME_ENV


@pytest.mark.parametrize("columns", [80, 120])
def test_list_shows_a_line_per_dataset_with_its_whole_source_below_in_the_terminal_width(capsys, monkeypatch,
                                                                                         columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= columns for line in lines)
    assert lines[1].split() == ["name", "task", "shape", "size"]
    indent = " " * (lines[1].index("task"))
    for d in datasets.DATASETS.values():
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{d.id} "))
        assert lines[at].split()[1:3] == [d.task, "x".join(map(str, datasets.spec(d.id).input_shape))]
        if columns == 120:
            assert lines[at].endswith(d.size)
        below = []
        for line in lines[at + 1:]:
            if not line.startswith(indent):
                break
            below.append(line.strip())
        assert " ".join(below) == d.source                  # all of it, wrapped at spaces


def test_list_shows_the_uploads_kept_in_the_data_directory(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["datasets"]) == 0
    assert "No uploads yet" in capsys.readouterr().out
    rows = "".join(f"{i % 7},{i % 5},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    declared = datasets.save_upload(f"a,b,label\n{rows}".encode(), "toy.csv", target="label")
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(declared.id))
    assert "classification" in lines[at] and "uploaded file toy.csv" in lines[at + 1]
    assert main(["datasets", "--json"]) == 0
    listed = {d["id"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed[declared.id]["classes"] == ["no", "yes"] and "mnist" in listed


def test_describe_one_as_json_with_loaded_splits(capsys):
    assert main(["datasets", "wine", "--load", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [13] and info["output_size"] == 3 and info["licence"] == "CC BY 4.0"
    assert info["splits"] == {"train": 124, "val": 27, "test": 27} and len(info["normalization"]["mean"]) == 13


def test_describe_text_for_people(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["datasets", "imdb"]) == 0
    out = capsys.readouterr().out
    assert "IMDB movie reviews" in out and "Maas" in out and "max_len=200" in out and "[200] int64" in out


def test_unknown_name_lists_the_valid_ones(capsys):
    assert main(["datasets", "cifar10"]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'cifar10'" in err and "fashion_mnist" in err


def test_delete_removes_an_upload_no_project_trains_on(capsys, monkeypatch, tmp_path):
    from runtime.graph import Graph, Project
    from runtime.store import Store
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    rows = "".join(f"{i % 7},{i % 5},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    declared = datasets.save_upload(f"a,b,label\n{rows}".encode(), "toy.csv", target="label")
    Store(tmp_path).save_project(Project(name="uses it", graph=Graph(), dataset={"name": declared.id}))
    assert main(["datasets", declared.id, "--delete"]) == 1
    assert "toy.csv → label is the dataset of 'uses it'" in capsys.readouterr().err
    assert main(["datasets", "mnist", "--delete"]) == 1
    assert "only uploads can be removed" in capsys.readouterr().err
    assert main(["datasets", "--delete"]) == 2
    Store(tmp_path).delete_project(Store(tmp_path).list_projects()[0].id)
    assert main(["datasets", declared.id, "--delete"]) == 0
    assert f"Removed toy.csv → label ({declared.id})" in capsys.readouterr().out
    assert datasets.saved_uploads() == []
