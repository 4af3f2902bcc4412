"""The dependency engine: find a task's inputs, count them down, run, finish.

A task's inputs are the AsyncValues anywhere in its arguments. ``link``
registers the task with each unsettled input and stores how many there are;
each input's settle counts that down (``value._settle``) and the task becomes
ready at zero. Nothing polls and nothing is re-queued: a chain of N tasks
costs O(N).

``run`` executes a ready task on the calling thread and ``finish``/``fail``
settle it, after retries and flattening; both return the tasks that became
ready, so a worker can run one of them next without a trip through a queue.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from time import perf_counter
from types import FunctionType
from typing import Any

from .value import (
    CANCELLED,
    DONE,
    FAILED,
    GATHER,
    HELD,
    PENDING,
    PROXY_TYPES,
    QUEUED,
    RUNNING,
    After,
    AsyncList,
    AsyncValue,
    Node,
    _lock,
    _locked,
    _name_of,
    _task_of,
    _wait_unlocked,
    _wrapped_of,
    depend,
    settle,
)

# Types that can never contain an AsyncValue: the scan skips them at once.
_ATOMS = frozenset({int, float, str, bytes, bool, type(None), complex, bytearray,
                    range, type, memoryview})


def find_inputs(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> list[Node] | None:
    """The nodes of every AsyncValue in ``args``/``kwargs``, or None if there are none.

    Looks inside lists, tuples (namedtuples too), dicts (keys and values), sets
    and frozensets, and their subclasses, to any depth. Checks ``type()``
    first: asking a proxy anything else would be a use, and block.
    """
    found: list[Node] | None = None
    for arg in args:
        kind = type(arg)
        if kind in PROXY_TYPES:
            if found is None:
                found = [_task_of(arg)]
            else:
                found.append(_task_of(arg))
        elif kind not in _ATOMS:
            found = _scan(arg, found, set())
    if kwargs:
        for arg in kwargs.values():
            kind = type(arg)
            if kind in PROXY_TYPES:
                if found is None:
                    found = [_task_of(arg)]
                else:
                    found.append(_task_of(arg))
            elif kind not in _ATOMS:
                found = _scan(arg, found, set())
    return found


def _scan(obj: Any, found: list[Node] | None, seen: set[int]) -> list[Node] | None:
    kind = type(obj)
    if kind in PROXY_TYPES:
        if found is None:
            return [_task_of(obj)]
        found.append(_task_of(obj))
        return found
    if kind in _ATOMS:
        return found
    if isinstance(obj, (list, tuple, set, frozenset)):
        if id(obj) in seen:  # a container that contains itself
            return found
        seen.add(id(obj))
        for item in obj:
            found = _scan(item, found, seen)
    elif isinstance(obj, dict):
        if id(obj) in seen:
            return found
        seen.add(id(obj))
        for key, item in obj.items():
            found = _scan(key, found, seen)
            found = _scan(item, found, seen)
    return found


def plain(obj: Any) -> Any:
    """``obj`` with every AsyncValue replaced by its result (waiting if needed).

    Containers that hold AsyncValues are rebuilt with their own type; others
    are returned as they are (the same object), so a task that is handed a
    list it should mutate gets that very list.
    """
    kind = type(obj)
    if kind in PROXY_TYPES:
        node = _task_of(obj)
        if node.state == DONE and node.remote is None:
            return _wrapped_of(obj)  # settled here: the C field, no method call
        return obj.get()
    if kind in _ATOMS:
        return obj
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [plain(item) for item in obj]
        if all(new is old for new, old in zip(items, obj, strict=True)):
            return obj
        if kind is list or kind is tuple or kind is set or kind is frozenset:
            return kind(items)
        if isinstance(obj, tuple):
            if hasattr(obj, "_fields"):  # a namedtuple
                return kind(*items)
            return kind(items)
        rebuilt: Any = copy.copy(obj)  # a list or set subclass: keep its attributes
        rebuilt.clear()
        if isinstance(obj, list):
            rebuilt.extend(items)
        else:
            rebuilt.update(items)
        return rebuilt
    if isinstance(obj, dict):
        pairs = [(plain(key), plain(item)) for key, item in obj.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, obj.items(), strict=True)):
            return obj
        if kind is dict:
            return dict(pairs)
        rebuilt = copy.copy(obj)  # OrderedDict, defaultdict, …: keep the type
        rebuilt.clear()
        rebuilt.update(pairs)
        return rebuilt
    return obj


def _resolve(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``plain`` over a ready task's arguments, with direct AsyncValues inlined.

    Every AsyncValue among them has settled with a result by now (a failed
    input would have failed the task), so its C field holds the value; if the
    value lives elsewhere (``remote``) the field is unset, and reading it goes
    through ``__wrapped_get__``, which fetches it.
    """
    resolved = []
    for arg in args:
        kind = type(arg)
        if kind is AsyncValue or kind is AsyncList:
            resolved.append(_wrapped_of(arg))
        elif kind in _ATOMS:
            resolved.append(arg)
        else:
            resolved.append(plain(arg))
    return tuple(resolved)


def link(node: Node, inputs: list[Node], after: Node | None = None) -> bool:
    """Register ``node`` with its unsettled inputs. True if it is ready now.

    ``after`` is a ``chain`` predecessor: waited for, its outcome ignored.
    A node with an input that has already failed is failed here, at once.
    """
    if after is None:
        for inner in inputs:
            if inner.state < DONE:
                break
        else:
            # Every input has settled, and settled is final: no need to hold
            # the lock while looking. What remains under it is straight-line
            # code, where no thread switch can land (a switch while holding
            # the lock makes the others queue on it: measured 2-3x slower).
            node.inputs = inputs
            for inner in inputs:
                if inner.state != DONE:
                    start_all(settle(node, None, inner.error, inner))
                    return False
            spec = node.spec
            state = HELD if spec is not None and spec.limiter is not None else QUEUED
            if _locked():
                _wait_unlocked()
            with _lock:
                if node.state != PENDING:  # cancelled meanwhile (Ctrl-C sweeps)
                    return False
                node.state = state
            return True
    failed = None
    if _locked():
        _wait_unlocked()
    with _lock:
        pending = 0
        for inner in inputs:
            state = inner.state
            if state < DONE:
                dependents = inner.dependents  # value.depend(), inlined
                if dependents is None:
                    inner.dependents = node
                elif type(dependents) is list:
                    dependents.append(node)
                else:
                    inner.dependents = [dependents, node]
                pending += 1
            elif state != DONE and failed is None:
                failed = inner
        if after is not None and after.state < DONE:
            depend(after, After(node))
            pending += 1
        node.pending = pending
        if after is not None:
            inputs.append(after)
        node.inputs = inputs  # kept (nodes only, never results) for to_dot
        if failed is None and pending == 0:
            spec = node.spec
            node.state = HELD if spec is not None and spec.limiter is not None else QUEUED
            return True
    if failed is not None:
        start_all(settle(node, None, failed.error, failed))
    return False


def start(node: Node) -> None:
    """Hand a ready node to its backend, through its ``limit`` gate if it has one."""
    spec = node.spec
    if spec is not None and spec.limiter is not None:
        spec.limiter.admit(node)
    else:
        node.backend.start(node)


def start_all(ready: Sequence[Node]) -> None:
    for node in ready:
        start(node)


def claim(node: Node) -> bool:
    """Move a QUEUED node to RUNNING; False if someone else got it first."""
    with _lock:
        if node.state != QUEUED:
            return False
        node.state = RUNNING
        return True


def run(node: Node) -> Sequence[Node]:
    """Claim and run a task on this thread; return the tasks that became ready."""
    if _locked():
        _wait_unlocked()
    with _lock:
        if node.state != QUEUED:
            return []
        node.state = RUNNING
    return execute(node)


def execute(node: Node, worker: Any = None) -> Sequence[Node]:
    """Run a claimed (RUNNING) task on this thread; return the tasks that became ready.

    With ``worker`` (the caller's backend), a task of that backend which this
    made ready may come back claimed, alone in a tuple (see ``value.settle``):
    the caller runs it next with ``execute``.
    """
    args = node.args
    kwargs = node.kwargs
    started = perf_counter()
    try:
        # Rebuilding the arguments runs user code too (a container subclass's
        # constructor or copy): inside the try, so the node settles either way.
        if node.inputs:
            args = _resolve(args)
            if kwargs:
                kwargs = {key: plain(arg) for key, arg in kwargs.items()}
        result = node.fn(*args, **kwargs) if kwargs else node.fn(*args)
    except BaseException as error:  # SystemExit too: the worker must live on
        node.took = perf_counter() - started
        tb = error.__traceback__
        if tb is not None and tb.tb_next is not None:
            error.__traceback__ = tb.tb_next  # start the traceback in the task's own code
        # The traceback keeps this frame, and a frame keeps its locals: drop
        # the inputs (the pool never holds a task's arguments once it ran)
        # and the node, which holds the error's reporter, which holds the
        # traceback. That cycle could only be freed by the cyclic GC, so an
        # unobserved failure would be logged at some later collection rather
        # than when its last value goes.
        del tb, args, kwargs
        failed = [node]
        del node
        return fail(failed.pop(), error)
    node.took = perf_counter() - started
    if node.spec is None and type(result) is not AsyncValue and type(result) is not AsyncList:
        # finish(), inlined for the common case (one call less per task).
        if node.name is None:
            fn = node.fn
            node.name = fn.__qualname__ if type(fn) is FunctionType else _name_of(fn)
        node.fn = node.args = node.kwargs = None
        return settle(node, result, None, None, worker)
    return finish(node, result)


def finish(node: Node, result: Any) -> Sequence[Node]:
    """The task's function returned ``result``: settle, or follow a returned AsyncValue."""
    if node.spec is not None:
        _release(node)
    if node.name is None:
        node.name = getattr(node.fn, "__qualname__", None) or _name_of(node.fn)
    node.fn = node.args = node.kwargs = None
    if type(result) in PROXY_TYPES:
        # Results flatten, as promises do: settle with that value's outcome
        # when it settles. The worker does not wait for it.
        target = _task_of(result)
        with _lock:
            if target.state < DONE:
                depend(target, node)
                return []
        if target.state == DONE:
            node.remote = target.remote
            return settle(node, None if target.remote is not None else _wrapped_of(result))
        return settle(node, None, target.error, target)
    return settle(node, result)


def fail(node: Node, error: BaseException) -> Sequence[Node]:
    """The task's function raised ``error``: retry it, or settle it failed."""
    spec = node.spec
    if spec is not None:
        _release(node)
        if node.attempt < spec.retries and isinstance(error, spec.retry_on):
            delay = spec.retry_delay * (2 ** node.attempt)
            node.attempt += 1
            with _lock:
                node.state = HELD
            node.pool._retry_later(node, delay)
            return []
    if node.name is None:
        node.name = _name_of(node.fn)
    node.fn = node.args = node.kwargs = None
    return settle(node, None, error)


def _release(node: Node) -> None:
    limiter = node.spec.limiter
    if limiter is not None:
        limiter.release()


class Limiter:
    """At most ``limit`` calls of one task function run at once.

    Calls beyond the limit wait here, in order, as HELD nodes; they occupy no
    worker. A slot is taken when a call is handed to its backend and given
    back when its function returns or raises.
    """

    __slots__ = ("limit", "running", "waiting")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self.waiting: deque[Node] = deque()

    def admit(self, node: Node) -> None:
        with _lock:
            if node.state != HELD:  # cancelled meanwhile
                return
            if self.running >= self.limit:
                self.waiting.append(node)
                return
            self.running += 1
            node.state = QUEUED
        node.backend.start(node)

    def release(self) -> None:
        """Give a slot back, and start the next waiting call with it."""
        with _lock:
            self.running -= 1
            waiting = self.waiting
            while waiting:
                node = waiting.popleft()
                if node.state == HELD:
                    self.running += 1
                    node.state = QUEUED
                    break
            else:
                return
        node.backend.start(node)


__all__ = ["find_inputs", "plain", "link", "start", "start_all", "claim", "run", "execute",
           "finish", "fail", "Limiter", "CANCELLED", "FAILED", "GATHER"]
