"""Compiler speed and the compiled module's training speed against a hand-written nn.Module.

Prints: compile + shape inference time for a 200-node graph (goal < 50 ms) and for VGG-16
(parameter counting without weight memory), and samples/s of the same training loop over the
compiled GraphModule and over a hand-written module of the same architecture (goal >= 0.97x).
Variants are interleaved, medians reported. Run: .venv/bin/python bench/bench_compiler.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.compiler import _infer, compile  # noqa: E402
from runtime.dataspec import DataSpec  # noqa: E402
from runtime.graph import Edge, Graph, Node, load_project  # noqa: E402


def deep_graph(blocks: int) -> Graph:
    """A 200-node residual MLP: blocks of Linear-LayerNorm-ReLU-Dropout-Linear plus a skip Add.
    Each block has its own hidden width, so that most nodes differ (no help from the cache)."""
    nodes, edges, last = [Node("in", "Input", {"shape": [64]})], [], "in"
    for b in range(blocks):
        chain = [("Linear", {"out_features": 65 + b}), ("LayerNorm", {}), ("ReLU", {}), ("Dropout", {"p": 0.1}),
                 ("Linear", {"out_features": 64})]
        entry = last
        for i, (t, p) in enumerate(chain):
            node_id = f"b{b}_{i}"
            nodes.append(Node(node_id, t, p))
            edges.append(Edge(last, node_id))
            last = node_id
        nodes.append(Node(f"b{b}_add", "Add"))
        edges += [Edge(last, f"b{b}_add"), Edge(entry, f"b{b}_add")]
        last = f"b{b}_add"
    nodes.append(Node("out", "Output"))
    edges.append(Edge(last, "out"))
    return Graph(nodes, edges)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class HandLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def train_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> tuple[float, float]:
    """Samples per second of wall time and of this thread's CPU time (robust when the machine is shared)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(x))
    start, cpu_start = time.perf_counter(), time.thread_time()
    for s in range(steps):
        idx = order[(s * batch) % (len(x) - batch):][:batch]
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start), steps * batch / (time.thread_time() - cpu_start)


def main() -> None:
    torch.set_num_threads(1)
    graph = deep_graph(33)
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    compile(graph)                                                # warm-up: first meta ops load kernels

    def cold():
        _infer.cache_clear()
        compile(graph)

    def after_one_edit():                                         # what the app does after each edit
        node = graph.node("b16_0")
        node.params["out_features"] = 65 if node.params["out_features"] == 64 else 64
        compile(graph)

    print(f"compile + shape inference, {len(graph.nodes)} nodes, cold cache: {timed(cold, 7) * 1e3:.1f} ms")
    print(f"compile + shape inference, {len(graph.nodes)} nodes, after one edit: "
          f"{timed(after_one_edit, 15) * 1e3:.1f} ms (goal < 50 ms)")
    vgg = load_project(ROOT / "tests/fixtures/reference/vgg16.json").graph
    compiled = compile(vgg)
    ms = timed(lambda: (_infer.cache_clear(), compile(vgg)), 10) * 1e3
    print(f"VGG-16: {compiled.total_params:,} parameters counted in {ms:.1f} ms, no weight memory")

    lenet = load_project(ROOT / "runtime/templates/lenet5.json").graph
    compiled = compile(lenet, DataSpec((1, 28, 28), output_size=10))
    x, y = torch.randn(4096, 1, 28, 28), torch.randint(0, 10, (4096,))
    rates = {"compiled": [], "hand-written": []}
    for _ in range(9):                                           # interleaved rounds
        for name in rates:
            torch.manual_seed(0)
            model = compiled.build_module() if name == "compiled" else HandLeNet()
            rates[name].append(train_rate(model, x, y, batch=64, steps=40))
    for i, clock in enumerate(("wall", "CPU")):
        med = {k: statistics.median(r[i] for r in v) for k, v in rates.items()}
        print(f"LeNet-5 training ({clock} time): compiled {med['compiled']:,.0f} samples/s, hand-written "
              f"{med['hand-written']:,.0f} samples/s, ratio {med['compiled'] / med['hand-written']:.3f} "
              "(goal >= 0.97)")


if __name__ == "__main__":
    main()
