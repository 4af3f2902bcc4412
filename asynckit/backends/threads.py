"""The default backend: worker threads, started on demand.

One ``SimpleQueue`` of ready nodes per pool (a C queue: put + get ≈ 0.05 µs).
Idle workers sleep in ``queue.get()``: an idle pool uses no CPU and nothing
polls. A worker that settles a task runs one of the tasks that became ready
itself, next, instead of sending it round through the queue: a chain of tasks
runs on one thread with no wake-ups at all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from queue import Empty, SimpleQueue
from typing import Any

from ..graph import execute, run, start
from ..value import QUEUED, RUNNING, Node, _acquire, _local, _locked, _release, _wait_unlocked


class ThreadBackend:
    """Runs ready nodes on up to ``worker_count`` threads (more while some are blocked)."""

    early_start = False  # see DaskBackend.start_early

    def __init__(self, pool: Any, worker_count: int) -> None:
        self.pool = pool
        self.queue: SimpleQueue[Node | None] = SimpleQueue()
        # One token per worker about to sleep in queue.get(); start() takes one
        # instead of starting a thread. Approximate on purpose (list.append and
        # list.pop are atomic, a lock here would cost more than it saves): a
        # stale token only delays growth until a worker sees a backlog.
        self.idle: list[None] = []
        self.threads = 0
        self.blocked = 0  # workers sleeping in a nested wait, lent out
        self.worker_count = worker_count
        self.closed = False
        self.mutex = threading.Lock()
        self.serial = 0

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

    def run_here(self, node: Node) -> None:
        """Run a queued node on the calling thread (a waiter that would otherwise sleep)."""
        for ready in run(node):
            start(ready)

    # -- threads ------------------------------------------------------------

    def spawn(self) -> None:
        with self.mutex:
            if self.closed or self.threads >= self.worker_count + self.blocked:
                return
            self.threads += 1
            self.serial += 1
            name = f"{self.pool.name}-worker-{self.serial}"
        # Daemon threads: the pool's exit hook waits for every task first, so
        # nothing is dropped, and an idle worker never holds the process open.
        thread = threading.Thread(target=_work, args=(self,), name=name, daemon=True)
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

    def surplus(self) -> bool:
        """Leave if there are more threads than wanted; True if this one should go."""
        with self.mutex:
            if self.threads > self.worker_count + self.blocked or self.closed:
                self.threads -= 1
                return True
            return False

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

    def after_fork(self) -> None:
        """In a child made by fork: no worker came along; start with none."""
        self.queue = SimpleQueue()
        self.idle = []
        self.threads = self.blocked = 0
        self.mutex = threading.Lock()

    def close(self) -> None:
        """Let every worker leave once the queue is empty."""
        with self.mutex:
            self.closed = True
            threads = self.threads
        for _ in range(threads):
            self.queue.put(None)


def _work(backend: ThreadBackend) -> None:
    _local.pool = backend.pool
    queue = backend.queue
    get_nowait = queue.get_nowait
    idle = backend.idle
    ready: Sequence[Node]
    other: Node | None = None
    while True:
        try:
            node = get_nowait()  # a busy pool: no sleep, no token
        except Empty:
            if len(idle) < backend.threads:
                idle.append(None)
            node = queue.get()
        if node is None:
            if backend.surplus():
                return
            continue
        if backend.threads < backend.worker_count + backend.blocked and not queue.empty():
            backend.spawn()  # a backlog: grow towards worker_count
        while node is not None:
            # run(), with the claim inlined: a bare acquire/release is safe
            # here (no signal handler runs in a worker thread; see value._acquire).
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
                ready = execute(ready[0], backend)
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
            return
