"""Waiting: the one blocking-wait helper, helping instead of starving, and drains.

Every wait in asynckit that blocks (a use, ``get()``, ``wait()``,
``pool.wait()``, ``as_completed``, a Future's ``result()``) blocks in
:func:`sleep`. So each of them, and any wait added later:

- lends a worker's place while it sleeps: a worker thread blocked in a
  nested wait does not count against ``worker_count``, so what it waits for
  can still get a thread (no deadlock, even with one worker);
- handles Ctrl-C the same way: work not started is cancelled
  (``lifecycle.interrupted``), then the KeyboardInterrupt propagates.

Nothing polls: a waiting thread sleeps on a lock of its own that the settle
releases.
"""

from __future__ import annotations

import os
import threading
import weakref
from _thread import allocate_lock
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

from . import lifecycle
from .node import DONE, QUEUED, RUNNING, Node, _lock, depend, name_of

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import Backend, PoolHandle

__all__ = ["sleep", "block", "wait_for", "Drain", "enter_worker", "current_pool",
           "current_backend", "add_callback"]

T = TypeVar("T")

# The worker context of this thread: weak references to the pool and the
# backend it works for (``enter_worker``), and on a pool's event loop a
# guard against blocking that loop. Weak, as CPython's thread pool holds its
# executor: an idle worker must not keep a dropped pool alive.
_local = threading.local()
os.register_at_fork(after_in_child=_local.__dict__.clear)  # no worker came along


#: What each worker thread is blocked on, untimed, now (for the loop's check).
_waiting: dict[int, Node] = {}


def enter_worker(pool: weakref.ref[PoolHandle], backend: weakref.ref[Backend],
                 loop_guard: Callable[[Node], None] | None = None) -> None:
    """Mark the calling thread as a worker of a pool's backend (weakly: see above)."""
    _local.pool = pool
    _local.backend = backend
    _local.loop_guard = loop_guard


def current_pool() -> PoolHandle | None:
    """The pool this thread is a worker of, or None."""
    ref = getattr(_local, "pool", None)
    return None if ref is None else ref()  # type: ignore[no-any-return, unused-ignore]


def current_backend() -> Backend | None:
    """The backend this thread is a worker of, or None."""
    ref = getattr(_local, "backend", None)
    return None if ref is None else ref()  # type: ignore[no-any-return, unused-ignore]


def sleep(wait: Callable[[], T]) -> T:
    """Run the blocking ``wait()``: the one place where asynckit's waits block.

    On a worker thread its backend lends another thread meanwhile (what this
    worker waits for may need one). A KeyboardInterrupt (Ctrl-C reaches the
    main thread only) cancels every task not started, then propagates.
    """
    backend = current_backend()
    if backend is not None:
        backend.worker_blocked(1)
    try:
        return wait()
    except KeyboardInterrupt:
        lifecycle.interrupted()
        raise
    finally:
        if backend is not None:
            backend.worker_blocked(-1)


def block(node: Node, timeout: float | None) -> bool:
    """Sleep until ``node`` settles; True if it has. No helping, no polling.

    The wait primitive is a plain lock per waiting thread, made only when it
    must sleep, held, and put among the node's dependents; the settle
    releases it. Lock acquisition is interruptible, so Ctrl-C reaches a
    waiting main thread.
    """
    waiter = allocate_lock()
    waiter.acquire()
    with _lock:
        if node.state >= DONE:
            return True
        depend(node, waiter)
    if timeout is None:
        got = sleep(waiter.acquire)
    elif timeout > 0:
        got = sleep(lambda: waiter.acquire(True, timeout))
    else:
        got = waiter.acquire(False)
    if got:
        return True
    with _lock:
        if node.state >= DONE:
            return True
        # Timed out (or interrupted): take the lock back out, so a caller that
        # polls with short timeouts does not pile locks up on a long task.
        if node.dependents is waiter:
            node.dependents = None
        else:
            node.dependents.remove(waiter)
    return False


def wait_for(node: Node, timeout: float | None = None) -> bool:
    """Wait until ``node`` settles, helping rather than starving a pool.

    A worker that waits (untimed) for a queued task of its own backend runs
    it right here, in its own place: nested waits never deadlock, even with
    one worker. A timed wait must not run arbitrary user code past its
    deadline (except at exit, when it would otherwise deadlock), and any
    other thread (the main thread, a worker of another pool) only waits:
    running the task there would run more of that pool's tasks at once than
    its ``worker_count`` (a ``Pool(1)`` that serialises access to something
    would not). A wait that can never end raises ``RuntimeError`` instead.
    """
    if node.state >= DONE:
        return True
    backend = current_backend()
    if backend is None:
        return block(node, timeout)
    # (Timed too once the program exits: from 3.12 no thread can start then,
    # so no other thread may be lent to run it.)
    if node.state == QUEUED and node.backend is backend \
            and (timeout is None or lifecycle.exiting()):
        backend.run_here(node)
        if node.state >= DONE:
            return True
    if timeout is None:
        _refuse_waiting_for_itself(node, backend)
    guard = _local.loop_guard
    if guard is not None and timeout != 0:
        guard(node)  # on a pool's event loop: raises if the wait needs that loop
        return _block_the_loop(node, backend, timeout)
    if timeout is None:
        _waiting[threading.get_ident()] = node  # for _block_the_loop's check
        try:
            return block(node, timeout)
        finally:
            _waiting.pop(threading.get_ident(), None)
    return block(node, timeout)


def _name(node: Node) -> str:
    return node.name or name_of(node.fn)


def _refuse_waiting_for_itself(node: Node, backend: Backend) -> None:
    """A worker's untimed wait that can never end: raise instead of hanging."""
    if node.state == RUNNING and backend.running_here(node):
        # asyncio says it as "Task cannot await on itself".
        raise RuntimeError(
            f"task {_name(node)} waits for its own result, on the thread that runs "
            f"it: that can never come (pass a timeout to wait anyway)")
    stuck = None if node.backend is None else node.backend.blocked_on
    if stuck is not None and backend.running_here(stuck):
        raise RuntimeError(
            f"task {_name(node)} runs on an event loop that is blocked waiting for the "
            f"task running here ({_name(stuck)}): neither can ever finish. In the async "
            f"def task, write `await value` instead of value.get() (or using the value)")


def _block_the_loop(node: Node, loop: Backend, timeout: float | None) -> bool:
    """The event loop's thread blocks on ``node`` (an ``async def`` task's get()).

    It says on what (``blocked_on``), so that a task it waits for, which
    itself waits for this loop, fails instead of hanging (see
    ``_refuse_waiting_for_itself``); one that is waiting already fails this
    wait instead.
    """
    loop.blocked_on = node
    try:
        for ident, waited in list(_waiting.items()):
            if waited.backend is loop and waited.state < RUNNING \
                    and node.backend is not None and node.backend.running_on(node, ident):
                raise RuntimeError(
                    f"this async def task blocks its event loop waiting for {_name(node)}, "
                    f"which waits for a task of this same loop: neither can ever finish. "
                    f"Write `await value` instead of value.get() (or using the value)")
        return block(node, timeout)
    finally:
        loop.blocked_on = None


def add_callback(node: Node, callback: Callable[[Node], Any]) -> None:
    """Call ``callback(node)`` once ``node`` has settled (now, if it has)."""
    with _lock:
        if node.state < DONE:
            depend(node, callback)
            return
    callback(node)


class Drain:
    """The unsettled tasks of one pool, and a wait until there are none.

    ``live`` is the set of unsettled nodes; the pool adds each new task and
    the settle takes it out (``graph.settle``), calling :meth:`emptied` when
    it takes out the last one. ``on_empty`` runs then too (set once the pool
    is shut down: it closes the backends).
    """

    __slots__ = ("live", "mutex", "waiter", "on_empty", "seen_interrupts")

    def __init__(self) -> None:
        self.live: set[Node] = set()
        self.mutex: threading.Lock = threading.Lock()
        self.waiter: Any = None  # a held lock, released at the next emptied()
        self.on_empty: Callable[[], None] | None = None
        self.seen_interrupts: int = 0  # lifecycle.interrupted_settles when last looked

    def emptied(self) -> None:
        """The last unsettled task settled: wake every ``wait()``."""
        with self.mutex:
            waiter = self.waiter
            self.waiter = None
        if waiter is not None:
            waiter.release()
        on_empty = self.on_empty
        if on_empty is not None:
            on_empty()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``live`` is empty; False if ``timeout`` passed first."""
        deadline = None if timeout is None else monotonic() + timeout
        live = self.live
        if self.seen_interrupts != lifecycle.interrupted_settles:
            # A settle that Ctrl-C cut short, between marking a node settled
            # and taking it out of ``live``, would leave it here for good, and
            # this wait would never end: take such nodes out first (once per
            # such interrupt: the scan is over every unsettled task).
            self.seen_interrupts = lifecycle.interrupted_settles
            stale = [node for node in list(live) if node.state >= DONE]
            if stale:
                for node in stale:
                    live.discard(node)
                if not live:
                    self.emptied()
        while live:
            with self.mutex:
                if not live:
                    break
                waiter = self.waiter
                if waiter is None:
                    waiter = self.waiter = allocate_lock()
                    waiter.acquire()
            if deadline is None:
                got = sleep(waiter.acquire)
            else:
                left = max(deadline - monotonic(), 0.0)
                got = sleep(lambda: waiter.acquire(True, left))  # noqa: B023 - called at once
            if got:
                waiter.release()  # for the other threads waiting on it
            elif deadline is not None and monotonic() >= deadline:
                return not live
        return True

    def after_fork(self) -> set[Node]:
        """In a child made by fork: start empty; returns the parent's nodes."""
        orphans = self.live
        self.live = set()
        self.mutex = threading.Lock()
        self.waiter = None
        return orphans
