"""The record of one task: its states, its edges, and the one lock over them.

Each task has a :class:`Node`, a small slotted record of its state, and an
:class:`~asynckit.AsyncValue`, the proxy the user holds (``value.py``).
Everything about the task lives on the node; the proxy holds only the node.

Life of a node::

    PENDING --inputs settled--> QUEUED --claimed--> RUNNING --> DONE | FAILED
       |                          ^                    |
       +--> HELD (limit slot, ---+   (returned an AsyncValue: follows it)
             rate token, retry delay)
    any state before RUNNING --cancel--> CANCELLED

Every transition happens under one module lock, ``_lock``. It is held only for
a few attribute assignments (no user code, no I/O runs under it), so one lock
for all pools is cheaper than a lock per task and lets values from different
pools depend on each other freely.

The node reaches its pool, backend and options only through the typed seams
of ``protocols.py``.
"""

from __future__ import annotations

from _thread import allocate_lock
from collections.abc import Sequence
from time import sleep as _sleep
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import Backend, PoolHandle, Remote, Spec
    from .report import Reporter

__all__ = ["Node", "After", "GATHER", "depend", "name_of", "STATE_NAMES",
           "PENDING", "HELD", "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED"]

# Node states. Settled is ``state >= DONE``.
PENDING = 0  # waiting for its inputs
HELD = 1  # ready, but waiting for a `limit` slot, a `rate` token or a retry delay
QUEUED = 2  # handed to a backend, not started
RUNNING = 3  # running, or following the AsyncValue its function returned
DONE = 4
FAILED = 5
CANCELLED = 6
STATE_NAMES = ("pending", "held", "pending", "running", "done", "failed", "cancelled")

_lock = allocate_lock()
_locked = _lock.locked
# Worker threads only (backends.threads): ``with _lock`` costs about twice
# as much as these two calls. Elsewhere keep ``with``: a signal handler
# (Ctrl-C) runs only in the main thread, and may raise right after a bare
# acquire() returns, which would leave the lock held for good; ``with`` gives
# it no such point.
_acquire = _lock.acquire
_release = _lock.release


def _wait_unlocked() -> None:
    """Let the thread that holds ``_lock`` finish, without queueing on it.

    The hot paths call this before ``with _lock:`` when the lock is taken
    (only possible when its holder lost the GIL inside a critical section).
    Blocking in ``acquire`` there starts a lock convoy: the woken thread takes
    ``_lock`` without the GIL, then waits for the GIL while holding it, the
    GIL's holder then blocks on ``_lock``, and so on, each hand-over costing
    two context switches (measured: a 4,096-leaf tree ran 3-4x slower in a
    third of the runs). Yielding the GIL until the lock is free lets the
    holder run, so the lock is only ever taken by a thread that holds the
    GIL. The holder keeps it for a few assignments, so this ends at once.
    """
    while _locked():
        _sleep(0)  # releases the GIL: the holder runs and lets go


#: ``Node.fn`` of an AsyncList: settles when every item has, never runs code.
GATHER: Any = object()


class Node:
    """The record of one task (or one AsyncList): its state and its edges.

    ``dependents`` holds what must hear of this node's settling: other nodes
    (ordinary inputs, or followers while they are RUNNING), :class:`After`
    edges (``chain``: wait, but ignore the outcome), the locks of threads
    waiting for it (released) and plain callables (futures, coroutines,
    ``as_completed``), which are called with the node once it has settled,
    outside the lock.

    Every slot is paid for twice: a store here for each task, and a visit in
    each garbage collection the node lives through. So the traceback of a
    failure lives on its reporter, a thread's wait on ``dependents``, and run
    time in one float.
    """

    __slots__ = (
        "state", "proxy", "fn", "args", "kwargs", "pool", "backend", "spec",
        "name", "dependents", "pending", "inputs", "error", "reporter", "took",
        "attempt", "remote",
    )

    def __init__(self, pool: PoolHandle | None, backend: Backend | None, fn: Any,
                 args: Any, kwargs: dict[str, Any] | None, spec: Spec | None,
                 name: str | None) -> None:
        self.state = PENDING
        # The proxy to publish the result into: a task's own, or a weak
        # reference to an AsyncList's (see AsyncList.__init__).
        self.proxy: Any = None
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        # A node holds its pool: work submitted and then forgotten (the pool
        # dropped, fire and forget) still runs, and the pool lives until then.
        self.pool = pool
        self.backend: Backend = backend  # type: ignore[assignment]  # None: an AsyncList
        self.spec = spec
        self.name = name
        self.dependents: Any = None  # None, one dependent, or a list of them
        self.pending = 0
        self.inputs: Sequence[Node] = ()
        self.error: BaseException | None = None
        # Set for every failure that has a traceback (shared with the
        # dependents that failed because of it); None for a cancel().
        self.reporter: Reporter | None = None
        self.took = 0.0  # seconds its function ran (the last attempt), once run
        self.attempt = 0
        # For results that stay elsewhere (a Dask cluster) or are built on
        # first use (an AsyncList over such values): an object whose
        # ``result()`` gives the value. The proxy's field stays unset, so the
        # first use lands in ``__wrapped_get__``, which calls it.
        # (Also, on the Dask backend, its future while it runs.)
        self.remote: Remote | Any = None


class After:
    """A ``chain`` edge: the dependent waits for the node but ignores its outcome."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node


def depend(node: Node, dependent: Any) -> None:
    """Add to ``node.dependents`` (under ``_lock``, while ``node`` is unsettled).

    One dependent is stored as itself, more as a list: a chain or a tree,
    where each value has one dependent, allocates no list per edge (the same
    shape is written out inline in ``graph.link`` and ``AsyncList``, the hot
    callers).
    """
    dependents = node.dependents
    if dependents is None:
        node.dependents = dependent
    elif type(dependents) is list:
        dependents.append(dependent)
    else:
        node.dependents = [dependents, dependent]


def name_of(fn: Any) -> str:
    """A callable's name for people: its qualified name, else its type's name."""
    if fn is None:
        return "task"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__
