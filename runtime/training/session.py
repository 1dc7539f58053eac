"""From a project to a ready Trainer: its dataset loaded, its graph compiled, its settings checked.

The command line, the background jobs and torchrun workers all start a run through here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from runtime import datasets
from runtime.compiler import Compiled, compile
from runtime.datasets import augment as augmentation
from runtime.graph import Project
from runtime.training.callbacks import Callback, RunControl
from runtime.training.config import ConfigError, TrainConfig
from runtime.training.trainer import Augment, Trainer


class GraphNotTrainable(ValueError):
    """The graph has errors for this dataset; the message lists them node by node."""


@dataclass
class Prepared:
    model: nn.Module
    splits: Any                       # runtime.datasets.Splits
    config: TrainConfig
    compiled: Compiled
    augment: Augment | None

    def trainer(self, callbacks: Sequence[Callback] = (), control: RunControl | None = None,
                world: Any = None) -> Trainer:
        return Trainer(self.model, self.splits, self.config, callbacks=callbacks, control=control,
                       augment=self.augment, world=world)


def dataset_section(project: Project, name: str | None = None) -> dict[str, Any]:
    """The project's dataset section, or just `name` when one is given (its options then default)."""
    section = {"name": name} if name else dict(project.dataset)
    if not section.get("name"):
        raise ConfigError(f"Project {project.name!r} has no dataset: choose one in the app or pass "
                          "--dataset NAME (`python -m runtime datasets` lists them).")
    return section


def prepare(project: Project, dataset: dict[str, Any] | None = None,
            overrides: dict[str, Any] | None = None) -> Prepared:
    """Loads the data, compiles the graph against it and builds the model with the run's seed."""
    config = TrainConfig.from_dict({**project.training, **(overrides or {})})
    options = dict(dataset or dataset_section(project))
    splits = datasets.load(options.pop("name"), **options)
    compiled = compile(project.graph, splits.spec)
    if not compiled.ok:
        lines = "\n".join(f"  {i.node_id or 'graph'}: {i.message}" for i in compiled.errors)
        raise GraphNotTrainable(f"The graph cannot be trained on {splits.name} until these are fixed:\n{lines}")
    torch.manual_seed(config.seed)                 # the same seed gives the same initial weights
    model = compiled.build_module()
    return Prepared(model, splits, config, compiled, make_augment(config, splits.spec))


def make_augment(config: TrainConfig, spec: Any) -> Augment | None:
    """The augmenter for the "augment" setting: {} is off; any other object turns it on (unless it
    says "enabled": false) and its keys override the defaults for the data's kind."""
    if not config.augment or config.augment.get("enabled") is False:
        return None
    settings = augmentation.settings_for(spec, enabled=True)
    if settings is None:
        raise ConfigError("Training setting 'augment' is on, but this dataset is text or a table, "
                          "which have no augmentation: set augment to {}.")
    valid = [f.name for f in dataclasses.fields(settings)]
    unknown = [k for k in config.augment if k not in valid]
    if unknown:
        raise ConfigError(f"Training setting 'augment' has unknown key {unknown[0]!r}; for this dataset "
                          f"the keys are {', '.join(valid)}.")
    for key, value in config.augment.items():
        default = getattr(settings, key)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (isinstance(value, bool) or number) is False or isinstance(default, bool) != isinstance(value, bool):
            kind = "true or false" if isinstance(default, bool) else "a number"
            raise ConfigError(f"Training setting 'augment' key {key!r} must be {kind}, but is {value!r}.")
        declared = next(f.metadata for f in dataclasses.fields(settings) if f.name == key)
        if "range" in declared and not declared["range"][0] <= value <= declared["range"][1]:
            low, high = declared["range"]
            raise ConfigError(f"Training setting 'augment' key {key!r} must be between {low:g} and {high:g} "
                              f"({declared['meaning']}), but is {value!r}.")
    settings = dataclasses.replace(settings, **{**config.augment, "enabled": True})
    return lambda x, generator: augmentation.augment(x, settings, generator)
