"""Project file: exact round trip, unknown keys kept, clear errors for broken files."""
import json
from pathlib import Path

import jsonschema
import pytest

from runtime.graph import MAX_NODES, SCHEMA_PATH, ProjectFileError, load_project, parse_project

TEMPLATES = sorted((Path(__file__).parents[2] / "runtime" / "templates").glob("*.json"))


def minimal(**extra):
    return {"format_version": 1, "name": "t",
            "graph": {"nodes": [{"id": "in", "type": "Input", "params": {"shape": [4]}},
                                {"id": "fc", "type": "Linear", "params": {"out_features": 2}},
                                {"id": "out", "type": "Output", "params": {}}],
                      "edges": [{"source": "in", "target": "fc"}, {"source": "fc", "target": "out"}]},
            "dataset": {}, "training": {}, **extra}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_templates_round_trip_exactly(path):
    text = path.read_text()
    project = parse_project(text)
    assert project.to_json() == text
    jsonschema.validate(json.loads(text), json.loads(SCHEMA_PATH.read_text()))


def test_unknown_keys_survive_everywhere():
    data = minimal(author={"name": "ada"})
    data["graph"]["nodes"][1]["note"] = "my layer"
    data["graph"]["edges"][0]["color"] = "red"
    data["graph"]["groups"] = [["in", "fc"]]
    data["dataset"] = {"name": "iris", "custom": 1}
    assert parse_project(json.dumps(data)).to_dict() == data


def test_edge_port_round_trips():
    data = minimal()
    data["graph"]["edges"][0]["port"] = 1
    project = parse_project(json.dumps(data))
    assert project.graph.edges[0].port == 1
    assert project.to_dict() == data


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.update(format_version=7), "Unknown format_version 7"),
    (lambda d: d.pop("format_version"), 'The file has no format_version: a project file is a JSON object with '
                                        '"format_version": 1, a name and a graph'),
    (lambda d: d["graph"]["nodes"][1].update(type="Conv3d"), "unknown type 'Conv3d'. Known types: "),
    (lambda d: d["graph"]["nodes"][1].update(id="in"), "Two nodes share the id 'in'"),
    (lambda d: d["graph"]["edges"].append({"source": "fc", "target": "ghost"}), "target 'ghost'"),
    (lambda d: d["graph"]["nodes"][0].update(position=[1, "x"]), "graph.nodes[0].position[1]"),
    (lambda d: d.pop("graph"), "'graph' is a required property"),
    (lambda d: d["graph"]["edges"][0].update(port=-1), "graph.edges[0].port"),
])
def test_broken_files_get_a_message_naming_the_problem(mutate, expected):
    data = minimal()
    mutate(data)
    with pytest.raises(ProjectFileError, match=expected.replace("(", r"\(").replace("[", r"\[").replace(".", r"\.")):
        parse_project(json.dumps(data))


def test_not_json_names_line_and_column():
    with pytest.raises(ProjectFileError, match=r"line 2, column 1"):
        parse_project('{"format_version": 1,\n}')


def test_binary_and_oversized_and_huge_graphs_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ProjectFileError, match="not UTF-8"):
        parse_project(b"\xff\xfe\x00garbage")
    monkeypatch.setattr("runtime.graph.MAX_FILE_BYTES", 100)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(minimal()))
    with pytest.raises(ProjectFileError, match="at most 100 bytes"):
        load_project(big)
    monkeypatch.undo()
    data = minimal()
    data["graph"]["nodes"] = [{"id": f"n{i}", "type": "ReLU"} for i in range(MAX_NODES + 1)]
    with pytest.raises(ProjectFileError, match=f"at most {MAX_NODES}"):
        parse_project(json.dumps(data))


def test_missing_file_is_a_message(tmp_path):
    with pytest.raises(ProjectFileError, match="Cannot read"):
        load_project(tmp_path / "nope.json")
