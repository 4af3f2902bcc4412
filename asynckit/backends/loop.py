"""The event-loop backend: ``async def`` tasks run as coroutines on one loop thread.

Each pool that meets a coroutine function gets one ``LoopBackend`` (made
lazily by ``Pool._loop()``): an asyncio event loop in a daemon thread, started
when the first coroutine task is handed to it and stopped when the pool shuts
down drained, or at interpreter exit. A coroutine task occupies no worker
thread while it awaits, so thousands of concurrent I/O calls cost thousands of
asyncio tasks, not thousands of threads.

Nodes reach the loop through a deque: ``start`` appends, and only the append
that makes the deque non-empty wakes the loop (``call_soon_threadsafe``, or
plain ``call_soon`` on the loop's own thread), so a burst of 10,000 calls costs
one wake-up. On the loop, each node is claimed (a cancelled one is skipped),
its arguments made plain (its inputs have settled) and its coroutine awaited
in an asyncio task; the outcome goes through ``graph.finish``/``graph.fail``
like any threaded task's, so retries, ``limit`` and flattening behave the same.

Debug mode: the loop is made by ``asyncio.new_event_loop()``, so
``PYTHONASYNCIODEBUG=1`` or ``python -X dev`` turn on asyncio's debug mode for
it, which logs callbacks slower than ``loop.slow_callback_duration`` (0.1 s)
on the ``"asyncio"`` logger (a coroutine that blocks the loop shows up there).
Inside a task, ``asyncio.get_running_loop()`` is the pool's loop, so a task can
also tune it (``set_debug``, ``slow_callback_duration``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import logging
import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from time import perf_counter
from types import FunctionType
from typing import Any

from ..admission import start_all
from ..asynclist import PROXY_TYPES
from ..graph import settle
from ..inputs import ready_arguments
from ..node import DONE, QUEUED, RUNNING, Node, _lock, _locked, _wait_unlocked, name_of
from ..protocols import Backend, PoolHandle
from ..run import claim, fail, finish
from ..value import describe
from ..waiting import enter_worker

_log = logging.getLogger("asynckit")
#: asyncio.Task(..., eager_start=True) (Python 3.12+); 3.11 gets the same another way.
_EAGER_START = sys.version_info >= (3, 12)
#: How many nodes _drain claims in one hold of the lock (and, on 3.11, how
#: many tasks it makes before running their first steps).
_BATCH = 128


class LoopBackend(Backend):
    """Runs coroutine tasks of one pool on an event loop in one thread of its own."""

    timeouts = True  # see run.Deadline and _timed

    def __init__(self, pool: PoolHandle) -> None:
        self.name = pool.name
        self.pool_ref = weakref.ref(pool)  # weakly, as the thread backend
        self.mutex = threading.Lock()
        self.incoming: deque[Node] = deque()  # handed to us, not yet on the loop
        # Nodes handed to us, and those of them whose coroutine has finished
        # (or that were cancelled in the queue): the loop stops only when the
        # two are equal (``busy``). ``started`` changes under the mutex;
        # ``finished`` only on the loop thread, so settling takes no lock.
        self.started = 0
        self.finished = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.thread_id: int | None = None
        self.stopping: list[threading.Thread] = []  # loop threads told to stop
        self.serial = 0
        # Strong references to our suspended asyncio tasks: the loop keeps only
        # weak ones, and a task awaiting an AsyncValue is otherwise referenced
        # by nothing. (A task that finished in its eager first step is never
        # put here.)
        self.tasks: dict[Node, asyncio.Task[None]] = {}
        # Python 3.11 only: what Task.__init__ asked loop.call_soon to schedule
        # (see _start_steps).
        captured: list[tuple[Callable[..., Any], tuple[Any, ...],
                             contextvars.Context | None]] = []

        def capture(callback: Callable[..., Any], *args: Any,
                    context: contextvars.Context | None = None) -> None:
            captured.append((callback, args, context))

        self.captured, self.capture = captured, capture  # no reference to self
        _backends.add(self)

    # -- the backend interface ----------------------------------------------

    def start(self, node: Node) -> None:
        """Hand a QUEUED node to the loop (from any thread)."""
        opened: BaseException | None = None
        with self.mutex:
            self.started += 1
            incoming = self.incoming
            incoming.append(node)
            if len(incoming) > 1:
                return  # a wake-up is already on its way
            loop = self.loop
            if loop is None:
                try:
                    loop = self._open()
                except BaseException as error:
                    incoming.pop()
                    self.started -= 1
                    opened = error
            on_loop = threading.get_ident() == self.thread_id
        if opened is not None or loop is None:  # no thread for the loop: the node fails
            if claim(node):
                start_all(fail(node, opened or RuntimeError("no event loop")))
            return
        if on_loop:
            loop.call_soon(self._drain, loop)
        else:
            loop.call_soon_threadsafe(self._drain, loop)

    submit = start  # nothing to check in the caller: one call less per task

    @property
    def busy(self) -> int:
        """Nodes handed to us whose coroutine has not finished (incoming ones too)."""
        return self.started - self.finished

    def close(self) -> None:
        """Stop the loop and join its thread, if it has nothing left to run.

        The pool calls this whenever it is shut down and drained; a call while
        coroutines are still running does nothing (the next one stops it).
        Safe from any thread, the loop's own included (then it does not join).
        """
        current = threading.current_thread()
        with self.mutex:
            loop, thread = self.loop, self.thread
            if loop is not None and thread is not None and not self.busy:
                self.loop = self.thread = self.thread_id = None
                self.stopping.append(thread)
            else:
                loop = None
            # Join every loop thread told to stop, also one the loop thread
            # itself stopped (the last task's settle calls close() there).
            joining = [t for t in self.stopping if t is not current]
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        for thread in joining:
            thread.join()
            with self.mutex:
                if thread in self.stopping:
                    self.stopping.remove(thread)

    # -- the loop thread -------------------------------------------------------

    def _open(self) -> asyncio.AbstractEventLoop:
        # Under self.mutex. The loop is made here, run in its thread.
        loop = asyncio.new_event_loop()
        self.serial += 1
        thread = threading.Thread(target=self._serve, args=(loop,), daemon=True,
                                  name=f"{self.name}-loop-{self.serial}")
        try:
            thread.start()
        except BaseException:
            loop.close()
            raise
        self.loop, self.thread, self.thread_id = loop, thread, thread.ident
        return loop

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        # Like a worker thread: tasks here may submit work after shutdown, and
        # pool.wait() inside one is refused. loop_guard makes a blocking wait
        # that needs this loop raise instead of hanging (value.wait_for).
        enter_worker(self.pool_ref, weakref.ref(self), self._guard)
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                _cancel_leftovers(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            except Exception:  # interpreter exit: no new threads, modules going
                _log.debug("asynckit: closing the event loop", exc_info=True)
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: start a task for every node handed over since the last wake-up.

        Each task starts eagerly: its coroutine runs up to its first
        suspension right here, inside its own asyncio task (so
        ``asyncio.current_task()``, ``asyncio.timeout()`` and cancellation
        work from its first line), and a coroutine that never suspends has
        settled before the next node is looked at. That saves each task a
        trip through the loop's ready queue, and 10,000 of them a pass.
        """
        with self.mutex:
            if self.loop is not loop:  # a stale wake-up of a loop being stopped
                return
            nodes = self.incoming
            if not nodes:
                return
            self.incoming = deque()
        if not self._eager(loop):
            for node in nodes:
                if claim(node):
                    self.tasks[node] = loop.create_task(self._drive(node))
                else:  # cancelled while queued (value.cancel gave back its limit slot)
                    self.finished += 1
            return
        tasks = self.tasks
        drive = self._drive
        task_type = asyncio.Task
        while nodes:
            claimed = self._claim(nodes)
            if sys.version_info >= (3, 12):  # asyncio runs each first step as the task is made
                for node in claimed:
                    task = task_type(drive(node), loop=loop, eager_start=True)
                    if not task.done():
                        tasks[node] = task
            else:
                self._start_steps(loop, claimed)

    def _eager(self, loop: asyncio.AbstractEventLoop) -> bool:
        # A task factory that a task set on our loop is honoured (its tasks
        # start lazily, through it). On 3.11, eager starts go through
        # loop.call_soon (see _start_steps): only on asyncio's own loops,
        # whose call_soon nobody has replaced.
        if loop.get_task_factory() is not None:
            return False
        return _EAGER_START or (isinstance(loop, asyncio.BaseEventLoop)
                                and "call_soon" not in vars(loop))

    def _claim(self, nodes: deque[Node]) -> list[Node]:
        """Take up to ``_BATCH`` nodes off ``nodes`` and claim them (run.claim),
        in one hold of the lock; those cancelled while queued are skipped
        (value.cancel gave back their limit slot)."""
        claimed: list[Node] = []
        count = min(len(nodes), _BATCH)
        if _locked():  # as run.claim: no convoy behind a thread that holds it
            _wait_unlocked()
        with _lock:
            for _ in range(count):
                node = nodes.popleft()
                if node.state == QUEUED:
                    node.state = RUNNING
                    claimed.append(node)
        self.finished += count - len(claimed)
        return claimed

    def _start_steps(self, loop: asyncio.AbstractEventLoop, nodes: list[Node]) -> None:
        """3.11: make the claimed nodes' tasks, then run each one's first step.

        3.11 has no eager start. A new Task schedules its first step with
        loop.call_soon(step, context=...) (the C Task and the Python one
        alike: it is how a task reaches any loop). While a batch of tasks is
        made, an instance attribute shadows that method and keeps the steps;
        then each is run in order, in its task's context, exactly as the
        loop's Handle would have run it (the task is the current task while
        it runs). Not while the steps run: the coroutines' own call_soon
        calls must reach the loop. One shadowing per batch, not per task.
        """
        drive = self._drive
        task_type = asyncio.Task
        captured = self.captured
        made: list[asyncio.Task[None]] = []
        loop.call_soon = self.capture  # type: ignore[method-assign, assignment]
        try:
            for node in nodes:
                made.append(task_type(drive(node), loop=loop))
        finally:
            del loop.call_soon
            # Every task made has its step kept, also if making the next one
            # failed: run them all.
            steps = captured[:]
            captured.clear()
            tasks = self.tasks
            for node, task, (callback, args, context) in zip(nodes, made, steps, strict=False):
                if context is None:  # pragma: no cover - a Task always passes its context
                    callback(*args)
                else:
                    context.run(callback, *args)
                if not task.done():
                    tasks[node] = task

    async def _drive(self, node: Node) -> None:
        """Run one claimed node's coroutine and settle it, whatever happens.

        The coroutine runs inside this one (no task of its own), so this is
        the place to wrap its run, say in ``asyncio.timeout()``.
        """
        ready: Sequence[Node] = ()
        try:
            started = perf_counter()
            spec = node.spec
            try:
                args, kwargs = node.args, node.kwargs
                if node.inputs:
                    args, kwargs = ready_arguments(node)
                coroutine = node.fn(*args, **kwargs) if kwargs else node.fn(*args)
                if spec is None or spec.timeout is None:
                    result = await coroutine
                else:
                    result = await _timed(coroutine, node, spec.timeout)
            except BaseException as error:  # CancelledError, SystemExit too: settle it
                node.took = perf_counter() - started
                self._done(node)
                ready = fail(node, error)
            else:
                node.took = perf_counter() - started
                # _done(), inlined: before settling, as there.
                self.tasks.pop(node, None)
                self.finished += 1
                if (spec is None or spec.limiter is None and spec.save_to is None) \
                        and type(result) not in PROXY_TYPES:
                    # finish(), inlined for the common cases (as run.execute does):
                    # no limit slot to give back, nothing to store.
                    if node.name is None:
                        fn = node.fn
                        node.name = fn.__qualname__ if type(fn) is FunctionType else name_of(fn)
                    node.fn = node.args = node.kwargs = None
                    ready = settle(node, result)
                else:
                    ready = finish(node, result)
            if ready:
                start_all(ready)
        except Exception:  # pragma: no cover - a bug in asynckit, not in the task
            _log.exception("asynckit: settling %s failed", describe(node))

    def _done(self, node: Node) -> None:
        # Before settling: the settle of a pool's last task may call close(),
        # which must then see nothing busy. On the loop thread: no lock.
        self.tasks.pop(node, None)
        self.finished += 1

    def _guard(self, node: Node) -> None:
        """Called on the loop thread before it would block on ``node``.

        Blocking there (``value.get()``, ``value.wait()``, using the proxy in
        an ``async def`` task) stops the loop, so a node that needs the loop
        (one of our tasks, or anything still waiting for one through its
        inputs) could never settle: raise instead of hanging forever.
        Blocking on other work (a threaded task) is allowed; it only stalls
        the loop's other coroutines meanwhile.
        """
        seen: set[int] = set()
        todo = [node]
        while todo:
            item = todo.pop()
            if item.state >= DONE or id(item) in seen:
                continue
            seen.add(id(item))
            if item.backend is self:
                via = "" if item is node else f", which waits for {describe(item)},"
                raise RuntimeError(
                    f"{describe(node)}{via} runs on the event loop of pool "
                    f"{self.name!r}, and this code runs on that loop (in an async def "
                    f"task): blocking here with value.get(), value.wait() or by using the "
                    f"value would wait forever. Write `await value` instead.")
            if item.state <= QUEUED:
                todo.extend(item.inputs)


async def _timed(coroutine: Any, node: Node, timeout: float) -> Any:
    """Await a task's coroutine for at most ``timeout`` seconds: at the deadline
    it is cancelled (CancelledError at its current ``await``, so its ``finally``
    and ``async with`` blocks run), and the call fails with TimeoutError."""
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await coroutine
    except TimeoutError:
        if not scope.expired():
            raise  # the task's own TimeoutError
        raise TimeoutError(f"{describe(node)} ran longer than its timeout of "
                           f"{timeout:g} s") from None


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    # Our own tasks have all finished when the loop stops; what is left was
    # started by user code with asyncio.create_task and never awaited. Cancel
    # it, as asyncio.run does.
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not leftovers:
        return
    for task in leftovers:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


_backends: weakref.WeakSet[LoopBackend] = weakref.WeakSet()


def _close_all() -> None:
    # atexit runs after threading's exit hooks, so the pools' own exit hook
    # (pool._at_exit) has already waited for every task: the loops are idle.
    for backend in list(_backends):
        backend.close()


atexit.register(_close_all)
# A child made by fork has no loop thread, and its pools make new backends.
os.register_at_fork(after_in_child=_backends.clear)

__all__ = ["LoopBackend"]
