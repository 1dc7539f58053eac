"""The layer catalog: every node type, declared once (see spec.py). Grouped by family."""
from __future__ import annotations

from runtime.layers import activation, attention, conv, core, merge, norm, recurrent
from runtime.layers.spec import AUTO, Call, Layer, LayerError, Param, Shape

FAMILIES = ("Input / Output", "Dense & shape", "Convolution", "Recurrent", "Attention",
            "Normalization & regularization", "Activation", "Merge")

LAYERS: dict[str, Layer] = {}
for _module in (core, conv, recurrent, attention, norm, activation, merge):
    for _layer in _module.LAYERS:
        if _layer.type in LAYERS or _layer.family not in FAMILIES:
            raise RuntimeError(f"bad catalog entry {_layer.type}")
        LAYERS[_layer.type] = _layer


_STEMS = {"Conv1d": "conv", "Conv2d": "conv", "ConvTranspose2d": "deconv", "Linear": "fc",
          "MaxPool1d": "pool", "MaxPool2d": "pool", "AvgPool1d": "pool", "AvgPool2d": "pool",
          "AdaptiveAvgPool1d": "gap", "AdaptiveAvgPool2d": "gap", "BatchNorm1d": "bn", "BatchNorm2d": "bn",
          "MultiheadAttention": "attn", "TransformerEncoderLayer": "encoder",
          "TransformerDecoderLayer": "decoder", "PositionalEncoding": "pos", "SequencePool": "seqpool",
          "Embedding": "embed", "Dropout2d": "dropout"}


def id_stem(type_name: str) -> str:
    """The stem of new node ids of this type: conv1, fc2, relu3, ..."""
    return _STEMS.get(type_name, type_name.lower())


def layer(type_name: str) -> Layer:
    """The declaration of `type_name`; KeyError lists the valid names."""
    try:
        return LAYERS[type_name]
    except KeyError:
        raise KeyError(f"unknown layer type {type_name!r}; known: {', '.join(sorted(LAYERS))}") from None


__all__ = ["AUTO", "Call", "FAMILIES", "LAYERS", "Layer", "LayerError", "Param", "Shape", "id_stem", "layer"]
