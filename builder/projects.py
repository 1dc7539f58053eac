"""Where the builder keeps projects: a small interface over the data directory.

Projects are JSON files named by id under $LAYERBOARD_HOME/projects (default ~/.layerboard),
written atomically (temp file + rename), so a killed server leaves the last complete save.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from runtime.graph import Project, ProjectFileError, parse_project

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "runtime" / "templates"


def data_dir() -> Path:
    return Path(os.environ.get("LAYERBOARD_HOME") or Path.home() / ".layerboard")


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    modified: float


class Shelf:
    def __init__(self, root: Path | None = None):
        self.root = (root or data_dir()) / "projects"
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, project_id: str) -> Path:
        if not project_id.isalnum():     # ids are ours (hex); anything else is not a file of ours
            raise ProjectFileError(f"No project with id {project_id!r}.")
        return self.root / f"{project_id}.json"

    def list(self) -> list[Entry]:
        """Saved projects, most recently changed first."""
        entries = []
        for path in self.root.glob("*.json"):
            try:
                name = json.loads(path.read_text(encoding="utf-8")).get("name", path.stem)
            except (OSError, ValueError, AttributeError):
                continue     # a file being replaced right now, or not ours
            entries.append(Entry(path.stem, str(name), path.stat().st_mtime))
        return sorted(entries, key=lambda e: -e.modified)

    def load(self, project_id: str) -> Project:
        path = self._path(project_id)
        if not path.exists():
            raise ProjectFileError(f"No project with id {project_id!r}: it may have been deleted.")
        return parse_project(path.read_bytes())

    def save(self, project: Project, project_id: str | None = None) -> str:
        """Writes the project (a new id when none is given) and returns its id."""
        project_id = project_id or uuid.uuid4().hex[:12]
        path = self._path(project_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(project.to_json(), encoding="utf-8")
        os.replace(tmp, path)
        return project_id

    def duplicate(self, project_id: str) -> str:
        copy = self.load(project_id)
        copy.name = f"{copy.name} (copy)"[:200]
        return self.save(copy)

    def delete(self, project_id: str) -> None:
        self._path(project_id).unlink(missing_ok=True)


def templates() -> dict[str, Project]:
    """The example projects shipped in runtime/templates, by file stem (mlp, lenet5, ...)."""
    out = {}
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        out[path.stem] = parse_project(path.read_bytes())
    return out
