"""Module-level helpers: they keep the proxy's own namespace free."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Iterator
from queue import Empty, SimpleQueue
from time import monotonic
from typing import Any, TypeVar

from .graph import plain, start_all
from .value import (
    CANCELLED,
    DONE,
    FAILED,
    GATHER,
    PROXY_TYPES,
    RUNNING,
    STATE_NAMES,
    AsyncValue,
    Node,
    _hooks,
    _local,
    add_callback,
    observe,
    sleep_lent,
    wait_for,
)
from .value import cancel as _cancel

__all__ = ["unwrap", "cancel", "exception", "state", "as_completed", "future"]

T = TypeVar("T")


def _node(value: Any, what: str) -> Node:
    if type(value) not in PROXY_TYPES:
        raise TypeError(f"asynckit.{what}() takes an AsyncValue, not {type(value).__name__}")
    return value._self_task  # type: ignore[no-any-return]


def unwrap(obj: Any) -> Any:
    """The plain value behind ``obj``, waiting for it if needed.

    Walks lists, tuples, dicts, sets and frozensets (rebuilt with their own
    types), so ``unwrap([v1, {"k": v2}])`` is plain all the way down. Raises a
    failed value's exception. The one obvious way to the raw object for C code
    that refuses any proxy (``''.join``, ``json.dumps``, ``hashlib``, numpy).
    """
    return plain(obj)


def cancel(value: AsyncValue[Any]) -> bool:
    """Cancel a task that has not started, and every task that depends on it.

    Returns True if it was cancelled; False if it is running or has settled
    (a running task is never interrupted). Its value, and its dependents',
    then raise :class:`asynckit.CancelledError` when used.

    For an :class:`AsyncList` (as for ``asyncio.gather``), every item that
    has not started is cancelled too, then the list itself; True if the list
    was cancelled. Items already running finish; their results are dropped.
    """
    node = _node(value, "cancel")
    if node.fn is not GATHER:
        cancelled, ready = _cancel(node)
        start_all(ready)
        return cancelled
    ready = []
    was_unsettled = node.state < DONE
    for item in node.args or ():
        if type(item) in PROXY_TYPES:
            ready += _cancel(item._self_task)[1]
    ready += _cancel(node)[1]  # if its items all settled, it has too
    start_all(ready)
    return was_unsettled and node.state == CANCELLED


def exception(value: AsyncValue[Any], timeout: float | None = None) -> BaseException | None:
    """Wait for ``value`` and return its exception (None if it succeeded).

    Raises :class:`TimeoutError` if it has not settled within ``timeout``
    seconds. Counts as observing the error.
    """
    node = _node(value, "exception")
    if not value.wait(timeout):
        raise TimeoutError(f"{value!r} did not settle within {timeout} s")
    if node.state >= FAILED:
        observe(node)
        return node.error
    return None


def state(value: AsyncValue[Any]) -> str:
    """``"pending"``, ``"running"``, ``"done"``, ``"failed"`` or ``"cancelled"``. Never blocks."""
    return STATE_NAMES[_node(value, "state").state]


def as_completed(values: Iterable[AsyncValue[T]],
                 timeout: float | None = None) -> Iterator[AsyncValue[T]]:
    """Yield the AsyncValues themselves, each once settled, in completion order.

    Like :func:`concurrent.futures.as_completed`: values that have already
    settled come first; a value given twice is yielded once; a failed or
    cancelled value is yielded like any other (call ``get()`` to see its
    error). Raises :class:`TimeoutError` once ``timeout`` seconds have passed
    since the call, as :func:`concurrent.futures.as_completed` does (values
    that had settled before the call are yielded whatever the time). The
    arguments are checked at the call, and the iterator keeps no reference to
    a value it has yielded.

    Example::

        for page in asynckit.as_completed([download(u) for u in urls]):
            print(len(page))
    """
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, (int, float))):
        raise TypeError(f"timeout must be seconds or None, not {timeout!r}")
    deadline = None if timeout is None else monotonic() + timeout
    pending: dict[int, AsyncValue[T]] = {}  # by id() of the node: never ask a proxy
    for value in values:
        pending.setdefault(id(_node(value, "as_completed")), value)
    # Settle callbacks feed the queue in completion order (already-settled
    # values go in at once, in input order); nothing polls.
    arrivals: SimpleQueue[Node] = SimpleQueue()
    for value in list(pending.values()):
        add_callback(value._self_task, arrivals.put)
    # Those settled before the call are yielded whatever the time.
    return _completed(pending, arrivals, arrivals.qsize(), deadline, timeout)


def _completed(pending: dict[int, AsyncValue[T]], arrivals: SimpleQueue[Node], already: int,
               deadline: float | None, timeout: float | None) -> Iterator[AsyncValue[T]]:
    total = len(pending)
    while pending:
        try:
            if already:
                already -= 1
                node = arrivals.get_nowait()
            elif deadline is not None and monotonic() >= deadline:
                raise Empty  # as concurrent.futures: the deadline counts from the call
            else:
                try:
                    node = arrivals.get_nowait()
                except Empty:
                    node = _sleep_for(arrivals, deadline)
        except Empty:
            raise TimeoutError(f"as_completed: {len(pending)} of {total} values did not "
                               f"settle within {timeout} s") from None
        except KeyboardInterrupt:
            _hooks.interrupted()  # Ctrl-C: cancel work not started, as every wait does
            raise
        # Yield straight from pop(): no local keeps the value alive while the
        # caller holds (or drops) it.
        yield pending.pop(id(node))


def _sleep_for(arrivals: SimpleQueue[Node], deadline: float | None) -> Node:
    if deadline is None:
        return sleep_lent(arrivals.get)
    return sleep_lent(lambda: arrivals.get(timeout=max(deadline - monotonic(), 0.0)))


class _TaskFuture(concurrent.futures.Future[T]):
    """A Future whose ``cancel()`` cancels the task behind it if it has not started.

    It holds the task's node, never its value: once the task has settled the
    node holds neither the function nor the arguments (no stale references).
    """

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._asynckit_node = node

    def result(self, timeout: float | None = None) -> T:
        # Inside a task, wait the asynckit way first: the worker runs the
        # task itself if it has not started, or lends its place to another
        # thread while it sleeps; the Future's own Condition would do neither
        # (a deadlock with one worker). The settle callback fills the Future
        # right after. Other threads wait as with any Executor's Future.
        return super().result(self._help(timeout))

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return super().exception(self._help(timeout))

    def _help(self, timeout: float | None) -> float | None:
        """Inside a task, wait the asynckit way; return the time left of ``timeout``."""
        if getattr(_local, "pool", None) is None:
            return timeout
        if timeout is None:
            wait_for(self._asynckit_node)
            return None
        deadline = monotonic() + timeout
        wait_for(self._asynckit_node, timeout)
        return max(deadline - monotonic(), 0.0)

    def running(self) -> bool:
        return self._asynckit_node.state == RUNNING and not self.done()

    def __repr__(self) -> str:
        if self.running():  # Future's own state stays PENDING until it is done
            return f"<{type(self).__name__} at {id(self):#x} state=running>"
        return super().__repr__()

    def cancel(self) -> bool:
        node = self._asynckit_node
        if node.state < DONE:
            cancelled, ready = _cancel(node)
            start_all(ready)
            if not cancelled:  # it started meanwhile
                return False
        elif node.state != CANCELLED:
            return False
        # Cancelled: the settle callback cancels this Future too, perhaps on
        # another thread a moment later; doing it here as well is harmless.
        return super().cancel()


def future(value: AsyncValue[T]) -> concurrent.futures.Future[T]:
    """A standard :class:`concurrent.futures.Future` that settles with ``value``.

    Its result is the plain result; a failed value sets its exception (and
    counts as observed); a cancelled one cancels the Future. ``cancel()`` on
    the Future cancels the task if it has not started, and its dependents.
    Works with :func:`asyncio.wrap_future` and :func:`concurrent.futures.wait`.
    """
    node = _node(value, "future")
    result: _TaskFuture[T] = _TaskFuture(node)

    def settled(node: Node) -> None:
        if node.state == DONE:
            try:
                outcome = value.get()
            except BaseException as error:  # a remote result that failed to arrive
                result.set_exception(error)
            else:
                result.set_result(outcome)
        elif node.state == FAILED:
            observe(node)
            assert node.error is not None
            result.set_exception(node.error)
        else:
            concurrent.futures.Future.cancel(result)
            result.set_running_or_notify_cancel()

    add_callback(node, settled)
    return result
