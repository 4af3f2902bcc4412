"""AsyncList: one AsyncValue for many; ``pool.map``'s result and its iterator.

An AsyncList's record is a GATHER node: it never runs code; it counts its
items down like a task counts its inputs, and settles (``graph.settle``)
with the list of their results, or the first failure in list order, as
:func:`gather_outcome` decides. Iterating it yields each item as soon as
that item is ready (``Executor.map`` semantics, through a
:class:`MapIterator`). ``pool.map`` returns a :class:`MapResult`, an
AsyncList that is also its own iterator, or with ``buffersize`` a bare
:class:`MapIterator` that submits the calls as it goes.

A map result is made of *parts*: one value per call, or, where a backend
packs a chunk of calls into one task (the processes backend), a
:class:`ChunkValue` whose result is the list of that chunk's results. Its
record then says so (``node.kwargs is CHUNKED``): the gather flattens the
parts and the iteration yields from each.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, MutableSequence
from itertools import chain
from time import perf_counter
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import wrapt

from .node import DONE, GATHER, Node, _lock
from .value import AsyncValue, describe

__all__ = ["AsyncList", "MapResult", "MapIterator", "ChunkValue", "CHUNKED", "PROXY_TYPES",
           "gather_outcome"]

T = TypeVar("T")


class AsyncList(AsyncValue[list[T]]):
    """An AsyncValue whose result is the list of its items' results.

    ``AsyncList(values)`` takes any iterable; plain items pass through. It
    settles when every item has, and fails with the error of the first failed
    item *in list order*. Like any AsyncValue it can be chained and passed to
    tasks. ``len()`` is known at once and never blocks. Iterating yields each
    item's result in order as soon as that item is ready and raises a failed
    item's exception when iteration reaches it (``Executor.map`` semantics);
    each ``iter()`` starts from the first item.
    """

    __slots__ = ("_self_length",)

    @overload
    def __init__(self: AsyncList[T], values: Iterable[AsyncValue[T]]) -> None: ...

    @overload
    def __init__(self: AsyncList[T], values: Iterable[T] = ()) -> None: ...

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self._self_gather(list(values))

    def _self_gather(self, items: list[Any], chunked: bool = False) -> None:
        node = Node(None, None, GATHER, items, CHUNKED if chunked else None, None, "AsyncList")
        wrapt.BaseObjectProxy.__init__(self, None)  # type: ignore[arg-type]
        self._self_task = node
        self._self_length = len(items)
        # Weakly: its node lives on while its items run, and must not keep
        # the list alive for them. Nobody holding a map result means nobody
        # can ask for the rest of it (see MapIterator). Tasks are different:
        # their node holds their proxy, so that fire and forget works.
        node.proxy = weakref.ref(self)
        inputs = [item._self_task for item in items if type(item) in PROXY_TYPES]
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
            result, source, remote = gather_outcome(items, chunked)
            if source is not None:
                node.error = source.error
                node.reporter = source.reporter
                node.state = source.state  # FAILED or CANCELLED, as the item
            else:
                node.args = None
                node.remote = remote
                if remote is None:
                    self.__wrapped__ = result
                node.state = DONE
            node.proxy = None

    def __len__(self) -> int:
        return self._self_length

    def __iter__(self) -> Iterator[T]:
        items = self._self_task.args
        if items is None:  # settled: iterate the result itself
            return iter(self.get())
        return MapIterator(items)

    def __reversed__(self) -> Iterator[T]:
        return reversed(self.get())


class MapResult(AsyncList[T]):
    """What ``pool.map`` returns: an :class:`~asynckit.AsyncList` that is also its own iterator.

    As an iterator it is the map's one iteration (``Executor.map``'s
    generator): ``next(r)``, ``for x in r`` and ``list(r)`` each go on from
    where the last one stopped, ``iter(r)`` gives that same iteration, and
    ``r.close()`` ends it: it never blocks, and cancels the calls that have
    not started. As a value it is the whole list: ``r.get()``, ``len(r)``
    (every call, known at once) and passing ``r`` to a task do not depend on
    how far iteration went. ``close`` and ``__next__`` are its only names
    beyond an AsyncList's (a list result has neither, so they hide nothing).
    Once nothing holds it (``for x in pool.map(...)`` holds only the
    iteration), results already yielded are let go.
    """

    __slots__ = ("_self_iterator", "_self_parts")

    def __init__(self, values: list[AsyncValue[T]], deadline: float | None = None,
                 chunked: bool = False) -> None:
        self._self_gather(values, chunked)
        # The iteration holds this map result weakly: a `for` loop over
        # `pool.map(...)` holds only the iteration, so the map result goes at
        # once, and with it what keeps yielded results alive.
        owner = weakref.ref(self)
        self._self_iterator: Iterator[T]
        self._self_parts: _Parts | None = None
        if chunked:
            self._self_length = sum(part._self_count if type(part) is ChunkValue else 1
                                    for part in values)
            self._self_parts = parts = _Parts(values, deadline, owner)
            self._self_iterator = chain.from_iterable(map(parts.take, parts.source))
        else:
            self._self_iterator = MapIterator(values, deadline, owner)

    def __iter__(self) -> Iterator[T]:
        return self._self_iterator

    def __next__(self) -> T:
        return next(self._self_iterator)

    def close(self) -> None:
        """End the iteration: cancel the calls not started (never blocks).

        As ``Executor.map``'s generator does on ``close()``, so
        ``contextlib.closing(pool.map(...))`` works. Calls already running
        finish; ``get()`` then raises the cancelled calls' ``CancelledError``.
        """
        parts = self._self_parts
        if parts is None:
            self._self_iterator.close()  # type: ignore[attr-defined]  # a MapIterator
        else:
            parts.close()


class ChunkValue(AsyncValue[list[T]]):
    """Many calls' results as one value: a part of a packed ``pool.map`` result.

    A backend that runs a chunk of a map's calls as one task (the processes
    backend: ``backends.batches``) gives it one of these, whose result is
    the list of the chunk's results, in order. Only a :class:`MapResult`
    holds one. If calls of the chunk raised, the chunk fails with the first
    such error and ``_self_partial`` holds the results before it: iteration
    yields them, then raises, as it would over one value per call.
    """

    __slots__ = ("_self_partial", "_self_count")

    if TYPE_CHECKING:  # pragma: no cover
        _self_partial: list[T]
        _self_count: int


class _Parts:
    """The iteration of a map result made of parts: ``chain.from_iterable(map(take,
    parts))``, so that the results of a chunk are yielded in C.

    ``take`` waits for each part in turn and hands the chain its results. It
    ends as :class:`MapIterator` does: an error (raised once the results before
    it are yielded), a timeout or ``close()`` cancels the parts not taken and
    ends the chain (its source is exhausted); so does being dropped after its
    start while the map result is gone (``__del__``: the chain held the only
    reference). Parts taken are let go once the map result is gone.
    """

    __slots__ = ("parts", "source", "current", "deadline", "owner", "taken")

    def __init__(self, parts: list[Any], deadline: float | None,
                 owner: weakref.ref[Any]) -> None:
        self.parts = parts
        self.source: Iterator[Any] = iter(parts)
        self.current: Iterator[Any] = iter(())
        self.deadline = deadline
        self.owner = owner
        self.taken = 0

    def take(self, part: Any) -> Iterator[Any]:
        taken = self.taken
        if taken and self.owner() is None:  # nobody can ask the map result for it any more
            self.parts[taken - 1] = None
        self.taken = taken + 1
        try:
            if type(part) is not ChunkValue:
                values: Iterator[Any] = iter((_result_of(part, self.deadline),))
            else:
                if part._self_task.state != DONE:
                    _wait_part(part, self.deadline)
                if part._self_task.state != DONE:
                    values = self._failing(part, taken)
                else:
                    values = iter(part.__wrapped__)
        except BaseException:  # a timeout, Ctrl-C, a failed single call
            self.end(taken)
            raise
        self.current = values
        return values

    def _failing(self, part: ChunkValue[Any], index: int) -> Iterator[Any]:
        yield from part._self_partial
        self.end(index)
        part.get()  # raises its error

    def end(self, index: int) -> None:
        """Stop the chain and cancel the parts from ``index`` on that have not started."""
        deque(self.source, maxlen=0)
        _cancel_rest(self.parts[index:])

    def close(self) -> None:
        current, self.current = self.current, iter(())
        if isinstance(current, Generator):
            current.close()
        else:
            deque(current, maxlen=0)  # the rest of the chunk being yielded
        self.end(self.taken)

    def __del__(self) -> None:
        if self.taken and self.owner() is None:
            _cancel_rest(self.parts[self.taken:])


def _wait_part(part: AsyncValue[Any], deadline: float | None) -> None:
    if deadline is None:
        part.wait()
    elif not part.wait(max(deadline - perf_counter(), 0.0)):
        raise TimeoutError(f"pool.map: {describe(part._self_task)} "
                           f"was not ready before the timeout")


class MapIterator(Generic[T]):
    """Results in order, each as soon as it is ready (``Executor.map`` semantics).

    Made by ``iter()`` of an :class:`~asynckit.AsyncList`, by a :class:`MapResult` for its one
    iteration, and returned by ``pool.map(..., buffersize=n)``, where it
    submits the calls itself: at most ``n`` submitted and not yet yielded,
    the input read as results are taken.

    For a map (not a plain AsyncList): a failed call's exception, raised
    when iteration reaches it, and a timeout cancel the calls not started,
    and so does ``close()``; an iteration dropped before its end cancels them
    too once nothing holds the map result (a ``break`` out of ``for x in
    pool.map(...)``); one never started cancels nothing (fire and forget). Once the map result is gone, results already yielded
    are not kept (CPython's bpo-14406).
    """

    __slots__ = ("_items", "_next", "_kept", "_deadline", "_owner", "_cancels", "_refill",
                 "_started", "__weakref__")

    def __init__(self, items: MutableSequence[Any], deadline: float | None = None,
                 owner: weakref.ref[Any] | None = None,
                 refill: Callable[[], AsyncValue[T] | None] | None = None) -> None:
        # The items: an AsyncList's own list (shared with its record), or
        # with `refill` a deque of the calls submitted and not yet yielded.
        # None once the iteration has ended.
        self._items: MutableSequence[Any] | None = items
        self._next = 0  # the next item's index (a list) or 0 (a deque: its head)
        self._kept = 0  # items before this index may still be held for the map result
        self._deadline = deadline
        self._owner = owner
        self._cancels = owner is not None or refill is not None
        self._refill = refill
        self._started = False

    def __iter__(self) -> MapIterator[T]:
        return self

    def __next__(self) -> T:
        items = self._items
        if items is None:
            raise StopIteration
        self._started = True
        index = self._next
        if index >= len(items):
            self._items = None
            raise StopIteration
        try:
            result = _result_of(items[index], self._deadline)
        except BaseException:
            if self._cancels:
                _cancel_rest(_rest(items, index))  # the late one too, if not started
            self._items = None
            raise
        refill = self._refill
        if refill is not None:
            del items[0]  # a deque: its head, now yielded, is let go
            try:
                more = refill()
            except BaseException:
                self.close()
                raise
            if more is not None:
                items.append(more)
        else:
            self._next = index + 1
            owner = self._owner
            if owner is not None and owner() is None:
                # Nobody can ask the map result for these any more.
                for taken in range(self._kept, index + 1):
                    items[taken] = None
                self._kept = index + 1
        return result  # type: ignore[no-any-return]

    def close(self) -> None:
        """End the iteration, cancelling the calls not started (never blocks)."""
        items = self._items
        self._items = None
        if items is not None and self._cancels:
            _cancel_rest(_rest(items, self._next))

    def __del__(self) -> None:
        # Dropped after its start, before its end: as Executor.map's
        # generator, cancel the rest, unless the map result is still held
        # (its rest is wanted). One never started cancels nothing, as a
        # generator never started runs no `finally`: `pool.map(f, xs)` left
        # unread is fire and forget.
        if self._started and self._items is not None and self._cancels and (
                self._owner is None or self._owner() is None):
            self.close()


def _result_of(item: Any, deadline: float | None) -> Any:
    """An item's result, waiting until ``deadline`` at most (a local: no frame keeps it)."""
    if type(item) not in PROXY_TYPES:
        return item
    if deadline is None:
        inner = item._self_task
        if inner.state == DONE and inner.remote is None:
            return item.__wrapped__  # settled: the C field, no method call
        return item.get()
    if not item.wait(max(deadline - perf_counter(), 0.0)):
        raise TimeoutError(f"pool.map: {describe(item._self_task)} "
                           f"was not ready before the timeout")
    return item.get()


def _rest(items: MutableSequence[Any], index: int) -> Iterable[Any]:
    return items if index == 0 else items[index:]  # a deque's index is 0: no slicing


def _cancel_rest(items: Iterable[Any]) -> None:
    """Cancel the items not started, each through its own pool."""
    by_pool: dict[int, tuple[Any, list[Node]]] = {}
    for item in items:
        if type(item) in PROXY_TYPES:
            node = item._self_task
            if node.pool is not None:
                by_pool.setdefault(id(node.pool), (node.pool, []))[1].append(node)
    for pool, nodes in by_pool.values():
        pool._cancel_nodes(nodes)


PROXY_TYPES = frozenset({AsyncValue, AsyncList, MapResult, ChunkValue})

#: ``Node.kwargs`` of a map result made of parts (see the module docstring).
CHUNKED: dict[str, Any] = {}


def gather_outcome(items: list[Any], chunked: bool = False,
                   ) -> tuple[list[Any] | None, Node | None, Any]:
    """What an AsyncList whose items have all settled settles with.

    ``(results, None, None)``; ``(None, failed, None)`` for the first failed or
    cancelled item in list order (its error is the list's); ``(None, None,
    remote)`` when an item's value lives elsewhere, so the list is built on
    first use.
    """
    for item in items:
        if type(item) in PROXY_TYPES:
            inner = item._self_task
            if inner.state != DONE:
                return None, inner, None
            if inner.remote is not None:
                return None, None, LazyList(items)
    if chunked:
        flat: list[Any] = []
        for item in items:
            if type(item) is ChunkValue:
                flat += item.__wrapped__
            else:
                flat.append(item.__wrapped__ if type(item) in PROXY_TYPES else item)
        return flat, None, None
    return [item.__wrapped__ if type(item) in PROXY_TYPES else item for item in items], \
        None, None


class LazyList:
    """``node.remote`` of an AsyncList with remote items: built on first use."""

    __slots__ = ("items",)
    here = False  # built on first use: repr never builds it

    def __init__(self, items: list[Any]) -> None:
        self.items: list[Any] = items

    def result(self) -> list[Any]:
        return [item.get() if type(item) in PROXY_TYPES else item for item in self.items]
