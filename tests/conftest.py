"""Fixtures shared by the test modules."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from asynckit import Pool


class Gates:
    """Events that tasks wait on; all opened before a pool shuts down, so a
    failing test never leaves a task (and the pool's shutdown) waiting."""

    def __init__(self) -> None:
        self.made: list[threading.Event] = []

    def __call__(self) -> threading.Event:
        event = threading.Event()
        self.made.append(event)
        return event

    def open_all(self) -> None:
        for event in self.made:
            event.set()


@pytest.fixture
def gates() -> Iterator[Gates]:
    made = Gates()
    yield made
    made.open_all()


@pytest.fixture
def pool(gates: Gates) -> Iterator[Pool]:
    """A fresh 4-worker pool; its gates are opened, then it is shut down."""
    p = Pool(worker_count=4)
    yield p
    gates.open_all()
    p.shutdown(cancel_futures=True)
