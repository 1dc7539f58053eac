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


class SelfAttention(nn.Module):
    """Multi-head attention, batch first: self-attention on x, or cross-attention to `context`.
    nn.MultiheadAttention's parameters, state_dict names and initialization, computed with plain
    reshapes so that an ONNX export keeps the batch size and sequence length open."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, causal=False):
        super().__init__()
        self.num_heads, self.dropout, self.causal = num_heads, dropout, causal
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))  # q, k, v stacked
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def forward(self, x, context=None):  # x: (B, L, E), context: (B, S, E)
        if context is None:
            q, k, v = nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        else:
            width = x.shape[-1]
            w_q, w_kv = self.in_proj_weight.split([width, 2 * width])
            b_q, b_kv = (None, None) if self.in_proj_bias is None else self.in_proj_bias.split([width, 2 * width])
            q = nn.functional.linear(x, w_q, b_q)
            k, v = nn.functional.linear(context, w_kv, b_kv).chunk(2, dim=-1)
        q, k, v = (t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2) for t in (q, k, v))  # (B, H, L, E/H)
        y = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                                       is_causal=self.causal and context is None)
        return self.out_proj(y.transpose(1, 2).flatten(2))  # (B, L, E)


class EncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer, batch first (same parameters and state_dict names), optionally
    causal (GPT-style): self-attention, then a feed-forward network, each in a skip connection
    with LayerNorm after it (or before it, with norm_first)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 norm_first=False, causal=False):
        super().__init__()
        self.self_attn = SelfAttention(d_model, nhead, dropout=dropout, causal=causal)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = nn.GELU() if activation == "gelu" else nn.ReLU()

    def forward(self, x):  # x: (B, L, E)
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x)))
            return x + self.feed_forward(self.norm2(x))
        x = self.norm1(x + self.dropout1(self.self_attn(x)))
        return self.norm2(x + self.feed_forward(x))

    def feed_forward(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class DecoderLayer(nn.Module):
    """nn.TransformerDecoderLayer, batch first (same parameters and state_dict names): causal
    self-attention on x, then attention to memory, then a feed-forward network."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 norm_first=False):
        super().__init__()
        self.self_attn = SelfAttention(d_model, nhead, dropout=dropout, causal=True)
        self.multihead_attn = SelfAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = nn.GELU() if activation == "gelu" else nn.ReLU()

    def forward(self, x, memory):  # x: (B, L, E), memory: (B, S, E)
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x)))
            x = x + self.dropout2(self.multihead_attn(self.norm2(x), memory))
            return x + self.feed_forward(self.norm3(x))
        x = self.norm1(x + self.dropout1(self.self_attn(x)))
        x = self.norm2(x + self.dropout2(self.multihead_attn(x, memory)))
        return self.norm3(x + self.feed_forward(x))

    def feed_forward(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


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
