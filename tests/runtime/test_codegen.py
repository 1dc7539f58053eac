"""Code export: templates become standalone code with identical outputs; names cannot inject code."""
import ast
import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from runtime.codegen import class_name, generate
from runtime.compiler import compile
from runtime.graph import load_project, parse_project
from runtime.projects import compile_project

TEMPLATES = sorted((Path(__file__).parents[2] / "runtime" / "templates").glob("*.json"))
WEIGHTS = {"weights_file": "model.safetensors", "weights_origin": "the weights, from a test."}


def run_generated(source):
    namespace = {"__name__": "generated"}
    exec(builtins.compile(source, "<generated>", "exec"), namespace)  # our own output, in a test
    return namespace


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_code_matches_the_compiled_module(path):
    project = load_project(path)
    compiled = compile_project(project)
    torch.manual_seed(0)
    module = compiled.build_module().eval()
    exported = run_generated(generate(compiled, project.name, **WEIGHTS))[class_name(project.name)]().eval()
    exported.load_state_dict(module.state_dict())
    if compiled.input_dtype == "int64":
        x = torch.randint(0, compiled.spec.vocab_size, (4, *compiled.input_shape))
    else:
        x = torch.randn(4, *compiled.input_shape)
    torch.testing.assert_close(exported(x), module(x), rtol=0, atol=0)


def test_generated_file_runs_as_a_script(tmp_path):
    project = load_project(TEMPLATES[0])
    script = tmp_path / "model.py"
    script.write_text(generate(compile_project(project), project.name, **WEIGHTS))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "torch.Size([2," in result.stdout


def test_hostile_names_cannot_inject_code():
    evil = '"""\nimport os; os.system("echo pwned")\n"""'
    data = {"format_version": 1, "name": evil + "\nprint('x')",
            "graph": {"nodes": [{"id": 'in"); import os; ("', "type": "Input", "params": {"shape": [3]}},
                                {"id": "fc\nimport os", "type": "Linear", "params": {"out_features": 2}},
                                {"id": "__class__", "type": "ReLU"},
                                {"id": "1 + 1", "type": "Output"}],
                      "edges": [{"source": 'in"); import os; ("', "target": "fc\nimport os"},
                                {"source": "fc\nimport os", "target": "__class__"},
                                {"source": "__class__", "target": "1 + 1"}]}}
    project = parse_project(json.dumps(data))
    compiled = compile(project.graph)
    assert compiled.ok
    source = generate(compiled, project.name, weights_file=evil + ".safetensors", weights_origin=evil)   # a path
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert imported <= {"torch", "nn"}
    calls = {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
             for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "system" not in calls and "print" in calls   # the only print is the __main__ demo
    cls = run_generated(source)[class_name(project.name)]
    assert cls()(torch.randn(2, 3)).shape == (2, 2)
