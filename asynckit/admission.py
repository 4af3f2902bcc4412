"""Admission: the one place where ready work is let through to its backend.

A task that became ready is QUEUED, or HELD when it must wait first: for a
``limit`` slot, or for its retry delay (the rule is ``TaskSpec.ready_state``).
:func:`start` hands a QUEUED node to ``node.backend``; a HELD one goes
through its :class:`Limiter`, or waits on the pool's :class:`Timer`. Nothing
here runs user code, and nothing polls.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Sequence
from time import monotonic

from .node import HELD, QUEUED, Node, _lock

__all__ = ["start", "start_all", "admit", "release_slot", "Limiter", "Timer"]


def start(node: Node) -> None:
    """Hand a ready node to its backend, through its ``limit`` gate if it is HELD."""
    state = node.state
    if state == QUEUED or (state == HELD and admit(node)):
        node.backend.start(node)
    # Anything else was cancelled meanwhile: nothing to start.


def start_all(ready: Sequence[Node]) -> None:
    for node in ready:
        start(node)


def admit(node: Node) -> bool:
    """Move a HELD node to QUEUED if it may run now; True if the caller must
    hand it to its backend. A call over its ``limit`` waits in the limiter."""
    spec = node.spec
    limiter = None if spec is None else spec.limiter
    if limiter is not None:
        return limiter.admit(node)
    with _lock:  # a retry whose delay is over
        if node.state != HELD:  # cancelled meanwhile
            return False
        node.state = QUEUED
        return True


class Limiter:
    """At most ``limit`` calls of one task function run at once.

    Calls beyond the limit wait here, in order, as HELD nodes; they occupy no
    worker. A slot is taken when a call is handed to its backend and given
    back when its function returns or raises (``graph.finish``/``fail``), or
    when it is cancelled while QUEUED (``graph.cancel``).
    """

    __slots__ = ("limit", "running", "waiting")

    def __init__(self, limit: int) -> None:
        self.limit: int = limit
        self.running: int = 0
        self.waiting: deque[Node] = deque()

    def admit(self, node: Node) -> bool:
        """Take a slot for a HELD node (True: it is QUEUED now), or queue it."""
        with _lock:
            if node.state != HELD:  # cancelled meanwhile
                return False
            if self.running >= self.limit:
                self.waiting.append(node)
                return False
            self.running += 1
            node.state = QUEUED
            return True

    def release(self) -> Node | None:
        """Give a slot back; the next waiting call takes it and is returned,
        QUEUED, for the caller to start."""
        with _lock:
            self.running -= 1
            waiting = self.waiting
            while waiting:
                node = waiting.popleft()
                if node.state == HELD:
                    self.running += 1
                    node.state = QUEUED
                    return node
        return None


class Timer:
    """Starts HELD nodes after a delay (retries): one thread, a heap, no polling."""

    def __init__(self, name: str) -> None:
        self.heap: list[tuple[float, int, Node]] = []
        self.cond: threading.Condition = threading.Condition(threading.Lock())
        self.serial: itertools.count[int] = itertools.count()
        self.closed: bool = False
        threading.Thread(target=self._run, name=f"{name}-timer", daemon=True).start()

    def call_later(self, delay: float, node: Node) -> None:
        with self.cond:
            heapq.heappush(self.heap, (monotonic() + delay, next(self.serial), node))
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self.heap:
                        delay = self.heap[0][0] - monotonic()
                        if delay <= 0:
                            node = heapq.heappop(self.heap)[2]
                            break
                        self.cond.wait(delay)
                    elif self.closed:
                        return
                    else:
                        self.cond.wait()
            start(node)
            del node  # an idle timer keeps no task alive


def release_slot(node: Node, ready: list[Node]) -> None:
    """Give back ``node``'s ``limit`` slot; the next waiting call, if any, is ready."""
    spec = node.spec
    limiter = None if spec is None else spec.limiter
    if limiter is not None:
        following = limiter.release()
        if following is not None:
            ready.append(following)
