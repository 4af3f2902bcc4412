"""Module-level helpers: they keep the proxy's own namespace free."""

from __future__ import annotations

import concurrent.futures
from _queue import Empty, SimpleQueue  # queue.py's own (queue.py itself is not needed)
from collections.abc import Iterable, Iterator
from time import monotonic
from typing import Any, TypeVar

from .admission import start_all
from .asynclist import PROXY_TYPES
from .errors import check_timeout
from .graph import cancel as _cancel
from .inputs import plain
from .node import CANCELLED, DONE, FAILED, GATHER, RUNNING, STATE_NAMES, Node
from .report import observe
from .value import AsyncValue
from .waiting import add_callback, sleep, wait_for

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
    timeout = check_timeout(timeout, "as_completed()")
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
        node = None
        if already:
            already -= 1
            node = arrivals.get_nowait()
        elif deadline is None or monotonic() < deadline:
            # (Not inside an ``except Empty``: a Ctrl-C while sleeping would
            # show asynckit's own Empty as the exception it interrupted.)
            try:
                node = arrivals.get_nowait()
            except Empty:
                pass
            if node is None:
                node = _sleep_for(arrivals, deadline)
        if node is None:  # as concurrent.futures: the deadline counts from the call
            raise TimeoutError(f"as_completed: {len(pending)} of {total} values did not "
                               f"settle within {timeout} s")
        # Yield straight from pop(): no local keeps the value alive while the
        # caller holds (or drops) it.
        yield pending.pop(id(node))


def _sleep_for(arrivals: SimpleQueue[Node], deadline: float | None) -> Node | None:
    if deadline is None:
        return sleep(arrivals.get)

    def get() -> Node | None:
        try:
            return arrivals.get(timeout=max(deadline - monotonic(), 0.0))
        except Empty:
            return None

    return sleep(get)


class _TaskFuture(concurrent.futures.Future[T]):
    """A Future whose ``cancel()`` cancels the task behind it if it has not started.

    It holds the task's node, never its value: once the task has settled the
    node holds neither the function nor the arguments (no stale references).
    """

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._asynckit_node = node

    def result(self, timeout: float | None = None) -> T:
        # Wait the asynckit way (waiting.wait_for), on every thread: inside a
        # task the worker runs the task itself if it has not started, or
        # lends its place while it sleeps (the Future's own Condition would
        # do neither: a deadlock with one worker), and Ctrl-C cancels the
        # work not started, as every asynckit wait does. The settle callback
        # fills the Future right after the settle, so the wait for it below
        # is short.
        if not wait_for(self._asynckit_node, timeout):
            return super().result(0)  # TimeoutError, as Future.result raises it
        return super().result()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not wait_for(self._asynckit_node, timeout):
            return super().exception(0)
        return super().exception()

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
