"""Attention and Transformer blocks over sequences (steps, features)."""
from __future__ import annotations

from runtime.layers import modules
from runtime.layers.spec import Call, Layer, LayerError, Param, expect_sequence


def _check_heads(kind, heads_name):
    def check(p, shapes):
        for shape in shapes:
            expect_sequence(kind, shape)
        width = shapes[0][-1]
        if width % p[heads_name]:
            raise LayerError("bad-param", f"{kind} width {width} is not divisible by {heads_name}="
                                          f"{p[heads_name]}: choose a {heads_name} that divides {width}.")
        if len(shapes) > 1 and shapes[1][-1] != width:
            raise LayerError("shape", f"{kind}'s second input has width {shapes[1][-1]} but the first has "
                                      f"{width}: project one of them with Linear({width}).")
    return check


def _block_params(causal):
    return ((Param("nhead", "int", 4, "Attention heads; must divide the width.", min=1, max=128),
             Param("dim_feedforward", "int", 256, "Width of the feed-forward part.", min=1, max=1 << 16),
             Param("dropout", "float", 0.1, "Dropout inside the block.", min=0, max=0.99, advanced=True),
             Param("activation", "choice", "relu", "Feed-forward activation.", choices=("relu", "gelu"),
                   advanced=True),
             Param("norm_first", "bool", False, "Pre-norm (more stable for deep stacks).", advanced=True))
            + ((Param("causal", "bool", False, "Each step sees only earlier steps (GPT-style).",
                      advanced=True),) if causal else ()))


LAYERS = [
    Layer("MultiheadAttention", "Attention",
          "Each step looks at every step and takes a weighted mix of them: "
          "softmax(QK^T / sqrt(d)) V, in several heads. One input: self-attention; a second input: "
          "the sequence to attend to (cross-attention).",
          params=(Param("num_heads", "int", 4, "Attention heads; must divide the width.", min=1, max=128),
                  Param("dropout", "float", 0.0, "Dropout on attention weights.", min=0, max=0.99,
                        advanced=True),
                  Param("causal", "bool", False, "Each step sees only earlier steps.", advanced=True),
                  Param("bias", "bool", True, "Learned biases in the projections.", advanced=True)),
          inputs=(1, 2),
          construct=lambda p, s: Call(modules.SelfAttention, dict(embed_dim=s[0][-1], **p)),
          check=_check_heads("MultiheadAttention", "num_heads"), key_params=("num_heads",)),
    Layer("TransformerEncoderLayer", "Attention",
          "One Transformer encoder block: self-attention then a feed-forward network, each wrapped in a "
          "skip connection and LayerNorm. Stack several for BERT-like models.",
          params=_block_params(causal=True),
          construct=lambda p, s: Call(modules.EncoderLayer, dict(d_model=s[0][-1], **p)),
          check=_check_heads("TransformerEncoderLayer", "nhead"), key_params=("nhead", "dim_feedforward")),
    Layer("TransformerDecoderLayer", "Attention",
          "One Transformer decoder block: causal self-attention on its first input, attention to its "
          "second input (the encoder's output, the memory), then a feed-forward network.",
          params=_block_params(causal=False), inputs=(2, 2),
          construct=lambda p, s: Call(modules.DecoderLayer, dict(d_model=s[0][-1], **p)),
          check=_check_heads("TransformerDecoderLayer", "nhead"), key_params=("nhead", "dim_feedforward")),
    Layer("PositionalEncoding", "Attention",
          "Adds each step's position to its vector, since attention alone ignores order: fixed "
          "sin/cos waves PE(pos, 2i) = sin(pos / 10000^(2i/d)), or a learned vector per position.",
          params=(Param("kind", "choice", "sinusoidal", "Fixed waves or learned vectors.",
                        choices=("sinusoidal", "learned")),
                  Param("max_len", "int", 512, "Longest sequence supported.", min=1, max=1 << 16,
                        advanced=True)),
          construct=lambda p, s: Call(modules.PositionalEncoding, dict(d_model=s[0][-1], **p)),
          check=lambda p, s: _check_positions(p, s), key_params=("kind",)),
    Layer("SequencePool", "Attention",
          "Turns a sequence (steps, features) into one vector (features) for classification: the mean "
          "or max over steps, or the first or last step.",
          params=(Param("mode", "choice", "mean", "How to summarize the steps.",
                        choices=("mean", "max", "first", "last")),),
          construct=lambda p, s: Call(modules.SequencePool, dict(p)),
          check=lambda p, s: expect_sequence("SequencePool", s[0]), key_params=("mode",)),
]


def _check_positions(p, shapes):
    expect_sequence("PositionalEncoding", shapes[0])
    if shapes[0][0] > p["max_len"]:
        raise LayerError("shape", f"PositionalEncoding has max_len {p['max_len']} but the sequence has "
                                  f"{shapes[0][0]} steps: raise max_len to at least {shapes[0][0]}.")
    if p["kind"] == "sinusoidal" and shapes[0][1] % 2:
        raise LayerError("shape", f"Sinusoidal PositionalEncoding needs an even width, got {shapes[0][1]}: "
                                  "use an even embedding size or kind \"learned\".")
