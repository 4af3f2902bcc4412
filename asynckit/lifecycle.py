"""A pool's life beside the work: the registry, Ctrl-C, interpreter exit and fork.

The whole policy, in one place:

- **Ctrl-C while waiting.** A KeyboardInterrupt that reaches a thread blocked
  in any asynckit wait (``waiting.sleep``, the one blocking-wait helper)
  cancels every task that has not started, in every pool (:func:`interrupted`),
  then propagates. Running tasks finish: Python cannot stop a thread.
- **Exit.** Before the interpreter joins threads and tears modules down,
  :func:`at_exit` waits for every pool's pending work, so nothing submitted is
  dropped. Once it has run, new work is refused loudly.
- **Ctrl-C ends the program** (it reached the top level, or came during the
  exit wait): :func:`stop` closes every pool, cancels the work not started and
  any new work, and the exit wait goes on for the tasks already running.
- **Fork.** ``_lock`` is held across ``os.fork`` (so the child never starts
  with it taken by a thread that did not come along); in the child each pool
  cancels the parent's unsettled tasks and starts afresh.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

from .node import _lock
from .report import forget_after_fork, report_unobserved

__all__ = ["register", "interrupted", "stop", "exited", "exiting", "check_not_exited",
           "wait_at_exit", "register_exit_wait", "default_pool", "provide_default_pool"]


class Managed(Protocol):
    """What the lifecycle needs of a pool (``pool.Pool`` implements it)."""

    _closed: bool
    _stopping: bool
    _cancelled_count: int

    def wait(self, timeout: float | None = None) -> bool: ...
    def _unsettled(self) -> int: ...
    def _cancel_unstarted(self) -> int: ...
    def _after_fork(self) -> None: ...


_pools: weakref.WeakSet[Managed] = weakref.WeakSet()
_exiting = False  # the exit hook has started: only tasks may submit now
_exited = False
_EXITING = ("asynckit takes no new work from outside its tasks once the program has "
            "ended and the exit hook is finishing what was submitted before")
_EXITED = ("asynckit cannot run new work once the interpreter is exiting "
           "(submitted from an atexit handler?): finish it before the program ends")


def register(pool: Managed) -> None:
    """Track ``pool`` (weakly) for Ctrl-C, exit and fork."""
    _pools.add(pool)


def exited() -> bool:
    """True once the exit hook has run: no new work can run any more."""
    return _exited


def exiting() -> bool:
    """True once the exit hook has started (and after)."""
    return _exiting


def check_not_exited() -> None:
    if _exited:
        raise RuntimeError(_EXITED)


def refusal(pool_name: str) -> RuntimeError:
    """The error for a submission to a closed pool from outside its tasks."""
    if _exiting:
        return RuntimeError(_EXITING)
    return RuntimeError(f"pool {pool_name!r} is shut down: create a new Pool to run more work")


# -- Ctrl-C ------------------------------------------------------------------


#: How many settles Ctrl-C has cut short (see graph._settle, waiting.Drain.wait).
interrupted_settles: int = 0


def note_interrupted_settle() -> None:
    global interrupted_settles
    interrupted_settles += 1


def interrupted() -> int:
    """Ctrl-C reached a thread waiting in asynckit: cancel all work not started.
    Returns how many tasks that cancelled."""
    return sum(pool._cancel_unstarted() for pool in list(_pools))


def stop() -> int:
    """Ctrl-C ended the program: cancel all work not started, and any new work.
    Returns how many tasks that cancelled."""
    for pool in list(_pools):
        pool._stopping = True
        pool._closed = True
    return interrupted()


def wait_at_exit(pool: Managed) -> None:
    """An exit hook's wait for one pool: Ctrl-C cancels the work not started
    (and any new work), then the running tasks are waited for all the same."""
    stopping = False
    while True:
        try:
            if stopping:
                stop()
                stopping = False
            pool.wait()
            return
        except KeyboardInterrupt:
            # Also one that lands in stop() itself: the cancelling is redone
            # (what it already cancelled stays cancelled), never escapes.
            stopping = True


def register_exit_wait(pool: Managed) -> None:
    """Wait for ``pool`` in an exit hook registered now.

    For a backend built on an executor whose module registers its own exit
    hook when imported (``concurrent.futures`` refuses new work once its hook
    has run): hooks run in reverse order, so one registered after that
    import runs first, while the executor still takes work.
    """
    pool_ref = weakref.ref(pool)

    def wait() -> None:
        _begin_exit()
        pool = pool_ref()
        if pool is not None:
            wait_at_exit(pool)

    try:
        threading._register_atexit(wait)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # pragma: no cover - exiting already
        pass


# -- exit ----------------------------------------------------------------------


def _begin_exit() -> None:
    """The program has ended (the first of asynckit's exit hooks runs).

    From now on only running tasks may submit (nested work must finish); any
    other thread (a daemon that keeps submitting) is refused, so the exit
    wait ends. The pools' backends stay open for that nested work, and a
    process pool is left for concurrent.futures' own exit hook to shut down.
    """
    global _exiting
    _exiting = True
    for pool in list(_pools):
        pool._closed = True



def at_exit() -> None:
    # Runs before the interpreter joins threads and tears modules down: the
    # program's pending work is finished here, so nothing is dropped, unless
    # it ends with Ctrl-C, when work not started is cancelled and running
    # tasks are waited for.
    # (Python sets sys.last_type, and from 3.12 sys.last_exc, when an
    # exception reaches the top level: before this hook runs.)
    global _exited
    _begin_exit()
    interrupted_here = False
    cancelled_before = _cancelled()
    stopping = getattr(sys, "last_type", None) is KeyboardInterrupt \
        or isinstance(getattr(sys, "last_exc", None), KeyboardInterrupt)
    while True:
        try:
            if stopping:
                stop()
                stopping = False
            for pool in list(_pools):
                pool.wait()
            # A task still running may have submitted to a pool waited for already.
            if not any(pool._unsettled() for pool in list(_pools)):
                break
        except KeyboardInterrupt:
            # Ctrl-C during this wait (a second one too, even inside stop()):
            # cancel what has not started, then wait for the running tasks.
            stopping = interrupted_here = True
    # From here on nothing would run new work (workers are daemons): refuse
    # it loudly, as concurrent.futures does, rather than drop it.
    _exited = True
    for pool in list(_pools):
        pool._closed = True
    report_unobserved()
    if interrupted_here:
        _exit_interrupted(_cancelled() - cancelled_before)


def _cancelled() -> int:
    return sum(pool._cancelled_count for pool in list(_pools))


def _exit_interrupted(cancelled: int) -> None:
    """The program had ended normally, and Ctrl-C came while this hook waited:
    say what was cancelled and end with status 130, as a shell expects after
    SIGINT (returning would end with 0, as if all the work had been done)."""
    import logging

    try:
        print(f"asynckit: interrupted at exit (Ctrl-C): {cancelled} task(s) that "
              f"had not started were cancelled", file=sys.stderr)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
    finally:
        os._exit(130)


# -- the default pool ------------------------------------------------------------

_default: Managed | None = None
_default_lock = threading.Lock()
_make_default: Callable[[], Managed] | None = None


def provide_default_pool(make: Callable[[], Managed]) -> None:
    """How to make the default pool (``pool.py`` passes ``Pool`` here on import)."""
    global _make_default
    _make_default = make


def default_pool() -> Managed:
    """The module-level pool behind ``asynckit.do``/``task``/``wait``, made on first use."""
    global _default
    pool = _default
    if pool is None or pool._closed:
        check_not_exited()
        if _exiting:  # tasks still submit to the default pool: no new one
            if pool is None:
                raise RuntimeError(_EXITING)
            return pool
        with _default_lock:
            if _default is None or _default._closed:
                assert _make_default is not None, "asynckit.pool is not imported"
                _default = _make_default()
            pool = _default
    return pool


def default_if_made() -> Managed | None:
    """The default pool, or None if nothing has used it."""
    return _default


# -- fork ------------------------------------------------------------------------


def _after_fork_in_child() -> None:
    global _default_lock
    _lock.release()
    _default_lock = threading.Lock()
    forget_after_fork()
    for pool in list(_pools):
        pool._after_fork()


os.register_at_fork(before=_lock.acquire, after_in_parent=_lock.release,
                    after_in_child=_after_fork_in_child)

try:
    threading._register_atexit(at_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # pragma: no cover
    import atexit

    atexit.register(at_exit)
