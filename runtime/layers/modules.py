"""The few modules PyTorch lacks as one-input layers. Code export copies these classes verbatim
into the generated file, so they must stay self-contained: torch and nn only, batch-first."""
import math

import torch
from torch import nn


class Reshape(nn.Module):
    """Reshapes each sample to `shape` (the batch dimension is kept)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Permute(nn.Module):
    """Reorders the dimensions of each sample; `dims` does not count the batch dimension."""

    def __init__(self, dims):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x):
        return x.permute(0, *[d + 1 for d in self.dims])


class SequenceOrLast:
    """Mixin for nn.RNN/LSTM/GRU: returns the output sequence, or the final hidden state of the
    last layer (both directions concatenated) when output == "last"."""

    def __init__(self, *args, output="sequence", **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.output = output

    def forward(self, x):  # x: (B, L, F)
        y, state = super().forward(x)  # y: (B, L, D*H)
        if self.output == "sequence":
            return y
        h = state[0] if isinstance(state, tuple) else state  # (layers*D, B, H)
        directions = 2 if self.bidirectional else 1
        return h[-directions:].transpose(0, 1).reshape(x.shape[0], -1)  # (B, D*H)


class RNNLayer(SequenceOrLast, nn.RNN):
    """nn.RNN, batch first, returning the sequence or the last hidden state."""


class LSTMLayer(SequenceOrLast, nn.LSTM):
    """nn.LSTM, batch first, returning the sequence or the last hidden state."""


class GRULayer(SequenceOrLast, nn.GRU):
    """nn.GRU, batch first, returning the sequence or the last hidden state."""


def causal_mask(length, device):
    """True above the diagonal: position i may not look at positions after i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


class SelfAttention(nn.MultiheadAttention):
    """Multi-head attention, batch first: self-attention on x, or cross-attention to `context`."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, causal=False):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=True)
        self.causal = causal

    def forward(self, x, context=None):  # x: (B, L, E), context: (B, S, E)
        source = x if context is None else context
        mask = causal_mask(x.shape[1], x.device) if self.causal and context is None else None
        return super().forward(x, source, source, attn_mask=mask, need_weights=False)[0]


class EncoderLayer(nn.TransformerEncoderLayer):
    """nn.TransformerEncoderLayer, batch first, optionally causal (GPT-style)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 norm_first=False, causal=False):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation,
                         batch_first=True, norm_first=norm_first)
        self.causal = causal

    def forward(self, x):  # x: (B, L, E)
        if not self.causal:
            return super().forward(x)
        return super().forward(x, src_mask=causal_mask(x.shape[1], x.device), is_causal=True)


class DecoderLayer(nn.TransformerDecoderLayer):
    """nn.TransformerDecoderLayer, batch first: causal self-attention on x, then attention to memory."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 norm_first=False):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation,
                         batch_first=True, norm_first=norm_first)

    def forward(self, x, memory):  # x: (B, L, E), memory: (B, S, E)
        mask = causal_mask(x.shape[1], x.device)
        return super().forward(x, memory, tgt_mask=mask, tgt_is_causal=True)


class PositionalEncoding(nn.Module):
    """Adds position information to a sequence (B, L, E): fixed sines and cosines, or learned."""

    def __init__(self, d_model, max_len=512, kind="sinusoidal"):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.pe = nn.Parameter(torch.zeros(max_len, d_model).normal_(std=0.02))
        else:
            position = torch.arange(max_len).unsqueeze(1)
            freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, d_model)
            pe[:, 0::2] = torch.sin(position * freq)
            pe[:, 1::2] = torch.cos(position * freq[: d_model // 2])
            self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):  # x: (B, L, E)
        return x + self.pe[: x.shape[1]]


class SequencePool(nn.Module):
    """Turns a sequence (B, L, E) into one vector (B, E): mean, max, first or last step."""

    def __init__(self, mode="mean"):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if self.mode == "mean":
            return x.mean(dim=1)
        if self.mode == "max":
            return x.amax(dim=1)
        return x[:, 0] if self.mode == "first" else x[:, -1]


class Add(nn.Module):
    """Element-wise sum of its inputs (a skip connection)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of its inputs (gating)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Joins its inputs along sample dimension `dim` (0 = channels or features)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim + 1 if self.dim >= 0 else self.dim)
