"""Project-level entry points: the data spec a project's dataset section implies, compiling it, and
removing an upload no project needs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import datasets
from runtime.compiler import Compiled, Issue, compile
from runtime.datasets import stored_uploads
from runtime.dataspec import DataSpec
from runtime.graph import Project

if TYPE_CHECKING:
    from runtime.store import Store


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


def remove_upload(store: Store, name: str) -> str:
    """Deletes the upload `name` unless a project trains on it: then DatasetError names the projects, so
    nobody's project loses its data. Runs that trained on it keep their curves and weights. Returns
    what the upload was called."""
    if not stored_uploads.is_upload(name):
        raise datasets.DatasetError(f"{name!r} is not one of your uploads (those are named upload:<id>): only "
                                    "uploads can be removed.")
    try:
        title = datasets.declaration(name).title
    except datasets.DatasetError:
        title = name                                  # a damaged description can still be removed
    users = store.dataset_users().get(name)
    if users:
        raise datasets.DatasetError(
            f"{title} is the dataset of {', '.join(repr(u) for u in users)}: choose another dataset there "
            "first, then remove it.")
    datasets.delete_upload(name)
    return title
