"""Layers that join branches: skip connections, gating, concatenation."""
from __future__ import annotations

from runtime.layers import modules
from runtime.layers.spec import Call, Layer, LayerError, Param

MAX_INPUTS = 16


def _check_same(kind):
    def check(p, shapes):
        first = shapes[0]
        for i, shape in enumerate(shapes[1:], start=2):
            if shape == first:
                continue
            if len(shape) == len(first) and len(first) >= 2 and shape[0] != first[0]:
                sizes = ("" if shape[1:] == first[1:] else
                         f" Their sizes differ too ({_size(first)} and {_size(shape)}): match them with the "
                         "convolutions' padding and stride, or pooling, on one branch.")
                raise LayerError("shape", f"{kind} needs inputs of the same shape, but input 1 has {first[0]} "
                                          f"channels and input {i} has {shape[0]}: put a 1x1 Conv2d on one "
                                          f"branch, with out_channels={shape[0]} on input 1's or "
                                          f"out_channels={first[0]} on input {i}'s (usually the shortcut)."
                                          + sizes)
            raise LayerError("shape", f"{kind} needs inputs of the same shape, but input 1 is {list(first)} "
                                      f"and input {i} is {list(shape)}: make the branches agree (stride, "
                                      "pooling or a projection on one branch).")
    return check


def _size(shape) -> str:
    return "×".join(str(d) for d in shape[1:])


def _check_concat(p, shapes):
    rank = len(shapes[0])
    dim = p["dim"] if p["dim"] >= 0 else rank + p["dim"]
    if not 0 <= dim < rank:
        raise LayerError("bad-param", f"Concat dim {p['dim']} does not exist for inputs of rank {rank}.")
    for i, shape in enumerate(shapes[1:], start=2):
        if len(shape) != rank or any(a != b for d, (a, b) in enumerate(zip(shape, shapes[0])) if d != dim):
            raise LayerError("shape", f"Concat along dim {p['dim']} needs the other sizes equal, but input 1 "
                                      f"is {list(shapes[0])} and input {i} is {list(shape)}.")


LAYERS = [
    Layer("Add", "Merge",
          "Adds its inputs element by element: y = a + b. With a branch that skips layers this is a "
          "residual (skip) connection, which lets gradients flow through deep networks.",
          inputs=(2, MAX_INPUTS), construct=lambda p, s: Call(modules.Add, {}), check=_check_same("Add")),
    Layer("Multiply", "Merge",
          "Multiplies its inputs element by element: y = a * b. Used for gating (one branch through a "
          "Sigmoid decides how much of the other passes).",
          inputs=(2, MAX_INPUTS), construct=lambda p, s: Call(modules.Multiply, {}),
          check=_check_same("Multiply")),
    Layer("Concat", "Merge",
          "Joins its inputs along one dimension, in input order: channels for images (dim 0), features "
          "for vectors, -1 for the features of sequences.",
          params=(Param("dim", "int", 0, "Sample dimension to join along (0 = channels/features, -1 = last).",
                        min=-8, max=7),),
          inputs=(2, MAX_INPUTS), construct=lambda p, s: Call(modules.Concat, dict(p)),
          check=_check_concat, key_params=("dim",)),
]
