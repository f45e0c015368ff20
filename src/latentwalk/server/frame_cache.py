"""A bounded LRU cache of encoded frames, so that asking again for frames already made is instant."""

from __future__ import annotations

import collections
import threading


class FrameCache:
    """Encoded frames by (render key, frame index), evicting the least recently used past `max_bytes`."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[tuple[str, int], bytes] = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, index: int) -> bytes | None:
        with self._lock:
            data = self._items.get((key, index))
            if data is not None:
                self._items.move_to_end((key, index))
            return data

    def put(self, key: str, index: int, data: bytes) -> None:
        with self._lock:
            old = self._items.pop((key, index), None)
            if old is not None:
                self._bytes -= len(old)
            self._items[(key, index)] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
