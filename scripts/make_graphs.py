"""Writes the template projects (runtime/templates/) and the reference architectures used as test
fixtures (tests/fixtures/reference/). Run after changing them: python scripts/make_graphs.py"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.graph import Edge, Graph, Node, Project  # noqa: E402
from runtime.layers import id_stem  # noqa: E402
from runtime.layout import layout  # noqa: E402


class Sketch:
    """Builds a graph in code: each call adds a node fed by the given nodes (default: the last one)."""

    def __init__(self, **input_params):
        self.graph = Graph()
        self.last = self.add("Input", inputs=(), **input_params)

    def add(self, type_name: str, inputs: tuple[str, ...] | None = None, **params) -> str:
        node_id = self.graph.new_id(id_stem(type_name))
        self.graph.nodes.append(Node(node_id, type_name, params))
        for source in (self.last,) if inputs is None else inputs:
            self.graph.edges.append(Edge(source, node_id))
        self.last = node_id
        return node_id

    def chain(self, *layers: tuple) -> str:
        for type_name, *params in layers:
            self.add(type_name, **(params[0] if params else {}))
        return self.last

    def project(self, name: str, dataset: dict | None = None, training: dict | None = None) -> Project:
        self.add("Output")
        for node_id, (x, y) in layout(self.graph).items():
            self.graph.node(node_id).position = (x, y)
        return Project(name, self.graph, dataset or {}, training or {})


def conv_bn(s: Sketch, out: int, k: int, stride: int = 1, groups: int = 1, act: str | None = "ReLU",
            source: str | None = None) -> str:
    s.add("Conv2d", inputs=None if source is None else (source,), out_channels=out, kernel_size=k,
          stride=stride, padding=k // 2, groups=groups, bias=False)
    s.add("BatchNorm2d")
    return s.add(act) if act else s.last


def residual_block(s: Sketch, width: int, stride: int, project: bool) -> str:
    """ResNet's basic block: two 3x3 convolutions and a skip connection, projected by a 1x1
    convolution when `project` (the shape changes)."""
    entry = s.last
    conv_bn(s, width, 3, stride)
    main = conv_bn(s, width, 3, act=None)
    shortcut = conv_bn(s, width, 1, stride, act=None, source=entry) if project else entry
    s.add("Add", inputs=(main, shortcut))
    return s.add("ReLU")


def resnet18() -> Project:
    s = Sketch(shape=[3, 224, 224])
    conv_bn(s, 64, 7, 2)
    s.add("MaxPool2d", kernel_size=3, stride=2, padding=1)
    width = 64
    for stage, w in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            residual_block(s, w, stride, project=stride != 1 or width != w)
            width = w
    s.chain(("AdaptiveAvgPool2d", {"output_size": 1}), ("Flatten",), ("Linear", {"out_features": 1000}))
    return s.project("ResNet-18")


def vgg16() -> Project:
    s = Sketch(shape=[3, 224, 224])
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            s.add("MaxPool2d", kernel_size=2, stride=2)
        else:
            s.chain(("Conv2d", {"out_channels": v, "kernel_size": 3, "padding": 1}), ("ReLU",))
    s.chain(("AdaptiveAvgPool2d", {"output_size": 7}), ("Flatten",),
            ("Linear", {"out_features": 4096}), ("ReLU",), ("Dropout", {"p": 0.5}),
            ("Linear", {"out_features": 4096}), ("ReLU",), ("Dropout", {"p": 0.5}),
            ("Linear", {"out_features": 1000}))
    return s.project("VGG-16")


def mobilenet_v2() -> Project:
    s = Sketch(shape=[3, 224, 224])
    conv_bn(s, 32, 3, 2, act="ReLU6")
    width = 32
    for t, c, n, stride0 in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                             (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride = stride0 if i == 0 else 1
            entry, hidden = s.last, width * t
            if t != 1:
                conv_bn(s, hidden, 1, act="ReLU6")
            conv_bn(s, hidden, 3, stride, groups=hidden, act="ReLU6")
            conv_bn(s, c, 1, act=None)
            if stride == 1 and width == c:
                s.add("Add", inputs=(s.last, entry))
            width = c
    conv_bn(s, 1280, 1, act="ReLU6")
    s.chain(("AdaptiveAvgPool2d", {"output_size": 1}), ("Flatten",), ("Dropout", {"p": 0.2}),
            ("Linear", {"out_features": 1000}))
    return s.project("MobileNetV2")


def lenet5_classic() -> Project:
    s = Sketch(shape=[1, 32, 32])
    s.chain(("Conv2d", {"out_channels": 6, "kernel_size": 5}), ("Tanh",), ("AvgPool2d", {}),
            ("Conv2d", {"out_channels": 16, "kernel_size": 5}), ("Tanh",), ("AvgPool2d", {}), ("Flatten",),
            ("Linear", {"out_features": 120}), ("Tanh",), ("Linear", {"out_features": 84}), ("Tanh",),
            ("Linear", {"out_features": 10}))
    return s.project("LeNet-5 (1998)")


def bert_base_encoder() -> Project:
    s = Sketch(shape=[128, 768])
    for _ in range(12):
        s.add("TransformerEncoderLayer", nhead=12, dim_feedforward=3072, dropout=0.1, activation="gelu")
    return s.project("BERT-base encoder stack")


TRAIN = {"optimizer": "adam", "lr": 0.001, "batch_size": 64, "epochs": 10, "seed": 0}


# From scratch on ~6k sentences the text models overfit within a few epochs: a small vocabulary, weight
# decay and early stopping on validation accuracy (best weights kept) get them past 70%.
SENTIMENT = ({"name": "rotten_tomatoes", "vocab_size": 2000},
             {**TRAIN, "optimizer": "adamw", "epochs": 12, "lr": 0.002, "batch_size": 32, "weight_decay": 0.1,
              "early_stopping": True, "patience": 3, "monitor": "val/acc"})


def templates() -> dict[str, Project]:
    mlp = Sketch(shape=[1, 8, 8])
    mlp.chain(("Flatten",), ("Linear", {"out_features": 128}), ("ReLU",), ("Dropout", {"p": 0.2}),
              ("Linear", {"out_features": 64}), ("ReLU",), ("Linear", {"out_features": "auto"}))
    lenet = Sketch(shape=[1, 28, 28])
    lenet.chain(("Conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 2}), ("ReLU",), ("MaxPool2d",),
                ("Conv2d", {"out_channels": 16, "kernel_size": 5}), ("ReLU",), ("MaxPool2d",), ("Flatten",),
                ("Linear", {"out_features": 120}), ("ReLU",), ("Linear", {"out_features": 84}), ("ReLU",),
                ("Linear", {"out_features": "auto"}))
    res = Sketch(shape=[1, 28, 28])
    conv_bn(res, 32, 3)
    for width, stride in ((32, 1), (64, 2), (64, 1)):
        residual_block(res, width, stride, project=stride != 1)
    res.chain(("AdaptiveAvgPool2d", {"output_size": 1}), ("Flatten",), ("Linear", {"out_features": "auto"}))
    lstm = Sketch(shape=[100, 6])
    lstm.chain(("LSTM", {"hidden_size": 64, "output": "sequence"}), ("SequencePool", {"mode": "mean"}),
               ("Dropout", {"p": 0.2}), ("Linear", {"out_features": "auto"}))
    gru = Sketch(shape=[100, 6])
    gru.chain(("GRU", {"hidden_size": 32, "output": "last"}), ("Linear", {"out_features": "auto"}))
    text = Sketch(shape=[50], dtype="int64")
    text.chain(("Embedding", {"embedding_dim": 64}), ("PositionalEncoding", {"kind": "sinusoidal"}),
               ("TransformerEncoderLayer", {"nhead": 4, "dim_feedforward": 128, "dropout": 0.1}),
               ("SequencePool", {"mode": "mean"}), ("Dropout", {"p": 0.2}), ("Linear", {"out_features": "auto"}))
    words = Sketch(shape=[50], dtype="int64")
    words.chain(("Embedding", {"embedding_dim": 64}),
                ("LSTM", {"hidden_size": 64, "bidirectional": True, "output": "sequence"}),
                ("SequencePool", {"mode": "max"}), ("Dropout", {"p": 0.2}), ("Linear", {"out_features": "auto"}))
    # Settings measured to reach the accuracy goals in docs/benchmarks.md (bench/bench_template_accuracy.py).
    return {
        "mlp": mlp.project("MLP on digits", {"name": "digits"}, {**TRAIN, "epochs": 30}),
        "lenet5": lenet.project("LeNet-5", {"name": "mnist"}, {**TRAIN, "epochs": 8}),
        "resnet_small": res.project("Small ResNet", {"name": "fashion_mnist", "subset": 6000},
                                    {**TRAIN, "epochs": 12, "lr": 0.003, "schedule": "onecycle"}),
        "lstm": lstm.project("LSTM on motions", {"name": "basicmotions"}, {**TRAIN, "batch_size": 16, "epochs": 60,
                                                                           "lr": 0.003}),
        "gru": gru.project("GRU on motions", {"name": "basicmotions"}, {**TRAIN, "batch_size": 16, "epochs": 100,
                                                                         "lr": 0.003}),
        "transformer": text.project("Transformer sentiment", *SENTIMENT),
        # the same data and settings read by a bidirectional LSTM, its strongest word per feature kept (max)
        "lstm_sentiment": words.project("LSTM sentiment", *SENTIMENT),
    }


def main() -> None:
    for name, project in templates().items():
        project.save(ROOT / "runtime" / "templates" / f"{name}.json")
    for name, make in (("lenet5_classic", lenet5_classic), ("vgg16", vgg16), ("resnet18", resnet18),
                       ("mobilenet_v2", mobilenet_v2), ("bert_base_encoder", bert_base_encoder)):
        make().save(ROOT / "tests" / "fixtures" / "reference" / f"{name}.json")


if __name__ == "__main__":
    main()
