"""The catalog's attention modules against PyTorch's own classes as the oracle: same parameters,
state_dict names and initial weights under one seed, same outputs and gradients in training and eval."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from runtime.layers.modules import DecoderLayer, EncoderLayer, SelfAttention


def _causal(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).triu(1)


def _same_init(ours_factory, theirs_factory) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(7)
    ours = ours_factory()
    torch.manual_seed(7)
    theirs = theirs_factory()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    return ours, theirs


def _same_outputs_and_gradients(ours, theirs, run_ours, run_theirs, inputs) -> None:
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        xs = [x.clone().requires_grad_() for x in inputs]
        ys = [x.clone().requires_grad_() for x in inputs]
        a, b = run_ours(ours, *xs), run_theirs(theirs, *ys)
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5)
        a.square().sum().backward()
        b.square().sum().backward()
        for x, y in zip(xs, ys):
            torch.testing.assert_close(x.grad, y.grad, atol=2e-5, rtol=1e-4)
        grads = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            torch.testing.assert_close(p.grad, grads[name].grad, atol=2e-5, rtol=1e-4, msg=name)
            p.grad, grads[name].grad = None, None


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", ["self", "causal", "cross"])
def test_self_attention_is_multihead_attention(mode, bias):
    ours, theirs = _same_init(lambda: SelfAttention(8, 2, bias=bias, causal=mode == "causal"),
                              lambda: nn.MultiheadAttention(8, 2, bias=bias, batch_first=True))
    x, context = torch.randn(3, 5, 8), torch.randn(3, 4, 8)
    if mode == "cross":
        _same_outputs_and_gradients(ours, theirs, lambda m, x, c: m(x, c),
                                    lambda m, x, c: m(x, c, c, need_weights=False)[0], [x, context])
    else:
        mask = _causal(5) if mode == "causal" else None
        _same_outputs_and_gradients(ours, theirs, lambda m, x: m(x),
                                    lambda m, x: m(x, x, x, attn_mask=mask, need_weights=False)[0], [x])


@pytest.mark.parametrize("norm_first,activation,causal", [(False, "relu", False), (True, "gelu", True)])
def test_encoder_layer_is_transformer_encoder_layer(norm_first, activation, causal):
    # dropout 0: the two draw their dropout masks in a different order
    ours, theirs = _same_init(
        lambda: EncoderLayer(8, 2, 16, 0.0, activation, norm_first, causal),
        lambda: nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation, batch_first=True, norm_first=norm_first))
    mask = _causal(5) if causal else None
    _same_outputs_and_gradients(ours, theirs, lambda m, x: m(x),
                                lambda m, x: m(x, src_mask=mask, is_causal=causal), [torch.randn(3, 5, 8)])


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_decoder_layer_is_transformer_decoder_layer(norm_first, activation):
    ours, theirs = _same_init(
        lambda: DecoderLayer(8, 2, 16, 0.0, activation, norm_first),
        lambda: nn.TransformerDecoderLayer(8, 2, 16, 0.0, activation, batch_first=True, norm_first=norm_first))
    _same_outputs_and_gradients(ours, theirs, lambda m, x, memory: m(x, memory),
                                lambda m, x, memory: m(x, memory, tgt_mask=_causal(5), tgt_is_causal=True),
                                [torch.randn(3, 5, 8), torch.randn(3, 4, 8)])


def test_attention_dropout_is_active_in_training_only():
    attention = SelfAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 6, 8)
    assert not torch.equal(attention.train()(x), attention(x))
    attention.eval()
    assert torch.equal(attention(x), attention(x))
