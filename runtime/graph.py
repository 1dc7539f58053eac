"""Graph, Node, Edge and the project file (JSON, versioned; see docs/format.md).

A project file is data only: it is parsed as JSON, checked against `project.schema.json`,
and never executed or unpickled. Keys this version does not know are kept and written back.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

FORMAT_VERSION = 1
MAX_FILE_BYTES = 5_000_000   # a real project is a few KB; this refuses a file bomb before parsing
MAX_NODES = 2_000            # ten times VGG-16; more is a hostile or broken file
SCHEMA_PATH = Path(__file__).with_name("project.schema.json")


class ProjectFileError(ValueError):
    """A project file that cannot be read; the message says where and what to fix."""


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # unknown keys, written back unchanged

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "params": dict(self.params)}
        if self.position is not None:
            out["position"] = [self.position[0], self.position[1]]
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Node":
        rest = {k: v for k, v in d.items() if k not in ("id", "type", "params", "position")}
        pos = d.get("position")
        return cls(d["id"], d["type"], dict(d.get("params", {})),
                   (pos[0], pos[1]) if pos is not None else None, rest)


@dataclass
class Edge:
    source: str
    target: str
    port: int | None = None      # input slot on the target; where None, the edge's list order counts
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "target": self.target}
        if self.port is not None:
            out["port"] = self.port
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Edge":
        rest = {k: v for k, v in d.items() if k not in ("source", "target", "port")}
        return cls(d["source"], d["target"], d.get("port"), rest)


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def inputs_of(self, node_id: str) -> list[str]:
        """Source ids feeding `node_id`, in input order: explicit ports first by number, then list order."""
        incoming = [(i, e) for i, e in enumerate(self.edges) if e.target == node_id]
        incoming.sort(key=lambda ie: (ie[1].port is None, ie[1].port or 0, ie[0]))
        return [e.source for _, e in incoming]

    def new_id(self, stem: str) -> str:
        """A fresh node id such as `conv3` for stem `conv`."""
        taken = {n.id for n in self.nodes}
        i = 1
        while f"{stem}{i}" in taken:
            i += 1
        return f"{stem}{i}"

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes],
                "edges": [e.to_dict() for e in self.edges], **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Graph":
        rest = {k: v for k, v in d.items() if k not in ("nodes", "edges")}
        return cls([Node.from_dict(n) for n in d.get("nodes", [])],
                   [Edge.from_dict(e) for e in d.get("edges", [])], rest)


@dataclass
class Project:
    name: str
    graph: Graph
    dataset: dict[str, Any] = field(default_factory=dict)    # {"name": "mnist", ...loader options}
    training: dict[str, Any] = field(default_factory=dict)   # TrainConfig fields
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "name": self.name, "graph": self.graph.to_dict(),
                "dataset": copy.deepcopy(self.dataset), "training": copy.deepcopy(self.training),
                **copy.deepcopy(self.extra)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    def copy(self) -> "Project":
        return project_from_dict(self.to_dict())


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _where(path: Any) -> str:
    parts = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return parts.lstrip(".") or "the top level"


def project_from_dict(data: Any) -> Project:
    """Checks a parsed project file and returns the Project; ProjectFileError says what is wrong."""
    if not isinstance(data, dict):
        raise ProjectFileError("A project file must be a JSON object with format_version, name and graph.")
    if "format_version" not in data:
        raise ProjectFileError(
            "The file has no format_version: a project file is a JSON object with "
            f"\"format_version\": {FORMAT_VERSION}, a name and a graph of nodes and edges "
            "(see docs/format.md).")
    version = data["format_version"]
    if version != FORMAT_VERSION:
        raise ProjectFileError(
            f"Unknown format_version {version!r}: this Layerboard reads version {FORMAT_VERSION}. "
            "Update Layerboard, or save the project again from the version that wrote it.")
    nodes = data.get("graph", {}).get("nodes") if isinstance(data.get("graph"), dict) else None
    if isinstance(nodes, list) and len(nodes) > MAX_NODES:
        raise ProjectFileError(f"The graph has {len(nodes)} nodes; at most {MAX_NODES} are supported.")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        raise ProjectFileError(f"At {_where(error.absolute_path)}: {error.message}")
    from runtime.layers import LAYERS   # the catalog decides which node types exist
    ids: set[str] = set()
    for n in data["graph"]["nodes"]:
        if n["id"] in ids:
            raise ProjectFileError(f"Two nodes share the id {n['id']!r}: node ids must be unique.")
        ids.add(n["id"])
        if n["type"] not in LAYERS:
            raise ProjectFileError(
                f"Node {n['id']!r} has unknown type {n['type']!r}. Known types: {', '.join(sorted(LAYERS))}.")
    for i, e in enumerate(data["graph"]["edges"]):
        for end in ("source", "target"):
            if e[end] not in ids:
                raise ProjectFileError(f"Edge {i} ({e['source']} -> {e['target']}) names a {end} "
                                       f"{e[end]!r} that is not a node of the graph.")
    rest = {k: v for k, v in data.items()
            if k not in ("format_version", "name", "graph", "dataset", "training")}
    return Project(data["name"], Graph.from_dict(data["graph"]), dict(data.get("dataset", {})),
                   dict(data.get("training", {})), copy.deepcopy(rest))


def parse_project(text: str | bytes) -> Project:
    """Parses project JSON text (from a file, an upload or the store)."""
    if len(text) > MAX_FILE_BYTES:
        raise ProjectFileError(f"The file is {len(text):,} bytes; a project file is at most "
                               f"{MAX_FILE_BYTES:,} bytes.")
    try:
        data = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError:
        raise ProjectFileError("The file is not UTF-8 text: a project file is JSON.") from None
    except json.JSONDecodeError as e:
        raise ProjectFileError(f"Not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}.") from None
    except RecursionError:
        raise ProjectFileError("The JSON is nested too deeply to be a project file.") from None
    return project_from_dict(data)


def load_project(path: str | Path) -> Project:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectFileError(f"{path.name} is {size:,} bytes; a project file is at most "
                                   f"{MAX_FILE_BYTES:,} bytes.")
        return parse_project(path.read_bytes())
    except OSError as e:
        raise ProjectFileError(f"Cannot read {path}: {e.strerror}.") from None
