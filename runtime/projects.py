"""Project-level entry points: the data spec a project's dataset section implies, and compiling it."""
from __future__ import annotations

from runtime import datasets
from runtime.compiler import Compiled, Issue, compile
from runtime.dataspec import DataSpec
from runtime.graph import Project


def project_spec(project: Project) -> tuple[DataSpec | None, Issue | None]:
    """The DataSpec of the project's dataset (None without one), or an issue saying why there is none."""
    section = dict(project.dataset)
    name = section.pop("name", None)
    if not name:
        return None, None
    try:
        return datasets.spec(name, **section), None
    except datasets.DatasetError as e:
        return None, Issue(None, "dataset", str(e))


def compile_project(project: Project) -> Compiled:
    """Compiles the project's graph against its dataset; a dataset problem is one more issue."""
    spec, issue = project_spec(project)
    compiled = compile(project.graph, spec)
    if issue:
        compiled.issues.insert(0, issue)
    return compiled
