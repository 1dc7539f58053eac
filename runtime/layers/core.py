"""Input, Output, dense layers and shape plumbing."""
from __future__ import annotations

import math

from torch import nn

from runtime.layers import modules
from runtime.layers.spec import Call, Layer, LayerError, Param, expect_rank

WIDTH_MAX = 1 << 20   # a million units: far past VGG's 25,088-wide Linear, short of a memory bomb


def _check_linear(p, shapes):
    expect_rank("Linear", shapes[0], (1, 2), "a flat vector (features) or a sequence (steps, features)",
                "insert Flatten before it.")


def _check_reshape(p, shapes):
    target = list(p["shape"])
    size = math.prod(shapes[0])
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise LayerError("bad-param", f"Reshape shape {target} may hold positive sizes and at most one -1.")
    known = math.prod(d for d in target if d != -1)
    if (-1 in target and size % known) or (-1 not in target and known != size):
        raise LayerError("shape", f"Reshape cannot turn {list(shapes[0])} ({size} values) into {target}: "
                                  f"the new shape must hold the same {size} values.")


def _check_permute(p, shapes):
    if sorted(p["dims"]) != list(range(len(shapes[0]))):
        raise LayerError("bad-param", f"Permute dims {list(p['dims'])} must be an ordering of "
                                      f"{list(range(len(shapes[0])))} for input {list(shapes[0])}.")


LAYERS = [
    Layer("Input", "Input / Output",
          "Where samples enter the network. Its shape is one sample without the batch dimension, "
          "for example [1, 28, 28] for a grey 28x28 image; choosing a dataset sets it.",
          params=(Param("shape", "ints", [1, 28, 28], "One sample's shape, without the batch dimension."),
                  Param("dtype", "choice", "float32", "float32 for numbers, int64 for token ids.",
                        choices=("float32", "int64"), advanced=True)),
          inputs=(0, 0), key_params=("shape",)),
    Layer("Output", "Input / Output",
          "What the network answers. For classification it must carry one score per class; "
          "for regression one value per target. The loss is computed here.",
          inputs=(1, 1)),
    Layer("Linear", "Dense & shape",
          "A fully connected layer: every output is a weighted sum of all inputs plus a bias, "
          "y = xW^T + b. On a sequence it applies to each step.",
          params=(Param("out_features", "int", 64, "Number of outputs; \"auto\" = one per class of the dataset.",
                        min=1, max=WIDTH_MAX, auto="output_size"),
                  Param("bias", "bool", True, "Add a learned bias b.", advanced=True)),
          construct=lambda p, s: Call(nn.Linear, dict(in_features=s[0][-1], out_features=p["out_features"],
                                                      bias=p["bias"])),
          check=_check_linear, key_params=("out_features",)),
    Layer("Identity", "Dense & shape", "Passes its input through unchanged: y = x. A placeholder.",
          construct=lambda p, s: Call(nn.Identity, {})),
    Layer("Flatten", "Dense & shape",
          "Turns each sample into one long vector, e.g. [16, 5, 5] into [400], so that Linear layers "
          "can follow convolutions.",
          construct=lambda p, s: Call(nn.Flatten, {})),
    Layer("Reshape", "Dense & shape",
          "Gives each sample a new shape with the same number of values (one size may be -1: inferred). "
          "Also serves as Unflatten, e.g. [784] into [1, 28, 28].",
          params=(Param("shape", "ints", [-1], "New shape of one sample, without the batch dimension."),),
          construct=lambda p, s: Call(modules.Reshape, dict(shape=tuple(p["shape"]))),
          check=_check_reshape, key_params=("shape",)),
    Layer("Permute", "Dense & shape",
          "Reorders the dimensions of each sample, e.g. dims [1, 0] turns a sequence (steps, features) "
          "into (channels, length) for Conv1d.",
          params=(Param("dims", "ints", [1, 0], "New order of the sample's dimensions (0 = first)."),),
          construct=lambda p, s: Call(modules.Permute, dict(dims=tuple(p["dims"]))),
          check=_check_permute, key_params=("dims",)),
]
