"""A runnable zip: the verified .onnx, the weights (safetensors), the project file, model.py from the
code generator, train.py (plain PyTorch, the run's settings), the dataset's splits and a README."""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save

from runtime import datasets
from runtime.codegen import class_name, generate
from runtime.compiler import Compiled, compile
from runtime.graph import Project
from runtime.onnx.errors import ExportFailed
from runtime.onnx.project_export import SampleData, VerifiedExport, export_project, load_weights
from runtime.training import ConfigError, TrainConfig
from runtime.training.losses import loss_name, wants_logits
from runtime.training.session import make_augment

TRAIN_SCRIPT = Path(__file__).with_name("bundle_train.py")

README = """# {name}

Exported by Layerboard. Everything here runs without Layerboard: Python with `torch`, `safetensors`
(and `onnxruntime` for the .onnx file).

| file | what |
|---|---|
| model.onnx | the network, verified against PyTorch before it was written ({verification}) |
| weights.safetensors | its weights ({weights_note}); PyTorch state_dict keys = node ids |
| model.py | the network as PyTorch source: `{cls}()` |
| train.py | trains it again with the run's settings (settings.json) in plain PyTorch |
| settings.json | optimizer, schedule, early stopping, clipping, augmentation, loss, seed |
| data.safetensors | the dataset's train/val/test splits, already normalized: {dataset} |
| project.json | the Layerboard project: open it in the app to edit the network |

## Run the ONNX model

```python
import json, numpy as np, onnxruntime as ort
session = ort.InferenceSession("model.onnx")
meta = session.get_modelmeta().custom_metadata_map      # class_labels, normalization, preprocessing
scores = session.run(None, {{"input": x.astype(np.{dtype})}})[0]   # x: (batch, {shape})
```
Output: {output}. Preprocessing: {preprocessing}

## Train again

```
python train.py              # {epochs} epochs, as in the app
python train.py --epochs 1   # a quick check
```
It writes `trained.safetensors`; load it with
`model = {cls}(); model.load_state_dict(safetensors.torch.load_file("trained.safetensors"))`.

Dataset credit: {credits} (licence: {licence}).
"""


def training_settings(project: Project, compiled: Compiled) -> dict:
    """What train.py needs: the run's TrainConfig, the loss it resolves to, augmentation, the final layer."""
    config = TrainConfig.from_dict(project.training)
    spec = compiled.spec
    loss = loss_name(config, spec.task, spec.output_size)
    augment = make_augment(config, spec) and _augment_settings(config, spec)
    final = compiled.final_activation
    skipped = None
    if wants_logits(loss, final):
        skipped = compiled.names[compiled.graph.inputs_of(compiled.output_id)[0]]
    return {"model_class": class_name(project.name), "task": spec.task, "loss": loss,
            "final_activation": final, "final_layer_skipped_in_training": skipped,
            "augment": augment, "augment_kind": "image" if len(spec.input_shape) == 3 else "sequence",
            "training": config.to_dict()}


def _augment_settings(config: TrainConfig, spec) -> dict:
    from runtime.datasets import augment as augmentation
    settings = augmentation.settings_for(spec, enabled=True)
    return dataclasses.asdict(dataclasses.replace(settings, **{**config.augment, "enabled": True}))


def build_bundle(project: Project, weights: dict[str, torch.Tensor] | None = None, *,
                 probabilities: bool = False) -> tuple[bytes, VerifiedExport]:
    """The zip as bytes, and the verified export inside it. ExportFailed / VerificationFailed / ConfigError
    say what stops it; nothing is written."""
    section = dict(project.dataset)
    name = section.pop("name", None)
    if not name:
        raise ExportFailed(f"Project {project.name!r} has no dataset, and train.py needs one: choose a dataset.")
    splits = datasets.load(name, **section)
    compiled = compile(project.graph, splits.spec)
    if not compiled.ok:
        raise ExportFailed("The graph has errors: " + "; ".join(f"{i.node_id or 'graph'}: {i.message}"
                                                              for i in compiled.errors[:3]))
    module = compiled.build_module()
    if weights is not None:
        load_weights(module, weights)
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    try:
        settings = training_settings(project, compiled)
    except ConfigError as e:
        raise ExportFailed(f"The training settings cannot be written: {e}") from None
    data = SampleData(splits.x_test[:32].clone(), f"dataset {name}", splits.normalization, splits.class_names,
                      splits.vocabulary)
    exported = export_project(project, compiled, state, probabilities=probabilities, data=data,
                              trained=weights is not None)
    meta = exported.metadata
    declaration = datasets.declaration(name)
    readme = README.format(
        name=project.name, cls=settings["model_class"], verification=exported.verification.summary(),
        weights_note="trained" if weights is not None else "freshly initialized: train first for useful answers",
        dataset=f"{name} ({', '.join(f'{k} {v}' for k, v in splits.sizes().items())} samples)",
        dtype=compiled.input_dtype, shape=", ".join(map(str, compiled.input_shape)), output=meta["output"],
        preprocessing=meta["preprocessing"], epochs=settings["training"]["epochs"],
        credits=declaration.credits, licence=declaration.licence)
    splits_data = {f"{part}_{split}": getattr(splits, f"{part}_{split}").contiguous()
                   for split in ("train", "val", "test") for part in ("x", "y")
                   if len(getattr(splits, f"y_{split}"))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.onnx", exported.data)
        zf.writestr("weights.safetensors", save(state))
        zf.writestr("project.json", project.to_json())
        zf.writestr("model.py", generate(compiled, project.name, weights_file="weights.safetensors",
                                         weights_origin=f"{'trained' if weights is not None else 'freshly initialized'} weights "
                                                        "in this bundle; train.py writes trained.safetensors, "
                                                        "which loads the same way."))
        zf.writestr("train.py", TRAIN_SCRIPT.read_text(encoding="utf-8"))
        zf.writestr("settings.json", json.dumps(settings, indent=2) + "\n")
        zf.writestr("data.safetensors", save(splits_data))
        zf.writestr("README.md", readme)
    return buffer.getvalue(), exported
