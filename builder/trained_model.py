"""A finished (or stopped) run as a usable model: the graph version it trained, its data and its
last checkpoint's weights. Results, the playground and the export panel all read runs through here.

No Streamlit: loading is cached per run and checkpoint file, so a rerun of the page costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from runtime import checkpoints, datasets
from runtime.compiler import Compiled, GraphModule, compile
from runtime.graph import Project
from runtime.store import RunInfo, Store
from runtime.training import Trainer, TrainConfig
from runtime.training.evaluation import Evaluation, predict


ENDED_WITHOUT_WEIGHTS = ("diverged", "failed", "interrupted")    # stopping saves a checkpoint; these may not


class NotTrainedYet(LookupError):
    """The run has no checkpoint to load (it ended before its first epoch, or is still queued)."""


@dataclass
class Trained:
    run: RunInfo
    project: Project
    compiled: Compiled
    model: GraphModule
    splits: Any                  # runtime.datasets.Splits
    trainer: Trainer             # for evaluate(); never fitted again
    checkpoint: Path
    _evaluation: Evaluation | None = None

    @property
    def task(self) -> str:
        return self.trainer.task

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """(N, classes) class probabilities, computed as the exported file does: softmax of the logits
        (a single output is a binary score: sigmoid)."""
        self.model.output_logits = True          # skip a final Softmax: it is applied here
        try:
            out = predict(self.model, x)
        finally:
            self.model.output_logits = False
        if out.shape[-1] == 1:
            p1 = out.reshape(-1) if self.model.final_activation == "Sigmoid" else torch.sigmoid(out.reshape(-1))
            return torch.stack([1 - p1, p1], dim=-1)
        return torch.softmax(out, dim=-1)

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """Regression or forecast outputs in the data's own units (the target normalization undone)."""
        return self.denormalize(predict(self.model, x))

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        norm = self.splits.target_normalization
        if not norm:
            return y
        return y * torch.tensor(norm["std"], dtype=y.dtype) + torch.tensor(norm["mean"], dtype=y.dtype)

    def evaluation(self) -> Evaluation:
        """Figures, confusion matrix and predictions on the test split (computed once)."""
        if self._evaluation is None:
            self._evaluation = self.trainer.evaluate("test")
        return self._evaluation

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}


def checkpoint_of(store: Store, run_id: str) -> Path:
    """The checkpoint a run's results use: `last` when it was saved, else its latest epoch."""
    found = store.checkpoints(run_id)
    if not found:
        run = store.run(run_id)
        if run.status in ENDED_WITHOUT_WEIGHTS:
            raise NotTrainedYet(f"{run.name} {run.status} before its first checkpoint (Data & training says "
                                "why), so it has no trained model to show: fix what it names and train again.")
        raise NotTrainedYet(f"{run.name} has no checkpoint yet: a run saves one after each epoch and when it "
                            "stops. Train for at least one epoch, or stop the run.")
    return found[-1]


def with_weights(store: Store, run_id: str) -> str | None:
    """`run_id` when it saved a checkpoint, else the project's latest earlier run that did (a run that
    diverged at its first steps must not hide the trained model before it), else None."""
    if store.checkpoints(run_id):
        return run_id
    runs = store.list_runs(store.run(run_id).project_id)
    earlier = [r.id for r in runs[:[r.id for r in runs].index(run_id)] if store.checkpoints(r.id)]
    return earlier[-1] if earlier else None


def load(store: Store, run_id: str) -> Trained:
    """The run's model with its latest checkpoint's weights (cached while that file is unchanged)."""
    path = checkpoint_of(store, run_id)
    return _load(store, run_id, str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(store: Store, run_id: str, path: str, _mtime: int) -> Trained:
    run = store.run(run_id)
    project = store.load_project(run.project_id, run.project_version)
    options = dict(run.dataset or project.dataset)
    splits = datasets.load(options.pop("name"), **options)
    compiled = compile(project.graph, splits.spec)
    model = compiled.build_module()
    weights, _ = checkpoints.load(path)
    problem = checkpoints.mismatch(model.state_dict(), weights)
    if problem:        # a checkpoint file swapped for another, or a graph the compiler now builds differently
        raise checkpoints.CheckpointError(f"its checkpoint {Path(path).name} does not fit its graph: {problem}")
    model.load_state_dict(weights)
    model.eval()
    trainer = Trainer(model, splits, TrainConfig.from_dict(run.config))
    return Trained(run, project, compiled, model, splits, trainer, Path(path))
