"""Words to token ids: a lowercase word tokenizer and a vocabulary built from the training split.

Id 0 is padding, id 1 stands for any word outside the vocabulary; the most frequent training
words take ids 2, 3, ... (ties in alphabetical order, so the same data gives the same ids).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

PAD, OOV = "<pad>", "<oov>"
_TAGS = re.compile(r"<[^>]{0,20}>")           # IMDB reviews carry <br /> line breaks
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")   # "don't" stays one word; ! and ? carry sentiment


def tokenize(text: str) -> list[str]:
    return _WORDS.findall(_TAGS.sub(" ", text.lower()))


@dataclass
class TextEncoder:
    vocabulary: list[str]       # index = token id
    max_len: int

    @classmethod
    def fit(cls, texts: list[str], vocab_size: int, max_len: int) -> "TextEncoder":
        counts = Counter(tok for text in texts for tok in tokenize(text))
        words = sorted(counts, key=lambda w: (-counts[w], w))[: max(vocab_size - 2, 0)]
        return cls([PAD, OOV, *words], max_len)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N, max_len) int64: the first max_len tokens, padded with 0 at the end."""
        ids = {w: i for i, w in enumerate(self.vocabulary)}
        out = np.zeros((len(texts), self.max_len), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [ids.get(t, 1) for t in tokenize(text)[: self.max_len]]
            out[row, : len(tokens)] = tokens
        return out

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.vocabulary[i] for i in ids if i != 0)
