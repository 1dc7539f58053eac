"""Proof before download: onnx.checker (full check), then onnxruntime against PyTorch in eval mode.

An export passes when, on every sample, max |onnx - torch| <= 1e-4 (absolute), or the same
difference relative to the output's scale (max |torch|) is <= 1e-4. Both figures are reported.
The batch axis is exercised at two sizes from one file, and a sequence axis the file declares
dynamic at two lengths, so a baked-in shape cannot pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from runtime.onnx.errors import VerificationFailed

TOLERANCE = 1e-4


@dataclass(frozen=True)
class Verification:
    max_abs_diff: float
    max_rel_diff: float                     # relative to the output's scale, max |torch output|
    samples: int
    batch_sizes: tuple[int, ...]
    sequence_lengths: tuple[int, ...]       # empty when the input has no dynamic sequence axis
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance or self.max_rel_diff <= self.tolerance

    def summary(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lengths = f", sequence lengths {list(self.sequence_lengths)}" if self.sequence_lengths else ""
        return (f"onnxruntime vs PyTorch on {self.samples} samples (batch sizes {list(self.batch_sizes)}"
                f"{lengths}): max abs diff {self.max_abs_diff:.3g}, max rel diff {self.max_rel_diff:.3g}, "
                f"tolerance {self.tolerance:g}: {verdict}")


def check_model(model: onnx.ModelProto | bytes) -> None:
    """onnx.checker with full_check (types and shapes inferred); VerificationFailed says why."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise VerificationFailed(f"The exported file fails onnx.checker: {str(error).strip()[:500]}") from None


def session(model: onnx.ModelProto | bytes) -> ort.InferenceSession:
    """An onnxruntime CPU session using as many threads as torch does (one inside the app)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 4      # failures are reported by us, with the input shape
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _dynamic_dims(model: onnx.ModelProto) -> set[int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return {i for i, d in enumerate(dims) if d.dim_param or not d.HasField("dim_value")}


def _batches(samples: torch.Tensor, dynamic: set[int]) -> list[torch.Tensor]:
    """All samples as one batch, the first alone, and a shorter sequence where that axis is dynamic."""
    batches = [samples, samples[:1]] if len(samples) > 1 else [samples]
    if 1 in dynamic and samples.dim() >= 2 and samples.shape[1] > 1:
        batches.append(samples[:, : max(1, samples.shape[1] // 2)])
    return batches


def verify(model: onnx.ModelProto, module: nn.Module, samples: torch.Tensor,
           tolerance: float = TOLERANCE, data: bytes | None = None) -> Verification:
    """Runs the checker, then onnxruntime and `module` (eval mode) on `samples`; never raises on a mismatch.

    `data`: the model already serialized (VGG-16 takes 3 s to serialize: do it once)."""
    data = data if data is not None else model.SerializeToString()
    check_model(data)
    runner = session(data)
    name = runner.get_inputs()[0].name
    dynamic = _dynamic_dims(model)
    batches = _batches(samples, dynamic)
    max_abs = max_rel = 0.0
    was_training = module.training
    module.eval()
    try:
        for batch in batches:
            with torch.no_grad():
                expected = module(batch).detach().cpu().numpy()
            try:
                got = runner.run(None, {name: batch.cpu().numpy()})[0]
            except Exception as error:   # onnxruntime's own failure is the verdict, with its message
                raise VerificationFailed(
                    f"onnxruntime cannot run the exported file on input {list(batch.shape)}: "
                    f"{str(error).strip()[:400]}") from None
            abs_diff, rel_diff = difference(got, expected)
            max_abs, max_rel = max(max_abs, abs_diff), max(max_rel, rel_diff)
    finally:
        module.train(was_training)
    return Verification(max_abs, max_rel, len(samples), tuple(sorted({len(b) for b in batches})),
                        tuple(sorted({b.shape[1] for b in batches})) if 1 in dynamic else (), tolerance)


def difference(got: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Max absolute difference and the same relative to the output's scale; inf on shape or NaN mismatch."""
    if got.shape != expected.shape or not np.array_equal(np.isnan(got), np.isnan(expected)):
        return float("inf"), float("inf")
    finite = ~np.isnan(expected)
    if not finite.any():
        return 0.0, 0.0
    diff = np.abs(got[finite].astype(np.float64) - expected[finite].astype(np.float64))
    scale = float(np.abs(expected[finite]).max())
    worst = float(diff.max())
    return worst, (worst / scale if scale > 0 else (0.0 if worst == 0 else float("inf")))


def require(verification: Verification) -> Verification:
    """The verification, or VerificationFailed with its figures when it did not pass."""
    if not verification.passed:
        raise VerificationFailed(
            f"Export refused: the ONNX file does not reproduce PyTorch. {verification.summary()}. "
            "Report this model: a layer is translated differently by the exporter.", verification)
    return verification
