"""Does each template learn its dataset? Test-split figure and wall time per goal (fixed seed, CPU).

Each goal trains a template from runtime/templates/ through the same path as `python -m runtime
train` (runtime.training.session.prepare + Trainer), with the settings listed here where they
differ from the template's own, then evaluates the test split. Too slow for the test suite;
results go to docs/benchmarks.md ("## Training").

Run: .venv/bin/python bench/bench_template_accuracy.py [--only mlp,lenet5,...] [--threads N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from runtime.graph import load_project  # noqa: E402
from runtime.training.session import prepare  # noqa: E402

TEMPLATES = Path(__file__).resolve().parents[1] / "runtime" / "templates"
# (goal id, template, dataset section (None: the template's), setting overrides, metric, target)
GOALS = [
    ("mlp", "mlp", None, {}, "test/acc", 0.95),
    ("lenet5", "lenet5", None, {}, "test/acc", 0.95),
    ("resnet_small", "resnet_small", None, {"epochs": 12, "lr": 0.003, "schedule": "onecycle"}, "test/acc", 0.85),
    ("gru_basicmotions", "gru", {"name": "basicmotions"}, {"epochs": 100}, "test/acc", 0.90),
    # from scratch on 6k reviews the encoder overfits within 3 epochs: a smaller vocabulary,
    # weight decay and early stopping on validation accuracy (best weights kept) get it past 70%
    ("transformer", "transformer", {"name": "rotten_tomatoes", "vocab_size": 2000},
     {"epochs": 12, "lr": 0.002, "batch_size": 32, "weight_decay": 0.1, "early_stopping": True, "patience": 3,
      "monitor": "val/acc"}, "test/acc", 0.70),
    ("lstm_sentiment", "lstm_sentiment", None, {}, "test/acc", 0.70),    # the same data and settings
    ("mlp_diabetes", "mlp", {"name": "diabetes"}, {"epochs": 100}, "test/r2", 0.0),   # R^2 > 0: beats the mean
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated goal ids")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{torch.__version__}, {args.threads} torch thread(s)")
    for goal, template, dataset, overrides, metric, target in GOALS:
        if args.only and goal not in args.only.split(","):
            continue
        start = time.perf_counter()
        prepared = prepare(load_project(TEMPLATES / f"{template}.json"), dataset,
                           {**overrides, "threads": args.threads})
        trainer = prepared.trainer()
        result = trainer.fit()
        figure = trainer.evaluate("test").metrics[metric]
        seconds = time.perf_counter() - start
        verdict = "PASS" if figure > target or (figure >= target and metric.endswith("acc")) else "FAIL"
        print(f"{goal:<18} {prepared.splits.name:<16} {metric} {figure:.4f} (goal {target})  {verdict}  "
              f"{result.epochs_done} epochs ({result.status})  {seconds:.0f} s  settings {overrides}", flush=True)


if __name__ == "__main__":
    main()
