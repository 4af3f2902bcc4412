"""``@pool.task``: a task function's options, their validation, and the wrapper.

Options are checked once, at decoration, and kept in a :class:`TaskSpec`
shared by every call. A function with no options gets no spec at all (the
common case: the hot path then tests ``spec is None`` and nothing else).
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any, TypeVar, overload

import wrapt

from .admission import Limiter
from .asynclist import PROXY_TYPES
from .keys import function_identity
from .node import HELD, QUEUED, Node, name_of
from .value import describe

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Coroutine
    from typing import ParamSpec, Protocol

    from .protocols import Backend
    from .store import Store
    from .value import AsyncValue

    P = ParamSpec("P")
    W = TypeVar("W")
    R = TypeVar("R")

    # Typing decision: ``@pool.task`` turns a function ``Callable[P, R]``
    # into a ``_Task[P, R, R]``: called with anything, it gives an
    # AsyncValue[R]. Its parameters are not checked there: each one may
    # receive a plain value or an AsyncValue, and no checker can see an
    # AsyncValue[int] as an int. The result stays typed (``get()`` -> R), and
    # ``__wrapped__`` is the function itself, signature and all (W: what it
    # returns when run inline). ``async def`` functions give AsyncValue[R] of
    # their coroutine's R (W is the coroutine).

    class _Task(Protocol[P, W, R]):
        __wrapped__: Callable[P, W]

        def __call__(self, *args: Any, **kwargs: Any) -> AsyncValue[R]: ...

    class _TaskDecorator(Protocol):
        @overload
        def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /,
                     ) -> _Task[P, Coroutine[Any, Any, R], R]: ...

        @overload
        def __call__(self, fn: Callable[P, R], /) -> _Task[P, R, R]: ...

__all__ = ["TaskSpec", "TaskFunction", "make_spec", "check_worker_count",
           "is_coroutine_function", "not_callable"]


class TaskSpec:
    """Options shared by every call of one ``@pool.task(...)`` function."""

    __slots__ = ("retries", "retry_on", "retry_delay", "limiter", "is_async", "ready_state",
                 "store", "save_to", "key", "function", "identity")

    def __init__(self, retries: int, retry_on: tuple[type[BaseException], ...],
                 retry_delay: float, limit: int | None, is_async: bool,
                 store: Store | None = None) -> None:
        self.retries: int = retries
        self.retry_on: tuple[type[BaseException], ...] = retry_on
        self.retry_delay: float = retry_delay
        self.limiter: Limiter | None = None if limit is None else Limiter(limit)
        self.is_async: bool = is_async
        # The rule, stated once: a call whose inputs have settled is HELD
        # while it must get a `limit` slot first, else QUEUED for its backend.
        self.ready_state: int = QUEUED if self.limiter is None else HELD
        # cache=True: the function's calls are looked up in `store` (set on
        # the function's spec only); each call that misses runs with a spec
        # of its own (`for_call`) that carries its `key` and the store to
        # `save_to` once it succeeds.
        self.store: Store | None = store
        self.save_to: Store | None = None
        self.key: str | None = None
        self.function: str = ""  # module.qualname, the entries' label in the store
        self.identity: bytes = b""  # cache.function_identity's digest

    def save(self, node: Node, result: Any) -> None:
        """A call returned ``result``: keep it in the store if this call is cached.

        Called before the call settles, so a value seen settled is stored. A
        returned AsyncValue is not stored (its own task can be cached).
        """
        if self.save_to is not None and self.key is not None \
                and type(result) not in PROXY_TYPES:
            self.save_to.put(self.key, self.function, result, describe(node))

    def for_call(self, key: str) -> TaskSpec:
        """The spec of one cached call: these options, its key, where to save it."""
        call = TaskSpec.__new__(TaskSpec)
        for slot in TaskSpec.__slots__:
            setattr(call, slot, getattr(self, slot))
        call.save_to = self.store
        call.store = None
        call.key = key
        return call


def make_spec(fn: Any, retries: Any, retry_on: Any, retry_delay: Any, limit: Any,
              name: Any, cache: Any = False, store: Store | None = None) -> TaskSpec | None:
    """Check ``@pool.task`` options (raising at decoration); None if there are none."""
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be True or False, not {cache!r}")
    if cache and store is None:
        raise ValueError("cache=True needs a pool with a store: Pool(store=\"results.db\")")
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise TypeError(f"retries must be an int >= 0, not {retries!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, not {retries}")
    if isinstance(retry_on, type):
        retry_on = (retry_on,)
    if not isinstance(retry_on, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in retry_on):
        raise TypeError(f"retry_on must be an exception class or a tuple of them, "
                        f"not {retry_on!r}")
    if isinstance(retry_delay, bool) or not isinstance(retry_delay, (int, float)):
        raise TypeError(f"retry_delay must be seconds (a number), not {retry_delay!r}")
    if not 0 <= retry_delay < float("inf"):  # NaN fails both comparisons
        raise ValueError(f"retry_delay must be seconds >= 0 and finite, not {retry_delay}")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int >= 1 or None, not {limit!r}")
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (or None for no limit), not {limit}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if fn is None:
        return None
    if not callable(fn):
        raise not_callable(fn, "pool.task")
    if inspect.isasyncgenfunction(fn):
        raise TypeError(f"pool.task cannot run the async generator function "
                        f"{name_of(fn)}: a task returns one value; collect the "
                        f"items in an async def function that returns a list")
    is_async = is_coroutine_function(fn)
    if cache:
        spec = TaskSpec(retries, retry_on, float(retry_delay), limit, is_async, store)
        spec.function, spec.identity = function_identity(fn)
        return spec
    if retries or limit is not None or is_async:
        return TaskSpec(retries, retry_on, float(retry_delay), limit, is_async)
    return None


class TaskFunction(wrapt.FunctionWrapper[Any, Any]):
    """What ``@pool.task`` returns: a wrapt ``FunctionWrapper``, so methods,
    staticmethods and classmethods bind exactly as wrapt binds them, with a
    direct path for calling it unbound (a plain function, the common case).

    wrapt's own unbound call first asks the function for ``__self__``; on a
    plain function that raises and clears an AttributeError (most of the
    cost of a call). Our wrapper ignores ``instance``, so skipping that
    lookup changes nothing but the cost.
    """

    __slots__ = ("_self_call",)

    if TYPE_CHECKING:  # pragma: no cover
        _self_call: tuple[Any, Any, TaskSpec | None, str, Backend | None]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn, submit, spec, label, backend = _call_of(self)
        return submit(fn, args, kwargs, spec, label, None, backend)


_call_of = TaskFunction.__dict__["_self_call"].__get__



def is_coroutine_function(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    if code is not None:
        return bool(code.co_flags & inspect.CO_COROUTINE)
    return inspect.iscoroutinefunction(fn)


def not_callable(fn: Any, what: str) -> TypeError:
    """The error for a non-callable ``fn`` passed to ``what``."""
    if inspect.iscoroutine(fn):
        fn.close()  # never awaited: close it so Python does not warn about it
        return TypeError(
            f"{what} got a coroutine object, not a function: pass the async "
            f"function and its arguments, e.g. pool.do(fetch, url), not pool.do(fetch(url))")
    return TypeError(f"{what} needs a callable, not {type(fn).__name__} {fn!r:.60}")


def check_worker_count(worker_count: Any, max_workers: Any = None) -> int:
    """``Pool(worker_count)`` checked (None: the default); ``max_workers`` is
    ThreadPoolExecutor's name for it, accepted for code written for that,
    with that class's own check."""
    if max_workers is not None:
        if worker_count is not None:
            raise TypeError("pass worker_count or max_workers (its ThreadPoolExecutor "
                            "name), not both")
        if isinstance(max_workers, int) and not isinstance(max_workers, bool) \
                and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        worker_count = max_workers
    if worker_count is None:
        return min(32, (os.cpu_count() or 1) + 4)
    if isinstance(worker_count, bool) or not isinstance(worker_count, int):
        raise TypeError(f"worker_count must be an int >= 1 (or None for the default), "
                        f"not {type(worker_count).__name__} {worker_count!r}")
    if worker_count < 1:
        raise ValueError(f"worker_count must be >= 1, not {worker_count}")
    return worker_count
