"""ahead(): a producer a few steps ahead in a thread, in order, bounded, stopping with the consumer."""

from __future__ import annotations

import sys
import threading

import pytest

from dnp.common.background import SWITCH_INTERVAL
from dnp.common.background import ahead


def test_items_come_in_order_and_all_of_them():
    assert list(ahead(range(1000), depth=3)) == list(range(1000))


def test_the_producer_is_never_more_than_depth_ahead():
    produced: list[int] = []
    step = threading.Event()

    def numbers():
        for number in range(50):
            produced.append(number)
            yield number

    consumer = ahead(numbers(), depth=2)
    assert next(consumer) == 0
    # The producer may hold: one handed out, two queued, one made and waiting to be queued.
    step.wait(0.3)
    assert len(produced) <= 4
    assert list(consumer) == list(range(1, 50))


def test_a_producer_error_is_raised_where_the_consumer_reaches_it():
    def failing():
        yield 1
        yield 2
        raise ValueError("trasig fil")

    received = []
    with pytest.raises(ValueError, match="trasig fil"):
        for value in ahead(failing()):
            received.append(value)
    assert received == [1, 2]


def test_a_consumer_that_stops_stops_the_producer():
    produced: list[int] = []

    def endless():
        number = 0
        while True:
            produced.append(number)
            yield number
            number += 1

    consumer = ahead(endless(), depth=2)
    for value in consumer:
        if value == 5:
            break
    consumer.close()  # as leaving a for loop in a function does: the producer thread is joined
    count = len(produced)
    threading.Event().wait(0.3)
    assert len(produced) == count <= 9
    assert not any(thread.name == "dnp-ahead" and thread.is_alive() for thread in threading.enumerate())


def test_the_thread_switch_interval_is_shortened_while_running_and_restored_after():
    before = sys.getswitchinterval()
    seen = [sys.getswitchinterval() for _ in ahead(range(3))]
    assert seen == [min(before, SWITCH_INTERVAL)] * 3
    assert sys.getswitchinterval() == before
    with pytest.raises(ValueError):
        for _ in ahead(iter([1, "x"])):
            int("x")
    assert sys.getswitchinterval() == before
