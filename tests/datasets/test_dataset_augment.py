"""Augmentation: off means untouched, on changes samples but keeps shapes, seeded means repeatable."""
import pytest
import torch

from runtime import datasets
from runtime.datasets.augment import ImageAugment, SequenceAugment, augment, settings_for


def images():
    return datasets.load("digits").x_train[:16]          # (16, 1, 8, 8)


def test_off_by_default_and_for_text_and_tables():
    x = images()
    assert augment(x, settings_for(datasets.spec("digits"))) is x
    assert settings_for(datasets.spec("imdb"), enabled=True) is None
    assert settings_for(datasets.spec("iris"), enabled=True) is None
    assert isinstance(settings_for(datasets.spec("mnist"), enabled=True), ImageAugment)
    assert isinstance(settings_for(datasets.spec("gunpoint"), enabled=True), SequenceAugment)


def test_zero_shift_and_rotation_is_the_identity_warp():
    x = images()
    out = augment(x, ImageAugment(enabled=True, shift=0, rotate_degrees=0), torch.Generator().manual_seed(0))
    assert torch.allclose(out, x, atol=1e-5)


def test_image_shift_moves_pixels_and_is_repeatable_with_a_generator():
    x = images()
    s = ImageAugment(enabled=True, shift=0.2, rotate_degrees=15, noise=0.1)
    a = augment(x, s, torch.Generator().manual_seed(1))
    b = augment(x, s, torch.Generator().manual_seed(1))
    c = augment(x, s, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert (a - x).abs().mean() > 0.1


def test_horizontal_flip_mirrors_some_samples_exactly():
    x = images()
    out = augment(x, ImageAugment(enabled=True, shift=0, rotate_degrees=0, hflip=True), torch.Generator().manual_seed(0))
    flipped = [torch.allclose(o, s.flip(-1), atol=1e-5) and not torch.allclose(o, s, atol=1e-5) for o, s in zip(out, x)]
    kept = [torch.allclose(o, s, atol=1e-5) for o, s in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_sequence_jitter_and_scaling_keep_shape_and_stay_close():
    x = datasets.load("basicmotions").x_train[:8]        # (8, 100, 6)
    out = augment(x, SequenceAugment(enabled=True), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    gain = (out * x).sum(1) / (x * x).sum(1)                # per-sample, per-feature scale, about 1 +- 0.1
    assert ((gain - 1).abs() < 0.5).all() and (gain - 1).abs().mean() > 0.01


def test_settings_for_another_kind_of_batch_is_a_programmer_error():
    with pytest.raises(ValueError, match="ImageAugment does not apply to a batch shaped \\(8, 100, 6\\)"):
        augment(torch.zeros(8, 100, 6), ImageAugment(enabled=True))
