"""Undo/redo of graph edits: snapshots of the project file, newest last."""
from __future__ import annotations

from typing import Any

Snapshot = dict[str, Any]   # Project.to_dict()


class History:
    """Two stacks of snapshots. `record` is called before an edit with the state it replaces."""

    def __init__(self, limit: int = 100):
        self.limit = limit               # a project file is a few KB: 100 steps cost well under a MB
        self._undo: list[Snapshot] = []
        self._redo: list[Snapshot] = []

    def record(self, before: Snapshot) -> None:
        self._undo.append(before)
        del self._undo[:-self.limit]
        self._redo.clear()

    def undo(self, current: Snapshot) -> Snapshot | None:
        """The state to go back to, or None when there is nothing to undo."""
        if not self._undo:
            return None
        self._redo.append(current)
        return self._undo.pop()

    def redo(self, current: Snapshot) -> Snapshot | None:
        if not self._redo:
            return None
        self._undo.append(current)
        return self._redo.pop()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)
