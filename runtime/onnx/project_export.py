"""A project (graph + optional trained weights) -> a verified .onnx file with everything a consumer needs.

The file is offered only after `verify.require` passed: checker, then onnxruntime against PyTorch
on real samples of the project's dataset (generated ones where there is no dataset).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from runtime import checkpoints
from runtime.compiler import Compiled, GraphModule
from runtime.graph import Project
from runtime.onnx.errors import ExportFailed
from runtime.onnx.export import OPSET, export_module, read_metadata
from runtime.onnx.verify import Verification, require, verify

VERIFY_SAMPLES = 32      # enough to cover the classes; verification stays well under a second


@dataclass(frozen=True)
class VerifiedExport:
    data: bytes                       # the serialized .onnx file, self-contained
    verification: Verification
    metadata: dict[str, str]
    seconds: float                    # export + verification

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.data)
        return path


@dataclass
class SampleData:
    """What the dataset tells a consumer of the file, and the samples verification runs on."""
    samples: torch.Tensor
    source: str                                        # "dataset <name>" or "generated"
    normalization: dict[str, Any] | None = None
    class_names: list[str] = field(default_factory=list)
    vocabulary: list[str] | None = None


class Probabilities(nn.Module):
    """The graph's logits turned into class probabilities: softmax over the last axis, or the
    sigmoid of a single output (a binary classifier trained with BCE)."""

    def __init__(self, model: GraphModule):
        super().__init__()
        self.model = model

    def forward(self, x):
        logits = self.model(x)
        return torch.sigmoid(logits) if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)


def generated_samples(compiled: Compiled, count: int, seed: int = 0) -> torch.Tensor:
    """Standard-normal samples, or token ids below the vocabulary size, of the graph's input shape."""
    generator = torch.Generator().manual_seed(seed)
    shape = (count, *compiled.input_shape)
    if compiled.input_dtype == "int64":
        high = compiled.spec.vocab_size if compiled.spec and compiled.spec.vocab_size else 2
        for node_id in compiled.live:   # an Embedding's own table size bounds the ids too
            if compiled.nodes[node_id].type == "Embedding":
                high = min(high, compiled.nodes[node_id].params["num_embeddings"])
        return torch.randint(0, max(high, 1), shape, generator=generator)
    return torch.randn(shape, generator=generator)


def dataset_samples(project: Project, compiled: Compiled, count: int = VERIFY_SAMPLES) -> SampleData:
    """Test samples of the project's dataset, with its normalization and labels; generated ones without one."""
    section = dict(project.dataset)
    name = section.pop("name", None)
    if not name:
        return SampleData(generated_samples(compiled, count), "generated")
    from runtime import datasets   # loads data: only when an export asks for it
    splits = datasets.load(name, **section)
    return SampleData(splits.x_test[:count].clone(), f"dataset {name}", splits.normalization,
                      splits.class_names, splits.vocabulary)


def _preprocessing(data: SampleData, compiled: Compiled) -> str:
    shape = list(compiled.input_shape)
    if compiled.input_dtype == "int64":
        from runtime.datasets import text   # the tokenizer the vocabulary was built with
        return (f"Input: int64 token ids of shape (batch, {shape[0]}): lowercase the text, replace '<br />' by a "
                f"space, take the words matching the regular expression {text._WORDS.pattern} in order, map "
                "each to its index in the 'vocabulary' entry (1 = unknown word), keep the first "
                f"{shape[0]} and pad with 0 to {shape[0]} ids.")
    if data.normalization:
        return (f"Input: float32 of shape (batch, {', '.join(map(str, shape))}); before the model subtract "
                "'normalization' mean and divide by its std along its axis (statistics of the training split).")
    return f"Input: float32 of shape (batch, {', '.join(map(str, shape))}); no normalization."


def export_project(project: Project, compiled: Compiled, weights: dict[str, torch.Tensor] | None = None, *,
                   probabilities: bool = False, data: SampleData | None = None, exporter: str | None = None,
                   opset: int = OPSET, trained: bool | None = None) -> VerifiedExport:
    """Exports `compiled` (ok, from this project) with `weights` (fresh init when None) and verifies it.
    `trained` is what the metadata says of the weights (default: whether weights were given).

    Raises ExportFailed (naming the node) or VerificationFailed (with the figures)."""
    start = time.perf_counter()
    if not compiled.ok:
        raise ExportFailed("The graph has errors, so there is nothing to export yet: " +
                           "; ".join(f"{i.node_id or 'graph'}: {i.message}" for i in compiled.errors[:3]),
                           node_id=compiled.errors[0].node_id)
    classifier = compiled.spec is None or compiled.spec.task == "classification"
    if probabilities and not classifier:
        raise ExportFailed(f"Probabilities are for classifiers, and this project's task is "
                           f"{compiled.spec.task}: export its outputs as they are (drop --probabilities).")
    graph_module = compiled.build_module()
    if weights is not None:
        load_weights(graph_module, weights)
    graph_module.output_logits = True      # a final Softmax is the loss's business; added back below
    if compiled.final_activation == "Sigmoid":
        probabilities = classifier          # the graph already ends in probabilities
    module: nn.Module = graph_module
    if probabilities and compiled.final_activation != "Sigmoid":
        module = Probabilities(graph_module)
    if not probabilities and compiled.final_activation in ("Softmax", "LogSoftmax") and not classifier:
        graph_module.output_logits = False
    data = data or dataset_samples(project, compiled)
    sample = data.samples[:2] if len(data.samples) > 1 else data.samples.repeat(2, *[1] * (data.samples.dim() - 1))
    metadata = {
        "project": project.name, "task": compiled.spec.task if compiled.spec else "unknown",
        "output": "probabilities" if probabilities else ("logits" if classifier else "values"),
        "class_labels": list(data.class_names or (compiled.spec.class_names if compiled.spec else ())),
        "input_shape": list(compiled.input_shape), "input_dtype": compiled.input_dtype,
        "normalization": data.normalization, "preprocessing": _preprocessing(data, compiled),
        "dataset": project.dataset.get("name", ""), "verified_on": data.source,
        "trained": weights is not None if trained is None else trained,
    }
    if data.vocabulary is not None:
        metadata["vocabulary"] = data.vocabulary
    model = export_module(module, sample, exporter=exporter, opset=opset,
                          sequence=_has_sequence(compiled), metadata=metadata)
    model.doc_string = f"{project.name}: exported by Layerboard; see metadata_props for preprocessing."
    serialized = model.SerializeToString()
    verification = require(verify(model, module, data.samples, data=serialized))
    return VerifiedExport(serialized, verification, read_metadata(model), time.perf_counter() - start)


def _has_sequence(compiled: Compiled) -> bool:
    """Token ids (steps,) or a float sequence (steps, features); export keeps the length dynamic if torch can."""
    return compiled.input_dtype == "int64" or len(compiled.input_shape) == 2


def load_weights(module: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Loads a checkpoint's weights; ExportFailed names the keys that do not fit this graph."""
    problem = checkpoints.mismatch(module.state_dict(), weights)
    if problem:
        raise ExportFailed(f"The weights do not fit this graph ({problem}): use the checkpoint saved for this "
                           "project, or export without --weights.")
    module.load_state_dict(weights)


def onnx_metadata(path_or_bytes: str | Path | bytes) -> dict[str, str]:
    """metadata_props of an .onnx file (for the inference playground and the docs)."""
    model = onnx.load_model_from_string(path_or_bytes) if isinstance(path_or_bytes, bytes) \
        else onnx.load(str(path_or_bytes), load_external_data=False)
    return read_metadata(model)
