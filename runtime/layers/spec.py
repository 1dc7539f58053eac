"""How a layer type is declared: its parameters, its inputs, and how its torch module is built.

One `Layer` per type drives the palette, the inspector, the compiler, shape inference, code
export and ONNX import. A declaration never sees a batch dimension: shapes are per sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

Shape = tuple[int, ...]
AUTO = "auto"


class LayerError(Exception):
    """A problem a user can fix: bad parameter or input shape. Becomes an issue on the node."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Param:
    name: str                    # PyTorch's argument name
    kind: str                    # "int" | "float" | "bool" | "choice" | "ints"
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()    # for kind "choice"
    words: tuple[str, ...] = ()      # strings accepted besides numbers and passed on to torch ("same")
    auto: str | None = None          # DataSpec field that "auto" stands for ("output_size", "vocab_size")
    advanced: bool = False           # hidden from beginners in the inspector

    def accepts(self) -> str:
        """Plain words for what this parameter accepts, used in messages and help."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.kind == "ints":
            text = "a list of whole numbers"
        else:
            noun = "a whole number" if self.kind == "int" else "a number"
            fmt = (lambda v: f"{int(v):,}") if self.kind == "int" else (lambda v: f"{v:g}")
            lo = "" if self.min is None else fmt(self.min)
            hi = "" if self.max is None else fmt(self.max)
            text = f"{noun} from {lo} to {hi}" if lo and hi else (f"{noun} >= {lo}" if lo else noun)
        extras = list(self.words) + ([AUTO] if self.auto else [])
        return text + "".join(f' or "{w}"' for w in extras)

    def normalize(self, value: Any) -> Any:
        """The checked value; LayerError says what was expected and what was received."""
        if isinstance(value, str) and (value in self.words or (self.auto and value == AUTO)):
            return value
        bad = LayerError("bad-param", f"{self.name} must be {self.accepts()}, but is {value!r}.")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise bad
            return value
        if self.kind == "ints":
            if not isinstance(value, (list, tuple)) or len(value) > 8 or not all(
                    isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 1 << 20 for v in value):
                raise bad
            return tuple(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad
                value = int(value)
        elif not math.isfinite(value):
            raise bad
        else:
            value = float(value)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise bad
        return value


@dataclass(frozen=True)
class Call:
    """A module constructor and its keyword arguments: built for training, written out as source."""
    target: type[nn.Module]
    kwargs: dict[str, Any]

    def build(self) -> nn.Module:
        return self.target(**self.kwargs)


Construct = Callable[[dict[str, Any], list[Shape]], Call]
Check = Callable[[dict[str, Any], list[Shape]], None]


@dataclass(frozen=True)
class Layer:
    type: str                                # PyTorch's class name where there is one
    family: str                              # palette group
    doc: str                                 # one paragraph for learners, formula where there is one
    params: tuple[Param, ...] = ()
    inputs: tuple[int, int] = (1, 1)         # least and most inputs
    construct: Construct | None = None       # None: no module (Input, Output)
    check: Check | None = None               # input-shape rules, raising LayerError with the fix
    key_params: tuple[str, ...] = field(default=())   # shown on the canvas node

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


def expect_rank(layer: str, shape: Shape, ranks: tuple[int, ...], meaning: str, fix: str) -> None:
    """Raises the standard shape issue when `shape` does not have one of `ranks` dimensions."""
    if len(shape) not in ranks:
        raise LayerError("shape", f"{layer} expects {meaning} but receives {list(shape)}: {fix}")


def expect_sequence(layer: str, shape: Shape) -> None:
    """Raises the shape issue of a layer over a sequence (steps, features) given anything else, with
    the fix for what it received: a Reshape into a shape that fits, or Embedding for token ids."""
    if len(shape) == 2:
        return
    if len(shape) == 1:
        steps = max((d for d in range(1, math.isqrt(shape[0]) + 1) if shape[0] % d == 0), default=1)
        steps = steps if steps > 1 else shape[0]                # a prime width: one feature per step
        fix = (f"it is one vector per sample, with no steps. Reshape it to (steps, features), e.g. "
               f"[{steps}, {shape[0] // steps}]; token ids (text) go through Embedding first, which "
               "gives each step a vector.")
    elif len(shape) == 3:
        channels, height, width = shape
        fix = (f"it is an image. Reshape it to [{channels * height}, {width}] (each row of pixels a step), "
               "or use Conv2d layers for images.")
    else:
        fix = "Reshape it to (steps, features)."
    raise LayerError("shape", f"{layer} expects a sequence (steps, features) but receives {list(shape)}: {fix}")
