"""The one exception a dataset problem raises: the message says where, what, and the fix."""
from __future__ import annotations


class DatasetError(ValueError):
    """A dataset that cannot be loaded: missing package or file, bad option, malformed upload."""
