"""`python -m runtime validate | summary | codegen` as a user runs them (in-process, plus one real
process to prove the entry point)."""
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from runtime.cli import main

ROOT = Path(__file__).parents[2]


@pytest.fixture
def run(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)

    def run_command(*args):
        code = main(list(args))
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)
    return run_command


def test_the_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "runtime", "validate", "runtime/templates/gru.json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "valid, 3,972 parameters" in result.stdout


def test_validate_valid_and_invalid(run, tmp_path):
    ok = run("validate", "runtime/templates/lenet5.json")
    assert ok.returncode == 0 and "valid, 61,706 parameters" in ok.stdout
    broken = json.loads((ROOT / "runtime/templates/lenet5.json").read_text())
    broken["graph"]["nodes"] = [n for n in broken["graph"]["nodes"] if n["id"] != "flatten1"]
    broken["graph"]["edges"] = [e for e in broken["graph"]["edges"] if "flatten1" not in (e["source"], e["target"])]
    broken["graph"]["edges"].append({"source": "pool2", "target": "fc1"})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = run("validate", str(path))
    assert result.returncode == 1
    assert "fc1: Linear expects a flat vector" in result.stdout and "insert Flatten" in result.stdout


def test_validate_unreadable_file_is_a_message_not_a_traceback(run, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    result = run("validate", str(path))
    assert result.returncode == 1
    assert "Not valid JSON (line 1, column 2)" in result.stderr and "Traceback" not in result.stderr


def test_summary_json_for_machines(run):
    result = run("summary", "tests/fixtures/reference/resnet18.json", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["total_params"] == 11_689_512 and data["issues"] == []
    assert data["nodes"]["conv1"] == {"type": "Conv2d", "shape": [64, 112, 112], "params": 9408}


def test_summary_table_and_codegen(run, tmp_path):
    table = run("summary", "runtime/templates/mlp.json")
    assert table.returncode == 0 and "Total params: 17,226" in table.stdout and "fc3" in table.stdout
    out = tmp_path / "model.py"
    assert run("codegen", "runtime/templates/mlp.json", "-o", str(out)).returncode == 0
    result = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "torch.Size([2, 10])" in result.stdout
