"""What can go wrong with ONNX, as exceptions a user reads: each message says where, what, and the fix."""
from __future__ import annotations


class OnnxError(Exception):
    """A problem with an export or an .onnx file that the user can act on."""


class ExportFailed(OnnxError):
    """The exporter could not translate the model; names the canvas node when one is to blame."""

    def __init__(self, message: str, node_id: str | None = None, node_type: str | None = None,
                 reason: str = ""):
        super().__init__(message)
        self.node_id = node_id
        self.node_type = node_type
        self.reason = reason


class VerificationFailed(OnnxError):
    """The exported file does not reproduce PyTorch: it is refused, with the figures."""

    def __init__(self, message: str, verification=None):
        super().__init__(message)
        self.verification = verification


class OnnxFileError(OnnxError):
    """An .onnx file that cannot be read safely: corrupt, too large, or pointing outside its folder."""


class UnsupportedModel(OnnxError):
    """An .onnx model with operators or patterns the layer catalog cannot represent."""

    def __init__(self, message: str, unknown: dict[str, int] | None = None):
        super().__init__(message)
        self.unknown = dict(unknown or {})
