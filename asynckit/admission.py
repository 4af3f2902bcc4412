"""Admission: the one place where ready work is let through to its backend.

A task that became ready is QUEUED, or HELD when it must wait first: for a
``limit`` slot or a ``rate`` token (its :class:`~asynckit.gates.Gate`, per
key with ``key=``), or for its retry delay (the rule is
``TaskSpec.ready_state``). :func:`start` hands a QUEUED node to
``node.backend``; a HELD one goes through its gate, or waits on the pool's
:class:`Timer`. The only user code run here is a ``key=`` function; nothing
polls.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .gates import NO_KEY, Gate, clock
from .graph import settle
from .inputs import ready_arguments
from .node import HELD, QUEUED, Node, _lock, name_of

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import Spec

__all__ = ["start", "start_all", "admit", "Timer"]


def start(node: Node) -> None:
    """Hand a ready node to its backend, through its gate if it is HELD."""
    state = node.state
    if state == QUEUED:
        node.backend.start(node)
    elif state == HELD:
        for ready in admit(node):
            ready.backend.start(ready)
    # Anything else was cancelled meanwhile: nothing to start.


def start_all(ready: Sequence[Node]) -> None:
    for node in ready:
        start(node)


def admit(node: Node) -> list[Node]:
    """A HELD node asks to run: the nodes that may start now, moved to QUEUED
    for the caller to hand to their backends (``node`` is among them, or it
    waits in its gate)."""
    spec = node.spec
    if spec is not None:
        if spec.keyed is not None:
            gate = _keyed_gate(node, spec)
            return [] if gate is None else gate.admit(node)
        if spec.limiter is not None:
            return spec.limiter.admit(node)
    with _lock:  # a retry whose delay is over
        if node.state != HELD:  # cancelled meanwhile
            return []
        node.state = QUEUED
        return [node]


def _keyed_gate(node: Node, spec: Spec) -> Gate | None:
    """The gate of a ``key=`` call (its key computed on its first admission, from
    its plain arguments); None if the key function failed the call."""
    keyed = spec.keyed
    assert keyed is not None
    key = spec.gate_key
    if key is NO_KEY:
        try:
            args, kwargs = ready_arguments(node)
            key_function: Callable[..., Any] = spec.key_function  # type: ignore[assignment]
            key = key_function(*args, **kwargs) if kwargs else key_function(*args)
            hash(key)
        except BaseException as error:
            if isinstance(error, TypeError) and "unhashable" in str(error):
                error = TypeError(f"the key= function of {name_of(node.fn)} returned an "
                                  f"unhashable {type(key).__name__}: {key!r:.80}; return "
                                  f"a str, a number or a tuple of them")
            _reject(node, error)
            if isinstance(error, KeyboardInterrupt):
                raise
            return None
    with _lock:
        gate = keyed.gate(key)  # after a retry, the gate of its key may be a new one
        if node.spec is not gate.spec:
            node.spec = gate.spec if spec.save_to is None else spec.for_gate(gate)
    return gate


def _reject(node: Node, error: BaseException) -> None:
    """Fail a HELD call that never ran (its key function raised)."""
    if node.name is None:
        node.name = name_of(node.fn)
    node.fn = node.args = node.kwargs = None
    start_all(settle(node, None, error))


class Timer:
    """Runs what must wait a while: one thread, a heap, no polling.

    An item is a HELD node (a retry: started when due), a :class:`Gate`
    (a rate token is due: woken, and what it lets through started) or a
    callable (a deadline: called). A callable whose ``done`` is true by then
    is skipped; such entries are dropped whenever the heap has doubled.
    """

    def __init__(self, name: str) -> None:
        self.heap: list[tuple[float, int, Any]] = []
        self.cond = threading.Condition(threading.Lock())
        self.serial = itertools.count()
        self.closed = False
        self.compacted = 0  # the heap's length after its last compaction
        threading.Thread(target=self._run, name=f"{name}-timer", daemon=True).start()

    def call_later(self, delay: float, item: Node | Gate | Callable[[], None]) -> None:
        with self.cond:
            heap = self.heap
            if len(heap) > 2 * self.compacted + 1024:
                self._compact()
            due = clock() + delay
            heapq.heappush(heap, (due, next(self.serial), item))
            if heap[0][0] == due:  # the first one now: the thread must wake sooner
                self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()

    def _compact(self) -> None:
        # Under self.cond: drop deadlines of calls that have finished since.
        self.heap = [entry for entry in self.heap if not getattr(entry[2], "done", False)]
        heapq.heapify(self.heap)
        self.compacted = len(self.heap)

    def _run(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self.heap:
                        delay = self.heap[0][0] - clock()
                        if delay <= 0:
                            item = heapq.heappop(self.heap)[2]
                            break
                        self.cond.wait(delay)
                    elif self.closed:
                        return
                    else:
                        self.cond.wait()
            try:
                if type(item) is Node:
                    start(item)
                elif type(item) is Gate:
                    start_all(item.wake())
                elif not getattr(item, "done", False):
                    item()
            except BaseException:  # pragma: no cover - a bug: the timer must live on
                logging.getLogger("asynckit").critical("asynckit: timer error", exc_info=True)
            del item  # an idle timer keeps no task alive
