"""Where the builder keeps projects: the runtime's store (SQLite in $LAYERBOARD_HOME), one per
data directory and server process, and the templates shipped in runtime/templates."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from runtime.graph import Project, parse_project
from runtime.store import Store, data_dir

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "runtime" / "templates"


@lru_cache(maxsize=4)
def _store(home: str) -> Store:
    return Store(home)


def file_stem(project: Project, unnamed: str) -> str:
    """A download's name before its suffix: the project's name in letters, digits, '_' and '-' only
    ('MLP on digits' -> 'MLP_on_digits'), 60 at most; `unnamed` where nothing is left."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", project.name).strip("_")[:60] or unnamed


def store() -> Store:
    return _store(str(data_dir()))


@lru_cache(maxsize=1)
def _template_texts() -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(TEMPLATES_DIR.glob("*.json"))}


def templates() -> dict[str, Project]:
    """The example projects by file stem (mlp, lenet5, ...), each a fresh copy."""
    return {stem: parse_project(text) for stem, text in _template_texts().items()}
