"""Augmentation for small data: random changes to a whole batch at once, on the batch's device.

Off by default. The trainer calls `augment(x, settings, generator)` on each training batch:
images (B, C, H, W) get one affine warp (shift + rotation) per sample, optional flips and noise;
sequences (B, steps, features) get per-sample scaling and per-value jitter. Token ids pass through.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from runtime.dataspec import DataSpec


def _number(default: float, low: float, high: float, meaning: str):
    """A numeric setting with the range in which it means something (`meaning` says what it is)."""
    return field(default=default, metadata={"range": (low, high), "meaning": meaning})


@dataclass(frozen=True)
class ImageAugment:
    enabled: bool = False
    shift: float = _number(0.1, 0.0, 0.5, "the fraction of the width and height a sample may move "
                                          "each way; beyond 0.5 it can leave the frame")
    rotate_degrees: float = _number(10.0, 0.0, 180.0, "the largest turn each way, in degrees; small, "
                                                      "as a 6 turned 180 degrees is a 9")
    hflip: bool = False             # off: mirrored digits and letters are other symbols
    vflip: bool = False
    noise: float = _number(0.0, 0.0, 1.0, "the spread (std) of the noise added, in normalized units")


@dataclass(frozen=True)
class SequenceAugment:
    enabled: bool = False
    jitter: float = _number(0.03, 0.0, 1.0, "the spread (std) of the noise added to every value")
    scaling: float = _number(0.1, 0.0, 1.0, "the spread (std) of a per-sample, per-feature gain around 1")


Settings = ImageAugment | SequenceAugment


def settings_for(spec: DataSpec, enabled: bool = False) -> Settings | None:
    """The augmentation settings that suit the data's kind, or None where nothing applies (text, tables)."""
    if spec.input_dtype != "float32":
        return None
    if len(spec.input_shape) == 3:
        return ImageAugment(enabled=enabled)
    if len(spec.input_shape) == 2:
        return SequenceAugment(enabled=enabled)
    return None


def _uniform(shape: tuple[int, ...], low: float, high: float, x: torch.Tensor,
             generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)


def _images(x: torch.Tensor, s: ImageAugment, g: torch.Generator | None) -> torch.Tensor:
    b = x.shape[0]
    angle = _uniform((b,), -1.0, 1.0, x, g) * math.radians(s.rotate_degrees)
    shift = _uniform((b, 2), -2 * s.shift, 2 * s.shift, x, g)   # affine_grid spans [-1, 1]: 2 = full size
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)                 # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, padding_mode="border", align_corners=False)         # (B, C, H, W)
    for flip, dim in ((s.hflip, 3), (s.vflip, 2)):
        if flip:
            mask = _uniform((b, 1, 1, 1), 0, 1, x, g) < 0.5
            out = torch.where(mask, out.flip(dim), out)
    if s.noise > 0:
        out = out + s.noise * torch.randn(out.shape, generator=g, device=x.device, dtype=x.dtype)
    return out


def _sequences(x: torch.Tensor, s: SequenceAugment, g: torch.Generator | None) -> torch.Tensor:
    gain = 1 + s.scaling * torch.randn((x.shape[0], 1, x.shape[2]), generator=g, device=x.device, dtype=x.dtype)
    return x * gain + s.jitter * torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)


def augment(x: torch.Tensor, settings: Settings | None, generator: torch.Generator | None = None) -> torch.Tensor:
    """A randomly changed copy of the batch `x`; `x` itself as it is when off or not applicable.

    `generator` must live on x's device (torch.Generator(device=x.device)) for repeatable runs."""
    if settings is None or not settings.enabled or not x.is_floating_point():
        return x
    if isinstance(settings, ImageAugment) and x.dim() == 4:
        return _images(x, settings, generator)
    if isinstance(settings, SequenceAugment) and x.dim() == 3:
        return _sequences(x, settings, generator)
    raise ValueError(f"{type(settings).__name__} does not apply to a batch shaped {tuple(x.shape)}.")
