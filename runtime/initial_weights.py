"""A project's starting weights: those of the ONNX model it was imported from, kept in the store with
the project (`projects/<project_id>/initial.json` + `.safetensors`, a checkpoint holding weights only).

Training starts from them and export uses them instead of fresh ones, for as long as they fit the graph
(the same parameter names and shapes): after an edit that changes a layer, that layer's weights no
longer fit and the graph starts fresh, as any drawn graph does.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from runtime import checkpoints
from runtime.compiler import Compiled
from runtime.store import Store

STEM = "initial"


@dataclass(frozen=True)
class InitialWeights:
    path: Path                              # the checkpoint's JSON half (what a run starts from)
    source: str                             # where they came from, e.g. "lenet5.onnx"
    weights: dict[str, torch.Tensor]        # state_dict of the compiled graph's module

    def fit(self, compiled: Compiled) -> bool:
        """True when the graph's module has exactly these parameter names and shapes."""
        if not compiled.ok:
            return False
        with torch.device("meta"):          # shapes only: no weight memory
            expected = {k: tuple(v.shape) for k, v in compiled.build_module().state_dict().items()}
        return expected == {k: tuple(v.shape) for k, v in self.weights.items()}


def save(store: Store, project_id: str, weights: dict[str, torch.Tensor], source: str) -> Path:
    """Keeps `weights` as the project's starting weights; returns the checkpoint's JSON path."""
    return checkpoints.save(store.project_dir(project_id) / STEM, weights, {"source": source})


def find(store: Store, project_id: str | None) -> InitialWeights | None:
    """The project's starting weights, or None when it has none (or they cannot be read any more)."""
    if project_id is None:
        return None
    path = (store.project_dir(project_id) / STEM).with_suffix(".json")
    try:
        return _load(str(path), path.stat().st_mtime_ns)
    except (OSError, checkpoints.CheckpointError):
        return None


@lru_cache(maxsize=4)
def _load(path: str, _mtime: int) -> InitialWeights:
    """Read once per file version: the page asks on every rerun of the export panel."""
    weights, state = checkpoints.load(path)
    return InitialWeights(Path(path), str(state.get("source", "")), weights)
