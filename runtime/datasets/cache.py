"""A small in-process cache of loaded datasets, bounded by count and by bytes (least recent goes first)."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Callable

MAX_ENTRIES = 8
MAX_BYTES = 1_500_000_000   # full Fashion-MNIST is ~220 MB as float32; a few fit, the machine keeps breathing


class LoadCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()   # the app loads from a background training thread too

    @staticmethod
    def key(name: str, options: dict[str, Any]) -> str:
        return json.dumps([name, options], sort_keys=True, default=str)

    def get_or_load(self, name: str, options: dict[str, Any], load: Callable[[], Any]) -> Any:
        key = self.key(name, options)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        with self._lock:
            self._items[key] = value
            while len(self._items) > 1 and (len(self._items) > self.max_entries or self.total_bytes() > self.max_bytes):
                self._items.popitem(last=False)
        return value

    def total_bytes(self) -> int:
        return sum(v.nbytes() for v in self._items.values())

    def forget(self, name: str) -> None:
        """Drops every cached load of dataset `name`, whatever its options."""
        with self._lock:
            for key in [k for k in self._items if json.loads(k)[0] == name]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
