"""What travels to worker processes, and naming what does not pickle.

The processes and Dask backends test-pickle a task before it leaves, so that
a misuse raises at the call. Only once that test has failed is each part
(the function, then each argument) pickled on its own, to name the culprit.

The runners at the end (``run_calls``, ``run_chunk``) are what a worker
process runs for the processes backend: a batch of calls, each settled on
its own (a call that raises fails only itself), sent back as one pickle.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Callable
from itertools import starmap
from time import perf_counter
from typing import Any

from ..asynclist import PROXY_TYPES
from ..node import Node
from ..value import describe

__all__ = ["pickle_error", "by_reference", "task_pickle_error", "run_calls", "run_chunk",
           "run_plain_chunk", "run_packed"]

_HIGHEST = pickle.HIGHEST_PROTOCOL


def pickle_error(node: Node, fn: Any, args: Any, kwargs: Any, dump: Callable[[Any], object],
                 where: str, advice: str) -> pickle.PicklingError | None:
    """A PicklingError naming what in ``node`` does not pickle, or None if it all does.

    ``fn``, ``args`` and ``kwargs`` are the parts as they will travel; ``dump``
    pickles one of them (raising if it cannot); ``where`` names the backend
    and ``advice`` says how such tasks travel and what to do.
    """
    parts: list[tuple[str, Any]] = [("the function", fn)]
    parts += [(f"argument {i + 1}", arg) for i, arg in enumerate(args or ())]
    parts += [(f"keyword argument {key!r}", arg) for key, arg in (kwargs or {}).items()]
    for what, obj in parts:
        try:
            dump(obj)
        except Exception as error:
            label = what if what == "the function" else f"{what} ({type(obj).__name__})"
            problem = pickle.PicklingError(
                f"cannot pickle {label} of task {describe(node)} for {where}: {error}. "
                f"{advice}")
            problem.__cause__ = error
            return problem
    return None


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


def by_reference(fn: Any) -> Any:
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


def task_pickle_error(node: Node, args: Any = None, kwargs: Any = None,
                      skip_values: bool = False) -> pickle.PicklingError | None:
    """A PicklingError naming what in ``node`` does not pickle for the processes
    backend, or None if it all does."""
    if args is None:
        args, kwargs = node.args, node.kwargs
    return pickle_error(
        node, by_reference(node.fn), args, kwargs,
        _dump_skipping_values if skip_values else _dump, "the processes backend",
        "Worker processes receive each task's function and arguments by pickle: use a "
        "function defined at the top level of a module (not a lambda or a local "
        "function) and arguments that pickle (not locks, open files, sockets or generators)")


def _dump(obj: Any) -> None:
    pickle.dumps(obj, _HIGHEST)


def _dump_skipping_values(obj: Any) -> None:
    _SkipValues(io.BytesIO(), _HIGHEST).dump(obj)


# -- in the worker process ---------------------------------------------------------------


def run_calls(payloads: list[bytes]) -> bytes:
    """Run a batch of calls, each pickled as ``(fn, args, kwargs)``; see :func:`_send`."""
    outcomes: list[tuple[bool, Any]] = []
    began = perf_counter()
    for payload in payloads:
        try:
            fn, args, kwargs = pickle.loads(payload)
            outcomes.append((True, fn(*args, **kwargs) if kwargs else fn(*args)))
        except BaseException as error:  # SystemExit too: it fails its own call only
            outcomes.append((False, _sendable(error)))
    return _send(outcomes, perf_counter() - began)


def run_chunk(payload: bytes) -> bytes:
    """Run ``fn`` over a chunk of argument tuples pickled as ``(fn, [args, ...])``."""
    began = perf_counter()
    try:
        fn, chunk = pickle.loads(payload)
    except BaseException as error:
        return _send([(False, _sendable(error))], perf_counter() - began)
    outcomes = run_plain_chunk(fn, chunk)
    if not all(ok for ok, _ in outcomes):
        outcomes = [(ok, value if ok else _sendable(value)) for ok, value in outcomes]
    return _send(outcomes, perf_counter() - began)


def run_plain_chunk(fn: Callable[..., Any], chunk: list[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
    """``fn`` over each argument tuple: ``(True, result)`` or ``(False, error)`` each."""
    outcomes: list[tuple[bool, Any]] = []
    append = outcomes.append
    for args in chunk:
        try:
            append((True, fn(*args)))
        except BaseException as error:
            append((False, error))
    return outcomes


def run_packed(payload: bytes) -> bytes:
    """Run a packed chunk of ``pool.map``, pickled as ``(fn, items, star)``: ``fn(*item)``
    for each item if ``star``, else ``fn(item)``.

    Sends back ``(results, failures, seconds)``: every result in order (None
    where a call raised) and ``[(index, error), ...]`` for the calls that
    raised (each fails its own item; the others still run). A chunk that
    cannot be loaded fails at index 0, with no results.
    """
    began = perf_counter()
    try:
        fn, items, star = pickle.loads(payload)
    except BaseException as error:
        return pickle.dumps(([], [(0, _sendable(error))], perf_counter() - began), _HIGHEST)
    results: list[Any] = []
    failures: list[tuple[int, Any]] = []
    calls = starmap if star else map
    while True:
        # In C: list.extend keeps what it appended before a call raised.
        try:
            results.extend(calls(fn, items if not results else items[len(results):]))
            break
        except BaseException as error:  # SystemExit too: it fails its own item only
            failures.append((len(results), _sendable(error)))
            results.append(None)
    took = perf_counter() - began
    try:
        return pickle.dumps((results, failures, took), _HIGHEST)
    except Exception:
        pass
    for index, value in enumerate(results):  # name each result that does not travel
        try:
            pickle.dumps(value, _HIGHEST)
        except Exception as problem:
            failures.append((index, _unsendable_result(value, problem)))
            results[index] = None
    return pickle.dumps((results, sorted(failures, key=_first), took), _HIGHEST)


def _first(pair: tuple[int, Any]) -> int:
    return pair[0]


def _send(outcomes: list[tuple[bool, Any]], took: float) -> bytes:
    """``(outcomes, seconds)`` pickled in one go. A result or error that cannot
    travel is replaced by an error that names it (the other calls keep theirs):
    it says so, instead of surfacing as a broken process pool."""
    try:
        return pickle.dumps((outcomes, took), _HIGHEST)
    except Exception:
        pass
    fixed: list[tuple[bool, Any]] = []
    for ok, value in outcomes:
        try:
            pickle.dumps(value, _HIGHEST)
        except Exception as problem:
            ok, value = False, _unsendable_result(value, problem)
        fixed.append((ok, value))
    return pickle.dumps((fixed, took), _HIGHEST)


def _unsendable_result(value: Any, problem: Exception) -> pickle.PicklingError:
    return pickle.PicklingError(
        f"the task's result, a {type(value).__module__}.{type(value).__qualname__}, "
        f"cannot be pickled to send it back from the worker process: {problem}")


def _sendable(error: BaseException) -> Any:
    """``error`` with its worker traceback attached (as ProcessPoolExecutor does),
    or, if it would not unpickle in the parent, a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(error, _HIGHEST))
    except Exception as problem:
        import traceback

        worker_tb = "".join(traceback.format_exception(error))
        return RuntimeError(
            f"the task raised {type(error).__module__}.{type(error).__qualname__}: "
            f"{error}, which cannot be sent back from the worker process "
            f"({type(problem).__name__}: {problem}). In the worker:\n{worker_tb}")
    import concurrent.futures.process as process

    return process._ExceptionWithTraceback(error, error.__traceback__)  # type: ignore[arg-type]
