"""`validate`, `summary` and `codegen`: checking a project file and writing its code."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from runtime.codegen import generate
from runtime.compiler import Compiled
from runtime.graph import ProjectFileError, load_project
from runtime.projects import compile_project


def register(commands) -> None:
    p = commands.add_parser("validate", help="check a project file; exit 1 and list the issues if invalid")
    p.add_argument("file")
    p.set_defaults(run=_validate)
    p = commands.add_parser("summary", help="a model summary table: node, type, output shape, parameters")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_summary)
    p = commands.add_parser("codegen", help="write the model as standalone PyTorch source")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="output .py file (default: print)")
    p.set_defaults(run=_codegen)


def _load(path: str):
    try:
        project = load_project(path)
    except ProjectFileError as e:
        print(f"{path}: {e}", file=sys.stderr)
        return None, None
    return project, compile_project(project)


def _print_issues(compiled: Compiled, console: Console) -> None:
    for issue in compiled.issues:
        where = issue.node_id or "graph"
        colour = "red" if issue.severity == "error" else "yellow"
        console.print(f"[{colour}]{issue.severity}[/] {where}: {issue.message}", highlight=False, markup=True)


def _validate(args) -> int:
    project, compiled = _load(args.file)
    if compiled is None:
        return 1
    console = Console(soft_wrap=True)
    _print_issues(compiled, console)
    if compiled.ok:
        console.print(f"{args.file}: valid, {compiled.total_params:,} parameters.", highlight=False)
    return 0 if compiled.ok else 1


def summary_dict(compiled: Compiled) -> dict:
    return {"total_params": compiled.total_params,
            "nodes": {node_id: {"type": info.type, "shape": list(info.shape) if info.shape else None,
                                "params": info.num_params}
                      for node_id, info in compiled.nodes.items()},
            "issues": [i.to_dict() for i in compiled.issues]}


def _summary(args) -> int:
    project, compiled = _load(args.file)
    if compiled is None:
        return 1
    if args.json:
        print(json.dumps(summary_dict(compiled), indent=2))
        return 0 if compiled.ok else 1
    console = Console(soft_wrap=True)
    table = Table(title=f"{project.name}", title_justify="left")
    for column in ("Node", "Type", "Output shape", "Param #"):
        table.add_column(column, justify="right" if column == "Param #" else "left")
    for node_id in compiled.order:
        info = compiled.nodes[node_id]
        shape = "(None, " + ", ".join(map(str, info.shape)) + ")" if info.shape else "?"
        table.add_row(node_id, info.type, shape, f"{info.num_params:,}")
    console.print(table)
    console.print(f"Total params: {compiled.total_params:,} ({4 * compiled.total_params / 2**20:.2f} MB as float32)",
                  highlight=False)
    _print_issues(compiled, console)
    return 0 if compiled.ok else 1


def _codegen(args) -> int:
    project, compiled = _load(args.file)
    if compiled is None:
        return 1
    if not compiled.ok:
        _print_issues(compiled, Console(stderr=True, soft_wrap=True))
        return 1
    source = generate(compiled, project.name, weights_file="DIR/model.safetensors",
                      weights_origin=f"the trained weights, written by `python -m runtime train {args.file} "
                                     "--out DIR`.")
    if args.output:
        Path(args.output).write_text(source, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(source)
    return 0
