"""Run ready tasks on any ``concurrent.futures.Executor``; ``backend="processes"`` too.

asynckit's dependency engine stays in front: a task reaches the executor
only once its inputs have settled, with every AsyncValue in its arguments
replaced by the plain result (``graph.plain``), so the executor never sees a
proxy and never waits for one.

One dispatcher thread per backend does all the work that may block or that
must not happen on an executor's own threads: resolving arguments, pickling,
``executor.submit`` and settling finished tasks. Done-callbacks only put the
future on its queue. This matters because ``ProcessPoolExecutor`` calls
done-callbacks on its management thread, and a ``submit`` from there can
deadlock (it writes to a wake-up pipe only that thread drains). The thread
that calls ``pool.do`` is the exception: it submits a ready task itself, so
that a task that cannot be pickled raises right there, in the caller.

For the processes backend asynckit pickles the function and its arguments
itself, once, and sends the bytes: a failure names the culprit (the
function, or which argument) instead of surfacing later, deep in the
executor's feeder thread.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import concurrent.futures.thread  # noqa: F401 - import before registering our exit hook
import functools
import io
import multiprocessing
import pickle
import sys
import threading
from queue import SimpleQueue
from typing import Any

from .. import lifecycle
from ..admission import start_all
from ..asynclist import PROXY_TYPES
from ..errors import CancelledError
from ..gates import release_slot
from ..graph import settle
from ..inputs import ready_arguments
from ..node import PENDING, QUEUED, Node, _lock
from ..protocols import Backend, PoolHandle
from ..report import observe
from ..run import claim, execute, fail, finish
from ..value import describe

__all__ = ["ExecutorBackend", "start_method"]


def start_method() -> str:
    """The start method of the processes backend: ``forkserver`` where it exists, else ``spawn``.

    Never ``fork``: forking a process that runs threads (asynckit's own, and
    any the program has) can copy a lock in its held state into the child.
    """
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class ExecutorBackend(Backend):
    """Hands ready tasks to a ``concurrent.futures.Executor``.

    ``executor=None`` means the processes backend: asynckit makes (and
    remakes, if a worker process dies) a ``ProcessPoolExecutor`` with
    ``worker_count`` processes and a thread-safe start method.
    """

    def __init__(self, pool: PoolHandle, executor: concurrent.futures.Executor | None,
                 worker_count: int) -> None:
        self.name = pool.name
        self.owned = executor is None
        # Pickle payloads ourselves for the stdlib process pool (ours or the
        # user's). Others (loky, ...) have their own, often better, pickler.
        self.pickles = executor is None or isinstance(
            executor, concurrent.futures.ProcessPoolExecutor)
        self.executor = executor
        self.worker_count = worker_count
        self.mutex = threading.Lock()
        self.inbox: SimpleQueue[Any] = SimpleQueue()
        self.dispatcher: threading.Thread | None = None
        self.closed = False
        # Futures of tasks handed to the executor, until they complete.
        self.inflight: dict[Node, concurrent.futures.Future[Any]] = {}
        # Of those, the ones a broken process pool failed before they started.
        self.unstarted: set[Node] = set()
        # Interpreter exit: concurrent.futures' exit hook refuses new work
        # once it has run; this one, registered after it was imported, runs
        # before it, so the pool's pending work is finished first.
        lifecycle.register_exit_wait(pool)  # type: ignore[arg-type]
        # Started now, in the program's normal flow: from 3.12 no thread can
        # start once the interpreter is exiting, when completions still arrive.
        self._start_dispatcher()

    # -- submission -----------------------------------------------------------

    #: The processes backend test-pickles a task that waits for inputs.
    wants_pending = True

    def submit(self, node: Node) -> None:
        """On the caller's thread: dispatch now, so a task that cannot be
        pickled raises right there, in the caller."""
        error = self.dispatch(node)
        if error is not None:
            observe(node)
            raise error

    def pending(self, node: Node, after: Node | None) -> None:
        """Test-pickle the function and plain arguments of a task that waits
        for inputs: a misuse raises at the call, not when it is ready."""
        if self.pickles and node.state == PENDING:
            error = _pickle_error(node, skip_values=True)
            if error is not None:
                start_all(settle(node, None, error))
                observe(node)
                raise error

    def start(self, node: Node) -> None:
        self.inbox.put(node)
        if self.dispatcher is None:
            self._start_dispatcher()

    def dispatch(self, node: Node) -> BaseException | None:
        """Submit a ready node to the executor. Returns a pickling error, if any.

        Settles the node on every path where it does not reach the executor.
        """
        if not claim(node):
            return None  # cancelled, or run by a waiting thread
        try:
            fn = node.fn
            args, kwargs = ready_arguments(node)
            if self.pickles:
                try:
                    payload = pickle.dumps((_by_reference(fn), args, kwargs or {}),
                                           pickle.HIGHEST_PROTOCOL)
                except Exception as whole:
                    error = _pickle_error(node, args=args, kwargs=kwargs) or \
                        pickle.PicklingError(f"cannot pickle task {describe(node)} "
                                             f"for the processes backend: {whole}")
                    _give_up(node, error)
                    return error
                future = self._submit(_run_pickled, payload)
            else:
                future = self._submit(fn, *args, **(kwargs or {}))
        except KeyboardInterrupt:
            # Ctrl-C while pool.do() pickles or submits on the main thread:
            # the task is cancelled and the interrupt goes on to the caller
            # (failing the value with it would swallow it).
            _give_up(node, CancelledError(f"{describe(node)} was cancelled by Ctrl-C "
                                          f"before it ran"))
            raise
        except BaseException as error:  # a failed input's plain(), a closed executor, ...
            start_all(fail(node, error))
            return None
        self.inflight[node] = future
        future.add_done_callback(functools.partial(self._done, node))
        return None

    def _submit(self, fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        executor = self._executor()
        try:
            return executor.submit(fn, *args, **kwargs)
        except concurrent.futures.BrokenExecutor:
            if not self.owned:
                raise
            # A worker died and the executor knows it before we have seen
            # the failures it caused: replace it and try once more.
            self._replace(executor)
            return self._executor().submit(fn, *args, **kwargs)

    def _executor(self) -> concurrent.futures.Executor:
        executor = self.executor
        if executor is None:
            with self.mutex:
                if self.executor is None:
                    context = multiprocessing.get_context(start_method())
                    self.executor = concurrent.futures.ProcessPoolExecutor(
                        self.worker_count, mp_context=context)
                executor = self.executor
        return executor

    def _replace(self, broken: concurrent.futures.Executor) -> None:
        """Drop a broken process pool; the next submission makes a fresh one."""
        with self.mutex:
            if self.executor is not broken:
                return
            self.executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    # -- completion ---------------------------------------------------------------

    def _done(self, node: Node, future: concurrent.futures.Future[Any]) -> None:
        # On the executor's thread: hand over, never settle here (see module doc).
        if self.owned and not future.cancelled() and isinstance(
                future.exception(), concurrent.futures.process.BrokenProcessPool):
            # A worker died and the pool fails all it holds, one future after
            # the other, from this thread: the ones it has not failed yet and
            # never handed to a worker process (still PENDING) had not
            # started. They run again in the fresh pool instead of failing.
            for other, other_future in list(self.inflight.items()):
                if not other_future.running() and not other_future.done():
                    self.unstarted.add(other)
        self.inbox.put((node, future))
        if self.dispatcher is None:
            self._start_dispatcher()

    def _complete(self, node: Node, future: concurrent.futures.Future[Any]) -> None:
        self.inflight.pop(node, None)
        if future.cancelled():  # by cancel_unstarted: it never ran (and is never retried)
            _give_up(node, CancelledError(f"{describe(node)} was cancelled before it ran"))
            return
        error = future.exception()
        if error is None:
            result = future.result()
            if self.pickles:  # pickled by _run_pickled, in the worker
                try:
                    result = pickle.loads(result)
                except Exception as problem:
                    failure = pickle.UnpicklingError(
                        f"the result of {describe(node)} arrived from the worker process "
                        f"but cannot be unpickled here: {type(problem).__name__}: {problem}")
                    failure.__cause__ = problem
                    start_all(fail(node, failure))
                    return
            start_all(finish(node, result))
            return
        if isinstance(error, concurrent.futures.process.BrokenProcessPool):
            if self.owned:
                with self.mutex:
                    broken = self.executor
                if broken is not None and getattr(broken, "_broken", False):
                    self._replace(broken)
            if node in self.unstarted:  # never reached a worker process: again
                self.unstarted.discard(node)
                with _lock:
                    node.state = QUEUED  # ours (claimed): nobody else moves it
                self.dispatch(node)
                return
            crash = concurrent.futures.process.BrokenProcessPool(
                f"a worker process died while {describe(node)} was running or queued "
                f"(killed, out of memory, or os._exit); the task did not finish. "
                f"Tasks submitted later run in fresh worker processes{_main_guard_hint()}")
            crash.__cause__ = error
            error = crash
        start_all(fail(node, error))

    def _start_dispatcher(self) -> None:
        with self.mutex:
            if self.dispatcher is not None:
                return
            self.dispatcher = threading.Thread(
                target=self._serve, name=f"{self.name}-dispatcher", daemon=True)
        self.dispatcher.start()

    def _serve(self) -> None:
        inbox = self.inbox
        while True:
            item = inbox.get()
            if item is None:
                with self.mutex:
                    if self.closed and inbox.empty():
                        self.dispatcher = None
                        return
                continue
            try:
                if type(item) is Node:
                    self.dispatch(item)
                else:
                    self._complete(*item)
            except BaseException:  # pragma: no cover - a bug; keep serving
                import logging

                logging.getLogger("asynckit").exception("asynckit: dispatcher error")
            # An idle dispatcher keeps no task alive (nor, through it, its pool).
            item = None

    # -- the rest of the backend interface -----------------------------------------

    def cancel_unstarted(self) -> None:
        """Ctrl-C: cancel what waits in the executor's queue, not started yet.

        (What a ProcessPoolExecutor has already moved to its workers' call
        queue, worker_count + 1 at most, runs.)
        """
        for future in list(self.inflight.values()):
            future.cancel()

    def run_here(self, node: Node) -> None:
        """A thread waiting on a queued task runs it itself, if it may (not for processes)."""
        if not self.pickles and node.state == QUEUED and claim(node):
            start_all(execute(node))

    def resize(self, worker_count: int) -> None:
        """A new process count applies to a fresh process pool; running tasks finish
        in the old one. An executor passed in is the caller's to size."""
        self.worker_count = worker_count
        if self.owned:
            with self.mutex:
                old, self.executor = self.executor, None
            if old is not None:
                old.shutdown(wait=False)

    def close(self) -> None:
        """The pool is shut down and drained: stop the dispatcher and our processes.
        An executor passed in stays open: it belongs to the caller."""
        executor = None
        with self.mutex:
            self.closed = True
            if self.owned:
                executor, self.executor = self.executor, None
        self.inbox.put(None)
        if executor is not None:
            executor.shutdown(wait=False)


def _main_guard_hint() -> str:
    """A hint when the main script has no ``if __name__ == "__main__":`` guard.

    Worker processes import the main script (forkserver and spawn do), so
    one that makes a processes pool and submits at its top level does so
    again in every worker, which dies of it ("bootstrapping phase"): the
    parent only sees its workers die.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return ""
    try:
        with open(path, encoding="utf-8") as source:
            if "__main__" in source.read():
                return ""
    except (OSError, UnicodeDecodeError):
        return ""
    return (f". {path} has no `if __name__ == \"__main__\":` guard: worker processes "
            f"import the main script, so one that makes a processes pool and submits at "
            f"its top level does it again in every worker, which then dies. Put that code "
            f"under the guard")


def _give_up(node: Node, error: BaseException) -> None:
    """Settle a claimed node that never ran: it did not reach the executor, or was
    cancelled in its queue (no retry: it would fail again, or was meant not to run)."""
    ready: list[Node] = []
    release_slot(node, ready)
    node.fn = node.args = node.kwargs = None
    start_all([*settle(node, None, error), *ready])


def _run_pickled(payload: bytes) -> bytes:
    """In the worker process: unpickle one task, run it, pickle its result.

    Pickled here, so that a result that cannot travel says so, naming its
    type, instead of surfacing as a broken process pool; an exception that
    would not unpickle in the parent is replaced by one that does and names
    it (with the worker's traceback), for the same reason.
    """
    fn, args, kwargs = pickle.loads(payload)
    try:
        result = fn(*args, **kwargs)
    except BaseException as error:
        try:
            pickle.loads(pickle.dumps(error, pickle.HIGHEST_PROTOCOL))
        except Exception as problem:
            import traceback

            worker_tb = "".join(traceback.format_exception(error))
            raise RuntimeError(
                f"the task raised {type(error).__module__}.{type(error).__qualname__}: "
                f"{error}, which cannot be sent back from the worker process "
                f"({type(problem).__name__}: {problem}). In the worker:\n{worker_tb}"
            ) from None
        raise
    try:
        return pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    except Exception as problem:
        raise pickle.PicklingError(
            f"the task's result, a {type(result).__module__}.{type(result).__qualname__}, "
            f"cannot be pickled to send it back from the worker process: {problem}") from None


class _Decorated:
    """Pickles a ``@pool.task`` function by name.

    Its module attribute is the decorator's wrapper, not the function, so
    pickle refuses the function itself ("not the same object"). The worker
    imports the module and takes the wrapper's ``__wrapped__``.
    """

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str) -> None:
        self.module = module
        self.qualname = qualname

    def __reduce__(self) -> Any:
        return _Decorated, (self.module, self.qualname)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _lookup(self.module, self.qualname).__wrapped__(*args, **kwargs)


def _lookup(module: str, qualname: str) -> Any:
    __import__(module)
    obj: Any = sys.modules[module]
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _by_reference(fn: Any) -> Any:
    """``fn``, or a by-name stand-in if it is a decorated task function."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return fn
    try:
        found = _lookup(module, qualname)
    except Exception:
        return fn
    if found is not fn and getattr(found, "__wrapped__", None) is fn:
        return _Decorated(module, qualname)
    return fn


class _SkipValues(pickle.Pickler):
    # AsyncValues pickle as their result, which is a use that blocks: the
    # submission check stands them in by reference instead.
    def persistent_id(self, obj: Any) -> Any:
        return id(obj) if type(obj) in PROXY_TYPES else None


def _pickle_error(node: Node, args: Any = None, kwargs: Any = None,
                  skip_values: bool = False) -> pickle.PicklingError | None:
    """A PicklingError naming what in ``node`` does not pickle, or None if it all does."""
    if args is None:
        args, kwargs = node.args, node.kwargs
    parts: list[tuple[str, Any]] = [("the function", _by_reference(node.fn))]
    parts += [(f"argument {i + 1}", arg) for i, arg in enumerate(args or ())]
    parts += [(f"keyword argument {key!r}", arg) for key, arg in (kwargs or {}).items()]
    for what, obj in parts:
        try:
            if skip_values:
                _SkipValues(io.BytesIO(), pickle.HIGHEST_PROTOCOL).dump(obj)
            else:
                pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            label = what if what == "the function" else f"{what} ({type(obj).__name__})"
            problem = pickle.PicklingError(
                f"cannot pickle {label} of task {describe(node)} for the processes "
                f"backend: {error}. Worker processes receive each task's function and "
                f"arguments by pickle: use a function defined at the top level of a "
                f"module (not a lambda or a local function) and arguments that pickle "
                f"(not locks, open files, sockets or generators)")
            problem.__cause__ = error
            return problem
    return None
