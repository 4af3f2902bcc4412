"""The typed seams: what a task record knows of its pool, its backend and its options.

The layers below the pool (the record, the graph, admission, waiting) never
import the pool or a backend: they reach them through these Protocols,
which the upper layers implement. ``Backend`` doubles as the base class of
every backend, so an operation a backend has no use for is a no-op defined
once, here, and nobody probes with ``hasattr``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterable, Sequence

    from .asynclist import ChunkValue
    from .gates import Gate, KeyedGates
    from .node import Node
    from .store import Store
    from .value import AsyncValue
    from .waiting import Drain

__all__ = ["Backend", "PoolHandle", "Remote", "Spec"]


class Remote(Protocol):
    """``Node.remote`` of a settled node whose result is not in its proxy's field:
    one that lives elsewhere (a Dask future) or is built on first use."""

    #: Whether the result has arrived (``repr`` must not fetch it to show it).
    here: bool

    def result(self) -> Any:
        """The result (fetched or built once, then kept)."""
        ...


class Spec(Protocol):
    """The options of one ``@pool.task(...)`` function (``task.TaskSpec``)."""

    retries: int
    retry_on: tuple[type[BaseException], ...]
    retry_delay: float
    #: The gate of ``limit``/``rate`` (None without them, or with ``key=``
    #: on the function's own spec: its calls get per-key specs whose gate
    #: is their key's).
    limiter: Gate | None
    #: ``key=``: the function's gates by key, the key function, and the key
    #: of the calls of a per-key spec (``admission.NO_KEY`` before that).
    keyed: KeyedGates | None
    key_function: Callable[..., Any] | None
    gate_key: Any
    #: ``timeout=``: seconds a call may run (None: no limit).
    timeout: float | None
    #: The state a call takes once its inputs have settled: HELD when it
    #: must first pass a gate, else QUEUED (``task.TaskSpec``).
    ready_state: int
    #: ``cache=True``: one call's key and the store its result is saved to
    #: once it succeeds (both None for uncached calls); ``function`` names
    #: the function in the store.
    key: str | None
    save_to: Store | None
    function: str
    identity: bytes

    def save(self, node: Node, result: Any) -> None:
        """``cache=True``: store a call's result (a no-op for other calls)."""
        ...

    def for_gate(self, gate: Gate) -> Spec:
        """These options for the calls that pass ``gate`` (one key's)."""
        ...


class PoolHandle(Protocol):
    """What the layers below the pool need of it (``pool.Pool`` implements it)."""

    name: str
    #: The pool's unsettled tasks; settling a task takes it out.
    drain: Drain
    #: Shut down (new work is refused, or taken from its own tasks only).
    _closed: bool

    def _backend_for(self, fn: Any, spec: Any, what: str) -> Backend:
        """The backend a call of ``fn`` runs on (``async def``: the event loop)."""
        ...

    def _chain(self, after: Node, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> AsyncValue[Any]:
        """Submit ``fn(*args, **kwargs)`` to run once ``after`` has settled."""
        ...

    def _cancel_nodes(self, nodes: Iterable[Node]) -> int:
        """Cancel the nodes that have not started, and start what that makes ready."""
        ...

    def _later(self, delay: float, item: Node | Gate | Callable[[], None]) -> None:
        """After ``delay`` seconds: start the HELD node (a retry), wake the gate
        (a rate token is due) or call the callable (a deadline): ``admission.Timer``."""
        ...

    def _submit(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                spec: Any, name: str | None, after: Node | None = None,
                backend: Backend | None = None) -> AsyncValue[Any]:
        """Submit a call with these options (``cache.look_up`` submits a miss)."""
        ...


class Backend:
    """Where ready tasks run: a typed interface with no-op defaults.

    The admission layer calls ``start`` with a QUEUED node; the backend
    claims it (QUEUED -> RUNNING, ``graph.claim``), runs it and settles it
    with ``graph.finish``/``graph.fail``, starting what those return. Every
    other method has a default that does nothing, for backends that have no
    use for it.
    """

    #: Shown in thread names and errors.
    name: str = "asynckit"
    #: Whether :meth:`pending` does anything (the pool skips the call if not:
    #: chains and trees submit most of their tasks with inputs pending).
    wants_pending = False
    #: The node this backend's one thread is blocked on, synchronously, if any
    #: (an event loop whose ``async def`` task called ``get()``): a task that
    #: needs this backend cannot run until that node settles.
    blocked_on: Node | None = None

    # -- timeouts (run.Deadline) ---------------------------------------------

    #: Whether ``@pool.task(timeout=...)`` is enforced for calls run here.
    timeouts: bool = False

    def lend_stuck(self) -> bool:
        """Under ``node._lock``, at a call's deadline: may a worker be lent in place
        of the thread still running it? (True: ``worker_blocked(1)`` follows, and
        ``returned_stuck()`` once the thread is back.) Counters only: no I/O."""
        return False

    def returned_stuck(self) -> None:
        """A thread stuck in a timed-out call is back: give back its lent place."""

    def expire(self, node: Node, lent: bool) -> None:
        """``node`` ran past its timeout and is about to fail: stop its work if
        this backend can (end its process, cancel its remote future). ``lent``:
        whether ``lend_stuck`` lent a worker in its place."""

    def start(self, node: Node) -> None:
        """Run a QUEUED node (from any thread); must not block."""
        raise NotImplementedError

    def submit(self, node: Node) -> None:
        """``start``, called on the thread of the ``pool.do``/task call that
        made ``node``: a backend may check it there, so a misuse raises in
        the caller (the processes backend's pickle check)."""
        self.start(node)

    def pending(self, node: Node, after: Node | None) -> None:
        """``node`` was just submitted and waits for inputs (``after``: a
        ``chain`` predecessor). Dask hands such a task over early; the
        processes backend test-pickles it."""

    def chunking(self, chunksize: int | None,
                 iterables: Sequence[Iterable[Any]]) -> AbstractContextManager[None]:
        """``pool.map``: the calls submitted inside this context travel in chunks of
        ``chunksize`` (None: this backend's default) where this backend sends
        calls away in batches; others ignore it."""
        return nullcontext()

    def pack_size(self, fn: Any, chunksize: int | None, iterables: Sequence[Iterable[Any]]) -> int:
        """``pool.map`` of a plain function: how many calls this backend packs into
        one task (``pack``), or 0 if it runs each call as its own task."""
        return 0

    def pack(self, pool: PoolHandle, fn: Any, items: list[Any], star: bool,
             ) -> ChunkValue[Any] | None:
        """Submit ``fn`` over ``items`` (argument tuples if ``star``) as one task
        whose result is the list of the calls' results; None if this chunk cannot
        be packed (its calls are then submitted one by one)."""
        return None

    def run_here(self, node: Node) -> None:
        """A worker of this backend waits for ``node`` (QUEUED, of this
        backend): run it on the calling thread if this backend can."""

    def running_here(self, node: Node) -> bool:
        """Is ``node`` (RUNNING) running on the calling thread, a worker of this
        backend? Asked only before a wait would block."""
        return False

    def running_on(self, node: Node, thread_id: int) -> bool:
        """Is ``node`` (RUNNING) running on thread ``thread_id``? (As above.)"""
        return False

    def worker_blocked(self, delta: int) -> None:
        """A worker of this backend starts (+1) or ends (-1) a nested wait."""

    def resize(self, worker_count: int) -> None:
        """The pool's ``worker_count`` changed."""

    def cancel_unstarted(self) -> None:
        """Ctrl-C or ``shutdown(cancel_futures=True)``: cancel what this backend
        holds that has not started (a process pool's queue)."""

    def close(self) -> None:
        """The pool is shut down and drained: release threads and processes."""

    def after_fork(self) -> bool:
        """In a child made by ``os.fork``: True if this backend carries on there
        (its threads start afresh); False closes its pool in the child."""
        return False

    def statistics(self) -> dict[str, Any]:
        """Numbers for ``Pool.statistics()``."""
        return {}

    def size_label(self, worker_count: int) -> str:
        """How big the pool is, for ``repr(pool)``."""
        return f"worker_count={worker_count}"
