"""The processes backend's batches: many calls in one executor call.

The thread that calls ``pool.do`` pickles the call itself (so a call that
cannot be pickled raises right there, naming the culprit) and leaves the
bytes in ``ready``; the dispatcher thread gathers what is waiting into
batches and submits each as one ``ProcessPoolExecutor`` call, which runs the
calls one after the other in a worker process and sends back every outcome
at once (``pickling.run_calls``). A batch holds all that waits, up to
``BATCH_CALLS`` calls and ``BATCH_SECONDS`` of work as measured for each
function so far (a function not measured yet travels alone), so a batch
never serialises long calls onto one process; at most ``2 * worker_count``
batches are in flight, which keeps every process fed and lets the backlog
grow into the next batch. ``pool.map(chunksize=k)`` sends chunks of ``k``
calls, pickled as one ``(fn, [args, ...])`` (on a user's executor too); a
map of a plain function packs each chunk into one task (``packing``), at
most ``PACKED_IN_FLIGHT * worker_count`` of them in flight.

The done-callback settles a batch's calls one by one, on the executor's
management thread. Nothing there may submit to the executor (a ``submit``
from that thread can deadlock), and nothing does: a task that becomes ready
is handed to the dispatcher (``Backend.start``). Failures of a whole batch
(a dead worker, a cancel) go to the dispatcher too. A worker process that
dies fails the batch it was running, every call in it.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import logging
import math
import pickle
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from queue import SimpleQueue
from types import FunctionType
from typing import Any

from ..admission import start_all
from ..errors import CancelledError
from ..gates import release_slot
from ..graph import settle
from ..inputs import ready_arguments
from ..node import QUEUED, RUNNING, Node, _lock, name_of
from ..protocols import Backend
from ..report import observe
from ..run import Deadline, claim, fail, finish
from ..value import describe
from .pickling import (
    by_reference,
    run_calls,
    run_chunk,
    run_packed,
    run_plain_chunk,
    task_pickle_error,
)

__all__ = ["Batch", "Batching", "give_up", "main_guard_hint", "BATCH_CALLS", "BATCH_SECONDS",
           "DEFAULT_CHUNK_MAX", "DEFAULT_CHUNK_SECONDS", "PACKED_IN_FLIGHT"]

_log = logging.getLogger("asynckit")
_dumps = pickle.dumps
_HIGHEST = pickle.HIGHEST_PROTOCOL
_Broken = concurrent.futures.process.BrokenProcessPool

#: A batch of the processes backend holds at most this many calls ...
BATCH_CALLS = 512
#: ... and about this much work, as measured for each function so far.
BATCH_SECONDS = 0.005
#: ``pool.map`` on processes without ``chunksize``: chunks of
#: ``ceil(len / (4 * worker_count))`` calls (``multiprocessing.Pool.map``'s
#: rule), at most this many.
DEFAULT_CHUNK_MAX = 512
#: ... holding about this much work, for a function already measured.
DEFAULT_CHUNK_SECONDS = 0.05
#: At most this many packed chunks per process are in flight: enough to keep
#: every process fed while completions hop through the dispatcher (measured:
#: 2 per process left them idle, chunks of 250 tiny calls ran 1.4x slower
#: than ``ProcessPoolExecutor.map``); the rest wait here, where ``close()``
#: can still cancel them.
PACKED_IN_FLIGHT = 8


class Batch:
    """Calls that travel as one executor call: a batch (``payload``: their
    pickles) or a map chunk (``payload``: one pickle); ``rerun``: the pool they
    went to broke before they could have run (or was ended at a timeout)."""

    __slots__ = ("nodes", "payload", "executor", "deadline", "rerun", "packed")

    def __init__(self, nodes: list[Node], payload: Any, packed: bool = False) -> None:
        self.nodes = nodes
        self.payload = payload
        self.executor: concurrent.futures.Executor | None = None
        self.deadline: Deadline | None = None
        self.rerun = False
        self.packed = packed  # one node for the whole chunk (``packing.Packing.pack``)


def _batch_note(nodes: list[Node]) -> str:
    return "" if len(nodes) == 1 else (
        f" (it travelled in a batch of {len(nodes)} calls, which all fail with it)")


class Batching(Backend):
    """The batch half of ``executor.ExecutorBackend`` (its state is set there)."""

    owned: bool
    pickles: bool
    worker_count: int
    mutex: threading.Lock
    inbox: SimpleQueue[Any]
    executor: concurrent.futures.Executor | None
    idle: bool
    dispatcher: threading.Thread | None
    ready: deque[tuple[Node, bytes] | Batch]
    batches: dict[concurrent.futures.Future[Any], Batch]
    cost: dict[int, float]
    local: threading.local

    def _executor(self) -> concurrent.futures.Executor:
        raise NotImplementedError

    def _replace(self, broken: concurrent.futures.Executor) -> None:
        raise NotImplementedError

    def _start_dispatcher(self) -> None:
        raise NotImplementedError

    def dispatch(self, node: Node) -> BaseException | None:
        raise NotImplementedError

    def chunking(self, chunksize: int | None,
                 iterables: Sequence[Iterable[Any]]) -> contextlib.AbstractContextManager[None]:
        """``pool.map``: gather its calls into chunks of ``chunksize``.

        Without one: a user's executor sends each call alone (``Executor.map``);
        processes chunk as ``multiprocessing.Pool.map`` does, ``ceil(len / (4 *
        worker_count))`` calls, but at most ``DEFAULT_CHUNK_MAX`` (64 for an
        input without a length), and, for a function already measured, about
        ``DEFAULT_CHUNK_SECONDS`` of work (so slow calls spread over the processes).
        """
        bounded = chunksize is None
        if chunksize is None:
            if not self.owned:
                return contextlib.nullcontext()
            try:
                count = min(len(it) for it in iterables)  # type: ignore[arg-type]
            except (TypeError, ValueError):  # no length (or no iterables)
                count = 256 * self.worker_count
            chunksize = max(1, min(DEFAULT_CHUNK_MAX, math.ceil(count / (4 * self.worker_count))))
        if chunksize == 1 or getattr(self.local, "chunk", None) is not None:
            return contextlib.nullcontext()
        return self._gathering(chunksize, bounded)

    def _settle_packed(self, node: Node, results: list[Any],
                       failures: list[tuple[int, BaseException]], took: float) -> None:
        raise NotImplementedError  # backends.packing

    def _chunk_size(self, fn: Any) -> int:
        """The default chunk size for ``fn``, its first call in hand (see ``chunking``)."""
        size: int = self.local.largest
        each = self.cost.get(id(fn))
        return size if each is None else max(1, min(size, int(DEFAULT_CHUNK_SECONDS / each)))

    @contextlib.contextmanager
    def _gathering(self, chunksize: int, bounded: bool) -> Iterator[None]:
        local = self.local
        local.chunk, local.size = [], chunksize
        local.largest = chunksize if bounded else 0  # 0: as the caller said
        try:
            yield
        finally:
            chunk, local.chunk = local.chunk, None
            if chunk:
                self._ship_chunk(chunk)

    def _ship_chunk(self, nodes: list[Node]) -> None:
        """On the caller's thread: claim a chunk of QUEUED calls of one function
        (one hold of the lock for all) and pickle them as one; if that fails,
        each call on its own (naming the culprit)."""
        with _lock:
            nodes = [node for node in nodes if node.state == QUEUED]  # not cancelled
            for node in nodes:
                node.state = RUNNING
        if not nodes:
            return
        fn = nodes[0].fn
        if all(node.fn is fn for node in nodes):
            chunk = [node.args for node in nodes]
            try:
                if self.pickles:
                    payload: Any = _dumps((by_reference(fn), chunk), _HIGHEST)
                else:
                    payload = (fn, chunk)
            except Exception:
                pass
            else:
                self.ready.append(Batch(nodes, payload))
                self._wake()
                return
        first = None
        for node in nodes:
            with _lock:
                node.state = QUEUED  # ours (claimed): nobody else moves it
            try:
                error = self._pickle(node) if self.owned else self.dispatch(node)
            except BaseException as problem:  # Ctrl-C: the rest are cancelled too
                error = problem
            if error is not None and first is None:
                first = error
                observe(node)
        if first is not None:
            raise first

    def _pickle(self, node: Node) -> BaseException | None:
        """Processes: claim a ready node, pickle it, leave it to the dispatcher.
        Returns a pickling error, if any; settles the node on every path where
        it does not reach ``ready``."""
        if not claim(node):
            return None  # cancelled meanwhile
        try:
            args, kwargs = ready_arguments(node)
            try:
                payload = dump_call(node, args, kwargs)
            except pickle.PicklingError as error:
                give_up(node, error)
                return error
        except KeyboardInterrupt:
            # Ctrl-C while pool.do() pickles on the main thread: the task is
            # cancelled and the interrupt goes on to the caller (failing the
            # value with it would swallow it).
            give_up(node, CancelledError(f"{describe(node)} was cancelled by Ctrl-C "
                                          f"before it ran"))
            raise
        except BaseException as error:  # a failed input's plain(), ...
            start_all(fail(node, error))
            return None
        self.ready.append((node, payload))
        self._wake()
        return None

    def _wake(self) -> None:
        # The dispatcher sets idle, then looks at ready once more before it
        # waits: a call appended before this check is seen either way.
        if self.idle:
            self.idle = False
            self.inbox.put(True)

    def _ship(self) -> None:
        ready = self.ready
        batches = self.batches
        most = 2 * self.worker_count if self.owned else sys.maxsize
        most_packed = PACKED_IN_FLIGHT * self.worker_count if self.owned else sys.maxsize
        cost = self.cost
        while ready:
            head = ready[0]
            if type(head) is Batch and head.packed:
                if len(batches) >= most_packed:
                    return
                ready.popleft()
                if head.nodes[0].state == RUNNING or claim(head.nodes[0]):  # not cancelled
                    self._send(head, run_packed)
                continue
            if len(batches) >= most:
                return
            if isinstance(head, Batch):  # a map chunk
                ready.popleft()
                self._send(head, run_chunk if self.pickles else run_plain_chunk)
                continue
            node = head[0]
            spec = node.spec
            if spec is not None and spec.timeout is not None:
                # Alone, and only once a process is free to start it at once.
                if len(batches) >= self.worker_count:
                    return
                ready.popleft()
                self._send(Batch([node], [head[1]]), run_calls, spec.timeout)
                continue
            ready.popleft()
            nodes = [node]
            payloads = [head[1]]
            each = cost.get(id(node.fn))
            if each is not None:  # measured: gather what waits, up to a batch's worth
                work = each
                while ready and len(nodes) < BATCH_CALLS:
                    head = ready[0]
                    if isinstance(head, Batch):
                        break
                    node = head[0]
                    spec = node.spec
                    each = cost.get(id(node.fn))
                    if each is None or (spec is not None and spec.timeout is not None) \
                            or work + each > BATCH_SECONDS:
                        break
                    work += each
                    ready.popleft()
                    nodes.append(node)
                    payloads.append(head[1])
            self._send(Batch(nodes, payloads), run_calls)

    def _send(self, batch: Batch, runner: Any, timeout: float | None = None) -> None:
        try:
            executor = self._executor()
            try:
                future = executor.submit(runner, *(batch.payload if runner is run_plain_chunk
                                                   else (batch.payload,)))
            except concurrent.futures.BrokenExecutor:
                if not self.owned:
                    raise
                self._replace(executor)
                executor = self._executor()
                future = executor.submit(runner, batch.payload)
        except BaseException as error:  # a closed executor, ...
            for node in batch.nodes:
                start_all(fail(node, error))
            return
        batch.executor = executor
        self.batches[future] = batch
        if timeout is not None:
            batch.deadline = Deadline(batch.nodes[0], timeout, self)
        future.add_done_callback(self._batch_done)

    def _batch_done(self, future: concurrent.futures.Future[Any]) -> None:
        # On the executor's thread (see module doc): settle, never submit.
        batch = self.batches.pop(future, None)
        if self.owned and (batch is None or not batch.packed
                           or len(self.batches) <= PACKED_IN_FLIGHT * self.worker_count // 2):
            # A place in flight is free: ship more. (Packed chunks: once half
            # of theirs are, so that one wake of the dispatcher ships many.)
            self.inbox.put(True)
        if batch is None:
            return
        if future.cancelled() or future.exception() is not None:
            if self.owned and isinstance(future.exception() if not future.cancelled()
                                         else None, _Broken):
                # A worker died and the pool fails all it holds, one future
                # after the other, from this thread: the ones it has not
                # failed yet and never handed to a worker process had not
                # started. They run again in the fresh pool instead of failing.
                # (Only those of the broken pool: a fresh one may hold some.)
                for other_future, other in list(self.batches.items()):
                    if other.executor is batch.executor and not other_future.running() \
                            and not other_future.done():
                        other.rerun = True
            self.inbox.put((batch, future))
            if not self.owned and self.dispatcher is None:
                self._start_dispatcher()
            return
        if not self.owned:
            self.inbox.put((batch, future))
            return
        try:
            self._settle_batch(batch, future.result())
        except BaseException:  # pragma: no cover - a bug; the executor only logs it
            _log.exception("asynckit: error settling a batch of %d calls", len(batch.nodes))

    def _settle_batch(self, batch: Batch, data: Any) -> None:
        nodes = batch.nodes
        deadline = batch.deadline
        if deadline is not None and not deadline.finish():
            deadline.late(data)  # timed out: already failed
            return
        if self.pickles:
            try:
                loaded = pickle.loads(data)
            except Exception as problem:
                failure = pickle.UnpicklingError(
                    f"the results of {len(nodes)} calls ({describe(nodes[0])}, ...) arrived "
                    f"from the worker process but cannot be unpickled here: "
                    f"{type(problem).__name__}: {problem}")
                failure.__cause__ = problem
                for node in nodes:
                    start_all(fail(node, failure))
                return
            if batch.packed:
                self._settle_packed(nodes[0], *loaded)
                return
            outcomes, took = loaded
        else:
            outcomes, took = data, 0.0
        if len(outcomes) != len(nodes):  # the chunk itself could not be loaded
            outcomes = outcomes * len(nodes)
        each = took / len(nodes)
        if self.owned:
            cost = self.cost
            if len(cost) > 1000:
                cost.clear()
            for node in {id(node.fn): node for node in nodes}.values():
                cost[id(node.fn)] = each
        for node, (ok, value) in zip(nodes, outcomes, strict=True):
            node.took = each
            if not ok:
                ready = fail(node, value)
            elif node.spec is None:
                # run.finish(), inlined for the common case.
                if node.name is None:
                    fn = node.fn
                    node.name = fn.__qualname__ if type(fn) is FunctionType else name_of(fn)
                node.fn = node.args = node.kwargs = None
                ready = settle(node, value)
            else:
                ready = finish(node, value)
            if ready:
                start_all(ready)

    def _batch_failed(self, batch: Batch, future: concurrent.futures.Future[Any]) -> None:
        """On the dispatcher: a batch that was cancelled, or failed as a whole."""
        nodes = batch.nodes
        deadline = batch.deadline
        if deadline is not None and not deadline.finish():
            return  # timed out: failed already, its pool ended
        if batch.rerun and (future.cancelled() or isinstance(future.exception(), _Broken)):
            # It never reached a worker process (or its pool was ended).
            # Again, first, in the fresh pool (the nodes stay claimed).
            if type(batch.payload) is list:
                self.ready.extendleft(reversed(list(zip(nodes, batch.payload, strict=True))))
            else:
                batch.rerun, batch.executor, batch.deadline = False, None, None
                self.ready.appendleft(batch)
            return
        if future.cancelled():  # by cancel_unstarted: it never ran (and is never retried)
            for node in nodes:
                give_up(node, CancelledError(f"{describe(node)} was cancelled before it ran"))
            return
        error = future.exception()
        assert error is not None
        if isinstance(error, _Broken) and self.owned:
            self._replace_broken()
            crash = _Broken(
                f"a worker process died while {describe(nodes[0])} was running or queued "
                f"(killed, out of memory, or os._exit){_batch_note(nodes)}; the task did "
                f"not finish. Tasks submitted later run in fresh worker processes"
                f"{main_guard_hint()}")
            crash.__cause__ = error
            error = crash
        for node in nodes:
            start_all(fail(node, error))

    def _replace_broken(self) -> None:
        with self.mutex:
            broken = self.executor
        if broken is not None and getattr(broken, "_broken", False):
            self._replace(broken)


def main_guard_hint() -> str:
    """A hint when the main script has no ``if __name__ == "__main__":`` guard.

    Worker processes import the main script (forkserver and spawn do), so
    one that makes a processes pool and submits at its top level does so
    again in every worker, which dies of it ("bootstrapping phase"): the
    parent only sees its workers die.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return ""
    try:
        with open(path, encoding="utf-8") as source:
            if "__main__" in source.read():
                return ""
    except (OSError, UnicodeDecodeError):
        return ""
    return (f". {path} has no `if __name__ == \"__main__\":` guard: worker processes "
            f"import the main script, so one that makes a processes pool and submits at "
            f"its top level does it again in every worker, which then dies. Put that code "
            f"under the guard")


def dump_call(node: Node, args: Any, kwargs: Any) -> bytes:
    """One call's function and plain arguments, pickled for a worker process; a
    ``PicklingError`` naming the function or the argument that does not pickle."""
    try:
        return _dumps((by_reference(node.fn), args, kwargs), _HIGHEST)
    except Exception as whole:
        raise task_pickle_error(node, args=args, kwargs=kwargs) or pickle.PicklingError(
            f"cannot pickle task {describe(node)} for the processes backend: {whole}"
        ) from None


def give_up(node: Node, error: BaseException) -> None:
    """Settle a claimed node that never ran: it did not reach the executor, or was
    cancelled in its queue (no retry: it would fail again, or was meant not to run)."""
    ready: list[Node] = []
    release_slot(node, ready)
    node.fn = node.args = node.kwargs = None
    start_all([*settle(node, None, error), *ready])
