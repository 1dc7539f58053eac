"""ONNX: export + verification time per template, both exporters, and onnxruntime vs torch latency.

Prints, per template (warm process, one torch thread, medians of interleaved rounds):
  - export + verification seconds with the chosen exporter (goal <= 2 s), and with each exporter
    whether it verifies (dynamic batch, and sequence length where there is one);
  - inference latency of onnxruntime and of torch (eval, no_grad) at batch 1 and 256, and the ratio.
Run: .venv/bin/python bench/bench_onnx.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.graph import load_project  # noqa: E402
from runtime.onnx.errors import OnnxError  # noqa: E402
from runtime.onnx.export import EXPORTERS, choose_exporter  # noqa: E402
from runtime.onnx.project_export import dataset_samples, export_project, generated_samples  # noqa: E402
from runtime.onnx.verify import session  # noqa: E402
from runtime.projects import compile_project  # noqa: E402

TEMPLATES = sorted((ROOT / "runtime" / "templates").glob("*.json"))


def median_time(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = []
    for path in TEMPLATES:
        project = load_project(path)
        compiled = compile_project(project)
        data = dataset_samples(project, compiled)          # loading the data is not part of the export
        weights = compiled.build_module().state_dict()
        cases.append((path.stem, project, compiled, data, weights))

    print("export + verification (s), warm process; exporter comparison")
    timings: dict[tuple[str, str], list[float]] = {}
    verdicts: dict[tuple[str, str], str] = {}
    for name, project, compiled, data, weights in cases:       # warm-up: imports, first dynamo trace
        for exporter in EXPORTERS:
            try:
                export_project(project, compiled, weights, data=data, exporter=exporter)
                verdicts[name, exporter] = "verifies"
            except OnnxError as e:
                verdicts[name, exporter] = f"refused: {str(e)[:90]}"
    for _ in range(args.rounds):                              # interleaved rounds
        for name, project, compiled, data, weights in cases:
            for exporter in EXPORTERS:
                if verdicts[name, exporter] != "verifies":
                    continue
                t = time.perf_counter()
                export_project(project, compiled, weights, data=data, exporter=exporter)
                timings.setdefault((name, exporter), []).append(time.perf_counter() - t)
    print("| template | chosen | export+verify (s) | torchscript | dynamo |")
    print("|---|---|---:|---|---|")
    for name, project, compiled, data, weights in cases:
        chosen = choose_exporter(compiled.build_module())
        cells = []
        for exporter in EXPORTERS:
            if verdicts[name, exporter] == "verifies":
                cells.append(f"{statistics.median(timings[name, exporter]):.2f} s, verifies")
            else:
                cells.append(verdicts[name, exporter])
        print(f"| {name} | {chosen} | {statistics.median(timings[name, chosen]):.2f} | {cells[0]} | {cells[1]} |")

    print("\ninference latency (ms), medians; ratio = torch / onnxruntime (> 1: onnxruntime faster)")
    print("| template | batch | torch (ms) | onnxruntime (ms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, project, compiled, data, weights in cases:
        exported = export_project(project, compiled, weights, data=data)
        runner = session(exported.data)
        module = compiled.build_module()
        module.load_state_dict(weights)
        module.eval().output_logits = True
        for batch in (1, 256):
            x = generated_samples(compiled, batch, seed=1)
            feed = {"input": x.numpy()}
            results = {"torch": [], "ort": []}
            with torch.no_grad():
                for _ in range(3):                              # warm-up both
                    module(x)
                    runner.run(None, feed)
                reps = 20 if batch == 1 else 3
                for _ in range(args.rounds):                    # interleaved
                    results["torch"].append(median_time(lambda: module(x), reps))
                    results["ort"].append(median_time(lambda: runner.run(None, feed), reps))
            t, o = statistics.median(results["torch"]) * 1e3, statistics.median(results["ort"]) * 1e3
            print(f"| {name} | {batch} | {t:.3f} | {o:.3f} | {t / o:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
