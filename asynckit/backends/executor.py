"""Run ready tasks on any ``concurrent.futures.Executor``; ``backend="processes"`` too.

asynckit's dependency engine stays in front: a task reaches the executor
only once its inputs have settled, with every AsyncValue in its arguments
replaced by the plain result (``graph.plain``), so the executor never sees a
proxy and never waits for one.

**The processes backend** sends calls in batches (see ``backends.batches``).

**Timeouts** (``@pool.task(timeout=s)``). A timed call travels alone, and only
once a worker process is free to take it at once, so it starts running
when it is submitted, and its count starts then (never while it queues
behind other work). At its deadline it fails with TimeoutError. The stdlib
process pool cannot end one process alone, so every process of the pool is
ended and the pool replaced: the calls that were in flight in it and had not
been settled run again in the fresh pool, so such a call may run twice.
On a user's executor the count starts when the call starts running (a
``ThreadPoolExecutor``) or when it is submitted (any other executor); at the
deadline its future is cancelled if it has not started, otherwise it runs on
and its late outcome is discarded (logged at DEBUG on ``asynckit``).

**A user's executor** gets one ``submit`` per call, on the caller's thread
(batches only for ``pool.map(chunksize=k)``). Its done-callbacks only hand
the future to the dispatcher thread, which settles it: a ``ProcessPoolExecutor``
calls them on its management thread, where a ``submit`` can deadlock (it
writes to a wake-up pipe only that thread drains), and settling may submit.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import concurrent.futures.thread  # noqa: F401 - import before registering our exit hook
import contextlib
import functools
import logging
import multiprocessing
import pickle
import threading
from collections import deque
from queue import Empty, SimpleQueue
from typing import Any

from .. import lifecycle
from ..admission import start_all
from ..errors import CancelledError
from ..graph import settle
from ..inputs import ready_arguments
from ..node import PENDING, QUEUED, Node, _lock
from ..protocols import Backend, PoolHandle
from ..report import observe
from ..run import Deadline, claim, execute, fail, finish
from ..value import describe
from .batches import Batch, dump_call, give_up
from .packing import Packing
from .pickling import run_calls, task_pickle_error

__all__ = ["ExecutorBackend", "start_method"]

_log = logging.getLogger("asynckit")
_HIGHEST = pickle.HIGHEST_PROTOCOL
_Broken = concurrent.futures.process.BrokenProcessPool


def start_method() -> str:
    """The start method of the processes backend: ``forkserver`` where it exists, else ``spawn``.

    Never ``fork``: forking a process that runs threads (asynckit's own, and
    any the program has) can copy a lock in its held state into the child.
    """
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class _Timed:
    """The deadline of a call on a user's executor, once it has started."""

    __slots__ = ("deadline",)

    def __init__(self) -> None:
        self.deadline: Deadline | None = None


class ExecutorBackend(Packing):
    """Hands ready tasks to a ``concurrent.futures.Executor``.

    ``executor=None`` means the processes backend: asynckit makes (and
    remakes, if a worker process dies) a ``ProcessPoolExecutor`` with
    ``worker_count`` processes and a thread-safe start method.
    """

    timeouts = True  # see the module docstring, run.Deadline and expire

    def __init__(self, pool: PoolHandle, executor: concurrent.futures.Executor | None,
                 worker_count: int) -> None:
        self.name: str = pool.name
        self.owned: bool = executor is None
        # Pickle payloads ourselves for the stdlib process pool (ours or the
        # user's). Others (loky, ...) have their own, often better, pickler.
        self.pickles: bool = executor is None or isinstance(
            executor, concurrent.futures.ProcessPoolExecutor)
        self.executor = executor
        self.worker_count: int = worker_count
        self.mutex: threading.Lock = threading.Lock()
        self.inbox: SimpleQueue[Any] = SimpleQueue()
        self.dispatcher: threading.Thread | None = None
        self.idle: bool = True  # the dispatcher waits with nothing to ship
        self.closed: bool = False
        # Pickled, claimed calls (node, bytes) and map chunks (Batch) to ship.
        self.ready: deque[tuple[Node, bytes] | Batch] = deque()
        # Batches in the executor, by future, until their callback.
        self.batches: dict[concurrent.futures.Future[Any], Batch] = {}
        # One call per future (a user's executor), until it completes; the
        # futures of timed calls, with their deadlines.
        self.inflight: dict[Node, concurrent.futures.Future[Any]] = {}
        self.timed: dict[concurrent.futures.Future[Any], _Timed] = {}
        # Of those, the ones a broken process pool failed before they started.
        self.unstarted: set[Node] = set()
        # Seconds per call, by id of the function (batch sizes).
        self.cost: dict[int, float] = {}
        self.local = threading.local()  # .chunk: pool.map's calls being gathered
        # Interpreter exit: concurrent.futures' exit hook refuses new work
        # once it has run; this one, registered after it was imported, runs
        # before it, so the pool's pending work is finished first.
        lifecycle.register_exit_wait(pool)  # type: ignore[arg-type]
        # Started now, in the program's normal flow: from 3.12 no thread can
        # start once the interpreter is exiting, when completions still arrive.
        self._start_dispatcher()

    # -- submission -----------------------------------------------------------

    #: The processes backend test-pickles a task that waits for inputs.
    wants_pending = True

    def submit(self, node: Node) -> None:
        """On the caller's thread: pickle (or submit) now, so a task that cannot
        be pickled raises right there, in the caller."""
        if self.executor is None and self.owned:
            self._start_processes()
        chunk: list[Node] | None = getattr(self.local, "chunk", None)
        if chunk is not None and node.kwargs is None and node.inputs == () and (
                node.spec is None or node.spec.timeout is None):
            if not chunk and self.local.largest:
                self.local.size = self._chunk_size(node.fn)
            chunk.append(node)  # claimed in _ship_chunk, all at once
            if len(chunk) >= self.local.size:
                self.local.chunk = []
                self._ship_chunk(chunk)
            return
        error = self._pickle(node) if self.owned else self.dispatch(node)
        if error is not None:
            observe(node)
            raise error

    def _start_processes(self) -> None:
        # Here, in the program's flow: the dispatcher may first submit at
        # interpreter exit, when the worker processes could no longer import
        # the main script (its functions). The pool starts a process per
        # submission while none is idle.
        executor = self._executor()
        for _ in range(self.worker_count):
            executor.submit(int)

    def pending(self, node: Node, after: Node | None) -> None:
        """Test-pickle the function and plain arguments of a task that waits
        for inputs: a misuse raises at the call, not when it is ready."""
        if self.pickles and node.state == PENDING:
            error = task_pickle_error(node, skip_values=True)
            if error is not None:
                start_all(settle(node, None, error))
                observe(node)
                raise error

    def start(self, node: Node) -> None:
        self.inbox.put(node)
        if self.dispatcher is None:
            self._start_dispatcher()

    def dispatch(self, node: Node) -> BaseException | None:
        """A user's executor: submit a ready node. Returns a pickling error, if
        any. Settles the node on every path where it does not reach the executor."""
        if not claim(node):
            return None  # cancelled, or run by a waiting thread
        spec = node.spec
        timeout = None if spec is None else spec.timeout
        timed = None
        try:
            fn = node.fn
            args, kwargs = ready_arguments(node)
            if self.pickles:
                try:
                    payload = dump_call(node, args, kwargs or {})
                except pickle.PicklingError as error:
                    give_up(node, error)
                    return error
                future = self._submit(_run_pickled, payload)
            elif timeout is not None and isinstance(self.executor,
                                                    concurrent.futures.ThreadPoolExecutor):
                # Counted from when its thread starts it (not while it queues).
                timed = _Timed()
                future = self._submit(_start_timed, timed, node, timeout, self, fn, args,
                                      kwargs or {})
            else:
                future = self._submit(fn, *args, **(kwargs or {}))
        except KeyboardInterrupt:
            give_up(node, CancelledError(f"{describe(node)} was cancelled by Ctrl-C "
                                          f"before it ran"))
            raise
        except BaseException as error:  # a failed input's plain(), a closed executor, ...
            start_all(fail(node, error))
            return None
        self.inflight[node] = future
        if timeout is not None:
            if timed is None:  # counted from its submission
                timed = _Timed()
                self.timed[future] = timed
                timed.deadline = Deadline(node, timeout, self)
            else:
                self.timed[future] = timed
        future.add_done_callback(functools.partial(self._done, node))
        return None

    def _submit(self, fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        executor = self._executor()
        try:
            return executor.submit(fn, *args, **kwargs)
        except concurrent.futures.BrokenExecutor:
            if not self.owned:
                raise
            # A worker died and the executor knows it before we have seen
            # the failures it caused: replace it and try once more.
            self._replace(executor)
            return self._executor().submit(fn, *args, **kwargs)

    def _executor(self) -> concurrent.futures.Executor:
        executor = self.executor
        if executor is None:
            with self.mutex:
                if self.executor is None:
                    context = multiprocessing.get_context(start_method())
                    self.executor = concurrent.futures.ProcessPoolExecutor(
                        self.worker_count, mp_context=context)
                executor = self.executor
        return executor

    def _replace(self, broken: concurrent.futures.Executor) -> None:
        """Drop a broken process pool; the next submission makes a fresh one."""
        with self.mutex:
            if self.executor is not broken:
                return
            self.executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    # -- shipping batches (on the dispatcher) ---------------------------------------

    # -- completion ---------------------------------------------------------------

    def _done(self, node: Node, future: concurrent.futures.Future[Any]) -> None:
        # A user's executor, on its thread: hand over, never settle here.
        if self.pickles and not future.cancelled() and isinstance(future.exception(), _Broken):
            for other, other_future in list(self.inflight.items()):
                if not other_future.running() and not other_future.done():
                    self.unstarted.add(other)
        self.inbox.put((node, future))
        if self.dispatcher is None:
            self._start_dispatcher()

    def _complete(self, node: Node, future: concurrent.futures.Future[Any]) -> None:
        if self.inflight.get(node) is future:
            del self.inflight[node]
        timed = self.timed.pop(future, None)
        if timed is not None and timed.deadline is not None and not timed.deadline.finish():
            if not future.cancelled():  # ran on after its deadline: discarded
                timed.deadline.late(future.exception() or future.result())
            return
        if future.cancelled():  # by cancel_unstarted: it never ran (and is never retried)
            give_up(node, CancelledError(f"{describe(node)} was cancelled before it ran"))
            return
        error = future.exception()
        if error is None:
            result = future.result()
            if self.pickles:  # pickled by _run_pickled, in the worker
                try:
                    result = pickle.loads(result)
                except Exception as problem:
                    failure = pickle.UnpicklingError(
                        f"the result of {describe(node)} arrived from the worker process "
                        f"but cannot be unpickled here: {type(problem).__name__}: {problem}")
                    failure.__cause__ = problem
                    start_all(fail(node, failure))
                    return
            start_all(finish(node, result))
            return
        if isinstance(error, _Broken) and node in self.unstarted:
            self.unstarted.discard(node)  # never reached a worker process: again
            with _lock:
                node.state = QUEUED  # ours (claimed): nobody else moves it
            self.dispatch(node)
            return
        start_all(fail(node, error))

    def _start_dispatcher(self) -> None:
        with self.mutex:
            if self.dispatcher is not None:
                return
            self.dispatcher = threading.Thread(
                target=self._serve, name=f"{self.name}-dispatcher", daemon=True)
        self.dispatcher.start()

    def _serve(self) -> None:
        inbox = self.inbox
        while True:
            item = inbox.get()
            self.idle = False
            while True:
                if item is None:
                    with self.mutex:
                        if self.closed and inbox.empty() and not self.ready:
                            self.dispatcher = None
                            return
                try:
                    self._handle(item)
                except BaseException:  # pragma: no cover - a bug; keep serving
                    _log.exception("asynckit: dispatcher error")
                try:
                    item = inbox.get_nowait()
                except Empty:
                    break
            try:
                self._ship()
            except BaseException:  # pragma: no cover - a bug; keep serving
                _log.exception("asynckit: dispatcher error")
            # Calls left in ready wait for a place in flight: a finished
            # batch wakes this thread. Calls that arrive from now on wake it
            # once it is idle (see _wake); one that came just before is seen here.
            blocked = bool(self.ready)
            self.idle = True
            if self.ready and not blocked:
                self.idle = False
                inbox.put(True)
            # An idle dispatcher keeps no task alive (nor, through it, its pool).
            item = None

    def _handle(self, item: Any) -> None:
        if type(item) is Node:
            if self.owned:
                self._pickle(item)
            else:
                self.dispatch(item)
        elif type(item) is tuple:
            if type(item[0]) is Batch:
                batch, future = item
                if future.cancelled() or future.exception() is not None:
                    self._batch_failed(batch, future)
                else:
                    self._settle_batch(batch, future.result())
            else:
                self._complete(*item)

    # -- the rest of the backend interface -----------------------------------------

    def expire(self, node: Node, lent: bool) -> None:
        """``node`` ran past its timeout (on the timer thread; see the module doc).

        Processes: end every process of the pool running it, which is replaced;
        the other calls in flight there run again in the fresh pool. A user's
        executor: cancel the future if it has not started.
        """
        if not self.owned:
            future = self.inflight.get(node)
            if future is not None:
                future.cancel()
            return
        mine = None
        for batch in list(self.batches.values()):
            if batch.nodes[0] is node and batch.deadline is not None:
                mine = batch
        if mine is None or mine.executor is None:
            return  # finished meanwhile
        executor = mine.executor
        with self.mutex:
            if self.executor is executor:
                self.executor = None
        for batch in list(self.batches.values()):
            if batch.executor is executor and batch is not mine:
                batch.rerun = True
        processes = getattr(executor, "_processes", None) or {}
        for process in list(processes.values()):
            with contextlib.suppress(Exception):
                process.kill()
        executor.shutdown(wait=False)

    def cancel_unstarted(self) -> None:
        """Ctrl-C: cancel what waits in the executor's queue, not started yet.

        (What a ProcessPoolExecutor has already moved to its workers' call
        queue, worker_count + 1 at most, runs.)
        """
        while True:
            try:
                entry = self.ready.popleft()
            except IndexError:
                break
            for node in entry.nodes if isinstance(entry, Batch) else (entry[0],):
                give_up(node, CancelledError(f"{describe(node)} was cancelled before it ran"))
        for future in [*self.batches, *self.inflight.values()]:
            future.cancel()

    def run_here(self, node: Node) -> None:
        """A thread waiting on a queued task runs it itself, if it may (not for processes)."""
        if not self.pickles and node.state == QUEUED and claim(node):
            start_all(execute(node))

    def resize(self, worker_count: int) -> None:
        """A new process count applies to a fresh process pool; running tasks finish
        in the old one. An executor passed in is the caller's to size."""
        self.worker_count = worker_count
        if self.owned:
            with self.mutex:
                old, self.executor = self.executor, None
            if old is not None:
                old.shutdown(wait=False)

    def close(self) -> None:
        """The pool is shut down and drained: stop the dispatcher and our processes.
        An executor passed in stays open: it belongs to the caller."""
        executor = None
        with self.mutex:
            self.closed = True
            if self.owned:
                executor, self.executor = self.executor, None
        self.inbox.put(None)
        if executor is not None:
            executor.shutdown(wait=False)


def _start_timed(timed: _Timed, node: Node, timeout: float, backend: Backend, fn: Any,
                 args: Any, kwargs: dict[str, Any]) -> Any:
    """On a user's ThreadPoolExecutor: the timed call's count starts as it does."""
    timed.deadline = Deadline(node, timeout, backend)
    return fn(*args, **kwargs)


def _run_pickled(payload: bytes) -> bytes:
    """In a worker process of a user's ProcessPoolExecutor: one pickled call,
    its outcome pickled back (see ``pickling.run_calls``)."""
    (ok, value), = pickle.loads(run_calls([payload]))[0]
    if not ok:
        raise value
    return pickle.dumps(value, _HIGHEST)
