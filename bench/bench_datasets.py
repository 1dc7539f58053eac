"""Dataset loading: first load (files parsed, split, normalized) against the cached second load.

For MNIST: a first load in a fresh Python process (what a user waits for after starting the
app, torch already imported), and first vs second load in one process, interleaved over rounds
(cache cleared before each first load). Then the same two figures for every sample dataset.
Medians are reported. Run: .venv/bin/python bench/bench_datasets.py
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime import datasets  # noqa: E402

ROUNDS = 5
FRESH = ("import time, torch; torch.set_num_threads(1); from runtime import datasets; "
         "t = time.perf_counter(); datasets.load('mnist'); print(time.perf_counter() - t)")


def first_and_second(name: str, rounds: int) -> tuple[float, float]:
    firsts, seconds = [], []
    for _ in range(rounds):
        datasets.CACHE.clear()
        t = time.perf_counter()
        datasets.load(name)
        firsts.append(time.perf_counter() - t)
        t = time.perf_counter()
        datasets.load(name)
        seconds.append(time.perf_counter() - t)
    return statistics.median(firsts), statistics.median(seconds)


def main() -> None:
    torch.set_num_threads(1)
    fresh = [float(subprocess.run([sys.executable, "-c", FRESH], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout) for _ in range(3)]
    first, second = first_and_second("mnist", ROUNDS)
    print(f"MNIST first load in a fresh process: {statistics.median(fresh) * 1e3:.0f} ms (median of 3)")
    print(f"MNIST first load {first * 1e3:.1f} ms, second load {second * 1e3:.3f} ms: "
          f"second is {first / second:,.0f}x faster (median of {ROUNDS} interleaved rounds)")
    print("\n| dataset | first load (ms) | second load (ms) | train / val / test |")
    print("|---|---:|---:|---|")
    for name in datasets.DATASETS:
        first, second = first_and_second(name, 3)
        sizes = datasets.load(name).sizes()
        print(f"| {name} | {first * 1e3:,.0f} | {second * 1e3:.3f} | "
              f"{sizes['train']:,} / {sizes['val']:,} / {sizes['test']:,} |")
    datasets.CACHE.clear()


if __name__ == "__main__":
    main()
