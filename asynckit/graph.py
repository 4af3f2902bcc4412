"""The dependency engine: link a task to its inputs, settle, count them down.

``link`` registers a task with each unsettled input (``inputs.find_inputs``
found them) and stores how many there are; each input's :func:`settle`
counts that down and the task becomes ready at zero. Nothing polls and
nothing is re-queued: a chain of N tasks costs O(N).

:func:`settle` is the one place where a node settles: it publishes the
result, wakes waiting threads, follows returned values, fails dependents,
gathers AsyncLists, runs callbacks and counts dependents down. Running a
claimed task (``execute``, ``finish``, ``fail``) is ``run.py``'s. All of them
*return* the tasks that became ready and never start them: the caller hands
them to ``admission.start``, and a worker runs one of them next itself,
without a trip through a queue.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Sequence
from typing import Any

from . import lifecycle
from .asynclist import CHUNKED, gather_outcome
from .errors import CancelledError
from .gates import release_slot
from .node import (
    CANCELLED,
    DONE,
    FAILED,
    GATHER,
    PENDING,
    QUEUED,
    RUNNING,
    After,
    Node,
    _lock,
    _locked,
    _wait_unlocked,
    depend,
    name_of,
)
from .protocols import Backend
from .report import Reporter
from .value import describe

__all__ = ["link", "settle", "cancel", "abandon"]

_NOTHING: list[Node] = []  # never appended to: callers only iterate a settle's result
_LockType = type(_lock)
_log = logging.getLogger("asynckit")


def link(node: Node, inputs: list[Node], after: Node | None = None) -> bool:
    """Register ``node`` with its unsettled inputs. True if it is ready now.

    ``after`` is a ``chain`` predecessor: waited for, its outcome ignored.
    A node with an input that has already failed is failed here, at once
    (it is new: nothing depends on it yet, so that makes nothing ready).
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
                    settle(node, None, inner.error, inner)
                    return False
            spec = node.spec
            state = QUEUED if spec is None else spec.ready_state
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
                dependents = inner.dependents  # depend(), inlined
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
            node.state = QUEUED if spec is None else spec.ready_state
            return True
    if failed is not None:
        settle(node, None, failed.error, failed)
    return False


# --------------------------------------------------------------------------
# Settling


def settle(node: Node, result: Any = None, error: BaseException | None = None,
           source: Node | None = None, worker: Backend | None = None) -> Sequence[Node]:
    """Settle ``node`` with ``result`` or ``error``, and all that follows from it.

    ``source`` is the input whose failure this is (its traceback and reporter
    are shared). Returns the task nodes that became ready, in state QUEUED
    or HELD; the caller starts them (``admission.start``).

    ``worker`` is the backend of a worker thread that will run a ready task
    itself: when this settle makes exactly one task of that backend ready, it
    is claimed (RUNNING) under the same hold of the lock and returned alone in
    a *tuple*, which tells the caller it is its to run (``execute``). A chain
    or a tree then takes one lock per task for counting down and claiming,
    instead of two.

    (Long on purpose: the fast path is every task's settle, fused so that
    the common shapes cost one hold of the lock and no call; anything else
    goes to the general path, ``_settle``.)
    """
    if error is not None or node.remote is not None:
        ready: list[Node] = []
        _settle(node, result, error, source, False, False, ready)
        return ready
    # The fast path: a task's result, with only pending tasks to count down.
    proxy = node.proxy
    if proxy is not None:
        # Publish before marking DONE: a reader that sees DONE reads the C
        # field without taking the lock. Only the task's own runner settles
        # a result, so nothing can have settled it meanwhile.
        proxy.__wrapped__ = result
    ready = _NOTHING
    gathers = None
    if _locked():
        _wait_unlocked()
    with _lock:
        dependents = node.dependents
        simple = node.state < DONE
        if simple and dependents is not None:
            node.dependents = None
            if type(dependents) is Node and dependents.state == PENDING:
                # One input of one pending task (a chain, a tree): no loop
                # under the lock, so no thread switch lands here.
                node.state = DONE
                node.proxy = None
                dependents.pending -= 1
                if dependents.pending == 0:
                    if dependents.fn is GATHER:
                        gathers = [dependents]
                        ready = []
                    else:
                        spec = dependents.spec
                        state = QUEUED if spec is None else spec.ready_state
                        if state == QUEUED and worker is not None \
                                and dependents.backend is worker:
                            dependents.state = RUNNING  # claimed for the caller
                            ready = (dependents,)  # type: ignore[assignment]
                        else:
                            dependents.state = state
                            ready = [dependents]
            elif type(dependents) is list:
                # Inputs of pending tasks and AsyncLists only; anything else
                # (waiting threads, followers, chain edges, callbacks) takes
                # the general path.
                for dep in dependents:
                    if type(dep) is not Node or dep.state != PENDING:
                        simple = False
                        break
                else:
                    node.state = DONE
                    node.proxy = None
                    ready = []
                    for dep in dependents:
                        dep.pending -= 1
                        if dep.pending == 0:
                            if dep.fn is GATHER:
                                if gathers is None:
                                    gathers = [dep]
                                else:
                                    gathers.append(dep)
                                continue
                            spec = dep.spec
                            dep.state = QUEUED if spec is None else spec.ready_state
                            ready.append(dep)
            else:
                simple = False
            if not simple:
                node.dependents = dependents  # for the general path
        elif simple:
            node.state = DONE
            node.proxy = None
    if not simple:
        ready = []
        _settle(node, result, None, None, False, True, ready)
        return ready
    pool = node.pool
    if pool is not None:
        drain = pool.drain
        live = drain.live
        live.discard(node)
        if not live:
            drain.emptied()
    if gathers is not None:
        while gathers:
            _gather(gathers.pop(), ready, gathers)
    return ready


def _settle(node: Node, result: Any, error: BaseException | None, source: Node | None,
            unstarted_only: bool, published: bool, ready: list[Node],
            outer: list[Node] | None = None) -> int:
    """The general settle (``settle``'s second half, and ``cancel``'s).

    Returns the node's state before, or -1 if it had already settled (or, with
    ``unstarted_only``, had started). ``published``: the fast path already
    put ``result`` into the node's own proxy. AsyncLists that this completes
    are settled here too, from a worklist (``outer``, when an AsyncList's own
    settle is the caller): nested a thousand deep, they recurse not at all.
    """
    wake: list[Any] = []
    callbacks: list[tuple[Any, Node]] = []
    gathers: list[Node] = [] if outer is None else outer
    settled: list[Node] = []
    reporter = None if source is None else source.reporter
    remote = node.remote
    first = node if published else None
    try:
        if _locked():
            _wait_unlocked()
        with _lock:
            prior = node.state
            if prior >= (RUNNING if unstarted_only else DONE):
                return -1
            if error is not None and source is None:
                tb = error.__traceback__
                if not isinstance(error, CancelledError):
                    reporter = Reporter(error, tb, node.name)
                elif tb is not None:  # a task raised it: keep where, never log it
                    reporter = Reporter(error, tb, node.name, observed=True)
            cancelled = isinstance(error, CancelledError)
            todo = [node]
            while todo:
                node = todo.pop()
                if node.state >= DONE:
                    continue
                if error is None:
                    proxy = node.proxy
                    if type(proxy) is weakref.ReferenceType:
                        proxy = proxy()  # an AsyncList's (see AsyncList.__init__)
                    if remote is not None:
                        node.remote = remote
                    elif proxy is not None and node is not first:
                        proxy.__wrapped__ = result  # before DONE, as in the fast path
                    node.state = DONE
                else:
                    if node.state < RUNNING and node.fn is not GATHER:
                        # It will never run: drop its function and arguments now,
                        # not when a busy worker reaches it in the queue.
                        if node.name is None:
                            node.name = name_of(node.fn)
                        node.fn = node.args = node.kwargs = None
                    node.error = error
                    node.reporter = reporter
                    node.state = CANCELLED if cancelled else FAILED
                node.proxy = None
                if node.pool is not None:
                    settled.append(node)
                dependents = node.dependents
                if dependents is not None:
                    node.dependents = None
                    _notify(dependents, error is not None, todo, ready, gathers, wake, callbacks,
                            node)
        _deliver(wake, settled, gathers if outer is None else None, callbacks, ready)
    except KeyboardInterrupt:
        # Ctrl-C (it lands in the main thread only) between marking nodes
        # settled and taking them out of their pools' drains: tell the drains
        # to look for such nodes before they next sleep (Drain.wait).
        lifecycle.note_interrupted_settle()
        raise
    return prior


def _deliver(wake: list[Any], settled: list[Node], gathers: list[Node] | None,
             callbacks: list[tuple[Any, Node]], ready: list[Node]) -> None:
    """After the lock: what a settle owes the rest of the world."""
    for waiter in wake:
        waiter.release()
    for node in settled:
        drain = node.pool.drain  # type: ignore[union-attr]
        live = drain.live
        live.discard(node)
        if not live:
            drain.emptied()
    if gathers is not None:  # the outermost settle: it works the AsyncLists off
        while gathers:
            _gather(gathers.pop(), ready, gathers)
    interrupt = None
    for callback, node in callbacks:
        try:
            callback(node)
        except KeyboardInterrupt as error:  # Ctrl-C on the main thread: run the rest first
            interrupt = error
        except BaseException:  # SystemExit too: the thread that settles must live on
            _log.exception("asynckit: a settle callback raised")
    if interrupt is not None:
        raise interrupt


def _notify(dependents: Any, failed: bool, todo: list[Node], ready: list[Node],
            gathers: list[Node], wake: list[Any], callbacks: list[tuple[Any, Node]],
            node: Node) -> None:
    """Under ``_lock``: sort out what hears of ``node``'s settling."""
    if type(dependents) is not list:
        dependents = (dependents,)
    for dep in dependents:
        kind = type(dep)
        if kind is Node:
            state = dep.state
            if state == PENDING:
                if failed and dep.fn is not GATHER:
                    todo.append(dep)  # fails with the same error
                    continue
                dep.pending -= 1
                if dep.pending == 0:
                    _became_ready(dep, ready, gathers)
            elif state == RUNNING:  # it returned this value: follow it
                todo.append(dep)
        elif kind is After:
            dep = dep.node
            if dep.state == PENDING:
                dep.pending -= 1
                if dep.pending == 0:
                    _became_ready(dep, ready, gathers)
        elif kind is _LockType:
            wake.append(dep)
        else:
            callbacks.append((dep, node))


def _became_ready(node: Node, ready: list[Node], gathers: list[Node]) -> None:
    # Under _lock, when a node's last input settles.
    if node.fn is GATHER:
        gathers.append(node)
    else:
        spec = node.spec
        node.state = QUEUED if spec is None else spec.ready_state
        ready.append(node)


def _gather(node: Node, ready: list[Node], gathers: list[Node]) -> None:
    """Settle an AsyncList whose items have all settled (AsyncLists this
    completes in turn go on ``gathers``)."""
    items = node.args
    result, failed, remote = gather_outcome(items, node.kwargs is CHUNKED)
    if failed is not None:
        # Keep the items: iterating a failed list still yields the items
        # before the failed one, then raises (Executor.map).
        _settle(node, None, failed.error, failed, False, False, ready, gathers)
        return
    node.args = None
    node.remote = remote
    _settle(node, result, None, None, False, False, ready, gathers)


def cancel(node: Node) -> tuple[bool, list[Node]]:
    """Cancel ``node`` if it has not started. Returns (cancelled, ready)."""
    if node.state >= RUNNING:  # the usual case in a sweep: no message to format
        return False, []
    ready: list[Node] = []
    error = CancelledError(f"{describe(node)} was cancelled before it ran")
    prior = _settle(node, None, error, None, True, False, ready)
    if prior == QUEUED:
        # A QUEUED node with a `limit` holds a slot (taken when it was
        # admitted); cancelling it here is the one place that gives it back.
        release_slot(node, ready)
    return prior >= 0, ready


def abandon(nodes: set[Node]) -> None:
    """Cancel unsettled nodes, started or not (in a child made by fork: their
    threads did not come along), starting nothing that this makes ready."""
    error = CancelledError(f"this task was unsettled in the parent process when it "
                           f"forked (pid {os.getppid()}); it runs there, not in this child")
    ready: list[Node] = []
    for node in nodes:
        _settle(node, None, error, None, False, False, ready)
