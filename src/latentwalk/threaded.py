"""`threaded_map`: apply a function to a stream on a background thread, through a bounded queue.

Used by export to overlap the stages of writing a video (generation in the worker, resizing and
colour conversion here, encoding in the caller), so that encoding adds little to generation time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def threaded_map(
    fn: Callable[[T], U], items: Iterable[T], depth: int = 8, name: str = "stage"
) -> Iterator[U]:
    """Yield fn(item) for each item, in order; iterating `items` and calling `fn` happen on one
    background thread that runs at most `depth` results ahead.

    An exception on that thread (in `items` or `fn`) is raised here, at its place in the stream.
    Closing the returned generator early (break, or an exception in the consumer) stops the thread.
    """
    results: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                results.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(fn(item)):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()

    thread = threading.Thread(target=produce, name=f"latentwalk-{name}", daemon=True)
    thread.start()
    try:
        while True:
            value = results.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
