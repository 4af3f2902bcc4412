"""AsyncList: one AsyncValue for many, and ``pool.map``'s result iterator.

An AsyncList's record is a GATHER node: it never runs code; it counts its
items down like a task counts its inputs, and settles (``graph.settle``)
with the list of their results, or the first failure in list order, as
:func:`gather_outcome` decides. Iterating it yields each item as soon as
that item is ready (``Executor.map`` semantics), so it is also the iterator
``pool.map`` returns.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from time import perf_counter
from typing import Any, TypeVar

import wrapt

from .node import DONE, GATHER, Node, _lock
from .value import AsyncValue, _publish, _task_of, _wrapped_of, describe

__all__ = ["AsyncList", "PROXY_TYPES", "gather_outcome"]

T = TypeVar("T")


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
            # Every item has settled, and nothing can depend on this list
            # yet: no settle needed, only its outcome.
            result, source, remote = gather_outcome(items)
            if source is not None:
                node.error = source.error
                node.reporter = source.reporter
                node.state = source.state  # FAILED or CANCELLED, as the item
            else:
                node.args = None
                node.remote = remote
                if remote is None:
                    _publish(self, result)
                node.state = DONE
            node.proxy = None

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
    """Cancel the items not started, each through its own pool."""
    by_pool: dict[int, tuple[Any, list[Node]]] = {}
    for item in items:
        if type(item) in PROXY_TYPES:
            node = _task_of(item)
            if node.pool is not None:
                by_pool.setdefault(id(node.pool), (node.pool, []))[1].append(node)
    for pool, nodes in by_pool.values():
        pool._cancel_nodes(nodes)


PROXY_TYPES = frozenset({AsyncValue, AsyncList})


def gather_outcome(items: list[Any]) -> tuple[list[Any] | None, Node | None, Any]:
    """What an AsyncList whose items have all settled settles with.

    ``(results, None, None)``; ``(None, failed, None)`` for the first failed or
    cancelled item in list order (its error is the list's); ``(None, None,
    remote)`` when an item's value lives elsewhere, so the list is built on
    first use.
    """
    for item in items:
        if type(item) in PROXY_TYPES:
            inner = _task_of(item)
            if inner.state != DONE:
                return None, inner, None
            if inner.remote is not None:
                return None, None, LazyList(items)
    return [_wrapped_of(item) if type(item) in PROXY_TYPES else item for item in items], \
        None, None


class LazyList:
    """``node.remote`` of an AsyncList with remote items: built on first use."""

    __slots__ = ("items",)
    here = False  # built on first use: repr never builds it

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def result(self) -> list[Any]:
        return [item.get() if type(item) in PROXY_TYPES else item for item in self.items]
