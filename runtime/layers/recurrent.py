"""Recurrent layers over sequences (steps, features), and Embedding for token ids."""
from __future__ import annotations

from torch import nn

from runtime.layers import modules
from runtime.layers.spec import Call, Layer, LayerError, Param, expect_rank, expect_sequence


def _recurrent(kind, cls, doc):
    def check(p, shapes):
        expect_sequence(kind, shapes[0])
        if p["dropout"] and p["num_layers"] == 1:
            raise LayerError("bad-param", f"{kind} dropout acts between stacked layers: with num_layers 1 it "
                                          "does nothing. Set num_layers >= 2 or add a Dropout layer after it.")

    return Layer(kind, "Recurrent", doc,
                 params=(Param("hidden_size", "int", 64, "Size of the memory carried from step to step.",
                               min=1, max=1 << 14),
                         Param("output", "choice", "last", "\"last\": one vector per sequence (for "
                               "classification); \"sequence\": one per step (to stack more layers).",
                               choices=("last", "sequence")),
                         Param("num_layers", "int", 1, "Stacked layers.", min=1, max=16, advanced=True),
                         Param("bidirectional", "bool", False, "Also read the sequence backwards.",
                               advanced=True),
                         Param("dropout", "float", 0.0, "Dropout between stacked layers.", min=0, max=0.99,
                               advanced=True)),
                 construct=lambda p, s: Call(cls, dict(input_size=s[0][-1], **p)),
                 check=check, key_params=("hidden_size", "output", "num_layers", "bidirectional"))


def _check_embedding(p, shapes):
    expect_rank("Embedding", shapes[0], (1,), "token ids (steps,)",
                "feed it the Input of a text dataset (int64 token ids).")


LAYERS = [
    _recurrent("RNN", modules.RNNLayer,
               "Reads a sequence step by step, keeping a memory: h_t = tanh(W x_t + U h_(t-1) + b). "
               "Simple, but forgets long-range information (vanishing gradients)."),
    _recurrent("LSTM", modules.LSTMLayer,
               "A recurrent layer with gates (input, forget, output) and a cell state that carries "
               "information across many steps: the classic cure for vanishing gradients in RNNs."),
    _recurrent("GRU", modules.GRULayer,
               "A lighter gated recurrent layer (update and reset gates): often as good as LSTM with "
               "fewer parameters."),
    Layer("Embedding", "Recurrent",
          "Looks up a learned vector for each token id: turns (steps,) ids into (steps, embedding_dim).",
          params=(Param("embedding_dim", "int", 64, "Size of each token's vector.", min=1, max=1 << 14),
                  Param("num_embeddings", "int", "auto", "Vocabulary size; \"auto\" = the dataset's.",
                        min=1, max=1 << 22, auto="vocab_size", advanced=True)),
          construct=lambda p, s: Call(nn.Embedding, dict(num_embeddings=p["num_embeddings"],
                                                         embedding_dim=p["embedding_dim"])),
          check=_check_embedding, key_params=("embedding_dim",)),
]
