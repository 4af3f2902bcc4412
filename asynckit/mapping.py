"""``pool.map``: the calls of a map, submitted one by one or packed in chunks.

Every call becomes a task of its own (``pool._submit``), gathered into a
:class:`~asynckit.asynclist.MapResult`, unless the backend packs them: the
processes backend runs a chunk of calls of a plain function as *one* task
(``Backend.pack``: one record, one pickle, one trip, one settle for the
chunk), and the map result is then made of those chunks' values, flattened
when used and yielded from when iterated. A chunk that cannot be packed (an
item holds an AsyncValue, or does not pickle) has its calls submitted one by
one, as any map's.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from .asynclist import MapIterator, MapResult
from .errors import check_buffersize, check_timeout
from .node import name_of
from .protocols import Backend, PoolHandle
from .task import TaskFunction, _call_of, not_callable
from .value import AsyncValue

__all__ = ["map_calls"]


def map_calls(pool: PoolHandle, default: Backend, fn: Callable[..., Any],
              iterables: tuple[Iterable[Any], ...], timeout: float | None,
              chunksize: int | None, buffersize: int | None,
              progress: bool) -> MapResult[Any] | MapIterator[Any]:
    """``pool.map`` (see its docstring); ``default`` is the pool's own backend."""
    if not callable(fn):
        raise not_callable(fn, "pool.map()")
    if not (chunksize is None or type(chunksize) is int and chunksize >= 1):
        raise ValueError(f"chunksize must be an int >= 1, not {chunksize!r}")
    if check_buffersize(buffersize) is not None and progress:
        raise ValueError("pool.map(progress=True) counts every call up front: "
                         "it does not go with buffersize")
    timeout = check_timeout(timeout, "pool.map()")
    if progress:  # before submitting: without tqdm, fail with nothing started
        from .progress import track
    deadline = None if timeout is None else perf_counter() + timeout
    submit: Callable[..., AsyncValue[Any]]
    if type(fn) is TaskFunction:  # a @pool.task function: each call as calling it submits
        fn, submit, spec, label, backend = _call_of(fn)
    else:
        submit, spec, label, backend = (pool._submit, None, None,
                                        pool._backend_for(fn, None, "pool.map()"))
    if buffersize is not None:
        source = zip(*iterables, strict=False)

        def refill() -> AsyncValue[Any] | None:
            for args in source:
                return submit(fn, args, None, spec, label, None, backend)
            return None

        buffer = deque(submit(fn, args, None, spec, label, None, backend)
                       for args in itertools.islice(source, buffersize))
        return MapIterator(buffer, deadline, refill=refill)
    runner = backend or default
    size = 0 if spec is not None or progress or pool._closed or getattr(
        submit, "__self__", None) is not pool else runner.pack_size(fn, chunksize, iterables)
    if size:
        return _packed(pool, runner, fn, submit, iterables, size, deadline)
    with runner.chunking(chunksize, iterables):
        values = [submit(fn, args, None, spec, label, None, backend)
                  for args in zip(*iterables, strict=False)]
    result: MapResult[Any] = MapResult(values, deadline)
    if progress:
        track([value._self_task for value in values], desc=name_of(fn))
    return result


def _packed(pool: PoolHandle, backend: Backend, fn: Any, submit: Callable[..., Any],
            iterables: tuple[Iterable[Any], ...], size: int,
            deadline: float | None) -> MapResult[Any]:
    """The map's calls in packed chunks of ``size`` (see the module docstring)."""
    star = len(iterables) != 1
    source: Iterable[Any] = zip(*iterables, strict=False) if star else iterables[0]
    items = iter(source)
    parts: list[Any] = []
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            break
        part = backend.pack(pool, fn, chunk, star)
        if part is not None:
            parts.append(part)
        else:
            with backend.chunking(size, ()):
                parts += [submit(fn, args if star else (args,), None, None, None, None, backend)
                          for args in chunk]
        if len(chunk) < size:
            break
    return MapResult(parts, deadline, chunked=True)
