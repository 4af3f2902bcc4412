"""AsyncValue: a transparent proxy for one task's result, and the record behind it.

Each task has a :class:`Node`, a small slotted record of its state, and an
:class:`AsyncValue`, the wrapt proxy the user holds. The proxy's only instance
state is ``_self_task``, a reference to the node; everything else about the
task lives on the node, so the graph never needs to touch a proxy except to
publish a result into it.

Life of a node::

    PENDING --inputs settled--> QUEUED --claimed--> RUNNING --> DONE | FAILED
       |                          ^                    |
       +--> HELD (limit slot, ---+   (returned an AsyncValue: follows it)
             retry delay)
    any state before RUNNING --cancel--> CANCELLED

Every transition happens under one module lock, ``_lock``. It is held only for
a few attribute assignments (no user code, no I/O runs under it), so one lock
for all pools is cheaper than a lock per task and lets values from different
pools depend on each other freely.

This module knows nothing of pools or backends: the node's ``pool`` and
``backend`` are used through a handful of duck-typed methods.
"""

from __future__ import annotations

import _thread
import copy
import logging
import operator
import os
import reprlib
import sys
import threading
import weakref
from _thread import LockType, allocate_lock
from collections.abc import Iterator
from time import perf_counter
from time import sleep as _sleep
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import wrapt

from .errors import CancelledError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Generator, Iterable, Sequence

__all__ = ["AsyncValue", "AsyncList"]

T = TypeVar("T")

# Node states. Settled is ``state >= DONE``.
PENDING = 0  # waiting for its inputs
HELD = 1  # ready, but waiting for a `limit` slot or a retry delay
QUEUED = 2  # handed to a backend, not started
RUNNING = 3  # running, or following the AsyncValue its function returned
DONE = 4
FAILED = 5
CANCELLED = 6
STATE_NAMES = ("pending", "pending", "pending", "running", "done", "failed", "cancelled")

_lock = allocate_lock()
_locked = _lock.locked
# Worker threads only (backends.threads): ``with _lock`` costs 150 ns, these
# two calls 70. Elsewhere keep ``with``: a signal handler (Ctrl-C) runs only
# in the main thread, and may raise right after a bare acquire() returns,
# which would leave the lock held for good; ``with`` gives it no such point.
_acquire = _lock.acquire
_release = _lock.release


def _wait_unlocked() -> None:
    """Let the thread that holds ``_lock`` finish, without queueing on it.

    The hot paths call this before ``with _lock:`` when the lock is taken
    (only possible when its holder lost the GIL inside a critical section).
    Blocking in ``acquire`` there starts a lock convoy: the woken thread takes
    ``_lock`` without the GIL, then waits for the GIL while holding it, the
    GIL's holder then blocks on ``_lock``, and so on, each hand-over costing
    two context switches; measured, a 4,096-leaf tree ran 3-4x slower in a
    third of the runs (~9,000 context switches in a slow run, ~30 in a fast
    one). Yielding the GIL until the lock is free lets the holder run, so the
    lock is only ever taken by a thread that holds the GIL. The holder keeps
    it for a few assignments (no user code, no I/O), so this ends at once.
    """
    while _locked():
        _sleep(0)  # releases the GIL: the holder runs and lets go
_MISSING: Any = object()
_local = threading.local()  # .pool: the pool this thread is a worker of
_log = logging.getLogger("asynckit")

#: ``Node.fn`` of an AsyncList: settles when every item has, never runs code.
GATHER = object()


class Node:
    """The record of one task (or one AsyncList): its state and its edges.

    ``dependents`` holds what must hear of this node's settling: other nodes
    (ordinary inputs, or followers while they are RUNNING), :class:`After`
    edges (``chain``: wait, but ignore the outcome), the locks of threads
    waiting for it (released) and plain callables (futures, coroutines,
    ``as_completed``), which are called with the node once it has settled,
    outside the lock.

    Every slot is paid for twice: a store here for each task, and a visit in
    each garbage collection the node lives through (~7 ns per slot per
    collection, measured). So the traceback of a failure lives on its
    reporter, a thread's wait on ``dependents``, and run time in one float.
    """

    __slots__ = (
        "state", "proxy", "fn", "args", "kwargs", "pool", "backend", "spec",
        "name", "dependents", "pending", "inputs", "error", "reporter", "took",
        "attempt", "remote",
    )

    def __init__(self, pool: Any, backend: Any, fn: Any, args: Any, kwargs: Any,
                 spec: Any, name: str | None) -> None:
        self.state = PENDING
        # The proxy to publish the result into: a task's own, or a weak
        # reference to an AsyncList's (see AsyncList.__init__).
        self.proxy: Any = None
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.pool = pool
        self.backend = backend
        self.spec = spec
        self.name = name
        self.dependents: Any = None  # None, one dependent, or a list of them
        self.pending = 0
        self.inputs: Sequence[Node] = ()
        self.error: BaseException | None = None
        # Set for every failure that has a traceback (shared with the
        # dependents that failed because of it); None for a cancel().
        self.reporter: _Reporter | None = None
        self.took = 0.0  # seconds its function ran (the last attempt), once run
        self.attempt = 0
        # For results that stay elsewhere (a Dask cluster) or are built on
        # first use (an AsyncList over such values): an object whose
        # ``result()`` gives the value. The proxy's field stays unset, so the
        # first use lands in ``__wrapped_get__``, which calls it.
        self.remote: Any = None


class After:
    """A ``chain`` edge: the dependent waits for the node but ignores its outcome."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node


class _Reporter:
    """Logs a failure nobody observed, once, when the last node holding it dies.

    A failure and every dependent that failed because of it share one reporter,
    so observing any of them observes the failure, and it is logged only once.
    """

    __slots__ = ("error", "tb", "name", "observed", "__weakref__")

    def __init__(self, error: BaseException, tb: Any, name: str | None,
                 observed: bool = False) -> None:
        self.error = error
        self.tb = tb  # re-raised with this one: uses do not grow it
        self.name = name
        self.observed = observed
        if not observed:
            _unobserved.add(self)

    def report(self) -> None:
        if self.observed:
            return
        self.observed = True
        _log_unobserved(self.error, self.tb, self.name)

    def __del__(self) -> None:
        if self.observed:
            return
        ast = sys.modules.get("ast")
        if ast is not None and sys._getframe(1).f_code is ast.parse.__code__:
            # Collected in the middle of ast.parse (pytest, linters do that).
            # Formatting a traceback parses source to place its carets, and a
            # nested ast.parse breaks the outer one on CPython 3.11
            # ("AST constructor recursion depth mismatch"): log from a thread,
            # started without waiting for it (Thread.start would release the
            # GIL right here, and the thread would parse in the middle).
            self.observed = True
            _deferred.append((self.error, self.tb, self.name))
            _thread.start_new_thread(_log_deferred, ())
            return
        self.report()


_deferred: list[tuple[BaseException, Any, str | None]] = []


def _log_deferred() -> None:
    # Also called at exit, so a report is never lost; list.pop is atomic, so
    # none is logged twice.
    while _deferred:
        try:
            _log_unobserved(*_deferred.pop(0))
        except IndexError:
            return


def _log_unobserved(error: BaseException, tb: Any, name: str | None) -> None:
    try:
        _log.warning("asynckit: task %s failed and nobody observed its error",
                     name or "?", exc_info=(type(error), error, tb))
    except Exception:  # logging torn down at interpreter exit
        pass


_unobserved: weakref.WeakSet[_Reporter] = weakref.WeakSet()


def report_unobserved() -> None:
    """Log every failure still alive and unobserved (called at interpreter exit)."""
    _log_deferred()
    for reporter in list(_unobserved):
        reporter.report()


def after_fork_in_child() -> None:
    """In a child made by ``os.fork``: forget the parent's threads and failures.

    ``_lock`` was held across the fork (``os.register_at_fork`` in pool.py), so no
    thread that did not come along can have left it taken. The parent's
    failures are the parent's to report, not the child's.
    """
    _lock.release()
    _local.__dict__.clear()  # forked inside a task: this thread is no worker here
    for reporter in list(_unobserved):
        reporter.observed = True
    _deferred.clear()


def abandon(nodes: Iterable[Node]) -> None:
    """Cancel unsettled nodes, started or not (a child made by fork: their
    threads did not come along), starting nothing that this makes ready."""
    error = CancelledError(f"this task was unsettled in the parent process when it "
                           f"forked (pid {os.getppid()}); it runs there, not in this child")
    ready: list[Node] = []
    for node in nodes:
        _settle(node, None, error, None, False, ready)


def observe(node: Node) -> None:
    reporter = node.reporter
    if reporter is not None:
        reporter.observed = True


# --------------------------------------------------------------------------
# Settling


def settle(node: Node, result: Any = None, error: BaseException | None = None,
           source: Node | None = None, worker: Any = None) -> Sequence[Node]:
    """Settle ``node`` with ``result`` or ``error``, and all that follows from it.

    ``source`` is the input whose failure this is (its traceback and reporter
    are shared). Returns the task nodes that became ready; the caller starts
    them (``graph.start``), so a worker can run one of them itself.

    ``worker`` is the backend of a worker thread that will run a ready task
    itself: when this settle makes exactly one task of that backend ready, it
    is claimed (RUNNING) under the same hold of the lock and returned alone in
    a *tuple*, which tells the caller it is its to run (``graph.execute``). A
    chain or a tree then takes one lock per task for counting down and
    claiming, instead of two.
    """
    if error is None and node.remote is None:
        # The common case, kept short: a result, nobody to wake or count down.
        proxy = node.proxy
        if proxy is not None:
            # Publish before marking DONE: a reader that sees DONE reads the
            # C field without taking the lock. Only the task's own runner
            # settles a result, so nothing can have settled it meanwhile.
            _publish(proxy, result)
        ready: list[Node] = _NOTHING
        gathers = None
        if _locked():
            _wait_unlocked()
        with _lock:
            dependents = node.dependents
            simple = node.state < DONE
            if simple and dependents is not None:
                node.dependents = None
                if type(dependents) is Node and dependents.state == PENDING:
                    # One input of one pending task (a chain, a tree): no
                    # loop under the lock, so no thread switch lands here.
                    node.state = DONE
                    node.proxy = None
                    dependents.pending -= 1
                    if dependents.pending == 0:
                        if dependents.fn is GATHER:
                            gathers = [dependents]
                            ready = []
                        else:
                            spec = dependents.spec
                            if spec is not None and spec.limiter is not None:
                                dependents.state = HELD
                                ready = [dependents]
                            elif worker is not None and dependents.backend is worker:
                                dependents.state = RUNNING  # claimed for the caller
                                ready = (dependents,)  # type: ignore[assignment]
                            else:
                                dependents.state = QUEUED
                                ready = [dependents]
                elif type(dependents) is list:
                    # Inputs of pending tasks and AsyncLists only; anything
                    # else (waiting threads, followers, chain edges,
                    # callbacks) takes the general path.
                    for dep in dependents:
                        if type(dep) is not Node or dep.state != PENDING:
                            simple = False
                            break
                    else:
                        node.state = DONE
                        node.proxy = None
                        ready = []
                        for dep in dependents:
                            dep.pending -= 1
                            if dep.pending == 0:
                                if dep.fn is GATHER:
                                    if gathers is None:
                                        gathers = [dep]
                                    else:
                                        gathers.append(dep)
                                    continue
                                spec = dep.spec
                                dep.state = HELD if spec is not None \
                                    and spec.limiter is not None else QUEUED
                                ready.append(dep)
                else:
                    simple = False
                if not simple:
                    node.dependents = dependents  # for the general path
            elif simple:
                node.state = DONE
                node.proxy = None
        if simple:
            pool = node.pool
            if pool is not None:
                live = pool._live
                live.discard(node)
                if not live:
                    pool._drained_now()
            if gathers is not None:
                for gather in gathers:
                    _finish_gather(gather, ready)
            return ready
    ready = []
    _settle(node, result, error, source, False, ready)
    return ready


_NOTHING: list[Node] = []  # never appended to: callers only iterate a settle's result


def cancel(node: Node) -> tuple[bool, list[Node]]:
    """Cancel ``node`` if it has not started. Returns (cancelled, ready)."""
    ready: list[Node] = []
    error = CancelledError(f"{describe(node)} was cancelled before it ran")
    prior = _settle(node, None, error, None, True, ready)
    if prior == QUEUED:
        # A QUEUED node with a `limit` holds a slot (taken when it was
        # admitted); cancelling it here is the one place that gives it back.
        spec = node.spec
        if spec is not None and spec.limiter is not None:
            spec.limiter.release()
    return prior >= 0, ready


def _settle(node: Node, result: Any, error: BaseException | None,
            source: Node | None, unstarted_only: bool, ready: list[Node]) -> int:
    """The general settle; returns the node's state before, or -1 if it had
    already settled (or, with ``unstarted_only``, had started)."""
    wake = []
    callbacks = []
    gathers: list[Node] = []
    pools = []
    reporter = None if source is None else source.reporter
    remote = node.remote
    if _locked():
        _wait_unlocked()
    with _lock:
        prior = node.state
        if prior >= (RUNNING if unstarted_only else DONE):
            return -1
        if error is not None and source is None:
            tb = error.__traceback__
            if not isinstance(error, CancelledError):
                reporter = _Reporter(error, tb, node.name)
            elif tb is not None:  # a task raised it: keep where, never log it
                reporter = _Reporter(error, tb, node.name, observed=True)
        todo = [node]
        while todo:
            node = todo.pop()
            if node.state >= DONE:
                continue
            if error is None:
                proxy = node.proxy
                if type(proxy) is weakref.ReferenceType:
                    proxy = proxy()  # an AsyncList's (see AsyncList.__init__)
                if remote is not None:
                    node.remote = remote
                elif proxy is not None:
                    # Publish before marking DONE: a reader that sees DONE
                    # reads the C field without taking the lock.
                    _publish(proxy, result)
                node.state = DONE
            else:
                node.error = error
                node.reporter = reporter
                node.state = CANCELLED if isinstance(error, CancelledError) else FAILED
            node.proxy = None
            if node.pool is not None:
                pools.append(node)
            dependents = node.dependents
            if dependents is None:
                continue
            node.dependents = None
            if type(dependents) is not list:
                dependents = (dependents,)
            for dep in dependents:
                kind = type(dep)
                if kind is Node:
                    state = dep.state
                    if state == PENDING:
                        if error is not None and dep.fn is not GATHER:
                            todo.append(dep)  # fails with the same error
                            continue
                        dep.pending -= 1
                        if dep.pending == 0:
                            _became_ready(dep, ready, gathers)
                    elif state == RUNNING:  # it returned this value: follow it
                        todo.append(dep)
                elif kind is After:
                    dep = dep.node
                    if dep.state == PENDING:
                        dep.pending -= 1
                        if dep.pending == 0:
                            _became_ready(dep, ready, gathers)
                elif kind is LockType:
                    wake.append(dep)
                else:
                    callbacks.append((dep, node))
    for waiter in wake:
        waiter.release()
    for settled in pools:
        settled.pool._note_settled(settled)
    for gather in gathers:
        _finish_gather(gather, ready)
    for callback, settled in callbacks:
        try:
            callback(settled)
        except Exception:
            _log.exception("asynckit: a settle callback raised")
    return prior


def _became_ready(node: Node, ready: list[Node], gathers: list[Node]) -> None:
    # Called under _lock when a node's last input settles.
    if node.fn is GATHER:
        gathers.append(node)
    else:
        spec = node.spec
        node.state = HELD if spec is not None and spec.limiter is not None else QUEUED
        ready.append(node)


def _finish_gather(node: Node, ready: list[Node]) -> None:
    """Settle an AsyncList whose items have all settled."""
    items = node.args
    node.args = None
    for item in items:
        if type(item) in PROXY_TYPES:
            inner = _task_of(item)
            if inner.state != DONE:
                # Keep the items: iterating a failed list still yields the
                # items before the failed one, then raises (Executor.map).
                node.args = items
                _settle(node, None, inner.error, inner, False, ready)
                return
            if inner.remote is not None:
                # An item's value lives elsewhere: build the list on first use.
                node.remote = _LazyList(items)
                _settle(node, None, None, None, False, ready)
                return
    _settle(node, [_wrapped_of(item) if type(item) in PROXY_TYPES else item
                   for item in items], None, None, False, ready)


class _LazyList:
    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def result(self) -> list[Any]:
        return [item.get() if type(item) in PROXY_TYPES else item for item in self.items]


def depend(node: Node, dependent: Any) -> None:
    """Add to ``node.dependents`` (under ``_lock``, while ``node`` is unsettled).

    One dependent is stored as itself, more as a list: a chain or a tree,
    where each value has one dependent, allocates no list per edge (the same
    shape is written out inline in ``graph.link``, the hot caller).
    """
    dependents = node.dependents
    if dependents is None:
        node.dependents = dependent
    elif type(dependents) is list:
        dependents.append(dependent)
    else:
        node.dependents = [dependents, dependent]


def add_callback(node: Node, callback: Callable[[Node], Any]) -> None:
    """Call ``callback(node)`` once ``node`` has settled (now, if it has)."""
    with _lock:
        if node.state < DONE:
            depend(node, callback)
            return
    callback(node)


# --------------------------------------------------------------------------
# Waiting


def block(node: Node, timeout: float | None) -> bool:
    """Sleep until ``node`` settles; True if it has. No helping, no polling.

    The wait primitive is a plain lock per waiting thread, made only when it
    must sleep, held, and put among the node's dependents; ``_settle``
    releases it. Lock acquisition is interruptible, so Ctrl-C reaches a
    waiting main thread.
    """
    waiter = allocate_lock()
    waiter.acquire()
    with _lock:
        if node.state >= DONE:
            return True
        depend(node, waiter)
    try:
        if timeout is None:
            got = waiter.acquire()
        elif timeout > 0:
            got = waiter.acquire(True, timeout)
        else:
            got = waiter.acquire(False)
    except KeyboardInterrupt:
        _hooks.interrupted()
        raise
    if got:
        return True
    with _lock:
        if node.state >= DONE:
            return True
        # Timed out: take the lock back out, so a caller that polls with
        # short timeouts does not pile locks up on a long task.
        if node.dependents is waiter:
            node.dependents = None
        else:
            node.dependents.remove(waiter)
    return False


def wait_for(node: Node, timeout: float | None = None) -> bool:
    """Wait until ``node`` settles, helping rather than starving a pool.

    A worker that waits (untimed) for a task of its own pool that has not
    started runs it right here, in its own place: nested waits never
    deadlock, even with one worker. A timed wait must not run arbitrary user
    code past its deadline, and any other thread (the main thread, a worker
    of another pool) only waits: running the task there would run more of
    that pool's tasks at once than its ``worker_count`` (a ``Pool(1)`` that
    serialises access to something would not). A worker that must sleep
    tells its pool, which lends another thread for the time being.
    """
    if node.state >= DONE:
        return True
    pool = getattr(_local, "pool", None)
    if pool is None:
        return block(node, timeout)
    if timeout is None and node.state == QUEUED and node.pool is pool:
        node.backend.run_here(node)
        if node.state >= DONE:
            return True
    guard = getattr(_local, "loop_guard", None)
    if guard is not None and timeout != 0:
        guard(node)  # on a pool's event loop: raises if the wait needs that loop
    return sleep_lent(lambda: block(node, timeout))


def sleep_lent(sleep: Callable[[], T]) -> T:
    """Run a blocking ``sleep()``; on a worker thread, the pool lends another
    thread meanwhile (what this worker waits for may need a worker)."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        return sleep()
    pool._worker_blocked(1)
    try:
        return sleep()
    finally:
        pool._worker_blocked(-1)


def outcome(node: Node, proxy: AsyncValue[Any]) -> Any:
    """The plain result of a settled node, or raise its error."""
    state = node.state
    if state == DONE:
        remote = node.remote
        if remote is not None:
            value = remote.result()
            proxy.__wrapped__ = value
            return value
        return proxy.__wrapped__
    observe(node)
    error = node.error
    assert error is not None
    # Re-raise with the traceback captured at failure, so using a failed
    # value a hundred times does not grow its traceback a hundred times.
    reporter = node.reporter
    raise error.with_traceback(None if reporter is None else reporter.tb)


# --------------------------------------------------------------------------
# Describing


_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4


def describe(node: Node) -> str:
    """``name(args…)`` for reprs, errors and pictures; never blocks."""
    name = node.name or _name_of(node.fn)
    args = node.args
    if args is None or node.fn is GATHER:
        return name
    try:
        parts = [_short(a) for a in args]
        if node.kwargs:
            parts += [f"{k}={_short(v)}" for k, v in node.kwargs.items()]
    except Exception:
        return name
    text = ", ".join(parts)
    if len(text) > 60:
        text = text[:59] + "…"
    return f"{name}({text})"


def _name_of(fn: Any) -> str:
    """A callable's name for people: its qualified name, else its type's name."""
    if fn is None:
        return "task"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _short(obj: Any) -> str:
    if type(obj) in PROXY_TYPES:
        return f"<{describe(obj._self_task)}>"
    return _repr.repr(obj)


# --------------------------------------------------------------------------
# The proxy


if TYPE_CHECKING:  # pragma: no cover

    class _ProxyBase(Generic[T]):
        """What type checkers see of the proxy: the result's attributes and
        operators, typed ``Any`` (a checker cannot see an AsyncValue[T] as a T;
        ``get()`` and ``asynckit.unwrap`` give the typed result)."""

        __wrapped__: Any

        def __getattr__(self, name: str) -> Any: ...
        def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
        def __getitem__(self, key: Any) -> Any: ...
        def __setitem__(self, key: Any, value: Any) -> None: ...
        def __delitem__(self, key: Any) -> None: ...
        def __contains__(self, item: Any) -> bool: ...
        def __len__(self) -> int: ...
        def __bool__(self) -> bool: ...
        def __int__(self) -> int: ...
        def __float__(self) -> float: ...
        def __complex__(self) -> complex: ...
        def __index__(self) -> int: ...
        def __bytes__(self) -> bytes: ...
        def __round__(self, ndigits: Any = None) -> Any: ...
        def __enter__(self) -> Any: ...
        def __exit__(self, *exc_info: Any) -> Any: ...
        def __add__(self, other: Any) -> Any: ...
        def __radd__(self, other: Any) -> Any: ...
        def __iadd__(self, other: Any) -> Any: ...
        def __sub__(self, other: Any) -> Any: ...
        def __rsub__(self, other: Any) -> Any: ...
        def __isub__(self, other: Any) -> Any: ...
        def __mul__(self, other: Any) -> Any: ...
        def __rmul__(self, other: Any) -> Any: ...
        def __imul__(self, other: Any) -> Any: ...
        def __matmul__(self, other: Any) -> Any: ...
        def __rmatmul__(self, other: Any) -> Any: ...
        def __imatmul__(self, other: Any) -> Any: ...
        def __truediv__(self, other: Any) -> Any: ...
        def __rtruediv__(self, other: Any) -> Any: ...
        def __itruediv__(self, other: Any) -> Any: ...
        def __floordiv__(self, other: Any) -> Any: ...
        def __rfloordiv__(self, other: Any) -> Any: ...
        def __ifloordiv__(self, other: Any) -> Any: ...
        def __mod__(self, other: Any) -> Any: ...
        def __rmod__(self, other: Any) -> Any: ...
        def __imod__(self, other: Any) -> Any: ...
        def __divmod__(self, other: Any) -> Any: ...
        def __rdivmod__(self, other: Any) -> Any: ...
        def __pow__(self, other: Any) -> Any: ...
        def __rpow__(self, other: Any) -> Any: ...
        def __ipow__(self, other: Any) -> Any: ...
        def __lshift__(self, other: Any) -> Any: ...
        def __rlshift__(self, other: Any) -> Any: ...
        def __ilshift__(self, other: Any) -> Any: ...
        def __rshift__(self, other: Any) -> Any: ...
        def __rrshift__(self, other: Any) -> Any: ...
        def __irshift__(self, other: Any) -> Any: ...
        def __and__(self, other: Any) -> Any: ...
        def __rand__(self, other: Any) -> Any: ...
        def __iand__(self, other: Any) -> Any: ...
        def __xor__(self, other: Any) -> Any: ...
        def __rxor__(self, other: Any) -> Any: ...
        def __ixor__(self, other: Any) -> Any: ...
        def __or__(self, other: Any) -> Any: ...
        def __ror__(self, other: Any) -> Any: ...
        def __ior__(self, other: Any) -> Any: ...
        def __lt__(self, other: Any) -> Any: ...
        def __le__(self, other: Any) -> Any: ...
        def __gt__(self, other: Any) -> Any: ...
        def __ge__(self, other: Any) -> Any: ...
        def __neg__(self) -> Any: ...
        def __pos__(self) -> Any: ...
        def __abs__(self) -> Any: ...
        def __invert__(self) -> Any: ...

else:
    # wrapt's C type has __class_getitem__, so ``_ProxyBase[T]`` below is a
    # generic alias whose MRO entry is the C type itself: no Python class is
    # added to the MRO (each one costs ~110 ns on every arithmetic operator).
    _ProxyBase = wrapt.BaseObjectProxy


class AsyncValue(_ProxyBase[T]):
    """The result of one task: a transparent proxy that *is* the result once ready.

    Its own methods are exactly ``get``, ``wait``, ``is_set``, ``is_error`` and
    ``chain``. Everything else (attributes, operators, ``str``, ``len``,
    iteration, ``isinstance`` against the result's type, pickling, copying)
    blocks until the task has settled, then acts on the result; a failed task
    re-raises its exception there, a cancelled one raises
    :class:`asynckit.CancelledError`. ``repr`` never blocks, and neither does
    ``isinstance(v, AsyncValue)``.

    Once settled, every use runs in wrapt's C code with no Python in between.

    AsyncValues are made by ``pool.do``, calls of ``@pool.task`` functions,
    ``chain`` and :class:`AsyncList`; they cannot be constructed directly.

    Typing: ``AsyncValue[T]`` is generic in its result. A type checker cannot
    see an ``AsyncValue[int]`` as an ``int``, so ``@pool.task`` types the
    decorated function as ``Callable[..., AsyncValue[R]]``: its arguments may
    be plain values or AsyncValues (they are not checked), and its result is
    typed. ``get()`` returns ``T``; the result's attributes and operators
    (``v + 1``, ``v[0]``, ``len(v)``) are typed ``Any``; to hand the value to
    code that declares ``T``, pass ``v.get()`` (or ``asynckit.unwrap(v)``).
    """

    __slots__ = ("_self_task",)

    # wrapt's C slots call __wrapped_get__ while the field is unset.
    __wrapped_factory__ = True

    if TYPE_CHECKING:  # pragma: no cover
        _self_task: Node

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "AsyncValue objects come from pool.do(), calls of @pool.task "
            "functions, chain() and AsyncList(); they cannot be created directly"
        )

    def __wrapped_get__(self) -> Any:
        node = self._self_task
        if node.state < DONE:
            wait_for(node)
        return outcome(node, self)

    # wrapt looks this up and calls it on every assignment to __wrapped__.
    # Defined so the lookup does not fall through to the result and fail
    # there (+1.3 µs per settle); a C no-op (tuple() is the empty tuple) so
    # the call costs no Python frame (-55 ns per settle).
    __wrapped_setattr_fixups__ = staticmethod(tuple)

    def __object_proxy__(self, value: Any) -> Any:
        # `x = v; x += 1` on an immutable result gives the plain new value.
        return value

    # -- the five methods -------------------------------------------------

    def get(self, timeout: bool | float | None = True, default: Any = _MISSING) -> T:
        """Return the plain result, or re-raise the task's exception.

        ``timeout``: ``True`` or ``None`` waits as long as it takes; a number
        waits that many seconds, then raises the builtin :class:`TimeoutError`;
        ``False`` or ``0`` does not wait. Anything else is a mistake (perhaps
        meant for the result's own ``get``) and raises :class:`TypeError`.
        """
        node = _task_of(self)
        if timeout is True and node.state == DONE and node.remote is None \
                and default is _MISSING:
            return _wrapped_of(self)  # type: ignore[no-any-return]
        if default is not _MISSING or not _is_timeout(timeout):
            raise TypeError(
                f"AsyncValue.get() takes a timeout (True, None, False or seconds), "
                f"not {_repr.repr(timeout)}{', ...' if default is not _MISSING else ''}. "
                f"To call the result's own get(), use asynckit.unwrap(value).get(...)"
            )
        if node.state < DONE:
            seconds = None if timeout is True or timeout is None else (
                0.0 if timeout is False else float(timeout))
            if not wait_for(node, seconds):
                raise TimeoutError(f"{describe(node)} did not settle within {seconds} s")
        return outcome(node, self)  # type: ignore[no-any-return]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until settled (succeeded, failed or cancelled); True if it has.

        ``threading.Event.wait`` semantics: with a timeout, False means it is
        still pending. Does not raise the task's error.
        """
        node = self._self_task
        if node.state >= DONE:
            return True
        if timeout is not None and (isinstance(timeout, bool) or not _is_timeout(timeout)):
            raise TypeError(f"wait() takes a timeout in seconds or None, not {timeout!r}")
        return wait_for(node, timeout)

    def is_set(self) -> bool:
        """True once settled: succeeded, failed or cancelled. Never blocks."""
        return self._self_task.state >= DONE

    def is_error(self) -> bool:
        """True if settled with an exception (cancelled counts). Never blocks.

        Asking counts as observing the error: it will not be logged as unseen.
        """
        node = self._self_task
        if node.state >= FAILED:
            observe(node)
            return True
        return False

    def chain(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> AsyncValue[Any]:
        """Run ``fn(*args, **kwargs)`` on the same pool once this value has settled.

        It runs whatever the outcome (a cleanup step) and does not receive this
        value; AsyncValues among its own arguments are ordinary dependencies.
        """
        pool = _pool_of(self)
        return pool._submit(fn, args, kwargs, None, None, self._self_task)  # type: ignore[no-any-return]

    # -- what wrapt's C type does not give us -----------------------------

    def __repr__(self) -> str:
        node = self._self_task
        state = node.state
        if state == DONE:
            # Reading __wrapped__ would fetch a remote result: ask the remote
            # whether it is here yet (``here``; absent means not).
            if node.remote is not None and not getattr(node.remote, "here", False):
                return f"<{type(self).__name__} {describe(node)} done>"
            return repr(self.__wrapped__)
        if state >= FAILED:
            try:
                error = repr(node.error)
            except Exception:
                error = type(node.error).__name__
            return f"<{type(self).__name__} {describe(node)} {STATE_NAMES[state]}: {error}>"
        return f"<{type(self).__name__} {describe(node)} {STATE_NAMES[state]}>"

    def __iter__(self) -> Iterator[Any]:
        return iter(self.__wrapped__)

    def __fspath__(self) -> Any:
        return os.fspath(self.__wrapped__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # wrapt's C type has no call slot. Defining it makes callable(v) True
        # for every AsyncValue (PROXY.md); calling a settled non-callable
        # result still raises the result's own TypeError.
        return self.__wrapped__(*args, **kwargs)

    def __await__(self) -> Generator[Any, None, T]:
        node = self._self_task
        if node.state < DONE:
            yield from _settled_future(node).__await__()
        return outcome(node, self)  # type: ignore[no-any-return]

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Pickles as the plain result: itemgetter(0)((value,)) is value.
        return operator.itemgetter(0), ((self.__wrapped__,),)

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        return copy.copy(self.__wrapped__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return copy.deepcopy(self.__wrapped__, memo)


def _is_timeout(timeout: Any) -> bool:
    return timeout is None or type(timeout) in (bool, int, float)


def _settled_future(node: Node) -> Any:
    """An asyncio future of the running loop, done once ``node`` settles.

    The settle may happen on any thread. On the loop's own thread (a task of
    a pool's event loop awaiting another one) the future is resolved at once;
    from elsewhere, ``call_soon_threadsafe`` wakes the loop. A loop closed
    meanwhile (its ``asyncio.run`` has ended) has nobody left to wake.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def wake(_: Node) -> None:
        if asyncio._get_running_loop() is loop:
            _resolve_future(future)
            return
        try:
            loop.call_soon_threadsafe(_resolve_future, future)
        except RuntimeError:  # the loop is closed
            pass

    add_callback(node, wake)
    return future


def _resolve_future(future: Any) -> None:
    if not future.done():
        future.set_result(None)


def new_value(node: Node) -> AsyncValue[Any]:
    """The proxy of a new node (the hot path: no Python __init__ runs)."""
    # No __init__: wrapt's tp_new leaves the field unset, and with
    # __wrapped_factory__ on the class every slot calls __wrapped_get__.
    proxy = _new(AsyncValue)
    _set_task(proxy, node)
    node.proxy = proxy
    return proxy


_new = AsyncValue.__new__

# The proxy's own fields, read and written through their descriptors. Any
# attribute of a wrapt proxy goes through its getattro/setattro (~85 ns: it
# screens __module__, __doc__ and _self_ names first); the descriptors take
# ~40 ns. ``_wrapped_of`` still resolves an unset field through
# ``__wrapped_get__``, like any use.
_task_of: Callable[[AsyncValue[Any]], Node] = AsyncValue.__dict__["_self_task"].__get__
_set_task: Callable[[AsyncValue[Any], Node], None] = AsyncValue.__dict__["_self_task"].__set__
_wrapped_field: Any = wrapt.BaseObjectProxy.__dict__.get("__wrapped__")
if type(_wrapped_field).__name__ == "getset_descriptor":
    _wrapped_of: Callable[[Any], Any] = _wrapped_field.__get__
    _publish: Callable[[Any, Any], None] = _wrapped_field.__set__
else:  # pragma: no cover - wrapt without its C extension
    _wrapped_of = operator.attrgetter("__wrapped__")

    def _publish(proxy: Any, value: Any) -> None:
        proxy.__wrapped__ = value


def _pool_of(value: AsyncValue[Any]) -> Any:
    pool = _node_pool(value._self_task)
    return _hooks.default_pool() if pool is None else pool


def _node_pool(node: Node) -> Any:
    # An AsyncList has no pool of its own: use its items'. Its ``inputs``
    # (not ``args``, dropped once it has settled) are the items' nodes.
    if node.pool is not None:
        return node.pool
    for inner in node.inputs:
        pool = _node_pool(inner)
        if pool is not None:
            return pool
    return None


class _Hooks:
    """Filled in by the pool module: value.py must not import it."""

    @staticmethod
    def default_pool() -> Any:  # pragma: no cover - replaced on import
        raise RuntimeError("asynckit.pool is not imported")

    @staticmethod
    def interrupted() -> None:  # pragma: no cover - replaced on import
        """Ctrl-C reached a thread waiting on a value."""


_hooks = _Hooks()


class AsyncList(AsyncValue[list[T]]):
    """An AsyncValue whose result is the list of its items' results.

    ``AsyncList(values)`` takes any iterable; plain items pass through. It
    settles when every item has, and fails with the error of the first failed
    item *in list order*. Like any AsyncValue it can be chained and passed to
    tasks. ``len()`` is known at once and never blocks. Iterating yields each
    item's result in order as soon as that item is ready and raises a failed
    item's exception when iteration reaches it (``Executor.map`` semantics);
    for ``pool.map(..., timeout=t)`` iteration raises :class:`TimeoutError`
    once ``t`` seconds have passed since the call.
    """

    __slots__ = ("_self_length", "_self_deadline", "_self_from_map")

    def __init__(self, values: Iterable[Any] = (), *, _deadline: float | None = None,
                 _from_map: bool = False) -> None:
        items = list(values)
        node = Node(None, None, GATHER, items, None, None, "AsyncList")
        wrapt.BaseObjectProxy.__init__(self, None)  # type: ignore[arg-type]
        self._self_task = node
        self._self_length = len(items)
        self._self_deadline = _deadline
        self._self_from_map = _from_map
        # Weakly: its node lives on while its items run, and must not keep
        # the list alive for them. Nobody holding the list means nobody can
        # ask for the rest of a pool.map (see _iterate). Tasks are different:
        # their node holds their proxy, so that fire and forget works.
        node.proxy = weakref.ref(self)
        inputs = [_task_of(item) for item in items if type(item) in PROXY_TYPES]
        node.inputs = tuple(inputs)
        with _lock:
            pending = 0
            for inner in inputs:
                if inner.state < DONE:
                    dependents = inner.dependents  # depend(), inlined: pool.map's hot loop
                    if dependents is None:
                        inner.dependents = node
                    elif type(dependents) is list:
                        dependents.append(node)
                    else:
                        inner.dependents = [dependents, node]
                    pending += 1
            node.pending = pending
        if pending == 0:
            _finish_gather(node, [])

    def __len__(self) -> int:
        return self._self_length

    def __iter__(self) -> Iterator[T]:
        items = self._self_task.args
        if items is None:  # settled: iterate the result itself
            return iter(self.get())
        # The iterator holds the items, never this list (only a weak
        # reference, for pool.map): no cycle, so a map result dropped in the
        # middle of an iteration is freed, and its iteration closed, at once.
        owner = weakref.ref(self) if self._self_from_map else None
        return _iterate(items, self._self_deadline, owner)

    def __reversed__(self) -> Iterator[T]:
        return reversed(self.get())


def _iterate(items: list[Any], deadline: float | None,
             owner: weakref.ref[AsyncList[Any]] | None) -> Iterator[Any]:
    """Each item's result in order, as soon as it is ready (``AsyncList.__iter__``).

    For a ``pool.map`` result (``owner`` set), ``Executor.map`` semantics:
    an error or a timeout here cancels the calls not started; so does an
    iteration closed early (a ``break``, a dropped iterator) once nothing
    can ask for the rest any more, i.e. once the map result itself is gone.
    While the user still holds it, ``next(iter(results))`` followed by
    ``list(results)`` cancels nothing.
    """
    taken = 0
    try:
        for item in items:
            if type(item) not in PROXY_TYPES:
                yield item
            elif deadline is None:
                inner = _task_of(item)
                if inner.state == DONE and inner.remote is None:
                    yield _wrapped_of(item)  # settled: the C field, no method call
                else:
                    yield item.get()
            else:
                if not item.wait(max(deadline - perf_counter(), 0.0)):
                    raise TimeoutError(f"pool.map: {describe(item._self_task)} "
                                       f"was not ready before the timeout")
                yield item.get()
            taken += 1
    except GeneratorExit:
        if owner is not None and owner() is None and taken < len(items):
            _cancel_rest(items[taken:])
        raise
    except BaseException:
        if owner is not None:
            _cancel_rest(items[taken:])  # the late one too, if it has not started
        raise


def _cancel_rest(items: list[Any]) -> None:
    from .graph import start_all  # the engine above us: needed here only

    for item in items:
        if type(item) in PROXY_TYPES:
            start_all(cancel(item._self_task)[1])


PROXY_TYPES = frozenset({AsyncValue, AsyncList})


def is_value(obj: Any) -> bool:
    """True for an AsyncValue (never blocks, never asks the result)."""
    return type(obj) in PROXY_TYPES


def _in_interpreter_shutdown() -> bool:
    return sys.is_finalizing()
