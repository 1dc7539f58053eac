"""Convolutions and pooling, 1-D (channels, length) and 2-D (channels, height, width)."""
from __future__ import annotations

from torch import nn

from runtime.layers.spec import Call, Layer, LayerError, Param, expect_rank

CHANNELS_MAX = 1 << 16
KERNEL_MAX = 64

_RANK = {1: (2, "a sequence of channels (channels, length)",
             "use Permute [1, 0] to turn (steps, features) into (channels, length), or Reshape."),
         2: (3, "an image (channels, height, width)",
             "set the Input shape to an image such as [1, 28, 28], or insert Reshape before it.")}


def _kernel(name="kernel_size", default=3):
    return Param(name, "int", default, "Size of the sliding window.", min=1, max=KERNEL_MAX)


def _stride(default=1):
    return Param("stride", "int", default, "Step between windows; 2 halves the size.", min=1, max=KERNEL_MAX)


def _padding(words=()):
    return Param("padding", "int", 0, "Zeros added on each border" +
                 ("; \"same\" keeps the size (stride 1)." if words else "."),
                 min=0, max=KERNEL_MAX, words=words)


def _check_window(kind, dims, p, shapes, dilation=1):
    rank, meaning, fix = _RANK[dims]
    expect_rank(kind, shapes[0], (rank,), meaning, fix)
    if p.get("padding") == "same":
        if p.get("stride", 1) != 1:
            raise LayerError("bad-param", f"{kind} padding \"same\" needs stride 1; set a number for padding.")
        return
    pad = p.get("padding", 0)
    reach = dilation * (p["kernel_size"] - 1) + 1
    for size in shapes[0][1:]:
        if size + 2 * pad < reach:
            raise LayerError("shape", f"{kind}'s window ({reach}) is larger than its input "
                                      f"{list(shapes[0])} plus padding: lower kernel_size, add padding, "
                                      "or remove a pooling layer before it.")


def _conv(kind, dims, cls):
    def check(p, shapes):
        _check_window(kind, dims, p, shapes, p["dilation"])
        channels = shapes[0][0]
        for what, n in (("input channels", channels), ("out_channels", p["out_channels"])):
            if n % p["groups"]:
                raise LayerError("bad-param", f"{kind} groups={p['groups']} must divide the {what} ({n}).")

    return Layer(kind, "Convolution",
                 f"Slides small learned filters over the input{'' if dims == 2 else ' sequence'}; each output "
                 "channel is one filter's response: y = sum(w * x_window) + b. Input channels are inferred.",
                 params=(Param("out_channels", "int", 16, "Number of filters (output channels).",
                               min=1, max=CHANNELS_MAX),
                         _kernel(), _stride(), _padding(("same", "valid")),
                         Param("dilation", "int", 1, "Spacing between kernel taps.", min=1, max=KERNEL_MAX,
                               advanced=True),
                         Param("groups", "int", 1, "Split channels into groups; groups = channels is a "
                               "depthwise convolution.", min=1, max=CHANNELS_MAX, advanced=True),
                         Param("bias", "bool", True, "Add a learned bias per channel.", advanced=True)),
                 construct=lambda p, s: Call(cls, dict(in_channels=s[0][0], **p)),
                 check=check, key_params=("out_channels", "kernel_size", "stride"))


def _conv_transpose(p, shapes):
    expect_rank("ConvTranspose2d", shapes[0], (3,), _RANK[2][1], _RANK[2][2])


def _pool(kind, dims, cls, doc):
    return Layer(kind, "Convolution", doc,
                 params=(_kernel(default=2), _stride(2), _padding()),
                 construct=lambda p, s: Call(cls, dict(p)),
                 check=lambda p, s: _check_window(kind, dims, p, s), key_params=("kernel_size", "stride"))


def _adaptive(kind, dims, cls):
    def check(p, shapes):
        expect_rank(kind, shapes[0], (_RANK[dims][0],), _RANK[dims][1], _RANK[dims][2])

    return Layer(kind, "Convolution",
                 "Averages each channel down to a fixed size (output_size; 1 = global average pooling), "
                 "whatever the input size.",
                 params=(Param("output_size", "int", 1, "Size of each output channel.", min=1, max=4096),),
                 construct=lambda p, s: Call(cls, dict(p)), check=check, key_params=("output_size",))


LAYERS = [
    _conv("Conv1d", 1, nn.Conv1d),
    _conv("Conv2d", 2, nn.Conv2d),
    Layer("ConvTranspose2d", "Convolution",
          "A learned upsampling: the reverse of a strided convolution's shape change. With stride 2 it "
          "doubles height and width.",
          params=(Param("out_channels", "int", 16, "Number of output channels.", min=1, max=CHANNELS_MAX),
                  _kernel(default=2), _stride(2), _padding(),
                  Param("output_padding", "int", 0, "Extra size added on one side.", min=0, max=KERNEL_MAX,
                        advanced=True),
                  Param("bias", "bool", True, "Add a learned bias per channel.", advanced=True)),
          construct=lambda p, s: Call(nn.ConvTranspose2d, dict(in_channels=s[0][0], **p)),
          check=_conv_transpose, key_params=("out_channels", "kernel_size", "stride")),
    _pool("MaxPool1d", 1, nn.MaxPool1d, "Keeps the largest value of each window along the sequence: y_i = max(x_window). With kernel 2 and "
          "stride 2 it halves the length."),
    _pool("MaxPool2d", 2, nn.MaxPool2d,
          "Keeps the largest value of each window: with kernel 2 and stride 2 it halves height and width, "
          "keeping the strongest responses."),
    _pool("AvgPool1d", 1, nn.AvgPool1d, "Averages each window along the sequence: y_i = mean(x_window). With kernel 2 and stride 2 it "
          "halves the length, smoothing the signal."),
    _pool("AvgPool2d", 2, nn.AvgPool2d, "Averages each window; with kernel 2 and stride 2 it halves the size."),
    _adaptive("AdaptiveAvgPool1d", 1, nn.AdaptiveAvgPool1d),
    _adaptive("AdaptiveAvgPool2d", 2, nn.AdaptiveAvgPool2d),
]
