"""Module-level helpers: they keep the proxy's own namespace free."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Iterator
from time import monotonic
from typing import Any, TypeVar

from .graph import plain, start_all
from .value import (
    DONE, FAILED, STATE_NAMES, AsyncValue, Node, add_callback, cancel as _cancel, observe,
)
from .value import PROXY_TYPES, _lock, allocate_lock

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
    """
    cancelled, ready = _cancel(_node(value, "cancel"))
    start_all(ready)
    return cancelled


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

    Raises :class:`TimeoutError` if they have not all settled ``timeout``
    seconds after the call. Duplicates are yielded once.
    """
    deadline = None if timeout is None else monotonic() + timeout
    unique: dict[int, AsyncValue[T]] = {}
    for value in values:
        _node(value, "as_completed")
        unique.setdefault(id(value), value)
    settled: list[AsyncValue[T]] = []
    gate = allocate_lock()
    gate.acquire()
    by_node = {id(v._self_task): v for v in unique.values()}

    def arrived(node: Node) -> None:
        with _lock:
            settled.append(by_node[id(node)])
            if len(settled) == 1:
                gate.release()

    for value in unique.values():
        add_callback(value._self_task, arrived)
    remaining = len(unique)
    while remaining:
        with _lock:
            batch = settled[:]
            del settled[:]
            if not batch:
                if gate.locked():
                    pass
        if not batch:
            wait = None if deadline is None else deadline - monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError(f"{remaining} of {len(unique)} values did not settle "
                                   f"within {timeout} s")
            if not (gate.acquire() if wait is None else gate.acquire(True, wait)):
                raise TimeoutError(f"{remaining} of {len(unique)} values did not settle "
                                   f"within {timeout} s")
            continue
        for value in batch:
            remaining -= 1
            yield value


class _TaskFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """A Future whose ``cancel()`` cancels the task behind it (if it has not started)."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._asynckit_node = node

    def cancel(self) -> bool:
        node = self._asynckit_node
        if node.state >= DONE:
            return super().cancel() if node.state > FAILED else False
        cancelled, ready = _cancel(node)
        start_all(ready)
        return cancelled or super().cancelled()


def future(value: AsyncValue[T]) -> concurrent.futures.Future[T]:
    """A standard :class:`concurrent.futures.Future` that settles with ``value``.

    Its ``cancel()`` cancels the task if it has not started.
    """
    node = _node(value, "future")
    result: concurrent.futures.Future[T] = _TaskFuture(node)

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
