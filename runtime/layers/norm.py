"""Normalization and dropout: the cures for unstable training and for overfitting."""
from __future__ import annotations

from torch import nn

from runtime.layers.spec import Call, Layer, LayerError, Param, expect_rank

_P = Param("p", "float", 0.5, "Probability of zeroing each value during training.", min=0, max=0.99)


def _check_groups(p, shapes):
    if len(shapes[0]) < 2:
        raise LayerError("shape", f"GroupNorm expects (channels, ...) but receives {list(shapes[0])}: "
                                  "use LayerNorm on vectors.")
    if shapes[0][0] % p["num_groups"]:
        raise LayerError("bad-param", f"GroupNorm num_groups={p['num_groups']} must divide the "
                                      f"{shapes[0][0]} channels.")


def _batch_norm(cls, doc, ranks, meaning, fix):
    return Layer(cls.__name__, "Normalization & regularization", doc,
                 params=(Param("momentum", "float", 0.1, "How fast the running statistics follow the batches.",
                               min=0, max=1, advanced=True),),
                 construct=lambda p, s: Call(cls, dict(num_features=s[0][0], **p)),
                 check=lambda p, s: expect_rank(cls.__name__, s[0], ranks, meaning, fix))


LAYERS = [
    _batch_norm(nn.BatchNorm1d, "Normalizes each feature over the batch, then scales and shifts it: "
                "y = (x - mean) / sqrt(var + eps) * gamma + beta. Speeds up training of deep networks.",
                (1, 2), "features (features,) or (channels, length)", "use BatchNorm2d for images."),
    _batch_norm(nn.BatchNorm2d, "Normalizes each channel of an image over the batch and its pixels, then scales "
                "and shifts: y = (x - mean) / sqrt(var + eps) * gamma + beta. Usually placed after Conv2d.",
                (3,), "an image (channels, height, width)", "use BatchNorm1d for vectors."),
    Layer("LayerNorm", "Normalization & regularization",
          "Normalizes each sample's last dimension to mean 0 and variance 1, then scales and shifts; "
          "independent of the batch. Standard in Transformers.",
          params=(Param("elementwise_affine", "bool", True, "Learn gamma and beta.", advanced=True),),
          construct=lambda p, s: Call(nn.LayerNorm, dict(normalized_shape=s[0][-1], **p))),
    Layer("GroupNorm", "Normalization & regularization",
          "Normalizes groups of channels within each sample; works with small batches where "
          "BatchNorm struggles.",
          params=(Param("num_groups", "int", 4, "Number of channel groups; must divide the channels.",
                        min=1, max=1 << 12),),
          construct=lambda p, s: Call(nn.GroupNorm, dict(num_channels=s[0][0], **p)),
          check=_check_groups, key_params=("num_groups",)),
    Layer("Dropout", "Normalization & regularization",
          "During training, zeroes each value with probability p and scales the rest by 1/(1-p): "
          "a cure for overfitting. Does nothing at evaluation.",
          params=(_P,), construct=lambda p, s: Call(nn.Dropout, dict(p)), key_params=("p",)),
    Layer("Dropout2d", "Normalization & regularization",
          "During training, zeroes whole channels of an image with probability p: dropout for "
          "convolutional networks.",
          params=(_P,), construct=lambda p, s: Call(nn.Dropout2d, dict(p)),
          check=lambda p, s: expect_rank("Dropout2d", s[0], (3,), "an image (channels, height, width)",
                                         "use Dropout for vectors and sequences."),
          key_params=("p",)),
]
