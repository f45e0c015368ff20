"""threaded_map: order, errors at their place in the stream, and stopping early."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from latentwalk.threaded import threaded_map


def test_keeps_order_and_runs_on_another_thread() -> None:
    threads = set()

    def square(x: int) -> int:
        threads.add(threading.current_thread().name)
        return x * x

    assert list(threaded_map(square, range(50), depth=3, name="sq")) == [x * x for x in range(50)]
    assert threads == {"latentwalk-sq"}


def test_an_error_arrives_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise KeyError("boom")

    got = []
    with pytest.raises(KeyError, match="boom"):
        for x in threaded_map(lambda x: x, items()):
            got.append(x)
    assert got == [1, 2]


def test_closing_early_stops_the_producer_and_closes_its_source() -> None:
    produced = []
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    stream = threaded_map(lambda x: x, items(), depth=2)
    assert next(stream) == 0
    stream.close()  # joins the thread
    assert closed.is_set()
    n = len(produced)
    time.sleep(0.05)
    assert len(produced) == n < 10  # bounded: it ran at most a few items ahead, then stopped
