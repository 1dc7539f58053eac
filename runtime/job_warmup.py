"""Importing this module warms a process up for training: it is the job workers' fork-server preload.

Each run of the app trains in a process forked from one warm fork server (runtime/job_worker.py).
A fresh interpreter spends ~3 s on lazy first-time work before its first loss (importing torch,
the meta kernels the compiler's shape inference pulls in, the optimizers' first step, the dataset
loaders), so the server does all of it once here: it compiles every template against its
dataset's declared shapes and trains two small batches of random data through the real Trainer.
It stays on the CPU: a fork server must never initialize CUDA, or no forked child could use it.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from runtime import datasets
from runtime.compiler import compile
from runtime.graph import load_project
from runtime.job_worker import main  # noqa: F401  the children's entry, imported once here
from runtime.training import TrainConfig, Trainer
from runtime.training.session import make_augment

TEMPLATES = Path(__file__).resolve().parent / "templates"
BATCH = 8


def random_data(spec) -> SimpleNamespace:
    """Two batches of random inputs and targets of the spec's shapes, for a train and a val split."""
    shape = (2 * BATCH, *spec.input_shape)
    x = (torch.randint(0, spec.vocab_size or 2, shape) if spec.input_dtype == "int64" else torch.randn(shape))
    y = (torch.randint(0, spec.output_size, (2 * BATCH,)) if spec.task == "classification"
         else torch.randn(2 * BATCH, spec.output_size or 1))
    return SimpleNamespace(x_train=x, y_train=y, x_val=x[:BATCH], y_val=y[:BATCH], spec=spec)


def warm_up() -> None:
    torch.set_num_threads(1)
    for declaration in datasets.DATASETS.values():          # their loaders' modules (no data read)
        importlib.import_module(f"runtime.datasets.{declaration.loader.split(':')[0]}")
    for path in sorted(TEMPLATES.glob("*.json")):
        project = load_project(path)
        spec = datasets.spec(**project.dataset)
        compiled = compile(project.graph, spec)
        config = TrainConfig.from_dict({**project.training, "epochs": 1, "batch_size": BATCH, "device": "cpu",
                                        "threads": 1})
        Trainer(compiled.build_module(), random_data(spec), config,
                augment=make_augment(config, spec)).fit()


try:
    warm_up()
except Exception as error:      # warming only saves time: a run still starts (slower) without it
    print(f"Layerboard: the job workers' warm-up failed ({type(error).__name__}: {error}); "
          "runs start cold.", file=sys.stderr)
