"""The default backend: worker threads, started on demand.

One ``SimpleQueue`` of ready nodes per pool (a C queue). Idle workers sleep
in ``queue.get()``: an idle pool uses no CPU and nothing polls. A worker that
settles a task runs one of the tasks that became ready itself, next, instead
of sending it round through the queue: a chain of tasks runs on one thread
with no wake-ups at all.

As in CPython's ``concurrent.futures.thread``, a worker holds its queue
strongly and its backend (and pool) only weakly: a pool that is dropped with
nothing pending is collected, and the weak reference's callback wakes the
idle workers so that they leave. Pending work still finishes: each node
holds its pool and its backend.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from _queue import Empty, SimpleQueue  # queue.py's own (queue.py itself is not needed)
from collections.abc import Sequence
from typing import Any

from ..admission import start
from ..graph import settle
from ..node import QUEUED, RUNNING, Node, _acquire, _locked, _release, _wait_unlocked
from ..protocols import Backend, PoolHandle
from ..run import claim, execute
from ..value import describe
from ..waiting import _local, enter_worker

__all__ = ["ThreadBackend"]

_log = logging.getLogger("asynckit")
_EXECUTE = execute.__code__


class ThreadBackend(Backend):
    """Runs ready nodes on up to ``worker_count`` threads (more while some are blocked)."""

    timeouts = True  # see run.Deadline

    def __init__(self, pool: PoolHandle, worker_count: int) -> None:
        self.name: str = pool.name
        self.pool_ref: weakref.ref[PoolHandle] = weakref.ref(pool)
        queue: SimpleQueue[Node | None] = SimpleQueue()
        self.queue: SimpleQueue[Node | None] = queue
        # Collected (the pool was dropped, nothing pending): wake a worker,
        # which sees the backend gone, leaves, and wakes the next.
        self.ref: weakref.ref[ThreadBackend] = weakref.ref(self, lambda _: queue.put(None))
        # One token per worker about to sleep in queue.get(); start() takes one
        # instead of starting a thread. Approximate on purpose (list.append and
        # list.pop are atomic, a lock here would cost more than it saves): a
        # stale token only delays growth until a worker sees a backlog.
        self.idle: list[None] = []
        self.threads: int = 0
        self.blocked: int = 0  # workers sleeping in a nested wait, lent out
        self.stuck: int = 0  # workers still running a call that timed out, lent out too
        self.capped: bool = False  # warned that no more stuck workers are lent
        self.worker_count: int = worker_count
        self.closed: bool = False
        self.mutex: threading.Lock = threading.Lock()
        self.serial: int = 0

    # -- the hot path -------------------------------------------------------

    def start(self, node: Node) -> None:
        self.queue.put(node)
        idle = self.idle
        if idle:
            try:
                idle.pop()
                return
            except IndexError:
                pass
        if self.threads < self.worker_count + self.blocked:
            self.spawn()

    submit = start  # nothing to check at the call

    def run_here(self, node: Node) -> None:
        """Run a queued node on the calling thread (a worker that would otherwise sleep)."""
        if claim(node):
            for ready in execute(node):
                start(ready)

    # -- threads ------------------------------------------------------------

    def spawn(self) -> None:
        with self.mutex:
            if self.closed or self.threads >= self.worker_count + self.blocked:
                return
            self.threads += 1
            self.serial += 1
            name = f"{self.name}-worker-{self.serial}"
        # Daemon threads: the pool's exit hook waits for every task first, so
        # nothing is dropped, and an idle worker never holds the process open.
        thread = threading.Thread(target=_work, args=(self.ref, self.queue, self.idle,
                                                      self.pool_ref), name=name, daemon=True)
        try:
            thread.start()
        except RuntimeError:
            # The interpreter is exiting: from 3.12 no thread can start, not
            # even in exit hooks. The workers there are run the queued work;
            # if there are none, the thread that got here runs it.
            with self.mutex:
                self.threads -= 1
                alone = self.threads == 0
            if alone:
                self._drain_here()
        except BaseException:
            with self.mutex:
                self.threads -= 1
            raise

    def _drain_here(self) -> None:
        if getattr(_local, "draining", False):
            return  # an outer call on this thread is draining already
        _local.draining = True
        try:
            while True:
                try:
                    node = self.queue.get_nowait()
                except Empty:
                    return
                if node is not None:
                    self.run_here(node)
        finally:
            _local.draining = False

    def running_here(self, node: Node) -> bool:
        # Looked up in the thread's frames only when a wait would block:
        # keeping the running task in a thread-local would cost every task.
        return _runs(sys._getframe(1), node)

    def running_on(self, node: Node, thread_id: int) -> bool:
        frame = sys._current_frames().get(thread_id)
        return frame is not None and _runs(frame, node)

    def surplus(self) -> bool:
        """Leave if there are more threads than wanted; True if this one should go
        (it is no longer counted)."""
        with self.mutex:
            if self.threads > self.worker_count + self.blocked or self.closed:
                self.threads -= 1
                return True
            return False

    def left(self) -> None:
        """A worker died of an error that escaped its loop: it no longer counts."""
        with self.mutex:
            self.threads -= 1
        if not self.queue.empty():
            self.spawn()

    def worker_blocked(self, delta: int) -> None:
        with self.mutex:
            self.blocked += delta
        if delta > 0:
            # A stale idle token (see __init__) would make the next start()
            # skip the spawn this sleeping worker is owed; with every worker
            # asleep in a nested wait that is a deadlock. Tokens are only a
            # hint: dropping them costs at most a thread started early.
            self.idle.clear()
            if not self.queue.empty():
                self.spawn()

    def lend_stuck(self) -> bool:
        """At most ``worker_count`` threads stuck in timed-out calls are replaced;
        beyond that the pool works on with fewer threads until they return."""
        if self.stuck >= self.worker_count:
            return False
        self.stuck += 1
        return True

    def returned_stuck(self) -> None:
        with self.mutex:
            self.stuck -= 1
        self.worker_blocked(-1)

    def expire(self, node: Node, lent: bool) -> None:
        if not lent and not self.capped:
            self.capped = True
            _log.warning("asynckit: %d threads of pool %r are stuck in calls that timed out "
                         "(now %s); no more are replaced, so the pool runs with fewer "
                         "workers until they return", self.stuck, self.name, describe(node))

    def resize(self, worker_count: int) -> None:
        with self.mutex:
            self.worker_count = worker_count
            extra = self.threads - worker_count - self.blocked
        for _ in range(max(extra, 0)):
            self.queue.put(None)  # wakes an idle worker so it can leave
            try:
                self.idle.pop()  # ...and takes its token: a stale one would stop a spawn
            except IndexError:
                pass
        if not self.queue.empty():
            self.spawn()

    def after_fork(self) -> bool:
        """In a child made by fork: no worker came along; start with none."""
        queue: SimpleQueue[Node | None] = SimpleQueue()
        self.queue = queue
        self.ref = weakref.ref(self, lambda _: queue.put(None))
        self.idle = []
        self.threads = self.blocked = self.stuck = 0
        self.mutex = threading.Lock()
        return True

    def close(self) -> None:
        """Let every worker leave once the queue is empty."""
        with self.mutex:
            self.closed = True
            threads = self.threads
        for _ in range(threads):
            self.queue.put(None)

    def statistics(self) -> dict[str, Any]:
        return {"threads": self.threads, "blocked": self.blocked, "stuck": self.stuck}


def _runs(frame: Any, node: Node) -> bool:
    """Is ``node`` being executed in ``frame`` or one of its callers?"""
    while frame is not None:
        if frame.f_code is _EXECUTE and frame.f_locals.get("node") is node:
            return True
        frame = frame.f_back
    return False


def _work(ref: weakref.ref[ThreadBackend], queue: SimpleQueue[Node | None],
          idle: list[None], pool_ref: weakref.ref[PoolHandle]) -> None:
    # One worker thread's loop, in one piece on purpose: the claim, the run
    # and running next what the settle made ready are every task's path.
    enter_worker(pool_ref, ref)  # type: ignore[arg-type]
    get_nowait = queue.get_nowait
    backend: ThreadBackend | None = ref()
    ready: Sequence[Node]
    node: Node | None = None
    other: Node | None = None
    counted = True
    try:
        while backend is not None:
            try:
                node = get_nowait()  # a busy pool: no sleep, no token
            except Empty:
                if len(idle) < backend.threads:
                    idle.append(None)
                backend = None  # asleep, hold it only weakly (see the module doc)
                node = queue.get()
                backend = ref()
                if backend is None:
                    break  # the pool was dropped: nothing can be queued any more
            if node is None:
                if backend.surplus():
                    counted = False
                    return
                continue
            if backend.threads < backend.worker_count + backend.blocked and not queue.empty():
                backend.spawn()  # a backlog: grow towards worker_count
            while node is not None:
                # claim(), inlined: a bare acquire/release is safe here (no
                # signal handler runs in a worker thread; see node._acquire).
                if _locked():
                    _wait_unlocked()
                _acquire()
                if node.state != QUEUED:  # run by a waiter, or cancelled
                    _release()
                    node = None  # an idle worker keeps no node alive (see below)
                    break
                node.state = RUNNING
                _release()
                ready = execute(node, backend)
                while type(ready) is tuple:
                    # The one task this made ready, claimed for this thread by
                    # the settle itself: run it next, no queue, no second lock.
                    node = ready[0]
                    ready = execute(node, backend)
                node = None
                for other in ready:
                    if node is None and other.backend is backend and other.state == QUEUED:
                        node = other  # run it here, next: no queue, no wake-up
                    else:
                        start(other)
            # An idle worker must not keep the last tasks alive (nor, through
            # their inputs, an unobserved failure that is logged when collected).
            ready = ()
            other = None
            if backend.threads > backend.worker_count + backend.blocked and backend.surplus():
                counted = False
                return
    except BaseException as error:
        # Not a task's error (execute settles those): a bug, or MemoryError.
        # Say which task was running, fail it (its waiters must not wait for
        # ever), and leave the count right, so that a worker_count=1 pool
        # gets a new worker instead of waiting for this one.
        _log.critical("asynckit: a worker thread of %s died%s",
                      getattr(backend, "name", "a pool"),
                      "" if node is None else f" running {describe(node)}", exc_info=True)
        if node is not None and node.state == RUNNING:
            try:
                for other in settle(node, None, error):
                    start(other)
            except BaseException:  # pragma: no cover - nothing more to be done
                _log.critical("asynckit: failing %s failed", describe(node), exc_info=True)
    finally:
        if backend is None:
            queue.put(None)  # the pool is gone: wake the next idle worker too
        elif counted:
            counted = False
            backend.left()
