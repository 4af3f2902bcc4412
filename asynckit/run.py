"""Running a claimed task: execute it, then finish (flattening) or fail (retries).

``execute`` runs a RUNNING node's function on the calling thread; ``finish``
and ``fail`` settle it through ``graph.settle``. Each returns the tasks that
became ready and never starts them: the caller hands them to
``admission.start``, and a worker thread runs one of them next itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from time import perf_counter
from types import FunctionType
from typing import Any

from .admission import start_all
from .asynclist import PROXY_TYPES
from .gates import release_slot
from .graph import settle
from .inputs import plain, ready_arguments, resolve
from .node import (
    DONE,
    HELD,
    PENDING,
    QUEUED,
    RUNNING,
    Node,
    _lock,
    _locked,
    _wait_unlocked,
    depend,
    name_of,
)
from .protocols import Backend
from .value import describe

__all__ = ["claim", "execute", "finish", "fail", "Deadline"]

_log = logging.getLogger("asynckit")


def claim(node: Node) -> bool:
    """Move a QUEUED node to RUNNING; False if someone else got it first."""
    if _locked():
        _wait_unlocked()
    with _lock:
        if node.state != QUEUED:
            return False
        node.state = RUNNING
        return True


def execute(node: Node, worker: Backend | None = None) -> Sequence[Node]:
    """Run a claimed (RUNNING) task on this thread; return the tasks that became ready.

    With ``worker`` (the caller's backend), a task of that backend which this
    made ready may come back claimed, alone in a tuple (see :func:`settle`):
    the caller runs it next with ``execute``.
    """
    args = node.args
    kwargs = node.kwargs
    spec = node.spec
    if spec is not None and spec.timeout is not None:
        return _execute_timed(node, spec.timeout)
    started = perf_counter()
    try:
        # Rebuilding the arguments runs user code too (a container subclass's
        # constructor or copy): inside the try, so the node settles either way.
        if node.inputs:  # inputs.ready_arguments(), inlined: the hot path
            args = resolve(args)
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
    if spec is None and type(result) not in PROXY_TYPES:
        # finish(), inlined for the common case (one call less per task).
        if node.name is None:
            fn = node.fn
            node.name = fn.__qualname__ if type(fn) is FunctionType else name_of(fn)
        node.fn = node.args = node.kwargs = None
        return settle(node, result, None, None, worker)
    return finish(node, result)


def _execute_timed(node: Node, timeout: float) -> Sequence[Node]:
    """``execute`` for a call with a ``timeout``: at the deadline it fails (its
    thread cannot be stopped: see :class:`Deadline`); what the function returns
    or raises after that is discarded."""
    deadline = Deadline(node, timeout, node.backend)
    started = perf_counter()
    try:
        args, kwargs = ready_arguments(node)
        result = node.fn(*args, **kwargs) if kwargs else node.fn(*args)
    except BaseException as error:
        if not deadline.finish():
            return deadline.late(error)
        node.took = perf_counter() - started
        tb = error.__traceback__
        if tb is not None and tb.tb_next is not None:
            error.__traceback__ = tb.tb_next  # start the traceback in the task's own code
        del tb, args, kwargs  # see execute
        failed = [node]
        del node
        return fail(failed.pop(), error)
    if not deadline.finish():
        return deadline.late(result)
    node.took = perf_counter() - started
    return finish(node, result)


class Deadline:
    """The ``timeout`` of one running call: on the pool's timer, it fails the
    call with TimeoutError when due, unless the call finished first.

    Python cannot stop a thread: the call's thread runs on, and its backend
    lends a new worker in its place (``Backend.lend_stuck``, capped), given
    back when the function returns; what it returns then is discarded.
    Other backends stop the work where they can (``Backend.expire``).
    """

    __slots__ = ("node", "timeout", "backend", "done", "lent", "name")

    def __init__(self, node: Node, timeout: float, backend: Backend) -> None:
        self.node: Node | None = node
        self.timeout: float = timeout
        self.backend: Backend = backend
        self.done: bool = False  # finished or expired (the timer skips it then)
        self.lent: bool = False
        self.name: str = ""
        node.pool._later(timeout, self)  # type: ignore[union-attr]

    def finish(self) -> bool:
        """The call returned or raised: True if it is still the call's to settle."""
        with _lock:
            if self.done:
                return False  # timed out: settled already
            self.done = True
            self.node = None
            return True

    def __call__(self) -> None:
        """On the timer thread, at the deadline."""
        backend = self.backend
        with _lock:
            if self.done:
                return
            self.done = True
            node, self.node = self.node, None
            self.lent = backend.lend_stuck()
        assert node is not None
        self.name = describe(node)
        if self.lent:
            backend.worker_blocked(1)
        error = TimeoutError(f"{describe(node)} ran longer than its timeout of "
                             f"{self.timeout:g} s")
        backend.expire(node, self.lent)
        start_all(fail(node, error))

    def late(self, outcome: object) -> Sequence[Node]:
        """The timed-out call's function returned (or raised) ``outcome`` after all."""
        with _lock:
            lent, self.lent = self.lent, False
        if lent:  # counted first: whoever reads the log line sees the count right
            self.backend.returned_stuck()
        _log.debug("asynckit: %s timed out after %g s and finished later; its %s is "
                   "discarded: %.80r", self.name, self.timeout,
                   "error" if isinstance(outcome, BaseException) else "result", outcome)
        return []  # not (): a tuple tells a worker it holds the one task made ready


def finish(node: Node, result: Any) -> Sequence[Node]:
    """The task's function returned ``result``: settle, or follow a returned AsyncValue."""
    ready: list[Node] = []
    spec = node.spec
    if spec is not None:
        release_slot(node, ready)
        if spec.save_to is not None:  # cache=True: stored before it settles
            spec.save(node, result)
    if node.name is None:
        node.name = name_of(node.fn)
    node.fn = node.args = node.kwargs = None
    if type(result) in PROXY_TYPES:
        # Results flatten, as promises do: settle with that value's outcome
        # when it settles. The worker does not wait for it.
        target = result._self_task
        with _lock:
            if target.state < DONE:
                cycle = target is node or _follows(target, node) or _waits_for(target, node)
                if not cycle:
                    depend(target, node)
                    return ready
        if target.state < DONE:
            # It would wait for itself: settle it (and, through the same
            # settle, the values that follow it) with the reason.
            error = RuntimeError(
                f"{node.name} returned an AsyncValue that waits for its own result "
                f"({'itself' if target is node else describe(target)}): a task cannot "
                f"return a value that depends on it, or one that returns it in turn")
            return _and(settle(node, None, error), ready)
        if target.state == DONE:
            node.remote = target.remote
            result = None if target.remote is not None else result.__wrapped__
            return _and(settle(node, result), ready)
        return _and(settle(node, None, target.error, target), ready)
    return _and(settle(node, result), ready)


def _follows(target: Node, node: Node) -> bool:
    """Under ``_lock``: does ``target`` already follow ``node``, directly
    or through other values that returned values? (Followers are the RUNNING
    nodes among an unsettled node's dependents: see ``finish``.)"""
    todo = [node]
    seen = {id(node)}
    while todo:
        dependents = todo.pop().dependents
        if dependents is None:
            continue
        for dep in dependents if type(dependents) is list else (dependents,):
            if type(dep) is Node and dep.state == RUNNING and id(dep) not in seen:
                if dep is target:
                    return True
                seen.add(id(dep))
                todo.append(dep)
    return False


def _waits_for(target: Node, node: Node) -> bool:
    """Under ``_lock``: is ``target`` waiting (through its pending inputs) for ``node``?"""
    todo = [target]
    seen = {id(target)}
    while todo:
        waiting = todo.pop()
        if waiting is node:
            return True
        if waiting.state == PENDING:
            for inner in waiting.inputs:
                if inner.state < DONE and id(inner) not in seen:
                    seen.add(id(inner))
                    todo.append(inner)
    return False


def fail(node: Node, error: BaseException) -> Sequence[Node]:
    """The task's function raised ``error``: retry it, or settle it failed."""
    spec = node.spec
    ready: list[Node] = []
    if spec is not None:
        release_slot(node, ready)
        if node.attempt < spec.retries and isinstance(error, spec.retry_on):
            delay = spec.retry_delay * (2 ** node.attempt)
            node.attempt += 1
            with _lock:
                node.state = HELD
            if delay > 0:
                node.pool._later(delay, node)  # type: ignore[union-attr]
            else:
                ready.append(node)  # HELD: admission takes it from here
            return ready
    if node.name is None:
        node.name = name_of(node.fn)
    node.fn = node.args = node.kwargs = None
    return _and(settle(node, None, error), ready)


def _and(ready: Sequence[Node], more: list[Node]) -> Sequence[Node]:
    return [*ready, *more] if more else ready
