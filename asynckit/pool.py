"""Pool: submit functions, get AsyncValues, let the graph run itself."""

from __future__ import annotations

import concurrent.futures
import heapq
import inspect
import itertools
import os
import sys
import threading
import weakref
from _thread import allocate_lock
from collections.abc import Callable, Iterable
from time import monotonic, perf_counter
from typing import TYPE_CHECKING, Any, TypeVar, overload

import wrapt

from . import value as _value
from .graph import _ATOMS, Limiter, find_inputs, link, start, start_all
from .value import (
    HELD,
    QUEUED,
    AsyncList,
    AsyncValue,
    Node,
    _local,
    _lock,
    _set_task,
    _task_of,
    cancel,
    new_value,
)

R = TypeVar("R")

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Coroutine
    from typing import Protocol

    # Typing decision: ``@pool.task`` turns a function returning R into a
    # ``Callable[..., AsyncValue[R]]``. Its parameters are not kept: each one
    # may receive a plain value or an AsyncValue, and no checker can see an
    # AsyncValue[int] as an int. The result stays typed (``get()`` -> R).
    # ``async def`` functions give AsyncValue[R] of their coroutine's R.

    class _TaskDecorator(Protocol):
        @overload
        def __call__(self, fn: Callable[..., Coroutine[Any, Any, R]], /,
                     ) -> Callable[..., AsyncValue[R]]: ...

        @overload
        def __call__(self, fn: Callable[..., R], /) -> Callable[..., AsyncValue[R]]: ...

__all__ = ["Pool", "task", "do", "wait", "default_pool"]

_BACKENDS = ("threads", "processes", "dask")
_serial = itertools.count(1)
_pools: weakref.WeakSet[Pool] = weakref.WeakSet()


class TaskSpec:
    """Options shared by every call of one ``@pool.task(...)`` function."""

    __slots__ = ("retries", "retry_on", "retry_delay", "limiter", "is_async")

    def __init__(self, retries: int, retry_on: tuple[type[BaseException], ...],
                 retry_delay: float, limit: int | None, is_async: bool) -> None:
        self.retries = retries
        self.retry_on = retry_on
        self.retry_delay = retry_delay
        self.limiter = None if limit is None else Limiter(limit)
        self.is_async = is_async


class TaskFunction(wrapt.FunctionWrapper[Any, Any]):
    """What ``@pool.task`` returns: a wrapt ``FunctionWrapper``, so methods,
    staticmethods and classmethods bind exactly as wrapt binds them, with a
    direct path for calling it unbound (a plain function, the common case).

    wrapt's own unbound call first asks the function for ``__self__``; on a
    plain function that raises and clears an AttributeError (~0.4 µs of a
    ~0.55 µs call). Our wrapper ignores ``instance``, so skipping that lookup
    changes nothing but the cost.
    """

    __slots__ = ("_self_call",)

    if TYPE_CHECKING:  # pragma: no cover
        _self_call: tuple[Any, Any, TaskSpec | None, str, Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn, submit, spec, label, backend = _call_of(self)
        return submit(fn, args, kwargs, spec, label, None, backend)


_call_of = TaskFunction.__dict__["_self_call"].__get__


def _check_worker_count(worker_count: Any) -> int:
    if isinstance(worker_count, bool) or not isinstance(worker_count, int):
        raise TypeError(f"worker_count must be an int >= 1 (or None for the default), "
                        f"not {type(worker_count).__name__} {worker_count!r}")
    if worker_count < 1:
        raise ValueError(f"worker_count must be >= 1, not {worker_count}")
    return worker_count


def _name_of(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if isinstance(name, str):
        return name
    return type(fn).__name__


_CO_COROUTINE = inspect.CO_COROUTINE
_new_proxy = AsyncValue.__new__  # see value.new_value: no __init__ on the hot path


def _is_coroutine_function(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    if code is not None:
        return bool(code.co_flags & inspect.CO_COROUTINE)
    return inspect.iscoroutinefunction(fn)


def _not_callable(fn: Any, what: str) -> TypeError:
    if inspect.iscoroutine(fn):
        fn.close()  # never awaited: close it so Python does not warn about it
        return TypeError(
            f"{what} got a coroutine object, not a function: pass the async "
            f"function and its arguments, e.g. pool.do(fetch, url), not pool.do(fetch(url))")
    return TypeError(f"{what} needs a callable, not {type(fn).__name__} {fn!r:.60}")


class Pool(concurrent.futures.Executor):
    """Runs functions in parallel and hands back :class:`AsyncValue` results.

    ``Pool(worker_count=None, *, backend="threads", executor=None, client=None,
    address=None, name=None)``

    - ``worker_count``: threads for the default backend, default
      ``min(32, os.cpu_count() + 4)``; readable and settable on a live pool.
      Threads start on demand; an idle pool uses no CPU.
    - ``backend``: ``"threads"`` (default), ``"processes"`` or ``"dask"``;
      ``executor=`` any :class:`concurrent.futures.Executor`; ``client=`` a
      ``distributed.Client`` (or ``backend="dask", address="tcp://…"``).

    A Pool is a :class:`concurrent.futures.Executor`: ``submit`` returns a
    standard Future, ``map`` keeps ``Executor.map`` semantics, and
    ``with Pool() as pool:`` waits for all work on exit.
    """

    #: Set by the exit hook once Ctrl-C has ended the program: tasks that
    #: are still running may submit more, and that work is cancelled at once.
    _stopping = False

    def __init__(self, worker_count: int | None = None, *, backend: str = "threads",
                 executor: concurrent.futures.Executor | None = None, client: Any = None,
                 address: str | None = None, name: str | None = None) -> None:
        if worker_count is None:
            worker_count = min(32, (os.cpu_count() or 1) + 4)
        self._worker_count = _check_worker_count(worker_count)
        if backend not in _BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: choose one of "
                             f"{', '.join(map(repr, _BACKENDS))}, or pass executor= or client=")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        self.name = name or f"asynckit-{next(_serial)}"
        self._live: set[Node] = set()
        self._mutex = threading.Lock()
        self._drained: Any = None
        self._closed = _exited  # a pool made by an atexit handler refuses work
        self._timer: _Timer | None = None
        self._loop_backend: Any = None
        self._backend = self._make_backend(backend, executor, client, address)
        _pools.add(self)

    def _make_backend(self, backend: str, executor: Any, client: Any, address: Any) -> Any:
        if executor is not None and client is not None:
            raise ValueError("pass either executor= or client=, not both "
                             "(valid choices: backend='threads'|'processes'|'dask', "
                             "executor=..., client=...)")
        if executor is not None or client is not None or address is not None \
                or backend != "threads":
            from .backends import make_backend

            return make_backend(self, backend, self._worker_count, executor, client, address)
        from .backends.threads import ThreadBackend

        return ThreadBackend(self, self._worker_count)

    # -- size ---------------------------------------------------------------

    @property
    def worker_count(self) -> int:
        """How many tasks run at once. Setting it resizes the live pool: workers
        beyond the new count leave after their current task."""
        return self._worker_count

    @worker_count.setter
    def worker_count(self, worker_count: int) -> None:
        self._worker_count = _check_worker_count(worker_count)
        self._backend.resize(worker_count)

    # -- submitting -----------------------------------------------------------

    @overload
    def do(self, fn: Callable[..., Coroutine[Any, Any, R]], /, *args: Any,
           **kwargs: Any) -> AsyncValue[R]: ...

    @overload
    def do(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> AsyncValue[R]: ...

    def do(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> AsyncValue[Any]:
        """Run ``fn(*args, **kwargs)`` on the pool; return its :class:`AsyncValue` at once.

        AsyncValues anywhere in the arguments (nested in lists, tuples, dicts,
        sets too) are dependencies: ``fn`` runs once they have all settled and
        receives their plain results. If one failed, ``fn`` does not run and
        the returned value fails with the same exception.
        """
        return self._submit(fn, args, kwargs, None, None)

    def _submit(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                spec: TaskSpec | None, name: str | None, after: Node | None = None,
                backend: Any = None) -> AsyncValue[Any]:
        if self._closed:
            if self._stopping:
                return self._cancelled(fn, args, kwargs, spec, name)
            if _exited:
                raise RuntimeError(_EXITED)
            if getattr(_local, "pool", None) is not self:
                raise RuntimeError(f"pool {self.name!r} is shut down: create a new Pool "
                                   f"to run more work")
        if backend is None:
            if spec is not None:
                backend = self._loop() if spec.is_async else self._backend
            else:
                code = getattr(fn, "__code__", None)
                if code is not None and not code.co_flags & _CO_COROUTINE:
                    backend = self._backend  # a plain function: the common case
                elif not callable(fn):
                    raise _not_callable(fn, "pool.do()")
                else:
                    backend = self._loop() if _is_coroutine_function(fn) else self._backend
        # The name is looked up lazily (value.describe) or when fn is dropped.
        node = Node(self, backend, fn, args, kwargs, spec, name)
        proxy = _new_proxy(AsyncValue)
        _set_task(proxy, node)
        node.proxy = proxy
        # Scan first: if a container's iteration raises, the caller gets the
        # error and the pool keeps no node that would never settle. Plain
        # scalars and AsyncValues, the common cases, are seen here without a
        # call; containers and keywords take the full scan (find_inputs).
        inputs = None
        for arg in args:
            kind = type(arg)
            if kind is AsyncValue:
                if inputs is None:
                    inputs = [_task_of(arg)]
                else:
                    inputs.append(_task_of(arg))
            elif kind not in _ATOMS:
                inputs = find_inputs(args, kwargs)
                break
        else:
            if kwargs:
                inputs = find_inputs(args, kwargs)
        self._live.add(node)
        if inputs is None and after is None:
            if spec is None or spec.limiter is None:
                node.state = QUEUED
                backend.start(node)
            else:
                node.state = HELD
                spec.limiter.admit(node)
        elif link(node, inputs or [], after):
            start(node)
        elif backend.early_start and spec is None and after is None:
            backend.start_early(node)
        return proxy

    def _cancelled(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                   spec: TaskSpec | None, name: str | None) -> AsyncValue[Any]:
        """Ctrl-C ended the program: new work is cancelled, not run."""
        node = Node(self, self._backend, fn, args, kwargs, spec, name or _name_of(fn))
        proxy = new_value(node)
        start_all(cancel(node)[1])
        return proxy

    def submit(self, fn: Callable[..., R], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[R]:
        """``Executor.submit``: like :meth:`do`, but returns a standard Future."""
        from .helpers import future

        return future(self._submit(fn, args, kwargs, None, None))

    def map(self, fn: Callable[..., R], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1, progress: bool = False) -> AsyncList[R]:
        """Run ``fn`` over the iterables at once; an :class:`AsyncList` of results in order.

        ``Executor.map`` semantics: every call is submitted now; iterating the
        result yields results in input order as they are ready, raises the
        first failed call's exception when it gets there, and raises
        :class:`TimeoutError` once ``timeout`` seconds have passed since this
        call. Iteration that stops early (an error, a timeout, a ``break``)
        cancels the calls that have not started, as ``Executor.map`` does.
        ``chunksize`` is accepted for compatibility and ignored.
        """
        if not callable(fn):
            raise _not_callable(fn, "pool.map()")
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"chunksize must be an int >= 1, not {chunksize!r}")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float))):
            raise TypeError(f"timeout must be seconds or None, not {timeout!r}")
        if progress:  # before submitting: without tqdm, fail with nothing started
            from .progress import track
        deadline = None if timeout is None else perf_counter() + timeout
        backend = self._loop() if _is_coroutine_function(fn) else self._backend
        submit = self._submit
        values = [submit(fn, args, None, None, None, None, backend)
                  for args in zip(*iterables, strict=False)]
        result: AsyncList[R] = AsyncList(values, _deadline=deadline, _from_map=True)
        if progress:
            track([value._self_task for value in values], desc=_name_of(fn))
        return result

    @overload
    def task(self, fn: Callable[..., Coroutine[Any, Any, R]], /,
             ) -> Callable[..., AsyncValue[R]]: ...

    @overload
    def task(self, fn: Callable[..., R], /) -> Callable[..., AsyncValue[R]]: ...

    @overload
    def task(self, fn: None = None, /, *, retries: int = 0,
             retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
             retry_delay: float = 0.0, limit: int | None = None, name: str | None = None,
             ) -> _TaskDecorator: ...

    def task(self, fn: Any = None, /, *, retries: int = 0,
             retry_on: Any = (Exception,), retry_delay: float = 0.0,
             limit: int | None = None, name: str | None = None) -> Any:
        """Decorate a function so that calling it runs it on this pool.

        Works on functions, methods, staticmethods and classmethods; the result
        keeps ``__name__``, ``__doc__``, ``__wrapped__`` (call that to run the
        function inline) and ``inspect.signature``. Calls return AsyncValues,
        exactly like ``pool.do(fn, ...)``. ``async def`` functions run on the
        pool's event loop.

        Options: ``retries`` re-runs a call that raised one of ``retry_on``
        (exception classes), after ``retry_delay`` seconds, doubling each time;
        ``limit`` caps how many calls of this function run at once (waiting
        calls hold no worker); ``name`` labels the task in reprs and pictures.
        """
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
        if retry_delay < 0:
            raise ValueError(f"retry_delay must be >= 0, not {retry_delay}")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"limit must be an int >= 1 or None, not {limit!r}")
            if limit < 1:
                raise ValueError(f"limit must be >= 1 (or None for no limit), not {limit}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if fn is None:
            def decorate(fn: Any) -> Any:
                return self.task(fn, retries=retries, retry_on=retry_on,
                                 retry_delay=retry_delay, limit=limit, name=name)
            return decorate

        target = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
        if not callable(target):
            raise _not_callable(target, "pool.task")
        if inspect.isasyncgenfunction(target):
            raise TypeError(f"pool.task cannot run the async generator function "
                            f"{_name_of(target)}: a task returns one value; collect the "
                            f"items in an async def function that returns a list")
        is_async = _is_coroutine_function(target)
        spec = None
        if retries or limit is not None or is_async:
            spec = TaskSpec(retries, retry_on, float(retry_delay), limit, is_async)
        if retries and retry_delay:
            # Start the retry timer now, in the program's normal flow: from
            # 3.12 no thread can start once the interpreter is exiting.
            self._ensure_timer()
        label = name or _name_of(target)
        submit = self._submit
        backend = None if is_async else self._backend

        def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return submit(wrapped, args, kwargs, spec, label, None, backend)

        wrapper = TaskFunction(fn, call)
        wrapper._self_call = (fn, submit, spec, label, backend)
        return wrapper

    def _chain(self, after: Node, fn: Any, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> AsyncValue[Any]:
        return self._submit(fn, args, kwargs, None, None, after)

    # -- waiting and closing ----------------------------------------------------

    def wait(self, timeout: float | None = None, *, progress: bool = False) -> bool:
        """Block until every task submitted so far has settled, and every task
        those tasks (or their chains) submit.

        True when all have settled, False on timeout. Task errors are not
        raised here (an error nobody observes is logged when its value is
        garbage-collected, or at exit). ``progress=True`` draws a tqdm bar.
        """
        if getattr(_local, "pool", None) is self:
            raise RuntimeError(
                f"pool.wait() inside a task of pool {self.name!r} would wait for "
                f"itself: wait on the values you need (value.get()) instead")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float))):
            raise TypeError(f"timeout must be seconds or None, not {timeout!r}")
        if progress:
            from .progress import track

            bar = track(list(self._live), desc=self.name)
            try:
                return self._wait(timeout)
            finally:
                bar.close()
        return self._wait(timeout)

    def _wait(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else monotonic() + timeout
        while self._live:
            with self._mutex:
                if not self._live:
                    break
                waiter = self._drained
                if waiter is None:
                    waiter = self._drained = allocate_lock()
                    waiter.acquire()
            try:
                if deadline is None:
                    got = waiter.acquire()
                else:
                    got = waiter.acquire(True, max(deadline - monotonic(), 0.0))
            except KeyboardInterrupt:
                _interrupted()
                raise
            if got:
                waiter.release()
            elif deadline is not None and monotonic() >= deadline:
                return not self._live
        return True

    def _note_settled(self, node: Node) -> None:
        live = self._live
        live.discard(node)
        if not live:
            self._drained_now()

    def _drained_now(self) -> None:
        """The last unsettled task settled: wake ``wait()`` callers."""
        with self._mutex:
            waiter = self._drained
            self._drained = None
        if waiter is not None:
            waiter.release()
        if self._closed:
            self._close_backends()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work (``Executor.shutdown``).

        ``wait=True`` blocks until every task has settled; tasks already
        running may still submit more (nested work), everyone else gets
        :class:`RuntimeError`. ``cancel_futures=True`` cancels every task that
        has not started, and their dependents. Workers leave once the pool is
        drained either way: no submitted work is dropped.
        """
        self._closed = True
        if cancel_futures:
            self._cancel_unstarted()
        if wait:
            self.wait()
        if not self._live:
            self._close_backends()

    def _close_backends(self) -> None:
        self._backend.close()
        if self._loop_backend is not None:
            self._loop_backend.close()
        if self._timer is not None:
            self._timer.close()

    def _cancel_unstarted(self) -> None:
        # Cancel every node first, then start what that made ready (chains of
        # cancelled tasks, possibly in other pools): started earlier, a chain
        # step of this pool would run instead of being cancelled.
        ready: list[Node] = []
        for node in list(self._live):
            ready += cancel(node)[1]
        start_all(ready)
        # Tasks handed to an executor early (processes) sit in its queue
        # claimed by us but not started: the backend cancels those there.
        cancel_queued = getattr(self._backend, "cancel_unstarted", None)
        if cancel_queued is not None:
            cancel_queued()

    def _wait_at_exit(self) -> None:
        """An exit hook's wait: Ctrl-C cancels the work not started (and any
        new work), then the running tasks are waited for all the same."""
        while True:
            try:
                self.wait()
                return
            except KeyboardInterrupt:
                _stop()

    def _after_fork(self) -> None:
        """In a child made by fork: cancel the parent's unsettled tasks, start afresh.

        A thread pool works on in the child (new threads start on demand);
        other backends live in the parent's threads and processes, so their
        pools are closed here.
        """
        self._mutex = threading.Lock()
        self._drained = None
        self._timer = None
        self._loop_backend = None
        orphans = list(self._live)
        self._live = set()
        after_fork = getattr(self._backend, "after_fork", None)
        if after_fork is not None:
            after_fork()
        _value.abandon(orphans)
        if after_fork is None:
            self._closed = True

    def _worker_blocked(self, delta: int) -> None:
        self._backend.worker_blocked(delta)

    def _loop(self) -> Any:
        backend = self._loop_backend
        if backend is None:
            with self._mutex:
                if self._loop_backend is None:
                    from .backends.loop import LoopBackend

                    self._loop_backend = LoopBackend(self)
                backend = self._loop_backend
        return backend

    def _retry_later(self, node: Node, delay: float) -> None:
        if delay <= 0:
            _resume(node)
            return
        self._ensure_timer().call_later(delay, node)

    def _ensure_timer(self) -> _Timer:
        timer = self._timer
        if timer is None:
            with self._mutex:
                if self._timer is None:
                    self._timer = _Timer(self.name)
                timer = self._timer
        return timer

    def statistics(self) -> dict[str, Any]:
        """A snapshot for introspection: unsettled tasks and the backend's numbers."""
        stats: dict[str, Any] = {"unsettled": len(self._live), "closed": self._closed,
                                 "worker_count": self._worker_count}
        backend = self._backend
        for key in ("threads", "blocked"):
            if hasattr(backend, key):
                stats[key] = getattr(backend, key)
        return stats

    def __repr__(self) -> str:
        state = "shut down" if self._closed else f"{len(self._live)} unsettled"
        return f"<Pool {self.name!r} worker_count={self._worker_count} {state}>"


def _resume(node: Node) -> None:
    """A HELD node's retry delay is over: start it again."""
    with _lock:
        if node.state != HELD:
            return
        spec = node.spec
        if spec is None or spec.limiter is None:
            node.state = QUEUED
    start(node)


class _Timer:
    """Starts HELD nodes after a delay (retries): one thread, a heap, no polling."""

    def __init__(self, name: str) -> None:
        self.heap: list[tuple[float, int, Node]] = []
        self.cond = threading.Condition(threading.Lock())
        self.serial = itertools.count()
        self.closed = False
        threading.Thread(target=self._run, name=f"{name}-timer", daemon=True).start()

    def call_later(self, delay: float, node: Node) -> None:
        with self.cond:
            heapq.heappush(self.heap, (monotonic() + delay, next(self.serial), node))
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self.heap:
                        delay = self.heap[0][0] - monotonic()
                        if delay <= 0:
                            node = heapq.heappop(self.heap)[2]
                            break
                        self.cond.wait(delay)
                    elif self.closed:
                        return
                    else:
                        self.cond.wait()
            _resume(node)


# --------------------------------------------------------------------------
# The default pool, interruption and exit


_default: Pool | None = None
_default_lock = threading.Lock()


def default_pool() -> Pool:
    """The module-level pool behind ``asynckit.do``/``task``/``wait``, made on first use."""
    global _default
    pool = _default
    if pool is None or pool._closed:
        if _exited:
            raise RuntimeError(_EXITED)
        with _default_lock:
            if _default is None or _default._closed:
                _default = Pool(name="asynckit-default")
            pool = _default
    return pool


_value._hooks.default_pool = default_pool  # type: ignore[method-assign]


@overload
def do(fn: Callable[..., Coroutine[Any, Any, R]], /, *args: Any, **kwargs: Any,
       ) -> AsyncValue[R]: ...


@overload
def do(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> AsyncValue[R]: ...


def do(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> AsyncValue[Any]:
    """``pool.do`` on the default pool."""
    return default_pool()._submit(fn, args, kwargs, None, None)


@overload
def task(fn: Callable[..., Coroutine[Any, Any, R]], /) -> Callable[..., AsyncValue[R]]: ...


@overload
def task(fn: Callable[..., R], /) -> Callable[..., AsyncValue[R]]: ...


@overload
def task(fn: None = None, /, *, retries: int = 0,
         retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
         retry_delay: float = 0.0, limit: int | None = None, name: str | None = None,
         ) -> _TaskDecorator: ...


def task(fn: Any = None, /, **options: Any) -> Any:
    """``pool.task`` on the default pool: ``@asynckit.task`` or ``@asynckit.task(limit=2)``."""
    return default_pool().task(fn, **options)


def wait(timeout: float | None = None, *, progress: bool = False) -> bool:
    """``pool.wait`` on the default pool (True at once if it was never used)."""
    if _default is None:
        return True
    return _default.wait(timeout, progress=progress)


def _interrupted() -> None:
    """Ctrl-C reached a thread waiting in asynckit: cancel all work not started."""
    for pool in list(_pools):
        pool._cancel_unstarted()


def _stop() -> None:
    """Ctrl-C ended the program: cancel all work not started, and any new work."""
    for pool in list(_pools):
        pool._stopping = True
        pool._closed = True
    _interrupted()


_value._hooks.interrupted = _interrupted  # type: ignore[method-assign]


def _at_exit() -> None:
    # Runs before the interpreter joins threads and tears modules down: the
    # program's pending work is finished here, so nothing is dropped, unless
    # it ends with Ctrl-C, when work not started is cancelled and running
    # tasks are waited for.
    # (Python sets sys.last_type, and from 3.12 sys.last_exc, when an
    # exception reaches the top level: before this hook runs.)
    if getattr(sys, "last_type", None) is KeyboardInterrupt \
            or isinstance(getattr(sys, "last_exc", None), KeyboardInterrupt):
        _stop()
    while True:
        try:
            for pool in list(_pools):
                pool.wait()
            # A task still running may have submitted to a pool waited for already.
            if not any(pool._live for pool in list(_pools)):
                break
        except KeyboardInterrupt:
            _stop()
    # From here on nothing would run new work (workers are daemons): refuse
    # it loudly, as concurrent.futures does, rather than drop it.
    global _exited
    _exited = True
    for pool in list(_pools):
        pool._closed = True
    _value.report_unobserved()


_exited = False
_EXITED = ("asynckit cannot run new work once the interpreter is exiting "
           "(submitted from an atexit handler?): finish it before the program ends")


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    _value.after_fork_in_child()
    for pool in list(_pools):
        pool._after_fork()


# Held across fork (released on both sides), so that the child never starts
# with the lock taken by a thread that did not come along.
os.register_at_fork(before=_lock.acquire, after_in_parent=_lock.release,
                    after_in_child=_after_fork_in_child)


try:
    threading._register_atexit(_at_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # pragma: no cover
    import atexit

    atexit.register(_at_exit)
