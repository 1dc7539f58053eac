"""Tokenizer and vocabulary: built from training texts only, with padding and out-of-vocabulary ids."""
import numpy as np
import pytest
import torch

from runtime import datasets
from runtime.datasets.raw import RawData
from runtime.datasets.preparing import prepare
from runtime.datasets.text import TextEncoder, tokenize


def test_tokenize_lowercases_drops_tags_and_keeps_contractions_and_marks():
    assert tokenize("Great film!<br /><br />I DIDN'T expect it... 10/10?") == [
        "great", "film", "!", "i", "didn't", "expect", "it", "10", "10", "?"]


def test_vocabulary_orders_by_frequency_then_alphabet_and_reserves_pad_and_oov():
    enc = TextEncoder.fit([tokenize("b a b"), tokenize("c a b")], vocab_size=4, max_len=5)
    assert enc.vocabulary == ["<pad>", "<oov>", "b", "a"]          # c did not fit in 4
    assert enc.encode(["a c b d", "b b b b b b b"]).tolist() == [[3, 1, 2, 1, 0], [2, 2, 2, 2, 2]]
    assert enc.decode([3, 1, 2, 0, 0]) == "a <oov> b"


def test_vocabulary_comes_from_the_training_split_only():
    texts = [f"common word{i}" for i in range(40)]
    y = np.arange(40) % 2
    splits = prepare(RawData(texts, y, "text", class_names=("a", "b")), "toy", seed=0,
                     max_len=4, vocab_size=1000)
    train_words = {w for row in splits.x_train.tolist() for w in row}
    vocab = splits.vocabulary
    # every word of a validation or test text is unknown, since each wordN occurs once
    assert set(splits.x_test[:, 1].tolist()) == {1} and set(splits.x_val[:, 1].tolist()) == {1}
    assert len(vocab) == 2 + 1 + len(splits.y_train)                 # pad, oov, common, train words
    assert max(train_words) == len(vocab) - 1


def test_encode_text_of_a_typed_sentence_pads_to_max_len():
    splits = datasets.load("rotten_tomatoes", subset=400, max_len=12, vocab_size=300)
    ids = splits.encode_text("The movie is good, zzqx!")
    vocab = splits.vocabulary
    assert ids.dtype == torch.int64 and ids.shape == (1, 12)
    expected = [vocab.index(w) if w in vocab else 1 for w in ["the", "movie", "is", "good", "zzqx", "!"]]
    assert ids[0, :6].tolist() == expected and ids[0, 6:].tolist() == [0] * 6
    assert expected[4] == 1 and len(vocab) == 300 == splits.spec.vocab_size


def test_long_reviews_are_cut_at_max_len():
    splits = datasets.load("imdb", subset=200, max_len=30)
    assert splits.x_train.shape[1] == 30 and (splits.x_train[:, -1] != 0).float().mean() > 0.9


def test_encode_text_on_numbers_is_a_clear_error():
    with pytest.raises(datasets.DatasetError, match="'iris' is not text"):
        datasets.load("iris").encode_text("hello")
