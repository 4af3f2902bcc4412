"""Gates: the ``limit``, ``rate`` and ``key`` of a task function, as data.

A :class:`Gate` lets a HELD call through once it may start: a ``limit``
slot is free and, with a ``rate``, its token bucket holds a token. Calls
that must wait queue in it, in order, and hold no worker. A slot is given
back when the call's function returns or raises (``run.finish``/``fail``),
or when it is cancelled while QUEUED (``graph.cancel``): :func:`release_slot`.
A token is spent when a call is let through; the bucket refills at ``rate``
tokens a second up to ``burst``. When calls wait for a token only, the gate
asks its pool's timer to wake it when the next one is due (``later``):
nothing polls.

With ``key=``, :class:`KeyedGates` keeps one gate per key: a gate with no
call running or waiting is dropped once its bucket is full again (a new
gate for that key would start full: the same). Gates that went idle with a
bucket still refilling are swept when the number of gates has doubled, so
a run over a million hosts keeps only the live ones, and the recent.

Everything here runs under ``node._lock`` and runs no user code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from .node import HELD, QUEUED, Node, _lock

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import Spec

__all__ = ["Gate", "KeyedGates", "release_slot", "clock", "NO_KEY"]

#: ``TaskSpec.gate_key`` of a call whose key is not computed yet.
NO_KEY: Any = object()

#: The clock of every rate (seconds, monotonic). Tests may replace it.
clock: Callable[[], float] = monotonic

#: Wakes a gate after ``delay`` seconds (the pool's timer: ``admission.Timer``).
Later = Callable[[float, "Gate"], None]


class Gate:
    """At most ``limit`` calls running at once, starting at most ``rate`` a second."""

    __slots__ = ("limit", "running", "waiting", "rate", "burst", "tokens", "stamp",
                 "waking", "later", "keyed", "key", "spec")

    def __init__(self, limit: int | None, rate: float | None, burst: int,
                 later: Later | None) -> None:
        self.limit = limit
        self.running = 0
        self.waiting: deque[Node] = deque()
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = clock() if rate is not None else 0.0
        self.waking = False  # a wake-up is scheduled on the timer
        self.later = later
        self.keyed: KeyedGates | None = None  # the KeyedGates this one belongs to
        self.key: Any = None
        self.spec: Spec | None = None  # the per-key spec of its calls (KeyedGates)

    def admit(self, node: Node) -> list[Node]:
        """A HELD node asks to start: the nodes that may start now (QUEUED), in
        order; ``node`` is among them or waits here."""
        with _lock:
            if node.state != HELD:  # cancelled meanwhile
                return []
            if not self.waiting and not self._free(None):  # the common case: through
                self._take(node)
                return [node]
            self.waiting.append(node)
            ready, wake = self._pump()
        if wake is not None:
            self._schedule(wake)
        return ready

    def release(self) -> list[Node]:
        """Give a slot back: the waiting nodes that may start now (QUEUED)."""
        with _lock:
            self.running -= 1
            ready, wake = self._pump()
            if self.keyed is not None and not self.running and not self.waiting:
                self.keyed.idle(self)
        if wake is not None:
            self._schedule(wake)
        return ready

    def wake(self) -> list[Node]:
        """The timer: a token may be due. The waiting nodes that may start now."""
        with _lock:
            self.waking = False
            ready, wake = self._pump()
        if wake is not None:
            self._schedule(wake)
        return ready

    def full(self, now: float) -> bool:
        """Under the lock: is the bucket full again (an idle gate may be dropped)?"""
        rate = self.rate
        return rate is None or self.tokens + (now - self.stamp) * rate >= self.burst

    # -- under _lock ------------------------------------------------------------

    def _free(self, now: float | None) -> float:
        """0 if a call may start now (a slot and a token), -1 if it must wait for
        a slot, else the seconds until the next token."""
        if self.limit is not None and self.running >= self.limit:
            return -1.0
        rate = self.rate
        if rate is None:
            return 0.0
        if now is None:
            now = clock()
        tokens = self.tokens + (now - self.stamp) * rate
        self.tokens = tokens if tokens < self.burst else float(self.burst)
        self.stamp = now
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / rate

    def _take(self, node: Node) -> None:
        self.running += 1
        if self.rate is not None:
            self.tokens -= 1.0
        node.state = QUEUED

    def _pump(self) -> tuple[list[Node], float | None]:
        """Let waiting nodes through while they may start. Returns them, and the
        delay after which to wake up if the first of the others waits for a
        token (and no wake-up is scheduled yet)."""
        ready: list[Node] = []
        waiting = self.waiting
        while waiting:
            if waiting[0].state != HELD:  # cancelled while waiting
                waiting.popleft()
                continue
            wait = self._free(None)
            if not wait:
                node = waiting.popleft()
                self._take(node)
                ready.append(node)
                continue
            if wait > 0 and not self.waking and self.later is not None:
                self.waking = True
                return ready, wait
            break
        return ready, None

    def _schedule(self, delay: float) -> None:
        later = self.later
        if later is not None:
            later(delay, self)  # the timer calls wake() and starts what it returns


class KeyedGates:
    """One :class:`Gate` per key of a ``key=`` task function, live ones only."""

    __slots__ = ("limit", "rate", "burst", "later", "gates", "kept", "spec")

    def __init__(self, limit: int | None, rate: float | None, burst: int,
                 later: Later | None) -> None:
        self.limit = limit
        self.rate = rate
        self.burst = burst
        self.later = later
        self.gates: dict[Any, Gate] = {}
        self.kept = 0  # gates left after the last sweep
        self.spec: Any = None  # the function's spec (its per-key specs copy it)

    def gate(self, key: Any) -> Gate:
        """The gate of ``key`` (made if there is none). Under the lock."""
        gate = self.gates.get(key)
        if gate is None:
            gates = self.gates
            if len(gates) >= 2 * self.kept + 1024:
                self._sweep()
            gate = gates[key] = Gate(self.limit, self.rate, self.burst, self.later)
            gate.keyed = self
            gate.key = key
            gate.spec = self.spec.for_gate(gate)
        return gate

    def idle(self, gate: Gate) -> None:
        """Under the lock: ``gate`` has nothing running or waiting. Drop it if its
        bucket is full (else a sweep will, once it is)."""
        if gate.full(clock()) and self.gates.get(gate.key) is gate:
            del self.gates[gate.key]

    def _sweep(self) -> None:
        now = clock()
        gates = self.gates
        for key in [key for key, gate in gates.items()
                    if not gate.running and not gate.waiting and gate.full(now)]:
            del gates[key]
        self.kept = len(gates)


def release_slot(node: Node, ready: list[Node]) -> None:
    """Give back ``node``'s ``limit`` slot; the waiting calls that may start now
    are added to ``ready`` (QUEUED)."""
    spec = node.spec
    gate = None if spec is None else spec.limiter
    if gate is not None:
        ready += gate.release()
