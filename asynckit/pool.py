"""Pool: the Executor face. Submit functions, get AsyncValues, let the graph run itself.

``Pool._submit`` is the way in for every call (``do``, ``@task`` calls,
``map``, ``chain``, ``submit``): it makes the task's record and proxy, finds
its inputs (``inputs``), links it into the graph (``graph.link``) and, once
it is ready, lets it through admission to its backend. Everything after
that happens in the layers below; the pool only keeps the count of its
unsettled tasks (a ``waiting.Drain``) and its backends.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import lifecycle
from .admission import Timer, admit, start_all
from .asynclist import MapIterator, MapResult
from .backends import make_backend
from .errors import check_timeout
from .graph import abandon, cancel, link
from .inputs import ATOMS, scan
from .node import CANCELLED, QUEUED, RUNNING, Node, name_of
from .protocols import Backend
from .task import (
    TaskFunction,
    TaskSpec,
    check_backend,
    check_worker_count,
    is_coroutine_function,
    make_spec,
    not_callable,
)
from .value import AsyncValue, new_value
from .waiting import Drain, current_pool

R = TypeVar("R")

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Coroutine
    from os import PathLike

    from .store import Store
    from .task import P, _Task, _TaskDecorator

__all__ = ["Pool", "task", "do", "wait", "default_pool"]

_serial = itertools.count(1)
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without the import on the hot path
_BuiltinFunction = type(len)  # never a coroutine function
_new_proxy = AsyncValue.__new__  # see value.new_value: no __init__ on the hot path


class Pool(concurrent.futures.Executor):
    """Runs functions in parallel and hands back :class:`AsyncValue` results.

    ``Pool(worker_count=None, *, backend="threads", executor=None, client=None,
    address=None, name=None, store=None)``

    - ``worker_count``: threads for the default backend, default
      ``min(32, os.cpu_count() + 4)``; readable and settable on a live pool.
      ``max_workers=`` (ThreadPoolExecutor's name) is accepted for it.
      Threads start on demand; an idle pool uses no CPU, and a pool dropped
      with nothing pending lets its threads go.
    - ``backend``: ``"threads"`` (default), ``"processes"`` or ``"dask"``;
      ``executor=`` any :class:`concurrent.futures.Executor`; ``client=`` a
      ``distributed.Client`` (or ``backend="dask", address="tcp://…"``).
    - ``store``: a file keeping ``cache=True`` results for reruns (:class:`Store`).

    A Pool is a :class:`concurrent.futures.Executor`: ``submit`` returns a
    standard Future, ``map`` keeps ``Executor.map`` semantics, and
    ``with Pool() as pool:`` waits for all work on exit.
    """

    #: Set by ``lifecycle.stop`` once Ctrl-C has ended the program: tasks that
    #: are still running may submit more, and that work is cancelled at once.
    _stopping = False
    #: Tasks cancelled by Ctrl-C or shutdown(cancel_futures=True), for the
    #: exit hook's report.
    _cancelled_count = 0

    def __init__(self, worker_count: int | None = None, *, backend: str = "threads",
                 executor: concurrent.futures.Executor | None = None, client: Any = None,
                 address: str | None = None, name: str | None = None,
                 max_workers: int | None = None,
                 store: str | PathLike[str] | None = None) -> None:
        self._worker_count = check_worker_count(worker_count, max_workers)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        self.name: str = name or f"asynckit-{next(_serial)}"
        self.drain: Drain = Drain()
        self._live = self.drain.live  # the same set: one attribute less on the hot path
        self._mutex = threading.Lock()
        # A pool made while the program exits takes work from tasks only.
        self._closed = lifecycle.exiting()
        self._timer: Timer | None = None
        self._loop_backend: Backend | None = None
        self.store: Store | None = None  # for cache=True functions
        if store is not None:  # cache.py and the store (sqlite3, ...) only for a pool with one
            from .cache import open_store

            self.store = open_store(store, backend, client)
        self._backend = make_backend(self, backend, self._worker_count, executor, client,
                                     address)
        # Weakly: the drain must not keep its pool alive (see backends.threads).
        ref = weakref.ref(self)

        def drained() -> None:
            pool = ref()
            # (Not while the program exits: tasks may still submit to it.)
            if pool is not None and pool._closed and not lifecycle.exiting():
                pool._close_backends()

        self.drain.on_empty = drained
        # A pool dropped with nothing pending: its backend's threads and
        # processes go too (a thread pool's workers leave on their own; a
        # dispatcher or an event loop thread holds its backend, not the pool).
        weakref.finalize(self, self._backend.close).atexit = False
        lifecycle.register(self)

    # -- size ---------------------------------------------------------------

    @property
    def worker_count(self) -> int:
        """How many tasks run at once. Setting it resizes the live pool: workers
        beyond the new count leave after their current task."""
        return self._worker_count

    @worker_count.setter
    def worker_count(self, worker_count: int) -> None:
        if worker_count is None:
            raise TypeError("worker_count must be an int >= 1, not None")
        self._worker_count = check_worker_count(worker_count)
        self._backend.resize(worker_count)

    @property
    def _max_workers(self) -> int:
        # ThreadPoolExecutor's attribute, read by code written for it
        # (dask.threaded sizes its scheduler by it).
        return self._worker_count

    # -- submitting -----------------------------------------------------------

    @overload
    def do(self, fn: Callable[..., AsyncValue[R]], /, *args: Any,
           **kwargs: Any) -> AsyncValue[R]: ...  # results flatten

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
                backend: Backend | None = None) -> AsyncValue[Any]:
        if self._closed:
            if self._stopping:
                return self._cancelled(fn, args, kwargs, spec, name)
            lifecycle.check_not_exited()
            # Tasks of this pool may still submit (nested work finishes); while
            # the program exits, tasks of any pool may.
            worker_of = current_pool()
            if worker_of is not self and (worker_of is None or not lifecycle.exiting()):
                raise lifecycle.refusal(self.name)
        if spec is not None and spec.store is not None:  # cache=True: look it up first
            from .cache import look_up

            return look_up(self, spec, fn, args, kwargs, name, after, backend)
        if backend is None:
            code = getattr(fn, "__code__", None)
            if spec is None and code is not None:  # plain or async def: the common cases
                backend = (self._loop_backend or self._loop()) if code.co_flags & _CO_COROUTINE \
                    else self._backend
            else:
                backend = self._backend if type(fn) is _BuiltinFunction and spec is None \
                    else self._backend_for(fn, spec, "pool.do()")
        # The name is looked up lazily (value.describe) or when fn is dropped.
        node = Node(self, backend, fn, args, kwargs, spec, name)
        proxy = _new_proxy(AsyncValue)
        proxy._self_task = node
        node.proxy = proxy
        # Scan first: if a container's iteration raises, the caller gets the
        # error and the pool keeps no node that would never settle. Plain
        # scalars and AsyncValues, the common cases, are seen here without a
        # call (inputs.find_inputs, inlined); containers, keywords and
        # opaque() arguments take the full scan.
        inputs = None
        for arg in args:
            kind = type(arg)
            if kind is AsyncValue:
                if inputs is None:
                    inputs = [arg._self_task]
                else:
                    inputs.append(arg._self_task)
            elif kind not in ATOMS:
                inputs, node.args, node.kwargs = scan(args, kwargs)
                break
        else:
            if kwargs:
                inputs, node.args, node.kwargs = scan(args, kwargs)
        self._live.add(node)
        if inputs is None and after is None:
            node.state = QUEUED if spec is None else spec.ready_state
        elif not link(node, inputs or [], after):
            if backend.wants_pending:
                backend.pending(node, after)
            return proxy
        if node.state == QUEUED:
            backend.submit(node)
        else:  # HELD: through its gate; other calls it lets through start as usual
            for ready in admit(node):
                ready.backend.submit(ready) if ready is node else ready.backend.start(ready)
        return proxy

    def _backend_for(self, fn: Any, spec: TaskSpec | None, what: str) -> Backend:
        """How a call's backend is chosen: ``async def`` functions run on the
        pool's event loop, everything else on the pool's own backend."""
        if spec is not None:
            return self._loop() if spec.is_async else self._backend
        if not callable(fn):
            raise not_callable(fn, what)
        return self._loop() if is_coroutine_function(fn) else self._backend

    def _cancelled(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                   spec: TaskSpec | None, name: str | None) -> AsyncValue[Any]:
        """Ctrl-C ended the program: new work is cancelled, not run."""
        node = Node(self, self._backend, fn, args, kwargs, spec, name or name_of(fn))
        proxy = new_value(node)
        start_all(cancel(node)[1])
        return proxy

    def _chain(self, after: Node, fn: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> AsyncValue[Any]:
        return self._submit(fn, args, kwargs, None, None, after)

    def submit(self, fn: Callable[..., R], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[R]:
        """``Executor.submit``: like :meth:`do`, but returns a standard Future."""
        from .helpers import future

        return future(self._submit(fn, args, kwargs, None, None))

    @overload
    def map(self, fn: Callable[..., R], *iterables: Iterable[Any],
            timeout: float | None = None, chunksize: int | None = None, buffersize: None = None,
            progress: bool = False) -> MapResult[R]: ...

    @overload
    def map(self, fn: Callable[..., R], *iterables: Iterable[Any],
            timeout: float | None = None, chunksize: int | None = None, buffersize: int,
            progress: bool = False) -> MapIterator[R]: ...

    def map(self, fn: Callable[..., R], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | None = None, buffersize: int | None = None,
            progress: bool = False) -> MapResult[R] | MapIterator[R]:
        """Run ``fn`` over the iterables (``Executor.map``); results in input order.

        Every call is submitted now. The result is an iterator with
        ``Executor.map`` semantics and an :class:`AsyncList` value (a
        :class:`~asynckit.asynclist.MapResult`): ``next(r)`` and ``for`` loops
        yield results in order as they are ready, each going on where the last
        stopped; the first failed call raises when reached, and
        :class:`TimeoutError` once ``timeout`` seconds have passed since this
        call. Iteration that ends early (an error, a timeout, ``r.close()``,
        or a ``break`` once nothing else holds ``r``) cancels the calls not
        started; ``r.close()`` never blocks (``contextlib.closing`` works).
        As a value: ``r.get()`` is every result, ``len(r)`` the number of
        calls (at once), and ``r`` can be passed to a task.

        ``buffersize=n`` (Python 3.14's keyword): at most ``n`` calls
        submitted and not yet yielded, the iterables read as results are
        taken. The result is then only an iterator (a
        :class:`~asynckit.asynclist.MapIterator`, like ``Executor.map``'s
        generator): no ``len()`` (the input is not read ahead), no ``get()``;
        ``list(r)`` gives every result. ``chunksize=k``: the processes and executor backends send
        the calls in chunks of ``k`` (processes, by default: ``Backend.chunking``); threads ignore it.
        """
        from .mapping import map_calls  # here: import asynckit stays cheap

        return map_calls(self, self._backend, fn, iterables, timeout, chunksize, buffersize,
                         progress)

    @overload
    def task(self, fn: Callable[P, Coroutine[Any, Any, R]], /,
             ) -> _Task[P, Coroutine[Any, Any, R], R]: ...

    @overload
    def task(self, fn: Callable[P, R], /) -> _Task[P, R, R]: ...

    @overload
    def task(self, fn: None = None, /, *, retries: int = 0,
             retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
             retry_delay: float = 0.0, limit: int | None = None, name: str | None = None,
             timeout: float | None = None, rate: str | float | None = None, burst: int = 1,
             key: Callable[..., Any] | None = None, cache: bool = False) -> _TaskDecorator: ...

    def task(self, fn: Any = None, /, **options: Any) -> Any:
        """Decorate a function so that calling it runs it on this pool.

        Works on functions, methods, staticmethods and classmethods; the result
        keeps ``__name__``, ``__doc__``, ``__wrapped__`` (call that to run the
        function inline) and ``inspect.signature``. Calls return AsyncValues,
        exactly like ``pool.do(fn, ...)``. ``async def`` functions run on the
        pool's event loop.

        Options: ``retries`` re-runs a call that raised one of ``retry_on`` (exception
        classes), after ``retry_delay`` seconds, doubling each time; ``limit`` caps how
        many calls of this function run at once; ``timeout`` fails a call that runs
        longer with TimeoutError; ``rate`` ("10/s", "100/m", "3600/h") lets calls start
        at most that often (``burst`` at once); ``key`` applies ``limit`` and ``rate``
        per ``key(*args, **kwargs)``; waiting calls hold no worker; ``name`` labels
        the task in reprs and pictures; ``cache=True`` keeps results for reruns.
        """
        target = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
        spec = make_spec(target, options, self.store, self._later)
        check_backend(spec, self._backend)
        if fn is None:
            return lambda fn: self.task(fn, **options)
        if spec is not None and spec.timed:
            # Start the timer now, in the program's normal flow: from 3.12
            # no thread can start once the interpreter is exiting.
            self._timer_of()
        name = options.get("name")
        label = name or name_of(target)
        submit = self._submit
        backend = None if spec is not None and spec.is_async else self._backend

        def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return submit(wrapped, args, kwargs, spec, label, None, backend)

        wrapper = TaskFunction(fn, call)
        wrapper._self_call = (fn, submit, spec, label, backend)
        return wrapper

    # -- waiting and closing ----------------------------------------------------

    def wait(self, timeout: float | None = None, *, progress: bool = False) -> bool:
        """Block until every task submitted so far has settled, and every task
        those tasks (or their chains) submit.

        True when all have settled, False on timeout. Task errors are not
        raised here (an error nobody observes is logged when its value is
        garbage-collected, or at exit). ``progress=True`` draws a tqdm bar.
        """
        if current_pool() is self:
            raise RuntimeError(
                f"pool.wait() inside a task of pool {self.name!r} would wait for "
                f"itself: wait on the values you need (value.get()) instead")
        timeout = check_timeout(timeout, "pool.wait()")
        if timeout is not None and timeout < 0:
            raise ValueError(f"pool.wait() takes a timeout of 0 seconds or more, not {timeout}")
        if progress:
            from .progress import track

            bar = track(list(self._live), desc=self.name)
            try:
                return self.drain.wait(timeout)
            finally:
                bar.close()
        return self.drain.wait(timeout)

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

    def _unsettled(self) -> int:
        return len(self._live)

    def _cancel_nodes(self, nodes: Iterable[Node]) -> int:
        # Cancel every node first, then start what that made ready (chains of
        # cancelled tasks, possibly in other pools): started earlier, a chain
        # step of this pool would run instead of being cancelled.
        unstarted = [node for node in nodes if node.state < RUNNING]
        ready: list[Node] = []
        count = 0
        for node in unstarted:
            ready += cancel(node)[1]
            if node.state == CANCELLED:  # by this cancel, or by one before it in this loop
                count += 1
                self._cancelled_count += 1  # counted as it goes: a Ctrl-C may cut the loop short
        start_all(ready)
        return count

    def _cancel_unstarted(self) -> int:
        count = self._cancel_nodes(list(self._live))
        # Tasks handed to an executor early (processes) sit in its queue
        # claimed by us but not started: the backend cancels those there.
        self._backend.cancel_unstarted()
        return count

    def _after_fork(self) -> None:
        """In a child made by fork: cancel the parent's unsettled tasks, start afresh.

        A thread pool works on in the child (new threads start on demand);
        other backends live in the parent's threads and processes, so their
        pools are closed here.
        """
        self._mutex = threading.Lock()
        orphans = self.drain.after_fork()
        self._live = self.drain.live
        self._timer = None
        self._loop_backend = None
        carries_on = self._backend.after_fork()
        abandon(orphans)
        if not carries_on:
            self._closed = True

    def _loop(self) -> Backend:
        backend = self._loop_backend
        if backend is None:
            with self._mutex:
                if self._loop_backend is None:
                    from .backends.loop import LoopBackend

                    self._loop_backend = LoopBackend(self)
                    # Its thread holds it, not the pool: stop it if the pool is dropped.
                    weakref.finalize(self, self._loop_backend.close).atexit = False
                backend = self._loop_backend
        return backend

    def _later(self, delay: float, item: Any) -> None:
        self._timer_of().call_later(delay, item)

    def _timer_of(self) -> Timer:
        timer = self._timer
        if timer is None:
            with self._mutex:
                if self._timer is None:
                    self._timer = Timer(self.name)
                timer = self._timer
        return timer

    def statistics(self) -> dict[str, Any]:
        """A snapshot for introspection: unsettled tasks and the backend's numbers."""
        return {"unsettled": len(self._live), "closed": self._closed,
                "worker_count": self._worker_count, **self._backend.statistics()}

    def __repr__(self) -> str:
        state = "shut down" if self._closed else f"{len(self._live)} unsettled"
        return f"<Pool {self.name!r} {self._backend.size_label(self._worker_count)} {state}>"


# --------------------------------------------------------------------------
# The default pool


lifecycle.provide_default_pool(lambda: Pool(name="asynckit-default"))


def default_pool() -> Pool:
    """The module-level pool behind ``asynckit.do``/``task``/``wait``, made on first use."""
    return lifecycle.default_pool()  # type: ignore[return-value]


@overload
def do(fn: Callable[..., AsyncValue[R]], /, *args: Any, **kwargs: Any,
       ) -> AsyncValue[R]: ...


@overload
def do(fn: Callable[..., Coroutine[Any, Any, R]], /, *args: Any, **kwargs: Any,
       ) -> AsyncValue[R]: ...


@overload
def do(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> AsyncValue[R]: ...


def do(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> AsyncValue[Any]:
    """``pool.do`` on the default pool."""
    return default_pool()._submit(fn, args, kwargs, None, None)


@overload
def task(fn: Callable[P, Coroutine[Any, Any, R]], /) -> _Task[P, Coroutine[Any, Any, R], R]: ...


@overload
def task(fn: Callable[P, R], /) -> _Task[P, R, R]: ...


@overload
def task(fn: None = None, /, *, retries: int = 0,
         retry_on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
         retry_delay: float = 0.0, limit: int | None = None, name: str | None = None,
         timeout: float | None = None, rate: str | float | None = None, burst: int = 1,
         key: Callable[..., Any] | None = None, cache: bool = False) -> _TaskDecorator: ...


def task(fn: Any = None, /, **options: Any) -> Any:
    """``pool.task`` on the default pool: ``@asynckit.task`` or ``@asynckit.task(limit=2)``."""
    return default_pool().task(fn, **options)


def wait(timeout: float | None = None, *, progress: bool = False) -> bool:
    """``pool.wait`` on the default pool (True at once if it was never used)."""
    pool = lifecycle.default_if_made()
    if pool is None:
        return True
    return pool.wait(timeout, progress=progress)  # type: ignore[call-arg]
