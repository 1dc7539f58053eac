"""Activation functions: the non-linearities between layers."""
from __future__ import annotations

from torch import nn

from runtime.layers.spec import Call, Layer, LayerError, Param

_DIM = Param("dim", "int", -1, "Dimension of the sample that sums to 1 (-1 = last).", min=-8, max=7,
             advanced=True)


def _activation(cls, doc, *params):
    return Layer(cls.__name__, "Activation", doc, params=params,
                 construct=lambda p, s: Call(cls, dict(p)), key_params=tuple(x.name for x in params[:1]))


def _normalizer(cls, doc):
    """Softmax-like layers: `dim` counts the sample's dimensions, so torch gets it past the batch."""
    def check(p, shapes):
        if not -len(shapes[0]) <= p["dim"] < len(shapes[0]):
            raise LayerError("bad-param", f"{cls.__name__} dim {p['dim']} does not exist for input "
                                          f"{list(shapes[0])}: use -1 for the last dimension.")

    return Layer(cls.__name__, "Activation", doc, params=(_DIM,),
                 construct=lambda p, s: Call(cls, dict(dim=p["dim"] + 1 if p["dim"] >= 0 else p["dim"])),
                 check=check, key_params=("dim",))


LAYERS = [
    _activation(nn.ReLU, "Rectified linear unit: ReLU(x) = max(0, x). The default choice: cheap, and its "
                "gradient does not vanish for positive inputs."),
    _activation(nn.LeakyReLU, "LeakyReLU(x) = x if x > 0 else slope * x: like ReLU, but never completely "
                "dead.", Param("negative_slope", "float", 0.01, "Slope for negative inputs.", min=0, max=1)),
    _activation(nn.ELU, "ELU(x) = x if x > 0 else alpha * (e^x - 1): smooth, with negative outputs.",
                Param("alpha", "float", 1.0, "Saturation value for negative inputs.", min=0, max=10)),
    _activation(nn.GELU, "GELU(x) = x * Phi(x), Phi the normal CDF: a smooth ReLU used in Transformers.",
                Param("approximate", "choice", "none", "Exact or tanh approximation.",
                      choices=("none", "tanh"), advanced=True)),
    _activation(nn.SiLU, "SiLU (swish): SiLU(x) = x * sigmoid(x). Smooth, used in modern CNNs."),
    _activation(nn.ReLU6, "ReLU6(x) = min(max(0, x), 6): ReLU capped at 6, used by MobileNet."),
    _activation(nn.Sigmoid, "Sigmoid(x) = 1 / (1 + e^-x): squashes to (0, 1). Its gradient vanishes for large "
                "|x|, so deep stacks of it train slowly."),
    _activation(nn.Tanh, "Tanh(x) = (e^x - e^-x) / (e^x + e^-x): squashes to (-1, 1), centred on 0."),
    _normalizer(nn.Softmax, "Softmax(x)_i = e^(x_i) / sum_j e^(x_j): turns scores into probabilities that sum "
                "to 1. As the last layer of a classifier it is skipped during training (the loss wants raw "
                "scores) and kept in the exported model."),
    _normalizer(nn.LogSoftmax, "LogSoftmax(x) = log(Softmax(x)): log-probabilities, numerically stable."),
    _activation(nn.Softplus, "Softplus(x) = log(1 + e^x): a smooth ReLU."),
    _activation(nn.Mish, "Mish(x) = x * tanh(Softplus(x)): a smooth, non-monotonic activation."),
    _activation(nn.Hardswish, "Hardswish(x) = x * ReLU6(x + 3) / 6: a cheap swish, used by MobileNetV3."),
]
