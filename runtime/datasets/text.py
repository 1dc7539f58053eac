"""Words to token ids: a lowercase word tokenizer and a vocabulary built from the training split.

Id 0 is padding, id 1 stands for any word outside the vocabulary; the most frequent training
words take ids 2, 3, ... (ties in alphabetical order, so the same data gives the same ids).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import repeat

import numpy as np

PAD, OOV = "<pad>", "<oov>"
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")   # "don't" stays one word; ! and ? carry sentiment


def tokenize(text: str) -> list[str]:
    return _WORDS.findall(text.lower().replace("<br />", " "))   # IMDB marks line breaks with <br />


@dataclass
class TextEncoder:
    vocabulary: list[str]       # index = token id
    max_len: int

    @classmethod
    def fit(cls, tokenized: list[list[str]], vocab_size: int, max_len: int) -> "TextEncoder":
        """The vocabulary of the training split's tokenized texts."""
        counts: Counter[str] = Counter()
        for tokens in tokenized:
            counts.update(tokens)
        words = sorted(counts, key=lambda w: (-counts[w], w))[: max(vocab_size - 2, 0)]
        return cls([PAD, OOV, *words], max_len)

    def encode_tokens(self, tokenized: list[list[str]]) -> np.ndarray:
        """(N, max_len) int64: the first max_len tokens, padded with 0 at the end."""
        lookup = {w: i for i, w in enumerate(self.vocabulary)}.get
        out = np.zeros((len(tokenized), self.max_len), dtype=np.int64)
        for row, tokens in enumerate(tokenized):
            ids = list(map(lookup, tokens[: self.max_len], repeat(1)))   # 1 = out of vocabulary
            out[row, : len(ids)] = ids
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_tokens([tokenize(t) for t in texts])

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.vocabulary[i] for i in ids if i != 0)
