"""Checkpoints as two plain files: tensors in safetensors, everything else in JSON.

Nothing is pickled, so a checkpoint from anywhere can be opened safely. Any tensor found inside
the JSON-bound state (optimizer moments, RNG states, the epoch's sample order) is moved into the
safetensors file and referenced by name; dicts with integer keys (optimizer state) keep them.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

FORMAT = "layerboard-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file and the problem."""


def save(stem: str | Path, weights: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
    """Writes `stem.safetensors` (weights + tensors from `state`) and `stem.json`; returns the JSON path."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"weights/{k}": v.detach().to("cpu").contiguous().clone() for k, v in weights.items()}
    packed = _pack(state, tensors)
    doc = {"format": FORMAT, "version": VERSION, "weights": sorted(weights), "state": packed}
    _atomic(stem.with_suffix(".safetensors"), lambda p: save_file(tensors, str(p)))
    _atomic(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(doc), encoding="utf-8"))
    return stem.with_suffix(".json")


def load(stem: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights and state written by `save`; CheckpointError when the files are missing or bad."""
    given = Path(stem)
    if given.is_dir():
        example = given / "last.json" if (given / "last.json").is_file() else "a run's runs/<id>/last.json"
        raise CheckpointError(f"{given} is a folder: give a checkpoint's .json file, such as {example}.")
    stem = given.with_suffix("") if given.suffix in (".json", ".safetensors") else given
    if not stem.with_suffix(".json").exists() and not stem.with_suffix(".safetensors").exists():
        raise CheckpointError(f"No checkpoint at {given}: a checkpoint is a .json file with its .safetensors "
                              "beside it (a run's are in its folder, e.g. runs/<id>/last.json).")
    for part in (stem.with_suffix(".json"), stem.with_suffix(".safetensors")):
        if not part.is_file():
            raise CheckpointError(f"Checkpoint {stem} is incomplete: {part.name} is missing.")
    try:
        doc = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        tensors = load_file(str(stem.with_suffix(".safetensors")))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, SafetensorError) as e:
        raise CheckpointError(f"Checkpoint {stem} is damaged: {e}.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise CheckpointError(f"{stem.with_suffix('.json')} is not a Layerboard checkpoint "
                              f"(format {FORMAT!r} version {VERSION}).")
    try:
        weights = {k: tensors[f"weights/{k}"] for k in doc["weights"] if f"weights/{k}" in tensors}
        if len(weights) != len(doc["weights"]):
            raise CheckpointError(f"Checkpoint {stem} is damaged: weights listed in the JSON are missing.")
        return weights, _unpack(doc["state"], tensors, stem)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"Checkpoint {stem} is damaged: its JSON does not have the expected layout.") from None


def mismatch(expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> str:
    """Why `weights` do not fit a model whose state_dict is `expected` ('' when they do), by key and shape,
    five of each kind at most: the words a person reads, not torch's multi-line load_state_dict error."""
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if expected[k].shape != weights[k].shape)

    def listed(keys: list[str], say=str) -> str:
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        return ", ".join(say(k) for k in keys[:5]) + more

    parts = [f"missing {listed(missing)}" if missing else "",
             f"not in this graph {listed(unexpected)}" if unexpected else "",
             "wrong shape " + listed(wrong, lambda k: f"{k} {list(weights[k].shape)} "
                                                      f"(graph wants {list(expected[k].shape)})") if wrong else ""]
    return "; ".join(p for p in parts if p)


def read_position(path: str | Path) -> dict[str, int]:
    """Where the run stood when it saved the checkpoint at `path` (epochs finished, batch, step), read
    from its JSON half alone; CheckpointError when that is missing or holds no position."""
    path = Path(path).with_suffix(".json")
    try:
        position = json.loads(path.read_text(encoding="utf-8"))["state"]["position"]
        return {k: int(position[k]) for k in ("epoch", "epoch_offset", "batch", "step")}
    except OSError as e:
        raise CheckpointError(f"Cannot read checkpoint {path}: {e.strerror}.") from None
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"Checkpoint {path} holds no training position (a checkpoint of weights only "
                              "cannot be resumed).") from None


def _pack(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        name = f"state/{len(tensors)}"
        tensors[name] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": name}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _pack(v, tensors) for k, v in obj.items()}
        return {"__items__": [[k, _pack(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, tensors) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def _unpack(obj: Any, tensors: dict[str, torch.Tensor], stem: Path) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            try:
                return tensors[obj["__tensor__"]]
            except (KeyError, TypeError):
                raise CheckpointError(f"Checkpoint {stem} is damaged: tensor {obj['__tensor__']!r} is "
                                      "missing from its safetensors file.") from None
        if "__float__" in obj:
            return float(obj["__float__"])
        if "__items__" in obj:
            return {k: _unpack(v, tensors, stem) for k, v in obj["__items__"]}
        return {k: _unpack(v, tensors, stem) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, tensors, stem) for v in obj]
    return obj


def _atomic(path: Path, write: Any) -> None:
    """Writes through a temporary file and renames, so a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
