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

from .asynclist import PROXY_TYPES
from .gates import NO_KEY, Gate, KeyedGates, Later
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

__all__ = ["TaskSpec", "TaskFunction", "make_spec", "check_backend", "check_options", "check_worker_count",
           "is_coroutine_function", "not_callable"]


class TaskSpec:
    """Options shared by every call of one ``@pool.task(...)`` function."""

    __slots__ = ("retries", "retry_on", "retry_delay", "limiter", "keyed", "key_function",
                 "gate_key", "timeout", "timed", "is_async", "ready_state",
                 "store", "save_to", "key", "function", "identity")

    def __init__(self, options: dict[str, Any], is_async: bool,
                 later: Later | None = None, store: Store | None = None) -> None:
        self.retries: int = options["retries"]
        self.retry_on: tuple[type[BaseException], ...] = options["retry_on"]
        self.retry_delay: float = options["retry_delay"]
        self.timeout: float | None = options["timeout"]
        limit, rate, burst = options["limit"], options["rate"], options["burst"]
        gated = limit is not None or rate is not None
        # key=: the function's calls each get the per-key spec of their key's gate.
        self.key_function: Callable[..., Any] | None = options["key"]
        self.keyed: KeyedGates | None = None if self.key_function is None \
            else KeyedGates(limit, rate, burst, later)
        self.gate_key: Any = NO_KEY
        self.limiter: Gate | None = Gate(limit, rate, burst, later) \
            if gated and self.keyed is None else None
        if self.keyed is not None:
            self.keyed.spec = self
        # Needs the pool's timer: a retry delay, a rate or a deadline.
        self.timed: bool = bool(self.retries and self.retry_delay) or rate is not None \
            or self.timeout is not None
        self.is_async: bool = is_async
        # The rule, stated once: a call whose inputs have settled is HELD
        # while it must pass a gate first (a `limit` slot, a `rate` token),
        # else QUEUED for its backend.
        self.ready_state: int = HELD if gated else QUEUED
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

    def _copy(self) -> TaskSpec:
        copy = TaskSpec.__new__(TaskSpec)
        for slot in TaskSpec.__slots__:
            setattr(copy, slot, getattr(self, slot))
        return copy

    def for_call(self, key: str) -> TaskSpec:
        """The spec of one cached call: these options, its key, where to save it."""
        call = self._copy()
        call.save_to = self.store
        call.store = None
        call.key = key
        return call

    def for_gate(self, gate: Gate) -> TaskSpec:
        """The spec of the calls of one key: these options, that key's gate."""
        copy = self._copy()
        copy.limiter = gate
        copy.gate_key = gate.key
        return copy


#: ``@pool.task`` options and their defaults.
OPTIONS: dict[str, Any] = {
    "retries": 0, "retry_on": (Exception,), "retry_delay": 0.0, "limit": None,
    "name": None, "timeout": None, "rate": None, "burst": 1, "key": None, "cache": False,
}

_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """``@pool.task`` options checked and completed with their defaults."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"pool.task() got an unknown option {unknown[0]!r}; its options are "
                        f"{', '.join(OPTIONS)}")
    checked = {**OPTIONS, **options}
    retries, retry_on = checked["retries"], checked["retry_on"]
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise TypeError(f"retries must be an int >= 0, not {retries!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, not {retries}")
    if isinstance(retry_on, type):
        checked["retry_on"] = retry_on = (retry_on,)
    if not isinstance(retry_on, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in retry_on):
        raise TypeError(f"retry_on must be an exception class or a tuple of them, "
                        f"not {retry_on!r}")
    checked["retry_delay"] = _seconds(checked["retry_delay"], "retry_delay", zero=True)
    if checked["timeout"] is not None:
        checked["timeout"] = _seconds(checked["timeout"], "timeout", zero=False)
    limit = checked["limit"]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int >= 1 or None, not {limit!r}")
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (or None for no limit), not {limit}")
    checked["rate"] = rate = _rate(checked["rate"])
    burst = checked["burst"]
    if isinstance(burst, bool) or not isinstance(burst, int):
        raise TypeError(f"burst must be an int >= 1 (how many calls may start at once "
                        f"under a rate), not {burst!r}: @pool.task(rate=\"5/s\", burst=5)")
    if burst < 1:
        raise ValueError(f"burst must be >= 1, not {burst}: @pool.task(rate=\"5/s\", burst=5)")
    if burst != 1 and rate is None:
        raise ValueError(f"burst={burst} needs a rate to apply to: "
                         f"@pool.task(rate=\"5/s\", burst={burst})")
    key = checked["key"]
    if key is not None:
        if not callable(key):
            raise TypeError(f"key must be a function of the call's arguments, not "
                            f"{type(key).__name__} {key!r:.40}: @pool.task(limit=2, "
                            f"key=lambda url: urlsplit(url).hostname)")
        if limit is None and rate is None:
            raise ValueError("key= applies limit= and rate= per key: give one of them too, "
                             "e.g. @pool.task(limit=2, key=lambda url: urlsplit(url).hostname)")
    name = checked["name"]
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not isinstance(checked["cache"], bool):
        raise TypeError(f"cache must be True or False, not {checked['cache']!r}")
    return checked


def _seconds(value: Any, option: str, zero: bool) -> float:
    example = f"@pool.task({option}=30)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{option} must be seconds (a number), not {value!r}: {example}")
    if not (0 <= value if zero else 0 < value) or not value < float("inf"):  # NaN too
        bound = ">= 0" if zero else "> 0"
        raise ValueError(f"{option} must be seconds {bound} and finite, not {value}: {example}")
    return float(value)


def _rate(rate: Any) -> float | None:
    """``rate=`` as calls per second: "10/s", "100/m", "3600/h" or a number (per second)."""
    if rate is None:
        return None
    example = 'e.g. rate="10/s", "100/m", "3600/h" or a number of calls per second'
    if isinstance(rate, bool):
        raise TypeError(f"rate must be a str or a number, not {rate!r}: {example}")
    if isinstance(rate, (int, float)):
        count, per = float(rate), 1.0
    elif isinstance(rate, str):
        number, _, unit = rate.strip().partition("/")
        try:
            count = float(number)
        except ValueError:
            count = float("nan")
        per = _PER.get(unit.strip() or "s", 0.0)
        if not per or count != count:
            raise ValueError(f"rate {rate!r} does not parse: {example}")
    else:
        raise TypeError(f"rate must be a str or a number, not {type(rate).__name__}: {example}")
    if not 0 < count < float("inf"):
        raise ValueError(f"rate must be more than 0 calls and finite, not {rate!r}: {example}")
    return count / per


def check_backend(spec: TaskSpec | None, backend: Backend) -> None:
    """A ``timeout`` on a backend that cannot enforce it is refused at decoration."""
    if spec is not None and spec.timeout is not None and not spec.is_async \
            and not backend.timeouts:
        raise NotImplementedError(
            f"timeout= is not enforced by this pool's backend ({type(backend).__name__}): "
            f"run the function on a threads or processes pool, or make it async def")


def make_spec(fn: Any, options: dict[str, Any], store: Store | None = None,
              later: Later | None = None) -> TaskSpec | None:
    """Check ``@pool.task`` options (raising at decoration); None if there are none."""
    checked = check_options(options)
    if checked["cache"] and store is None:
        raise ValueError("cache=True needs a pool with a store: Pool(store=\"results.db\")")
    if fn is None:
        return None
    if not callable(fn):
        raise not_callable(fn, "pool.task")
    if inspect.isasyncgenfunction(fn):
        raise TypeError(f"pool.task cannot run the async generator function "
                        f"{name_of(fn)}: a task returns one value; collect the "
                        f"items in an async def function that returns a list")
    is_async = is_coroutine_function(fn)
    if checked["cache"]:
        from .keys import function_identity  # keys.py only for cache=True functions

        spec = TaskSpec(checked, is_async, later, store)
        spec.function, spec.identity = function_identity(fn)
        return spec
    if any(checked[option] != OPTIONS[option] for option in
           ("retries", "limit", "timeout", "rate", "key")) or is_async:
        return TaskSpec(checked, is_async, later)
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
